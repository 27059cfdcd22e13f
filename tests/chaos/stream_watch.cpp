#include "stream_watch.hpp"

#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "bench_support.hpp"
#include "leadership.hpp"

namespace elector::chaos {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

}  // namespace

stream_watch::stream_watch(const std::string& kubeconfig, kube::resource r, std::string ns, stream_sink sink,
                           std::chrono::seconds watch_timeout)
    : resource_(std::move(r)), ns_(std::move(ns)), sink_(std::move(sink)), watch_timeout_(watch_timeout) {
    try {
        client_ = std::make_unique<kube::client>(bench::make_client(kubeconfig, "elector-chaos-checker", 30s));
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("stream_watch: ") + e.what());
    }
    relist();
    thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

stream_watch::~stream_watch() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

void stream_watch::relist() {
    auto listed = client_->list_all(resource_, ns_, {.limit = 500});
    if (!listed) {
        throw std::runtime_error(
            fmt::format("stream_watch: list {} in '{}': {}", resource_.plural, ns_, listed.error().to_string()));
    }
    const double mono = testing::monotonic_now();
    sink_.snapshot(listed->items, mono);
    resource_version_ = listed->resource_version;
    ++lists_;
}

void stream_watch::run(std::stop_token stop) {
    int failures = 0;
    bool need_list = false;
    while (!stop.stop_requested()) {
        if (need_list) {
            try {
                relist();
                need_list = false;
                failures = 0;
            } catch (const std::exception&) {
                // The API server may be restarting: try again shortly.
                bench::pause(stop, 500ms);
                continue;
            }
        }
        auto watched = client_->watch(
            resource_, ns_,
            {.resource_version = resource_version_,
             .allow_bookmarks = true,
             .timeout_seconds = static_cast<int>(watch_timeout_.count()),
             .stop = stop},
            [&](kube::watch_event&& e) {
                const double mono = testing::monotonic_now();
                const std::string rv = bench::string_at(bench::member(e.object, "metadata"), "resourceVersion");
                if (!rv.empty()) resource_version_ = rv;
                if (e.type != kube::watch_event_type::bookmark) {
                    sink_.event(e.type, e.object, mono);
                    ++events_;
                }
                failures = 0;
                return !stop.stop_requested();
            });
        if (watched || stop.stop_requested()) continue;  // the server ended the watch: resume
        ++breaks_;
        if (watched.error().kind == kube::error_kind::gone) {
            ++gone_;
            need_list = true;
            continue;
        }
        if (++failures >= 5) need_list = true;
        bench::pause(stop, std::chrono::milliseconds(100 * failures));
    }
}

}  // namespace elector::chaos
