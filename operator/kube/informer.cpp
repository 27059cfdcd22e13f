#include "kube/informer.hpp"

#include <random>

namespace elector::kube {

namespace {

double uniform(double lo, double hi) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}

}  // namespace

std::string key_of(const object_meta& meta) {
    return meta.namespace_.empty() ? meta.name : meta.namespace_ + "/" + meta.name;
}

namespace detail {

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max) {
    auto delay = base;
    for (int i = 0; i < attempt && delay < max; ++i) delay *= 2;
    delay = std::min(delay, max);
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * uniform(0.5, 1.0)));
}

int jittered_timeout_seconds(std::chrono::seconds timeout) {
    return std::max(1, static_cast<int>(static_cast<double>(timeout.count()) * uniform(0.8, 1.0)));
}

}  // namespace detail

}  // namespace elector::kube
