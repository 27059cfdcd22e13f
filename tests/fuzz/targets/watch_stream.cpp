// Fuzz target "watch_stream": the bytes of a watch response body, as the
// network delivers them, through everything an informer does with them.
//
// Input: byte 0 picks the line limit (64 B, 4 KiB, 1 MiB, 64 MiB), byte 1
// seeds the chunk sizes; the rest is the stream. Each line is framed by
// kube::line_splitter, decoded by kube::decode_watch_event, and the object
// read by every typed from_json elector has (pod, deployment, replica_set,
// node, lease, ElectionGroup), then applied to a kube::store of that kind
// with elector's indexes, as informer::apply does.
//
// Properties:
//  - the lines do not depend on how the stream is cut into chunks (same
//    lines, same unterminated rest, same overflow verdict as one chunk);
//    no line is empty, holds '\n' or exceeds the limit;
//  - from_json never throws (objects.hpp: "Every from_json accepts any JSON
//    without throwing"); labels and annotations come out sorted by key with
//    unique keys (find_label relies on it);
//  - the store stays consistent (get finds what was upserted, keys() and
//    size() agree, the namespace index holds the key);
//  - a Lease written back (to_json) reads as the same Lease, times cut to
//    the microsecond; an ElectionGroup's status written back (to_json)
//    reads as the same status, times cut to the second.
#include "fuzz_target.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "election/group.hpp"
#include "kube/client.hpp"
#include "kube/informer.hpp"
#include "kube/line_splitter.hpp"
#include "kube/objects.hpp"

namespace {

using namespace elector;
using elector::fuzz::check;
using elector::fuzz::fail;

struct framed {
    std::vector<std::string> lines;
    std::string pending;
    bool ok = true;
    bool overflowed = false;
};

template <class NextSize>
framed frame(std::string_view stream, std::size_t max_line, NextSize next_size) {
    framed out;
    kube::line_splitter splitter(max_line);
    while (!stream.empty() && out.ok) {
        const std::size_t n = std::min(stream.size(), next_size());
        out.ok = splitter.feed(stream.substr(0, n), [&](std::string_view line) {
            out.lines.emplace_back(line);
            return true;
        });
        stream.remove_prefix(n);
    }
    out.pending = std::string(splitter.pending());
    out.overflowed = splitter.overflowed();
    return out;
}

std::string shown(std::string_view s) { return nlohmann::json(std::string(s)).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace); }

void check_labels(const kube::labels& l, std::string_view what) {
    for (std::size_t i = 1; i < l.size(); ++i) {
        if (!(l[i - 1].first < l[i].first)) {
            fail("labels sorted by key, keys unique",
                 fmt::format("{}: {} then {}", what, shown(l[i - 1].first), shown(l[i].first)));
        }
    }
}

void check_meta(const kube::object_meta& m, std::string_view kind) {
    check_labels(m.labels, fmt::format("{} labels", kind));
    check_labels(m.annotations, fmt::format("{} annotations", kind));
}

// One store per kind, with the indexes elector's controllers add.
template <class T>
struct kind_store {
    kube::store<T> store;
    kind_store() {
        store.add_index(kube::indexes::by_namespace, kube::indexes::namespace_of<T>);
        store.add_index(kube::indexes::by_owner_uid, kube::indexes::owner_uids<T>);
        store.add_index(kube::indexes::by_label, kube::indexes::label_pairs<T>);
    }

    // As informer::apply: bookmarks only move the resourceVersion; a
    // deletion removes the key; anything else is an upsert.
    void apply(kube::watch_event_type type, const kube::json& object, std::string_view kind) {
        if (type == kube::watch_event_type::bookmark) return;
        auto parsed = T::from_json(object);
        if (!parsed) {
            check(!parsed.error().empty(), "from_json errors say what is wrong", kind);
            return;
        }
        check_meta(parsed->meta, kind);
        const std::string key = kube::key_of(parsed->meta);
        if (type == kube::watch_event_type::deleted) {
            store.erase(key);
            check(store.get(key) == nullptr, "store: an erased key is gone", key);
        } else {
            auto obj = std::make_shared<const T>(std::move(*parsed));
            store.upsert(key, obj);
            check(store.get(key) == obj, "store: get finds what was upserted", key);
            const auto in_namespace = store.by_index(kube::indexes::by_namespace, obj->meta.namespace_);
            check(std::find(in_namespace.begin(), in_namespace.end(), obj) != in_namespace.end(),
                  "store: the namespace index holds the object", key);
        }
        check(store.keys().size() == store.size(), "store: keys() and size() agree");
    }
};

std::optional<kube::time_point> floor_to(std::optional<kube::time_point> t, std::chrono::nanoseconds unit) {
    if (!t) return t;
    const auto since = t->time_since_epoch();
    auto floored = since - since % unit;
    if (since % unit < kube::time_point::duration::zero()) floored -= unit;
    return kube::time_point(std::chrono::duration_cast<kube::time_point::duration>(floored));
}

