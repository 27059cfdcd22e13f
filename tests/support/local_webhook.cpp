#include "local_webhook.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace elector::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

std::string sh(const std::string& dir, const std::string& script) {
    auto r = run({"sh", "-c", fmt::format("cd '{}' && {}", dir, script)}, {.timeout = 20s});
    return r.ok() ? "" : r.describe();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

}  // namespace

std::string make_test_ca(const std::string& dir) {
    std::filesystem::create_directories(dir);
    return sh(dir, fmt::format("openssl req -x509 {} -keyout ca.key -out ca.crt -days 2 -subj /CN=elector-test-ca "
                               "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
                               ec_key));
}

std::string make_serving_certificate(const std::string& dir, const std::string& name, const std::string& serial) {
    {
        std::ofstream ext(dir + "/serving.ext", std::ios::trunc);
        ext << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n";
        if (!ext.flush()) return "cannot write " + dir + "/serving.ext";
    }
    return sh(dir, fmt::format("openssl req -new {1} -keyout {0}.key -out {0}.csr -subj /CN=elector-webhook-{0} && "
                               "openssl x509 -req -in {0}.csr -CA ca.crt -CAkey ca.key -set_serial {2} -days 2 "
                               "-out {0}.crt -extfile serving.ext",
                               name, ec_key, serial));
}

std::string apply_local_webhooks(const control_plane& env, int port, const std::string& ca_dir, const std::string& ns) {
    auto bundle = run({"openssl", "base64", "-A", "-in", ca_dir + "/ca.crt"});
    if (!bundle.ok()) return "openssl base64: " + bundle.describe();
    const std::string config = read_text(source_dir() + "/config/webhook/local/webhooks.yaml");
    if (config.find("WEBHOOK_PORT") == std::string::npos || config.find("CA_BUNDLE") == std::string::npos) {
        return "config/webhook/local/webhooks.yaml has no WEBHOOK_PORT or CA_BUNDLE placeholder";
    }
    std::string b64 = bundle.out;
    while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.pop_back();
    auto applied = env.kubectl(
        {"apply", "-f", "-"},
        {.input = replace_all(replace_all(config, "WEBHOOK_PORT", std::to_string(port)), "CA_BUNDLE", b64)});
    if (!applied.ok()) return "kubectl apply: " + applied.describe();

    // In effect once a server-side dry run of an invalid group (one the CRD
    // schema accepts) is refused and one of a valid group comes back mutated.
    const auto probe = [&](const std::string& name, const std::string& extra) {
        return env.kubectl({"apply", "--dry-run=server", "-o", "json", "-n", ns, "-f", "-"},
                           {.input = fmt::format("apiVersion: elector.dev/v1alpha1\nkind: ElectionGroup\n"
                                                 "metadata: {{name: {}}}\nspec:\n  targetRef: {{name: probe}}\n{}",
                                                 name, extra)});
    };
    run_result refused, mutated;
    const bool effective = eventually(20s, [&] {
        refused = probe("probe-invalid", "  retryPeriod: 50ms\n");
        if (refused.ok()) return false;
        mutated = probe("probe-valid", "");
        if (!mutated.ok()) return false;
        const json object = json::parse(mutated.out, nullptr, false);
        return !object.is_discarded() && object.value("spec", json::object()).value("leaseName", "") == "probe-valid";
    }, 200ms);
    if (effective) return "";
    return "the webhooks are not called: invalid dry run: " + refused.describe() + "\nvalid dry run: " +
           mutated.describe() + mutated.out;
}

run_result delete_local_webhooks(const control_plane& env) {
    return env.kubectl({"delete", mutating_configuration, validating_configuration, "--ignore-not-found"});
}

}  // namespace elector::testing
