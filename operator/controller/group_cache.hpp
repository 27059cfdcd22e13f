#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "controller/scoped_informer.hpp"
#include "election/group.hpp"

namespace elector::controller {

// Every replica's cache of ElectionGroups: the leader API answers from it on
// any replica, and the controller (in the leading replica) listens to it.
class group_cache {
public:
    using ptr = kube::store<election::election_group>::ptr;
    static constexpr const char* by_target = "target";  // index: "namespace/deployment"

    group_cache(const kube::client& c, const scope& s);
    group_cache(const group_cache&) = delete;
    group_cache& operator=(const group_cache&) = delete;

    void start() { informer_.start(); }
    void stop() { informer_.stop(); }
    bool wait_for_sync(std::chrono::milliseconds timeout) { return informer_.wait_for_sync(timeout); }
    [[nodiscard]] bool has_synced() const { return informer_.has_synced(); }

    [[nodiscard]] ptr get(const std::string& key) const { return informer_.get(key); }
    [[nodiscard]] std::vector<ptr> list() const { return informer_.list(); }
    // Groups whose spec.targetRef names this Deployment.
    [[nodiscard]] std::vector<ptr> targeting(const std::string& ns, const std::string& deployment) const {
        return informer_.by_index(by_target, ns + "/" + deployment);
    }

    // `f` is called, on an informer thread, with every group added, changed
    // or deleted from now on; an empty function stops the calls. One
    // listener at a time.
    void listen(std::function<void(const election::election_group&)> f);

private:
    void notify(const election::election_group& g);

    std::mutex mutex_;
    std::function<void(const election::election_group&)> listener_;
    scoped_informer<election::election_group> informer_;
};

}  // namespace elector::controller
