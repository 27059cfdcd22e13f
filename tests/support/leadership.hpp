#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace elector::testing {

// Who led when, from the logs of elector (--leader-elect) and of the client-go
// peer (tests/peer): both write `event=started-leading id=X ... mono=S.N`
// and `event=stopped-leading ...` on CLOCK_MONOTONIC, shared by every
// process on the machine.
struct leadership_event {
    bool started;  // started-leading, else stopped-leading
    std::string id;
    double mono;
};

std::vector<leadership_event> read_leadership_events(const std::string& log_path);

// CLOCK_MONOTONIC now, in seconds (as the logs write it).
double monotonic_now();

struct leading_interval {
    std::string id;
    double from;
    double to;  // stopped-leading, or when the process was killed
};

// Pairs starts with stops per process; a process that never logged its stop
// led until it was killed (`killed_at[id]`, SIGKILL) or until now.
std::vector<leading_interval> leading_intervals(const std::vector<leadership_event>& events,
                                                const std::map<std::string, double>& killed_at = {});

// Every pair of intervals of different processes that overlap in time,
// described for an assertion message; empty when leadership never overlapped.
std::vector<std::string> overlaps(const std::vector<leading_interval>& intervals);

}  // namespace elector::testing
