// Latency and throughput of elector's Kubernetes client against a local
// kube-apiserver (tests/env). Prints figures; asserts nothing.
//
//   build/release/tests/kube_client_bench [requests]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "control_plane.hpp"
#include "kube/client.hpp"
#include "kube/cluster_config.hpp"

namespace {

using namespace elector;
using namespace std::chrono;

struct stats {
    double p50, p99, max;
};

stats summarize(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size())))]; };
    return {at(0.50), at(0.99), ms.back()};
}

template <class F>
std::vector<double> time_each(int n, F&& f) {
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto t0 = steady_clock::now();
        f(i);
        ms.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
    }
    return ms;
}

void print(const char* what, const stats& s) {
    fmt::print("{:<44} p50 {:6.2f} ms   p99 {:6.2f} ms   max {:6.2f} ms\n", what, s.p50, s.p99, s.max);
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
    testing::control_plane env({.nodes = 1});
    auto config = kube::load_kubeconfig({.explicit_path = env.kubeconfig()});
    auto transport = kube::transport::create(*config, {.qps = 100000, .burst = 100000});
    kube::client c(*transport);
    const kube::resource configmaps{"", "v1", "configmaps", true};
    env.kubectl({"create", "namespace", "bench"});

    fmt::print("elector Kubernetes client vs kube-apiserver 1.20.2 on 127.0.0.1 (etcd on tmpfs), {} requests each\n", n);
    print("GET namespace (cached connection)", summarize(time_each(n, [&](int) { (void)c.get(kube::resources::namespaces, "", "bench"); })));
    print("POST ConfigMap (create)", summarize(time_each(n, [&](int i) {
              (void)c.create(configmaps, "bench", {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                                                   {"metadata", {{"name", fmt::format("cm-{}", i)}}}});
          })));
    print("PATCH ConfigMap (merge)", summarize(time_each(n, [&](int i) {
              (void)c.patch(configmaps, "bench", fmt::format("cm-{}", i), kube::patch_type::merge,
                            {{"data", {{"k", std::to_string(i)}}}});
          })));
    print(fmt::format("LIST {} ConfigMaps (one page)", n).c_str(),
          summarize(time_each(20, [&](int) { (void)c.list(configmaps, "bench"); })));

    // Throughput with several threads sharing one transport.
    for (int threads : {1, 4, 16}) {
        std::atomic<int> next{0};
        auto t0 = steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&] {
                while (next.fetch_add(1) < n) (void)c.get(kube::resources::namespaces, "", "bench");
            });
        }
        for (auto& t : pool) t.join();
        double s = duration<double>(steady_clock::now() - t0).count();
        fmt::print("GET throughput, {:2} threads: {:7.0f} requests/s\n", threads, n / s);
    }
    fmt::print("connections opened: {}\n", (*transport)->connections_opened());
    return 0;
}
