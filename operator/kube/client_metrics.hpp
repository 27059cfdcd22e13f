#pragma once

#include "kube/client.hpp"
#include "metrics/registry.hpp"

namespace elector::kube {

// A client_observer that counts into `r` (which must outlive the client):
//   elector_api_requests_total{verb,code}          every request; code "<error>" when no answer came
//   elector_api_request_duration_seconds{verb}     latency of every request but watches
//   elector_watch_restarts_total{resource}         informer watches that ended with an error
//   elector_watch_relists_total{resource}          informer lists after the first
client_observer client_metrics(metrics::registry& r);

}  // namespace elector::kube
