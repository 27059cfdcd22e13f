#include "kube/client_metrics.hpp"

#include <array>
#include <charconv>
#include <string_view>

namespace elector::kube {

client_observer client_metrics(metrics::registry& r) {
    auto& requests = r.counter("elector_api_requests_total",
                               "Requests to the Kubernetes API, by verb and HTTP status code (<error>: no answer).",
                               {"verb", "code"});
    auto& latency = r.histogram("elector_api_request_duration_seconds",
                                "Latency of Kubernetes API requests (watches left out), by verb.", {"verb"},
                                {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    auto& restarts = r.counter("elector_watch_restarts_total",
                               "Watches that ended with an error (broken connection, API server restart, 410 Gone) "
                               "and were started again, by resource.",
                               {"resource"});
    auto& relists = r.counter("elector_watch_relists_total",
                              "Full lists of a resource after the first (after 410 Gone, or a watch that could not "
                              "resume), by resource.",
                              {"resource"});
    return {
        .request =
            [&requests, &latency](std::string_view verb, int status, std::chrono::steady_clock::duration took) {
                std::array<char, 12> digits{};
                std::string_view code = "<error>";
                if (status > 0) {
                    const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), status);
                    if (ec == std::errc()) code = std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data()));
                }
                requests.with({verb, code})->inc();
                if (verb != "watch") latency.with({verb})->observe(std::chrono::duration<double>(took).count());
            },
        .watch_restarted = [&restarts](std::string_view resource) { restarts.with({resource})->inc(); },
        .relisted = [&relists](std::string_view resource) { relists.with({resource})->inc(); },
    };
}

}  // namespace elector::kube
