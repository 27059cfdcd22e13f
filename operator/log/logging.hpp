#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/formatter.h>

#include "config/options.hpp"

namespace elector::log {

// Log lines (logfmt). A line is a short human message followed by
// key=value fields:
//
//   cannot write status group=ns/web error="Conflict (409): the object has been modified"
//   election: event=leader-changed group=ns/web from=web-0 to=web-1 term=4
//       reason=LeaderDeleted mono=81.5 message="web-0 → web-1 (term 4): ..."   (one line)
//
// - The message is fixed text with, at most, simple names in it (no '=',
//   never free text); everything variable that matters goes in a field.
// - A value with a space or other control character, a '"' or a '=', or an
//   empty value, is written in double quotes with \" \\ \n \r \t escaped
//   (other control characters as \u00XX): wrap free text (errors, messages
//   from Kubernetes, identities) in q(). Other values are written as they are.
// - Keys are [A-Za-z_][A-Za-z0-9_.-]*. Standard keys: group (namespace/name
//   of an ElectionGroup), pod, term, reason, message (a Kubernetes-style
//   human message: condition, Event), from, to, lease (namespace/name),
//   resource, error, id (this elector's identity), event (a leadership
//   event's name), mono (CLOCK_MONOTONIC seconds, to line up the logs of
//   several processes; tests read it).
// - Leadership events start with "election: event=NAME" (the groups elector
//   runs) or "leader election: event=NAME" (elector's own Lease), so one grep
//   finds them; tests and scripts parse those lines and the port of
//   "serving the NAME on HOST:PORT".
// - Bearer tokens, client keys, Authorization headers and credential plugin
//   output are never logged, not even at trace level.
//
// With --log-format=json each line is one JSON object: "time", "level",
// "msg" (the whole line as above) and every field as a top-level string
// (see parse_fields).

// Installs elector's default logger: stderr, UTC timestamps, the given level,
// and either text lines or one JSON object per line.
void setup(config::log_level level, config::log_format format);

// `value` as a logfmt value: unchanged when it needs no quotes, else quoted
// and escaped as described above. The result is always one line.
[[nodiscard]] std::string q(std::string_view value);

struct field {
    std::string key;
    std::string value;  // unquoted and unescaped
    friend bool operator==(const field&, const field&) = default;
};

// The key=value fields of a log line, in order, values unquoted. Words that
// are not key=value (the message) are skipped, including quoted text; a key
// seen twice keeps its first value. Never throws: an unterminated quote runs
// to the end of the line, and bytes are passed through as they are (invalid
// UTF-8 included).
[[nodiscard]] std::vector<field> parse_fields(std::string_view line);

// {"time":"2026-11-20T23:47:27.123Z","level":"info","msg":"...","group":"ns/g",...}:
// the message's fields are lifted to top-level strings ("time", "level" and
// "msg" are never overwritten by a field). Everything is escaped as JSON and
// invalid UTF-8 is replaced, so any text yields one valid line.
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace elector::log