void check_lease_round_trip(const kube::lease& l) {
    auto written = l.to_json();
    written["metadata"]["uid"] = l.meta.uid;  // to_json leaves the uid to the server
    auto again = kube::lease::from_json(written);
    if (!again) fail("a Lease written back reads again", again.error());
    const auto micro = std::chrono::microseconds(1);
    const bool same = again->holder_identity == l.holder_identity &&
                      again->lease_duration_seconds == l.lease_duration_seconds &&
                      again->lease_transitions == l.lease_transitions && again->meta.name == l.meta.name &&
                      again->meta.namespace_ == l.meta.namespace_ &&
                      again->meta.resource_version == l.meta.resource_version && again->meta.labels == l.meta.labels &&
                      again->meta.annotations == l.meta.annotations &&
                      again->meta.owner_references == l.meta.owner_references &&
                      again->acquire_time == floor_to(l.acquire_time, micro) &&
                      again->renew_time == floor_to(l.renew_time, micro);
    check(same, "a Lease written back reads as the same Lease (times to the microsecond)",
          fmt::format("before: {}\nafter:  {}", l.to_json().dump(), again->to_json().dump()));
}

kube::json group_object_with(const election::election_group& g, kube::json status) {
    return {{"metadata",
             {{"name", g.meta.name}, {"namespace", g.meta.namespace_}, {"uid", g.meta.uid},
              {"resourceVersion", g.meta.resource_version}}},
            {"status", std::move(status)}};
}

void check_status_round_trip(const election::election_group& g) {
    auto again = election::election_group::from_json(group_object_with(g, g.status.to_json()));
    if (!again) fail("an ElectionGroup status written back reads again", again.error());
    election::group_status expected = g.status;
    const auto second = std::chrono::seconds(1);
    expected.last_transition_time = floor_to(expected.last_transition_time, second);
    for (auto& c : expected.conditions) {
        // metav1.Condition requires the time: to_json writes the epoch for an unknown one.
        c.last_transition_time = floor_to(c.last_transition_time.value_or(kube::time_point{}), second);
    }
    check(again->status == expected, "an ElectionGroup status written back reads as the same status",
          fmt::format("before: {}\nafter:  {}", g.status.to_json().dump(), again->status.to_json().dump()));
}

struct stores {
    kind_store<kube::pod> pods;
    kind_store<kube::deployment> deployments;
    kind_store<kube::replica_set> replica_sets;
    kind_store<kube::node> nodes;
    kind_store<kube::lease> leases;
    kind_store<election::election_group> groups;
};

void consume(const kube::watch_event& e, stores& s) {
    s.pods.apply(e.type, e.object, "pod");
    s.deployments.apply(e.type, e.object, "deployment");
    s.replica_sets.apply(e.type, e.object, "replica_set");
    s.nodes.apply(e.type, e.object, "node");
    s.leases.apply(e.type, e.object, "lease");
    s.groups.apply(e.type, e.object, "electiongroup");
    if (auto l = kube::lease::from_json(e.object)) check_lease_round_trip(*l);
    if (auto g = election::election_group::from_json(e.object)) check_status_round_trip(*g);
}

}  // namespace

extern "C" int elector_fuzz_one(const std::uint8_t* data, std::size_t size) {
    fuzz::byte_reader in(data, size);
    constexpr std::size_t limits[] = {64, 4096, 1u << 20, 64u << 20};
    const std::size_t max_line = limits[in.below(4)];
    std::uint32_t seed = in.byte() | 0x100u;
    const std::string_view stream = in.rest();

    const framed whole = frame(stream, max_line, [&] { return stream.size(); });
    const framed chunked = frame(stream, max_line, [&] {
        seed = seed * 1103515245u + 12345u;
        return std::size_t{1} + (seed >> 16) % 97;
    });
    check(chunked.lines == whole.lines && chunked.pending == whole.pending && chunked.ok == whole.ok &&
              chunked.overflowed == whole.overflowed,
          "line_splitter: the lines do not depend on the chunk boundaries",
          fmt::format("one chunk: {} lines, ok={}, pending {} bytes; in chunks: {} lines, ok={}, pending {} bytes",
                      whole.lines.size(), whole.ok, whole.pending.size(), chunked.lines.size(), chunked.ok,
                      chunked.pending.size()));
    check(whole.ok != whole.overflowed, "line_splitter: feed fails exactly when a line overflows");
    for (const auto& line : whole.lines) {
        check(!line.empty() && line.find('\n') == std::string::npos && line.size() <= max_line,
              "line_splitter: lines are non-empty, without '\\n', within the limit", shown(line));
    }

    stores s;
    for (const auto& line : whole.lines) {
        auto event = kube::decode_watch_event(line);
        if (!event) {
            check(!event.error().to_string().empty(), "decode_watch_event: an error says what is wrong");
            continue;
        }
        check(event->object.is_object(), "decode_watch_event: the object is a JSON object");
        consume(*event, s);
    }
    return 0;
}
