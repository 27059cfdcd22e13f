// elector: the composition root. Configuration, logging, the Kubernetes
// client, the ElectionGroup cache, the election controller's caches and the
// leader API run in every replica; the election controller's workers (every
// write) run in the replica that leads (--leader-elect) or, without leader
// election, in the only one.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "build_info.hpp"
#include "config/options.hpp"
#include "controller/election_controller.hpp"
#include "controller/group_cache.hpp"
#include "controller/leader_api.hpp"
#include "http/server.hpp"
#include "kube/client.hpp"
#include "kube/client_metrics.hpp"
#include "kube/cluster_config.hpp"
#include "kube/informer.hpp"
#include "kube/leader_election.hpp"
#include "log/logging.hpp"
#include "metrics/process.hpp"
#include "metrics/registry.hpp"
#include "webhook/serve.hpp"

namespace {

using namespace elector;

// client-go's form: "name/version (os/arch) kubernetes/commit".
std::string user_agent() {
    return fmt::format("elector/{} (linux/amd64) elector/{}", build_info::version, build_info::git_commit);
}

// SIGTERM and SIGINT are blocked in every thread (the mask is inherited, so
// this runs before any thread starts) and taken by sigwait() on one thread.
sigset_t block_termination_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

// CLOCK_MONOTONIC seconds, the clock every process on the machine shares:
// logged with leadership changes so that logs of several processes can be
// checked for overlap.
std::string mono() {
    return fmt::format("{:.9f}", std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// client-go's default identity is hostname_uuid; in a pod, POD_NAME (downward API).
std::string election_identity() {
    if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::random_device random;
    const std::uint64_t suffix = (std::uint64_t{random()} << 32) | random();
    return fmt::format("{}_{:016x}", host, suffix);
}

// Runs elector's own leader election until `stop`; the leader's work runs
// inside on_started_leading until leadership ends. Returns false if
// leadership was lost rather than given up.
bool run_leader_election(const config::options& options, const kube::client& client, const std::string& ns,
                         const std::string& id, const std::function<void(std::stop_token)>& work,
                         std::stop_token stop) {
    const std::string lease = options.leader_election_id;
    const std::string where = ns + "/" + lease;
    kube::api_lease_lock lock(client, ns, lease, std::min(options.request_timeout, options.leader_election_renew_deadline));
    kube::leader_elector elector(
        {.identity = id,
         .lease_duration = options.leader_election_lease_duration,
         .renew_deadline = options.leader_election_renew_deadline,
         .retry_period = options.leader_election_retry_period},
        lock, kube::time_source::system(),
        {.on_started_leading =
             [&](std::stop_token leading) {
                 spdlog::info("leader election: event=started-leading id={} lease={} mono={}", log::q(id),
                              log::q(where), mono());
                 work(leading);
                 spdlog::info("leader election: event=stopped-leading id={} lease={} mono={}", log::q(id),
                              log::q(where), mono());
             },
         .on_stopped_leading =
             [&] { spdlog::info("leader election: no longer leading id={} lease={}", log::q(id), log::q(where)); },
         .on_new_leader =
             [&](const std::string& leader) {
                 spdlog::info("leader election: event=new-leader id={} leader={} lease={} mono={}", log::q(id),
                              log::q(leader), log::q(where), mono());
             }});
    // A standby watches the Lease, so that it tries at once when the leader
    // releases it instead of at its next retry.
    kube::informer<kube::lease> watch(client, kube::resources::leases,
                                      {.namespace_ = ns, .field_selector = "metadata.name=" + lease},
                                      {.on_add = [&](const kube::lease&) { elector.nudge(); },
                                       .on_update = [&](const kube::lease&, const kube::lease&) { elector.nudge(); },
                                       .on_delete = [&](const kube::lease&) { elector.nudge(); }});
    watch.start();
    spdlog::info("leader election: competing for lease id={} lease={}", log::q(id), log::q(where));
    elector.run(stop);
    watch.stop();
    return stop.stop_requested();
}

int run(const config::options& options) {
    const sigset_t signals = block_termination_signals();
    log::setup(options.level, options.format);
    spdlog::info("elector starting version={} commit={}", log::q(build_info::version), log::q(build_info::git_commit));

    auto cluster = kube::resolve_cluster_config(options.kubeconfig, options.context);
    if (!cluster) {
        spdlog::error("cannot load the cluster configuration error={}", log::q(cluster.error()));
        return 1;
    }
    auto transport = kube::transport::create(*cluster, {.qps = options.kube_api_qps,
                                                        .burst = options.kube_api_burst,
                                                        .timeout = options.request_timeout,
                                                        .user_agent = user_agent()});
    if (!transport) {
        spdlog::error("cannot use the cluster configuration source={} error={}", log::q(cluster->source),
                      log::q(transport.error()));
        return 1;
    }
    // Metrics: process, build and API in every replica; group series only
    // in the leader (the controller adds them while it runs).
    metrics::registry registry;
    metrics::add_process_metrics(registry);
    registry.gauge("elector_build_info", "elector's version and commit; always 1.", {"version", "commit"})
        .with({build_info::version, build_info::git_commit})
        ->set(1);
    kube::client client(*transport, kube::client_metrics(registry));
    // A wrong server, CA or credential shows here, once and clearly, rather
    // than as the first controller's errors.
    auto version = client.server_version();
    if (!version) {
        spdlog::error("cannot reach the Kubernetes API at {} server={} source={} error={}", cluster->server,
                      log::q(cluster->server), log::q(cluster->source), log::q(version.error().to_string()));
        return 1;
    }
    const std::string kubernetes_version = version->value("gitVersion", "(unknown version)");
    spdlog::info("connected to Kubernetes {} at {} version={} server={} source={}", kubernetes_version, cluster->server,
                 log::q(kubernetes_version), log::q(cluster->server), log::q(cluster->source));

    auto& master_status = registry.gauge("leader_election_master_status",
                                         "1 while this replica leads elector's own election (client-go's metric).",
                                         {"name"});
    http::server metrics_server("metrics");
    if (options.metrics_bind_address.enabled) {
        metrics_server.get("/metrics", [&registry](const http::request& r) {
            const auto n = metrics::negotiate(r.header("Accept").value_or(""));
            return http::response{.status = 200, .content_type = std::string(n.content_type), .body = registry.expose(n.format)};
        });
        if (auto port = metrics_server.start(options.metrics_bind_address); !port) {
            spdlog::error("cannot serve the metrics address={} error={}",
                          log::q(options.metrics_bind_address.to_string()), log::q(port.error()));
            return 1;
        }
    }

    // Every replica caches the ElectionGroups and answers the leader API.
    const controller::scope scope(options.namespaces);
    controller::group_cache groups(client, scope);
    groups.start();
    http::server leader_api("leader API");
    if (options.leader_api_bind_address.enabled) {
        controller::add_leader_routes(leader_api, groups);
        if (auto port = leader_api.start(options.leader_api_bind_address); !port) {
            spdlog::error("cannot serve the leader API address={} error={}",
                          log::q(options.leader_api_bind_address.to_string()), log::q(port.error()));
            return 1;
        }
    }
    const std::string id = election_identity();
    controller::controller_options controller_options{
        .workers = options.max_concurrent_reconciles, .identity = id, .metrics = &registry};
    if constexpr (build_info::test_hooks) {
        if (const char* step = std::getenv("ELECTOR_TEST_EXIT_AFTER_STEP"); step != nullptr && *step != '\0') {
            controller_options.exit_after_step = std::atoi(step);
            spdlog::warn("test hook: the first handover will exit the process after_step={}",
                         controller_options.exit_after_step);
        }
    }
    // Built and its caches started here, in every replica, so that a standby
    // takes over with warm caches; its workers run only in the leader. Its
    // informers wind down after the leader's work ends, not before the Lease
    // is handed over.
    controller::election_controller controller(client, groups, scope, controller_options);
    controller.start();
    const auto ready = [&] { return groups.has_synced() && controller.synced(); };
    // Freed heap goes back to the system once the caches have synced (the
    // initial lists, decoded page by page, leave free memory scattered over
    // the heap that glibc keeps) and every minute after: at 1,000 groups /
    // 3,000 pods a restart otherwise stays at the initial sync's peak.
    std::jthread heap_trimmer([&](std::stop_token until) {
        std::mutex m;
        std::condition_variable_any wake;
        const auto wait = [&](std::chrono::seconds d) {
            std::unique_lock lock(m);
            wake.wait_for(lock, until, d, [] { return false; });  // only a stop ends it early
            return !until.stop_requested();
        };
        while (!ready()) {
            if (!wait(std::chrono::seconds(1))) return;
        }
        for (auto pause = std::chrono::seconds(5); wait(pause); pause = std::chrono::seconds(60)) malloc_trim(0);
    });
    const auto ready_metric = registry.scoped_collector([&](std::vector<metrics::collected_family>& out) {
        out.push_back({.name = "elector_ready",
                       .help = "1 when this replica's caches are synced (as /readyz), leading or not.",
                       .samples = {{{}, ready() ? 1.0 : 0.0}}});
    });

    // The admission webhook, in every replica (the Service spreads reviews
    // over them), over TLS with the certificate of --webhook-cert-dir. Served
    // when that directory exists: a cluster install mounts the webhook
    // Secret there; run locally without one, elector works without it.
    const std::string cert_dir = options.webhook_cert_dir;
    http::server webhook_server("webhook", webhook::server_options(cert_dir));
    if (std::error_code error; std::filesystem::is_directory(cert_dir, error)) {
        webhook::add_routes(
            webhook_server,
            [&](const std::string& ns, const std::string& name, const std::string& target) {
                webhook::cluster_view view;
                if (target.empty()) return view;
                if (auto d = controller.deployment(ns, target)) view.target = *d;
                for (const auto& g : groups.targeting(ns, target)) {
                    if (g->meta.name != name) view.others.push_back(*g);
                }
                return view;
            },
            registry);
        const config::bind_address where{.host = options.webhook_host,
                                         .port = static_cast<std::uint16_t>(options.webhook_port)};
        if (auto port = webhook_server.start(where); !port) {
            spdlog::error("cannot serve the webhook address={} error={}", log::q(where.to_string()), log::q(port.error()));
            return 1;
        }
    } else {
        spdlog::info("webhook not served: no certificate directory dir={}", log::q(cert_dir));
    }

    // Probes. /readyz does not depend on leading (a 2-replica Deployment
    // would never be Available); its body says whether this replica leads.
    std::atomic<bool> leading = false;
    http::server probes("health probes");
    if (options.health_probe_bind_address.enabled) {
        probes.get("/healthz", [](const http::request&) {
            return http::response{.status = 200, .content_type = "text/plain; charset=utf-8", .body = "ok\n"};
        });
        probes.get("/readyz", [&](const http::request&) {
            const bool synced = ready();
            const char* role = leading ? "leading" : "standby";
            return http::response{.status = synced ? 200 : 503,
                                  .content_type = "text/plain; charset=utf-8",
                                  .body = synced ? fmt::format("ok: caches synced; {}\n", role)
                                                : fmt::format("not ready: caches not synced yet; {}\n", role)};
        });
        if (auto port = probes.start(options.health_probe_bind_address); !port) {
            spdlog::error("cannot serve the health probes address={} error={}",
                          log::q(options.health_probe_bind_address.to_string()), log::q(port.error()));
            return 1;
        }
    }
    const auto master = master_status.with({options.leader_election_id});
    master->set(0);
    const auto run_controller = [&](std::stop_token until) {
        leading = true;
        master->set(1);
        spdlog::info("election controller: starting namespaces={}",
                     scope.all() ? log::q("all but kube-system, kube-public and kube-node-lease")
                                 : log::q(fmt::format("{}", fmt::join(options.namespaces, ","))));
        if (!controller.run(until) && !until.stop_requested()) spdlog::error("election controller: caches never synced");
        leading = false;
        master->set(0);
        spdlog::info("election controller: stopped");
    };

    std::stop_source stop;
    std::jthread signal_thread([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        spdlog::info("received a signal, stopping signal=SIG{}", sigabbrev_np(sig));
        stop.request_stop();
    });
    int code = 0;
    if (options.leader_elect) {
        const std::string ns = !options.leader_election_namespace.empty() ? options.leader_election_namespace
                               : !cluster->default_namespace.empty()      ? cluster->default_namespace
                                                                          : "default";
        if (!run_leader_election(options, client, ns, id, run_controller, stop.get_token())) {
            spdlog::error("leader election lost; exiting so that a fresh start competes again");
            code = 1;
        }
    } else {
        run_controller(stop.get_token());
    }
    probes.stop();
    webhook_server.stop();
    metrics_server.stop();
    leader_api.stop();
    groups.stop();
    if (!stop.stop_requested()) pthread_kill(signal_thread.native_handle(), SIGTERM);  // ends its sigwait
    signal_thread.join();
    spdlog::info("elector stopped");
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    // glibc gives threads that allocate at the same time arenas of their own
    // (up to 8 per core) and keeps what they free: the informers' initial
    // lists, decoded on their own threads, left 137 MiB resident after a
    // restart at 1,000 groups / 3,000 pods where 48 MiB is in use
    // (tests/bench/resources.sh). Two arenas are plenty for elector's rate
    // of allocation; $MALLOC_ARENA_MAX, when set, still decides.
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
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
        fmt::print("elector {} (commit {}, {}{})\n", build_info::version, build_info::git_commit,
                   build_info::compiler, build_info::test_hooks ? ", test hooks" : "");
        return 0;
    }
    return run(*options);
}
