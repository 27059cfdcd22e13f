#include "object_watch.hpp"

#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "bench_support.hpp"
#include "leadership.hpp"

namespace elector::bench {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

}  // namespace

double object_state::changed_at(const std::string& member) const {
    auto it = since.find(member);
    return it == since.end() ? 0 : it->second;
}

json lease_summary(const json& lease) {
    const json& spec = member(lease, "spec");
    std::int64_t transitions = -1;
    if (auto it = spec.find("leaseTransitions"); it != spec.end() && it->is_number_integer()) {
        transitions = it->get<std::int64_t>();
    }
    return {{"holder", string_at(spec, "holderIdentity")},
            {"transitions", transitions},
            {"renew", string_at(spec, "renewTime")}};
}

object_watch::summarize pod_label_summary(std::string key) {
    return [key = std::move(key)](const json& pod) {
        const json& meta = member(pod, "metadata");
        return json{{"label", string_at(member(meta, "labels"), key.c_str())},
                    {"term", string_at(member(meta, "annotations"), "elector.dev/term")}};
    };
}

std::string holder_of(const object_watch& w, const std::string& name) {
    auto e = w.latest(name);
    return e ? e->data.value("holder", "") : "";
}

object_watch::object_watch(const std::string& kubeconfig, kube::resource r, std::string ns, summarize summary,
                           watch_options options)
    : resource_(std::move(r)), ns_(std::move(ns)), summary_(std::move(summary)), options_(std::move(options)) {
    try {
        client_ = std::make_unique<kube::client>(make_client(kubeconfig, "elector-bench-watch", 30s));
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("object_watch: ") + e.what());
    }
    resource_version_ = relist();
    thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

object_watch::~object_watch() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

void object_watch::record(const json& object, std::string type, double mono) {
    const json& meta = member(object, "metadata");
    watch_entry e{.mono = mono,
                  .type = std::move(type),
                  .name = string_at(meta, "name"),
                  .resource_version = string_at(meta, "resourceVersion"),
                  .data = summary_(object)};
    update(e);
    if (options_.keep_entries) entries_.push_back(std::move(e));
}

void object_watch::update(const watch_entry& e) {
    if (e.type == "DELETED") {
        objects_.erase(e.name);
        return;
    }
    auto next = std::make_shared<object_state>();
    auto it = objects_.find(e.name);
    const json* before = it == objects_.end() ? nullptr : &it->second->last.data;
    if (before != nullptr) next->since = it->second->since;
    if (e.data.is_object()) {
        for (const auto& [key, value] : e.data.items()) {
            const bool same = before != nullptr && before->is_object() && before->contains(key) && before->at(key) == value;
            if (!same) next->since[key] = e.mono;
        }
    }
    next->last = e;
    objects_[e.name] = std::move(next);
}

std::string object_watch::relist() {
    auto listed = client_->list_all(resource_, ns_, {.field_selector = options_.field_selector, .limit = 500});
    if (!listed) {
        throw std::runtime_error(fmt::format("object_watch: list {} in {}: {}", resource_.plural, ns_,
                                             listed.error().to_string()));
    }
    const double mono = testing::monotonic_now();
    {
        std::lock_guard lock(mutex_);
        // Objects missing from the list are gone; the others keep their change times.
        auto before = std::move(objects_);
        objects_.clear();
        for (const auto& item : listed->items) {
            const std::string name = string_at(member(item, "metadata"), "name");
            if (auto it = before.find(name); it != before.end()) objects_.insert(std::move(*it));
            record(item, "LISTED", mono);
        }
        resource_version_ = listed->resource_version;
    }
    changed_.notify_all();
    return listed->resource_version;
}

void object_watch::run(std::stop_token stop) {
    int failures = 0;
    bool need_list = false;
    while (!stop.stop_requested()) {
        if (need_list) {
            try {
                relist();
                need_list = false;
                failures = 0;
            } catch (const std::exception& e) {
                fmt::print(stderr, "{}\n", e.what());
                pause(stop, 500ms);
                continue;
            }
        }
        std::string from;
        {
            std::lock_guard lock(mutex_);
            from = resource_version_;
        }
        auto watched = client_->watch(resource_, ns_,
                                      {.resource_version = from,
                                       .field_selector = options_.field_selector,
                                       .allow_bookmarks = true,
                                       .timeout_seconds = 300,
                                       .stop = stop},
                                      [&](kube::watch_event&& e) {
                                          const double mono = testing::monotonic_now();
                                          {
                                              std::lock_guard lock(mutex_);
                                              const std::string rv =
                                                  string_at(member(e.object, "metadata"), "resourceVersion");
                                              if (!rv.empty()) resource_version_ = rv;
                                              switch (e.type) {
                                                  case kube::watch_event_type::added:
                                                      ++writes_;
                                                      record(e.object, "ADDED", mono);
                                                      break;
                                                  case kube::watch_event_type::modified:
                                                      ++writes_;
                                                      record(e.object, "MODIFIED", mono);
                                                      break;
                                                  case kube::watch_event_type::deleted:
                                                      record(e.object, "DELETED", mono);
                                                      break;
                                                  case kube::watch_event_type::bookmark:
                                                      break;
                                              }
                                          }
                                          changed_.notify_all();
                                          failures = 0;
                                          return !stop.stop_requested();
                                      });
        if (watched || stop.stop_requested()) continue;  // the server ended the watch: resume
        {
            std::lock_guard lock(mutex_);
            ++breaks_;
        }
        if (watched.error().kind == kube::error_kind::gone) {
            need_list = true;
            continue;
        }
        if (++failures >= 5) need_list = true;
        pause(stop, std::chrono::milliseconds(100 * failures));
    }
}

std::size_t object_watch::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::vector<watch_entry> object_watch::entries(std::size_t from) const {
    std::lock_guard lock(mutex_);
    if (from >= entries_.size()) return {};
    return {entries_.begin() + static_cast<std::ptrdiff_t>(from), entries_.end()};
}

std::optional<watch_entry> object_watch::latest(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = objects_.find(name);
    if (it == objects_.end()) return std::nullopt;
    return it->second->last;
}

std::optional<watch_entry> object_watch::wait_for(std::size_t from, const std::function<bool(const watch_entry&)>& match,
                                                  std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    std::optional<watch_entry> found;
    std::size_t next = from;
    changed_.wait_for(lock, timeout, [&] {
        for (; next < entries_.size(); ++next) {
            if (match(entries_[next])) {
                found = entries_[next];
                return true;
            }
        }
        return false;
    });
    return found;
}

std::map<std::string, std::shared_ptr<const object_state>> object_watch::objects() const {
    std::lock_guard lock(mutex_);
    return objects_;
}

std::size_t object_watch::count() const {
    std::lock_guard lock(mutex_);
    return objects_.size();
}

std::size_t object_watch::writes() const {
    std::lock_guard lock(mutex_);
    return writes_;
}

std::size_t object_watch::breaks() const {
    std::lock_guard lock(mutex_);
    return breaks_;
}

}  // namespace elector::bench
