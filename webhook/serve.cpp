#include "webhook/serve.hpp"

#include <chrono>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "log/logging.hpp"

namespace elector::webhook {

namespace {

struct webhook_metrics {
    metrics::counter_family& reviews;
    metrics::counter_family& rejections;
    metrics::histogram_family& duration;
};

// The namespace, name and target a request's object names ("" when it
// names none or does not parse: validation refuses it on its own).
struct subject {
    std::string ns, name, target;
};
subject subject_of(const admission_request& r) {
    subject s{r.ns, r.name, ""};
    if (auto g = group_of(r, r.object); g) {  // not from_json: a CREATE has no uid or resourceVersion yet
        if (s.ns.empty()) s.ns = g->meta.namespace_;
        if (s.name.empty()) s.name = g->meta.name;
        s.target = g->spec.target.name;
    }
    return s;
}

http::response serve(std::string_view which, const http::request& req, const webhook_metrics& m,
                     const std::function<admission_response(const admission_request&)>& decide) {
    const auto started = std::chrono::steady_clock::now();
    const auto took = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    auto decoded = decode_review(req.body);
    if (!decoded) {
        m.reviews.with({which, "", "error"})->inc();
        m.rejections.with({which, "malformed"})->inc();
        m.duration.with({which})->observe(took());
        spdlog::warn("webhook: not an AdmissionReview webhook={} remote={} error={}", which, log::q(req.remote_addr),
                     log::q(decoded.error()));
        return http::response{.status = 400, .content_type = "application/json", .body = http::json_error(decoded.error())};
    }
    const admission_response answer = decide(*decoded);
    const std::string_view op = decoded->operation;  // a label: only the four the API server sends
    const bool known = op == "CREATE" || op == "UPDATE" || op == "DELETE" || op == "CONNECT";
    m.reviews.with({which, known ? op : "other", answer.allowed ? "allowed" : "denied"})->inc();
    if (!answer.allowed) {
        m.rejections.with({which, answer.rejection.empty() ? "other" : answer.rejection})->inc();
        spdlog::info("webhook: refused webhook={} operation={} group={} reason={} message={}", which,
                     log::q(decoded->operation), log::q(decoded->ns + "/" + decoded->name), log::q(answer.rejection),
                     log::q(answer.message));
    }
    m.duration.with({which})->observe(took());
    return http::response{.status = 200, .content_type = "application/json", .body = encode_review(answer)};
}

}  // namespace

http::server_options server_options(const std::string& cert_dir) {
    return {.max_body_bytes = std::size_t{3} << 20,
            .keep_alive_max_requests = 1000,
            .threads = 8,
            .tls = http::tls_files{cert_dir + "/tls.crt", cert_dir + "/tls.key"}};
}

void add_routes(http::server& server, view_source view, metrics::registry& r) {
    auto m = std::make_shared<webhook_metrics>(webhook_metrics{
        .reviews = r.counter("elector_webhook_reviews_total",
                             "AdmissionReviews answered, by webhook (validate, mutate), operation and result "
                             "(allowed, denied, error: not an AdmissionReview).",
                             {"webhook", "operation", "result"}),
        .rejections = r.counter("elector_webhook_rejections_total",
                                "AdmissionReviews refused, by webhook and reason (invalid_spec, immutable_field, "
                                "duplicate_target, label_conflict, wrong_kind, malformed).",
                                {"webhook", "reason"}),
        .duration = r.histogram("elector_webhook_review_duration_seconds",
                                "Time from the request's body to the answer, by webhook.", {"webhook"},
                                {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})});
    server.post(std::string(validate_path), [m, view = std::move(view)](const http::request& req) {
        return serve("validate", req, *m, [&](const admission_request& a) {
            const auto s = subject_of(a);
            return validate(a, view(s.ns, s.name, s.target));
        });
    });
    server.post(std::string(mutate_path), [m](const http::request& req) {
        return serve("mutate", req, *m, [](const admission_request& a) { return mutate(a); });
    });
}

}  // namespace elector::webhook
