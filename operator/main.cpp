// elector: the composition root. Configuration, logging and the Kubernetes
// client are wired here; informers, elector's own leader election, the
// controllers and the servers join as they are built.
#include <pthread.h>
#include <signal.h>

#include <cstddef>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "build_info.hpp"
#include "config/options.hpp"
#include "kube/client.hpp"
#include "kube/cluster_config.hpp"
#include "log/logging.hpp"

namespace {

using namespace elector;

// client-go's form: "name/version (os/arch) kubernetes/commit".
std::string user_agent() {
    return fmt::format("elector/{} (linux/amd64) elector/{}", build_info::version, build_info::git_commit);
}

// SIGTERM and SIGINT are blocked in every thread (the mask is inherited, so
// this runs before any thread starts) and taken by sigwait() in main.
sigset_t block_termination_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

int run(const config::options& options) {
    const sigset_t signals = block_termination_signals();
    log::setup(options.level, options.format);
    spdlog::info("elector {} (commit {}) starting", build_info::version, build_info::git_commit);

    auto cluster = kube::resolve_cluster_config(options.kubeconfig, options.context);
    if (!cluster) {
        spdlog::error("cannot load the cluster configuration: {}", cluster.error());
        return 1;
    }
    auto transport = kube::transport::create(*cluster, {.qps = options.kube_api_qps,
                                                        .burst = options.kube_api_burst,
                                                        .timeout = options.request_timeout,
                                                        .user_agent = user_agent()});
    if (!transport) {
        spdlog::error("cannot use the cluster configuration from {}: {}", cluster->source, transport.error());
        return 1;
    }
    kube::client client(*transport);
    // A wrong server, CA or credential shows here, once and clearly, rather
    // than as the first controller's errors.
    auto version = client.server_version();
    if (!version) {
        spdlog::error("cannot reach the Kubernetes API at {} (from {}): {}", cluster->server, cluster->source,
                      version.error().to_string());
        return 1;
    }
    spdlog::info("connected to Kubernetes {} at {} (from {})", version->value("gitVersion", "(unknown version)"),
                 cluster->server, cluster->source);
    spdlog::info("no controllers are in this build yet; waiting for SIGTERM");

    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("received {}, exiting", sigabbrev_np(sig));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto arg_count = static_cast<std::size_t>(argc > 0 ? argc - 1 : 0);
    auto options = config::parse_options({argc > 0 ? argv + 1 : argv, arg_count});
    if (!options) {
        fmt::print(stderr, "elector: {}\n", options.error());
        return 2;
    }
    if (options->show_help) {
        fmt::print("{}", config::options_usage());
        return 0;
    }
    if (options->show_version) {
        fmt::print("elector {} (commit {}, {})\n", build_info::version, build_info::git_commit,
                   build_info::compiler);
        return 0;
    }
    return run(*options);
}
