#include "controller/group_cache.hpp"

#include <utility>

namespace elector::controller {

group_cache::group_cache(const kube::client& c, const scope& s)
    : informer_(c, kube::resources::electiongroups, s, {},
                {.on_add = [this](const election::election_group& g) { notify(g); },
                 .on_update = [this](const election::election_group&, const election::election_group& g) { notify(g); },
                 .on_delete = [this](const election::election_group& g) { notify(g); }}) {
    informer_.add_index(by_target, [](const election::election_group& g) {
        return std::vector<std::string>{g.meta.namespace_ + "/" + g.spec.target.name};
    });
}

void group_cache::listen(std::function<void(const election::election_group&)> f) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(f);
}

void group_cache::notify(const election::election_group& g) {
    std::lock_guard lock(mutex_);
    if (listener_) listener_(g);
}

}  // namespace elector::controller
