#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube/informer.hpp"

namespace elector::controller {

// The namespaces elector looks at: every namespace but the system ones, or
// exactly those named with --namespace (system ones included, if named).
class scope {
public:
    explicit scope(std::vector<std::string> namespaces = {}) : namespaces_(std::move(namespaces)) {}
    [[nodiscard]] bool all() const { return namespaces_.empty(); }
    // What the informers watch: {""} (all namespaces) or the named ones.
    [[nodiscard]] std::vector<std::string> watched() const {
        return all() ? std::vector<std::string>{""} : namespaces_;
    }
    [[nodiscard]] bool contains(std::string_view ns) const {
        if (all()) return ns != "kube-system" && ns != "kube-public" && ns != "kube-node-lease";
        for (const auto& n : namespaces_) {
            if (n == ns) return true;
        }
        return false;
    }

private:
    std::vector<std::string> namespaces_;
};

// One informer per watched namespace (or one for all), read as one cache.
// Keys are "namespace/name" as kube::key_of makes them.
template <class T>
class scoped_informer {
public:
    using ptr = typename kube::store<T>::ptr;

    scoped_informer(const kube::client& c, const kube::resource& r, const scope& s, kube::informer_options options,
                    const kube::informer_handlers<T>& handlers = {}) {
        for (const auto& ns : s.watched()) {
            auto o = options;
            o.namespace_ = ns;
            parts_.push_back({ns, std::make_unique<kube::informer<T>>(c, r, std::move(o), handlers)});
        }
    }

    void add_index(const std::string& name, const typename kube::store<T>::index_function& f) {
        for (auto& p : parts_) p.informer->cache().add_index(name, f);
    }
    void start() {
        for (auto& p : parts_) p.informer->start();
    }
    void stop() {
        request_stop();
        for (auto& p : parts_) p.informer->stop();
    }
    void request_stop() {
        for (auto& p : parts_) p.informer->request_stop();
    }
    // True once every informer listed; false if `timeout` passed first.
    bool wait_for_sync(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (auto& p : parts_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (!p.informer->wait_for_sync(std::max(left, std::chrono::milliseconds(0)))) return false;
        }
        return true;
    }
    [[nodiscard]] bool has_synced() const {
        for (const auto& p : parts_) {
            if (!p.informer->has_synced()) return false;
        }
        return true;
    }

    [[nodiscard]] ptr get(const std::string& key) const {
        const auto slash = key.find('/');
        const std::string_view ns = slash == std::string::npos ? std::string_view{} : std::string_view(key).substr(0, slash);
        for (const auto& p : parts_) {
            if (p.namespace_.empty() || p.namespace_ == ns) return p.informer->cache().get(key);
        }
        return nullptr;
    }
    [[nodiscard]] std::vector<ptr> by_index(const std::string& index, const std::string& value) const {
        if (parts_.size() == 1) return parts_.front().informer->cache().by_index(index, value);
        std::vector<ptr> out;
        for (const auto& p : parts_) {
            auto some = p.informer->cache().by_index(index, value);
            out.insert(out.end(), some.begin(), some.end());
        }
        return out;
    }
    [[nodiscard]] std::vector<ptr> list() const {
        std::vector<ptr> out;
        for (const auto& p : parts_) {
            auto some = p.informer->cache().list();
            out.insert(out.end(), some.begin(), some.end());
        }
        return out;
    }

private:
    struct part {
        std::string namespace_;
        std::unique_ptr<kube::informer<T>> informer;
    };
    std::vector<part> parts_;
};

}  // namespace elector::controller
