#pragma once

// The chaos checker's watches: one list-and-watch stream of one kind in one
// namespace ("" for every namespace, or a cluster-scoped kind), delivered in
// order to a sink on the stream's own thread, each with its arrival time on
// CLOCK_MONOTONIC. A watch ended by the server resumes from the last
// resourceVersion (events in between are not lost, also across an API server
// restart: without a watch cache the server reads them from etcd); after 410
// Gone (an etcd compaction) or 5 failures in a row it lists again and hands
// the sink the whole list as one snapshot, so that the sink never sees a
// half-replaced state.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.hpp"

namespace elector::chaos {

struct stream_sink {
    // A (re)list: every object that exists now, one consistent snapshot.
    std::function<void(const std::vector<nlohmann::json>& items, double mono)> snapshot;
    // One ADDED, MODIFIED or DELETED event (bookmarks are not passed on).
    std::function<void(kube::watch_event_type type, const nlohmann::json& object, double mono)> event;
};

class stream_watch {
public:
    // Lists (throws if it cannot) and hands the snapshot to the sink before it
    // returns, then watches on a thread; the server ends each watch after
    // about watch_timeout.
    stream_watch(const std::string& kubeconfig, kube::resource r, std::string ns, stream_sink sink,
                 std::chrono::seconds watch_timeout = std::chrono::seconds(30));
    ~stream_watch();
    stream_watch(const stream_watch&) = delete;
    stream_watch& operator=(const stream_watch&) = delete;

    [[nodiscard]] std::size_t lists() const { return lists_; }    // including the first
    [[nodiscard]] std::size_t gone() const { return gone_; }      // watches answered 410 Gone
    [[nodiscard]] std::size_t breaks() const { return breaks_; }  // watches ended by an error (410 included)
    [[nodiscard]] std::size_t events() const { return events_; }

private:
    void relist();  // throws on failure
    void run(std::stop_token stop);

    kube::resource resource_;
    std::string ns_;
    stream_sink sink_;
    std::chrono::seconds watch_timeout_;
    std::unique_ptr<kube::client> client_;
    std::string resource_version_;  // the watch thread's only, after construction
    std::atomic<std::size_t> lists_{0}, gone_{0}, breaks_{0}, events_{0};
    std::jthread thread_;  // last: stopped and joined first
};

}  // namespace elector::chaos
