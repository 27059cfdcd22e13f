#pragma once

// Serving the admission webhook: the two POST routes on elector's HTTP
// server (over TLS), their metrics, and where the cluster state comes from.

#include <functional>
#include <string>
#include <string_view>

#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "webhook/admission.hpp"
#include "webhook/electiongroup.hpp"

namespace elector::webhook {

// The paths, as kubebuilder names them (config/webhook uses them).
inline constexpr std::string_view validate_path = "/validate-elector-dev-v1alpha1-electiongroup";
inline constexpr std::string_view mutate_path = "/mutate-elector-dev-v1alpha1-electiongroup";

// The HTTP server options for the webhook: TLS with DIR/tls.crt and
// DIR/tls.key; bodies up to 3 MiB (an UPDATE review carries the object
// twice); kept connections for up to 1,000 reviews (the API server keeps its
// connections: a TLS handshake costs ten times a review) on 8 threads.
http::server_options server_options(const std::string& cert_dir);

// The cluster state a validation needs, for group `name` in namespace `ns`
// targeting Deployment `target` (read from elector's caches; "" target when
// the object names none): the Deployment and the groups other than `name`.
using view_source =
    std::function<cluster_view(const std::string& ns, const std::string& name, const std::string& target)>;

// Adds POST validate_path and mutate_path to `server` (before its start()).
// A body that is not an AdmissionReview v1 is answered 400 with a JSON
// error; otherwise 200 with the AdmissionReview response. Counts into `r`:
//   elector_webhook_reviews_total{webhook,operation,result}   result: allowed, denied, error
//   elector_webhook_rejections_total{webhook,reason}           the admission_response's rejection
//   elector_webhook_review_duration_seconds{webhook}           histogram
// `view` and `r` must outlive the server.
void add_routes(http::server& server, view_source view, metrics::registry& r);

}  // namespace elector::webhook
