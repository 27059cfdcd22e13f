#pragma once

// elector's admission webhook on the local control plane, for the tests that
// run it (webhook_test, install_test): a CA and serving certificates of the
// test's own (ECDSA P-256, SAN IP:127.0.0.1, valid two days) made with
// openssl, and config/webhook/local/webhooks.yaml filled in with elector's
// port and that CA.

#include <string>

#include "control_plane.hpp"

namespace elector::testing {

// The names of config/webhook's configurations (cluster-scoped).
inline constexpr const char* mutating_configuration =
    "mutatingwebhookconfiguration/elector-mutating-webhook-configuration";
inline constexpr const char* validating_configuration =
    "validatingwebhookconfiguration/elector-validating-webhook-configuration";

// DIR/ca.crt and DIR/ca.key; "" or what went wrong.
std::string make_test_ca(const std::string& dir);
// DIR/NAME.crt and DIR/NAME.key, signed by DIR/ca.*, with SERIAL (e.g. "0xA1"); "" or what went wrong.
std::string make_serving_certificate(const std::string& dir, const std::string& name, const std::string& serial);

// Applies config/webhook/local with PORT and DIR/ca.crt as the CA bundle,
// then waits (up to 20 s) until the API server calls the webhooks: a server
// dry run of an invalid group in NS is refused and a valid one comes back
// with spec.leaseName defaulted. "" once in effect, else what was seen.
std::string apply_local_webhooks(const control_plane& env, int port, const std::string& ca_dir, const std::string& ns);

// Deletes both configurations (they fail closed: with elector gone they
// would refuse every ElectionGroup change of the tests that follow).
run_result delete_local_webhooks(const control_plane& env);

}  // namespace elector::testing
