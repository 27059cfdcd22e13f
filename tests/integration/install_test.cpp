// elector installed the way config/ installs it (issue 9), on the real
// control plane with the real kubectl 1.20 and its built-in kustomize:
// - config/default (and config/namespaced, config/samples) render, and the
//   API server accepts every object in a server-side dry run, with stand-in
//   CRDs for cert-manager and the Prometheus Operator; the objects 1.20 does
//   not serve are listed (and checked under the version 1.20 has);
// - the rendered objects agree with each other: Services, the webhook
//   configurations and the NetworkPolicy reach the manager's pods and its
//   named ports, the certificate names the webhook Service, the webhook
//   certificate is mounted where elector looks for it by default;
// - RBAC is minimal (`kubectl auth can-i` as elector's ServiceAccount) and
//   sufficient: elector runs as it would in its pod — the runtime file set
//   of the Dockerfile (scripts/runtime-rootfs) under chroot as UID 65532,
//   configured in-cluster from the token Secret of the rendered
//   ServiceAccount, with the manager's own arguments — serves the webhook,
//   leads, elects the quickstart example's leader and fails over, and the
//   API server never refuses it anything;
// - the namespaced variant: the same with per-namespace Roles.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "control_plane.hpp"
#include "election_fixture.hpp"
#include "local_webhook.hpp"

namespace elector::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string system_ns = "elector-system";
const std::string service_account = "system:serviceaccount:elector-system:elector";

// The objects of a multi-document YAML text (python3-yaml, which
// scripts/install-deps installs), as a JSON array; empty documents dropped.
json objects_of(const std::string& yaml) {
    auto r = run({"python3", "-c",
                  "import json, sys, yaml\n"
                  "print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))\n"},
                 {.input = yaml});
    if (!r.ok()) throw std::runtime_error("cannot parse the rendered YAML: " + r.describe());
    return json::parse(r.out);
}

json list_of(const json& items) { return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}; }

std::string kind_name(const json& o) {
    return o.value("kind", "") + "/" + o.value("metadata", json::object()).value("name", "");
}

const json& find(const json& objects, const std::string& kind, const std::string& name) {
    for (const auto& o : objects) {
        if (kind_name(o) == kind + "/" + name) return o;
    }
    throw std::runtime_error("the render has no " + kind + "/" + name);
}

// Where the manager container mounts a Secret volume (the webhook's
// serving certificate); "" if it mounts none.
std::string secret_mount_of(const json& deployment) {
    const json& spec = deployment["spec"]["template"]["spec"];
    std::set<std::string> secret_volumes;
    for (const auto& v : spec.value("volumes", json::array())) {
        if (v.contains("secret")) secret_volumes.insert(v.value("name", ""));
    }
    for (const auto& m : spec["containers"].at(0).value("volumeMounts", json::array())) {
        if (secret_volumes.contains(m.value("name", ""))) return m.value("mountPath", "");
    }
    return "";
}

// Kubernetes 1.20 does not serve these (kind, apiVersion) pairs; every
// current cluster does.
bool served_by_1_20(const json& o) {
    return !(o.value("kind", "") == "PodDisruptionBudget" && o.value("apiVersion", "") == "policy/v1");
}

bool subset_of(const json& small, const json& big) {
    for (const auto& [k, v] : small.items()) {
        if (!big.contains(k) || big.at(k) != v) return false;
    }
    return true;
}

std::string base64_decoded(const std::string& text) {
    auto r = run({"base64", "-d"}, {.input = text});
    if (!r.ok()) throw std::runtime_error("base64 -d: " + r.describe());
    return r.out;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

class install_test : public election_fixture {
protected:
    install_test() : election_fixture({.ns_prefix = "install", .group_label = "app"}) {}

    static void SetUpTestSuite() {
        start_environment();
        if (::testing::Test::HasFatalFailure()) return;
        auto standins = env_->kubectl({"apply", "-f", source_dir() + "/tests/install/standin-crds.yaml"});
        ASSERT_TRUE(standins.ok()) << standins.describe();
        auto established = env_->kubectl({"wait", "--for=condition=established", "--timeout=30s",
                                          "crd/issuers.cert-manager.io", "crd/certificates.cert-manager.io",
                                          "crd/servicemonitors.monitoring.coreos.com",
                                          "crd/prometheusrules.monitoring.coreos.com"});
        ASSERT_TRUE(established.ok()) << established.describe();
    }

    void TearDown() override {
        if (env_) delete_local_webhooks(*env_);
        election_fixture::TearDown();
        if (!root_.empty()) std::filesystem::remove_all(root_);
        if (!certs_.empty()) std::filesystem::remove_all(certs_);
    }

    // `kubectl kustomize DIR` (DIR relative to the repository) as objects.
    json render(const std::string& dir) const {
        auto r = env_->kubectl({"kustomize", source_dir() + "/" + dir});
        if (!r.ok()) throw std::runtime_error("kubectl kustomize " + dir + ": " + r.describe());
        return objects_of(r.out);
    }

    run_result apply(const json& objects, const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> args{"apply", "-f", "-"};
        args.insert(args.end(), extra.begin(), extra.end());
        return env_->kubectl(args, {.input = list_of(objects).dump()});
    }

    // The objects of a render that make elector's identity and permissions.
    static json rbac_of(const json& objects) {
        static const std::set<std::string> kinds{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                                 "Role", "RoleBinding"};
        json out = json::array();
        for (const auto& o : objects) {
            if (kinds.contains(o.value("kind", ""))) out.push_back(o);
        }
        return out;
    }

    // `kubectl auth can-i VERB RESOURCE [NAME] SCOPE --as elector's ServiceAccount`; SCOPE is "-A" or "-n NS".
    bool can(const std::string& verb, const std::string& resource, const std::string& scope,
             const std::string& subresource = "") const {
        std::vector<std::string> args{"auth", "can-i", verb, resource, "--as=" + service_account};
        if (scope == "-A") {
            args.push_back("--all-namespaces");
        } else if (!scope.empty()) {
            args.insert(args.end(), {"-n", scope});
        }
        if (!subresource.empty()) args.push_back("--subresource=" + subresource);
        return env_->kubectl(args).ok();
    }

    struct permission {
        std::string verb, resource, scope, subresource;
        bool allowed;
    };

    // Every permission's can-i answer as expected; the mismatches.
    std::vector<std::string> mismatches(const std::vector<permission>& expected) const {
        std::vector<std::string> wrong;
        for (const auto& p : expected) {
            if (can(p.verb, p.resource, p.scope, p.subresource) != p.allowed) {
                wrong.push_back(fmt::format("{} {}{} {}: want {}", p.verb, p.resource,
                                            p.subresource.empty() ? "" : "/" + p.subresource, p.scope,
                                            p.allowed ? "yes" : "no"));
            }
        }
        return wrong;
    }

    // The runtime file set of the Dockerfile (scripts/runtime-rootfs) with
    // this build's elector, plus what the kubelet would mount: the
    // ServiceAccount's token, CA and namespace, and the webhook's serving
    // certificate where the DEPLOYMENT mounts it (a CA of the test's own,
    // under certs_).
    void assemble_pod_root(const json& deployment) {
        const std::string cert_mount_path = secret_mount_of(deployment);
        ASSERT_FALSE(cert_mount_path.empty()) << "the manager mounts no webhook certificate";
        root_ = fmt::format("{}/rootfs-{}", env_->dir(), ns_);
        auto built = run({source_dir() + "/scripts/runtime-rootfs", elector_binary(), root_}, {.timeout = 60s});
        ASSERT_TRUE(built.ok()) << built.describe();

        std::string secret;
        ASSERT_TRUE(eventually(30s, [&] {
            secret = env_->kubectl({"get", "serviceaccount", "elector", "-n", system_ns, "-o",
                                    "jsonpath={.secrets[0].name}"}).out;
            return !secret.empty();
        })) << "Kubernetes 1.20's token controller made no token Secret for the ServiceAccount";
        const auto data = [&](const std::string& key) {
            return base64_decoded(env_->kubectl({"get", "secret", secret, "-n", system_ns, "-o",
                                                 "jsonpath={.data." + key + "}"}).out);
        };
        const std::filesystem::path sa = root_ + "/var/run/secrets/kubernetes.io/serviceaccount";
        write_file(sa / "token", data("token"));
        write_file(sa / "ca.crt", data("ca\\.crt"));
        write_file(sa / "namespace", system_ns);

        certs_ = root_ + "-certs";
        ASSERT_EQ(make_test_ca(certs_), "");
        ASSERT_EQ(make_serving_certificate(certs_, "serving", "0x1"), "");
        const std::filesystem::path mount = root_ + cert_mount_path;
        std::filesystem::create_directories(mount);
        std::filesystem::copy_file(certs_ + "/serving.crt", mount / "tls.crt");
        std::filesystem::copy_file(certs_ + "/serving.key", mount / "tls.key");
        std::filesystem::create_directories(root_ + "/proc");
        // As the kubelet's volumes: readable by the container's user.
        for (const auto& f : std::filesystem::recursive_directory_iterator(root_ + "/var")) {
            ::chmod(f.path().c_str(), f.is_directory() ? 0755 : 0644);
        }
        ::chmod(mount.c_str(), 0755);
        ::chmod((mount / "tls.key").c_str(), 0644);
    }

    // The manager container's arguments, with its listening addresses moved
    // to 127.0.0.1 (port 0: elector says which it took), and the webhook
    // on a free port of 127.0.0.1.
    std::vector<std::string> local_arguments(const json& deployment) {
        const json container = deployment["spec"]["template"]["spec"]["containers"].at(0);
        std::vector<std::string> args;
        for (const auto& a : container.value("args", json::array())) {
            std::string arg = a.get<std::string>();
            for (const char* flag : {"--metrics-bind-address=", "--health-probe-bind-address=",
                                     "--leader-api-bind-address="}) {
                if (arg.starts_with(flag)) arg = std::string(flag) + "127.0.0.1:0";
            }
            args.push_back(arg);
        }
        webhook_port_ = free_port();
        args.push_back("--webhook-host=127.0.0.1");
        args.push_back(fmt::format("--webhook-port={}", webhook_port_));
        return args;
    }

    // elector from the pod root: in a mount namespace of its own with /proc
    // mounted (as a container runtime does), chrooted, as UID/GID 65532, with
    // the in-cluster environment the kubelet sets and no kubeconfig.
    void start_in_pod_root(const std::vector<std::string>& args) {
        const std::string server = env_->info().at("server");
        const std::string port = server.substr(server.rfind(':') + 1);
        std::vector<std::string> argv{"env", "-u", "KUBECONFIG", "unshare", "--mount", "--propagation", "private",
                                      "sh", "-c",
                                      "mount -t proc proc \"$0/proc\" && "
                                      "exec chroot --userspec=65532:65532 \"$0\" /elector \"$@\"",
                                      root_};
        argv.insert(argv.end(), args.begin(), args.end());
        log_ = fmt::format("{}/elector-{}-{}.log", env_->dir(), ns_, ++starts_);
        scan_log(log_);
        elector_ = std::make_unique<child_process>(
            argv, log_, log_, std::vector<std::string>{"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + port});
    }

    // Lines of elector's log where the API server refused it (401/403).
    std::vector<std::string> refusals() const {
        std::vector<std::string> out;
        std::istringstream lines(read_text(log_));
        for (std::string line; std::getline(lines, line);) {
            if (line.find("forbidden") != std::string::npos || line.find("Forbidden") != std::string::npos ||
                line.find("Unauthorized") != std::string::npos || line.find("code=403") != std::string::npos) {
                out.push_back(line);
            }
        }
        return out;
    }

    std::string root_;
    std::string certs_;
    int webhook_port_ = 0;
};

TEST_F(install_test, config_default_renders_with_kubectl_1_20_and_the_api_server_accepts_it) {
    const auto started = std::chrono::steady_clock::now();
    const json objects = render("config/default");

    std::multiset<std::string> names;
    for (const auto& o : objects) names.insert(kind_name(o));
    const std::multiset<std::string> expected{
        "Namespace/elector-system",
        "CustomResourceDefinition/electiongroups.elector.dev",
        "ServiceAccount/elector",
        "ClusterRole/elector-manager",
        "ClusterRoleBinding/elector-manager",
        "ClusterRole/elector-electiongroup-editor",
        "ClusterRole/elector-electiongroup-viewer",
        "Role/elector-leader-election",
        "RoleBinding/elector-leader-election",
        "Deployment/elector",
        "PodDisruptionBudget/elector",
        "Service/elector-leader-api",
        "Service/elector-webhook-service",
        "Service/elector-metrics",
        "MutatingWebhookConfiguration/elector-mutating-webhook-configuration",
        "ValidatingWebhookConfiguration/elector-validating-webhook-configuration",
        "Issuer/elector-selfsigned-issuer",
        "Certificate/elector-serving-cert",
        "ServiceMonitor/elector",
        "NetworkPolicy/elector",
    };
    EXPECT_EQ(names, expected);

    // The manager as the issue asks for it.
    const json& deployment = find(objects, "Deployment", "elector");
    const json& pod = deployment["spec"]["template"];
    const json& container = pod["spec"]["containers"].at(0);
    const json pod_labels = pod["metadata"]["labels"];
    EXPECT_EQ(deployment["spec"]["replicas"], 2);
    EXPECT_EQ(deployment["spec"]["selector"]["matchLabels"], pod_labels);
    const json args = container.value("args", json::array());
    EXPECT_NE(std::find(args.begin(), args.end(), "--leader-elect"), args.end()) << args.dump();
    EXPECT_EQ(container.value("image", ""), "ghcr.io/elector-dev/elector:0.1.0");
    const json pod_security = pod["spec"].value("securityContext", json::object());
    EXPECT_EQ(pod_security.value("runAsNonRoot", false), true);
    EXPECT_EQ(pod_security.value("runAsUser", 0), 65532);
    EXPECT_EQ(pod_security.value("seccompProfile", json::object()).value("type", ""), "RuntimeDefault");
    const json security = container.value("securityContext", json::object());
    EXPECT_EQ(security.value("readOnlyRootFilesystem", false), true);
    EXPECT_EQ(security.value("allowPrivilegeEscalation", true), false);
    EXPECT_EQ(security.value("capabilities", json::object()).value("drop", json::array()), json::array({"ALL"}));
    EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    EXPECT_TRUE(container["resources"]["requests"].contains("memory"));
    EXPECT_TRUE(container["resources"]["limits"].contains("memory"));
    EXPECT_TRUE(pod["spec"]["affinity"].contains("podAntiAffinity"));
    EXPECT_EQ(find(objects, "PodDisruptionBudget", "elector")["spec"]["selector"]["matchLabels"], pod_labels);

    // Every Service and the NetworkPolicy select the manager's pods and name its ports.
    std::set<std::string> port_names;
    for (const auto& p : container.value("ports", json::array())) port_names.insert(p.value("name", ""));
    EXPECT_EQ(port_names, (std::set<std::string>{"metrics", "health", "leader-api", "webhook-server"}));
    for (const char* name : {"elector-leader-api", "elector-webhook-service", "elector-metrics"}) {
        const json& service = find(objects, "Service", name);
        EXPECT_TRUE(subset_of(service["spec"]["selector"], pod_labels)) << name;
        for (const auto& p : service["spec"]["ports"]) {
            EXPECT_TRUE(port_names.contains(p.value("targetPort", ""))) << name << ": " << p.dump();
        }
    }
    const json& policy = find(objects, "NetworkPolicy", "elector");
    EXPECT_TRUE(subset_of(policy["spec"]["podSelector"]["matchLabels"], pod_labels));
    for (const auto& rule : policy["spec"]["ingress"]) {
        for (const auto& p : rule["ports"]) EXPECT_TRUE(port_names.contains(p.value("port", ""))) << p.dump();
    }
    const json& monitor = find(objects, "ServiceMonitor", "elector");
    EXPECT_TRUE(subset_of(monitor["spec"]["selector"]["matchLabels"],
                          find(objects, "Service", "elector-metrics")["metadata"]["labels"]));

    // The webhook: both configurations call the webhook Service, whose
    // certificate cert-manager issues for its DNS name and injects the CA of;
    // the manager mounts that certificate where elector reads it by default.
    const std::string service_dns = "elector-webhook-service.elector-system.svc";
    const json& certificate = find(objects, "Certificate", "elector-serving-cert");
    EXPECT_NE(std::find(certificate["spec"]["dnsNames"].begin(), certificate["spec"]["dnsNames"].end(), service_dns),
              certificate["spec"]["dnsNames"].end())
        << certificate.dump();
    EXPECT_EQ(certificate["spec"]["issuerRef"]["name"], "elector-selfsigned-issuer");
    for (const auto& [kind, name] :
         {std::pair{"MutatingWebhookConfiguration", "elector-mutating-webhook-configuration"},
          std::pair{"ValidatingWebhookConfiguration", "elector-validating-webhook-configuration"}}) {
        const json& configuration = find(objects, kind, name);
        EXPECT_EQ(configuration["metadata"]["annotations"].value("cert-manager.io/inject-ca-from", ""),
                  "elector-system/elector-serving-cert");
        for (const auto& w : configuration["webhooks"]) {
            EXPECT_EQ(w["clientConfig"]["service"]["name"], "elector-webhook-service");
            EXPECT_EQ(w["clientConfig"]["service"]["namespace"], system_ns);
        }
    }
    std::string secret_volume;
    for (const auto& v : pod["spec"].value("volumes", json::array())) {
        if (v.contains("secret")) secret_volume = v["secret"].value("secretName", "");
    }
    EXPECT_EQ(secret_volume, certificate["spec"].value("secretName", "?"));
    const std::string cert_mount = secret_mount_of(deployment);
    const std::string help = run({elector_binary(), "--help"}).out;
    EXPECT_NE(help.find("(default \"" + cert_mount + "\")"), std::string::npos)
        << "the certificate is mounted at " << cert_mount << ", not at elector's --webhook-cert-dir default";

    // The API server accepts every object 1.20 serves; the rest are listed.
    auto ns = apply(json::array({find(objects, "Namespace", system_ns)}));
    ASSERT_TRUE(ns.ok()) << ns.describe();
    json served = json::array();
    std::vector<std::string> left_out;
    for (const auto& o : objects) {
        if (served_by_1_20(o)) {
            served.push_back(o);
        } else {
            left_out.push_back(o.value("apiVersion", "") + " " + kind_name(o));
        }
    }
    EXPECT_EQ(left_out, std::vector<std::string>{"policy/v1 PodDisruptionBudget/elector"});
    auto dry = apply(served, {"--dry-run=server"});
    ASSERT_TRUE(dry.ok()) << dry.describe();
    EXPECT_EQ(static_cast<size_t>(std::count(dry.out.begin(), dry.out.end(), '\n')), served.size()) << dry.out;
    // The PodDisruptionBudget's content, under the version 1.20 serves (same spec).
    json pdb = find(objects, "PodDisruptionBudget", "elector");
    pdb["apiVersion"] = "policy/v1beta1";
    auto pdb_dry = apply(json::array({pdb}), {"--dry-run=server"});
    EXPECT_TRUE(pdb_dry.ok()) << pdb_dry.describe();

    // The namespaced variant's Role grants what the ClusterRole does, but for nodes (cluster-scoped).
    json cluster_rules = json::array();
    for (const auto& rule : find(objects, "ClusterRole", "elector-manager")["rules"]) {
        if (rule["resources"] != json::array({"nodes"})) cluster_rules.push_back(rule);
    }
    const json namespaced_role = objects_of(read_text(source_dir() + "/config/rbac/namespaced/role.yaml"));
    EXPECT_EQ(namespaced_role.at(0)["rules"], cluster_rules)
        << "config/rbac/namespaced/role.yaml and config/rbac/role.yaml differ";

    // The namespaced variant and the sample, the same way; the example alert rules.
    json namespaced = json::array();
    for (const auto& o : render("config/namespaced")) {
        if (served_by_1_20(o)) namespaced.push_back(o);
    }
    auto namespaced_dry = apply(namespaced, {"--dry-run=server"});
    EXPECT_TRUE(namespaced_dry.ok()) << namespaced_dry.describe();
    auto sample = apply(render("config/samples"), {"--dry-run=server", "-n", ns_});
    EXPECT_TRUE(sample.ok()) << sample.describe();
    auto rules = env_->kubectl({"apply", "--dry-run=server", "-n", system_ns, "-f",
                                source_dir() + "/examples/monitoring/prometheusrule.yaml"});
    EXPECT_TRUE(rules.ok()) << rules.describe();

    std::cout << fmt::format("[ figures  ] config/default: {} objects rendered by kubectl 1.20's kustomize, {} accepted "
                             "in a server dry run, left out (not served by 1.20): {}; {:.1f} s\n",
                             objects.size(), served.size(), fmt::join(left_out, ", "), seconds_since(started));
}

TEST_F(install_test, the_service_account_may_do_what_elector_does_and_nothing_else) {
    const json objects = render("config/default");
    auto applied = apply(rbac_of(objects));
    ASSERT_TRUE(applied.ok()) << applied.describe();
    // RBAC's caches follow the new bindings within moments.
    ASSERT_TRUE(eventually(10s, [&] { return can("patch", "pods", "-A"); })) << "the ServiceAccount cannot patch pods";

    const std::vector<permission> expected{
        // What elector does.
        {"list", "pods", "-A", "", true},
        {"watch", "pods", "-A", "", true},
        {"patch", "pods", "-A", "", true},
        {"list", "deployments.apps", "-A", "", true},
        {"watch", "replicasets.apps", "-A", "", true},
        {"list", "nodes", "", "", true},
        {"watch", "nodes", "", "", true},
        {"create", "leases.coordination.k8s.io", "-A", "", true},
        {"update", "leases.coordination.k8s.io", "-A", "", true},
        {"delete", "leases.coordination.k8s.io", "-A", "", true},
        {"watch", "electiongroups.elector.dev", "-A", "", true},
        {"patch", "electiongroups.elector.dev", "-A", "", true},
        {"patch", "electiongroups.elector.dev", "-A", "status", true},
        {"update", "electiongroups.elector.dev", "-A", "finalizers", true},
        {"create", "events", "-A", "", true},
        {"patch", "events", "-A", "", true},
        // What it must not.
        {"get", "secrets", "-A", "", false},
        {"get", "secrets", system_ns, "", false},
        {"list", "secrets", system_ns, "", false},
        {"get", "configmaps", "-A", "", false},
        {"delete", "pods", "-A", "", false},
        {"create", "pods", "-A", "", false},
        {"update", "pods", "-A", "", false},
        {"create", "pods", "-A", "eviction", false},
        {"create", "pods", "-A", "exec", false},
        {"update", "deployments.apps", "-A", "", false},
        {"patch", "deployments.apps", "-A", "", false},
        {"delete", "deployments.apps", "-A", "", false},
        {"update", "deployments.apps", "-A", "scale", false},
        {"patch", "replicasets.apps", "-A", "", false},
        {"patch", "nodes", "", "", false},
        {"create", "electiongroups.elector.dev", "-A", "", false},
        {"delete", "electiongroups.elector.dev", "-A", "", false},
        {"create", "serviceaccounts", "-A", "token", false},
        {"escalate", "clusterroles.rbac.authorization.k8s.io", "", "", false},
        {"bind", "clusterroles.rbac.authorization.k8s.io", "", "", false},
        {"create", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "", "", false},
        {"*", "*", "-A", "", false},
    };
    const auto wrong = mismatches(expected);
    EXPECT_TRUE(wrong.empty()) << fmt::format("{}", fmt::join(wrong, "\n"));
    std::cout << fmt::format("[ figures  ] kubectl auth can-i as {}: {} permissions checked, {} as expected\n",
                             service_account, expected.size(), expected.size() - wrong.size());
}

TEST_F(install_test, elector_runs_from_the_image_file_set_with_the_service_account_token_and_fails_over) {
    const auto started = std::chrono::steady_clock::now();
    const json objects = render("config/default");
    auto applied = apply(rbac_of(objects));
    ASSERT_TRUE(applied.ok()) << applied.describe();
    const json& deployment = find(objects, "Deployment", "elector");
    assemble_pod_root(deployment);
    if (HasFatalFailure()) return;

    start_in_pod_root(local_arguments(deployment));
    ASSERT_EQ(wait_for_port("webhook"), webhook_port_) << "elector does not serve the webhook";
    const int health = wait_for_port("health probes");
    ASSERT_GT(health, 0);
    ASSERT_TRUE(eventually(30s, [&] { return read_text(log_).find("event=started-leading") != std::string::npos; }))
        << "elector did not win its own election (Role elector-leader-election)";
    auto ready = run({"curl", "-fsS", fmt::format("http://127.0.0.1:{}/readyz", health)});
    EXPECT_TRUE(ready.ok()) << ready.describe();
    ASSERT_EQ(apply_local_webhooks(*env_, webhook_port_, certs_, ns_), "");

    // The quickstart example, through the webhook; elected, then a failover.
    for (const char* file : {"app.yaml", "electiongroup.yaml"}) {
        auto r = env_->kubectl({"apply", "-n", ns_, "-f", source_dir() + "/examples/quickstart/" + file});
        ASSERT_TRUE(r.ok()) << file << ": " << r.describe();
    }
    const std::string leader = wait_ready("quickstart");
    ASSERT_FALSE(leader.empty());
    EXPECT_EQ(group("quickstart")["spec"].value("leaseName", ""), "quickstart") << "not defaulted by the webhook";
    EXPECT_EQ(lease("quickstart")["spec"].value("holderIdentity", ""), leader);
    const auto deleted_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(env_->kubectl({"delete", "pod", leader, "-n", ns_, "--wait=false"}).ok());
    std::string next;
    ASSERT_TRUE(eventually(20s, [&] {
        next = group("quickstart")["status"].value("leader", "");
        return !next.empty() && next != leader && labelled("quickstart") == std::set<std::string>{next};
    })) << "no new leader after deleting " << leader;
    const double failover = seconds_since(deleted_at);
    EXPECT_EQ(lease("quickstart")["spec"].value("holderIdentity", ""), next);
    auto events = env_->kubectl({"get", "events", "-n", ns_, "--field-selector",
                                 "involvedObject.kind=ElectionGroup,involvedObject.name=quickstart", "-o",
                                 "jsonpath={.items[*].reason}"});
    EXPECT_NE(events.out.find("Elected"), std::string::npos) << "Events not recorded: " << events.describe();
    EXPECT_NE(events.out.find("LeaderTerminating"), std::string::npos) << "Events not recorded: " << events.describe();

    // Deleting the group: labels removed, Lease deleted, finalizer removed.
    ASSERT_TRUE(env_->kubectl({"delete", "eg", "quickstart", "-n", ns_, "--timeout=30s"}).ok());
    EXPECT_TRUE(labelled("quickstart").empty());
    EXPECT_FALSE(env_->kubectl({"get", "lease", "quickstart", "-n", ns_}).ok());

    const auto refused = refusals();
    EXPECT_TRUE(refused.empty()) << "the API server refused elector:\n" << fmt::format("{}", fmt::join(refused, "\n"));
    EXPECT_EQ(delete_local_webhooks(*env_).exit_code, 0);
    EXPECT_EQ(stop_elector(), 0);
    std::cout << fmt::format("[ figures  ] elector (UID 65532, chroot of the image file set, in-cluster token): "
                             "new leader seen by kubectl (polling) {:.0f} ms after the deletion; whole test {:.1f} s\n",
                             failover * 1000, seconds_since(started));
}

TEST_F(install_test, the_namespaced_variant_runs_groups_in_its_namespaces_with_roles_only) {
    const json objects = render("config/namespaced");
    auto applied = apply(rbac_of(objects));
    ASSERT_TRUE(applied.ok()) << applied.describe();
    auto role = env_->kubectl({"apply", "-n", ns_, "-f", source_dir() + "/config/rbac/namespaced/"});
    ASSERT_TRUE(role.ok()) << role.describe();
    const std::string other = ns_ + "-other";
    env_->apply(fmt::format("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {}}}\n", other));
    ASSERT_TRUE(eventually(10s, [&] { return can("patch", "pods", ns_) && !can("patch", "pods", "-A"); }))
        << "the cluster-wide rules are still in effect, or the namespace's Role is not";

    const std::vector<permission> expected{
        {"list", "pods", ns_, "", true},
        {"patch", "pods", ns_, "", true},
        {"create", "leases.coordination.k8s.io", ns_, "", true},
        {"patch", "electiongroups.elector.dev", ns_, "status", true},
        {"list", "nodes", "", "", true},
        {"list", "pods", "-A", "", false},
        {"list", "pods", other, "", false},
        {"patch", "pods", other, "", false},
        {"list", "deployments.apps", other, "", false},
        {"list", "leases.coordination.k8s.io", other, "", false},
        {"get", "secrets", ns_, "", false},
        {"delete", "pods", ns_, "", false},
        {"update", "deployments.apps", ns_, "", false},
        // elector's own Lease, by name only.
        {"create", "leases.coordination.k8s.io", system_ns, "", true},
        {"get", "leases.coordination.k8s.io/elector-leader", system_ns, "", true},
        {"update", "leases.coordination.k8s.io/elector-leader", system_ns, "", true},
        {"get", "leases.coordination.k8s.io/another-lease", system_ns, "", false},
        {"delete", "leases.coordination.k8s.io/elector-leader", system_ns, "", false},
    };
    const auto wrong = mismatches(expected);
    EXPECT_TRUE(wrong.empty()) << fmt::format("{}", fmt::join(wrong, "\n"));

    // elector with that token and the variant's arguments, the namespace
    // list pointed at this test's namespace: it runs the group there and
    // leaves the one in the other namespace alone.
    const json& deployment = find(objects, "Deployment", "elector");
    assemble_pod_root(deployment);
    if (HasFatalFailure()) return;
    auto args = local_arguments(deployment);
    const auto flag = std::find_if(args.begin(), args.end(), [](const auto& a) { return a.starts_with("--namespace="); });
    ASSERT_NE(flag, args.end()) << "config/namespaced gives the manager no --namespace";
    *flag = "--namespace=" + ns_;
    start_in_pod_root(args);
    ASSERT_TRUE(eventually(30s, [&] { return read_text(log_).find("event=started-leading") != std::string::npos; }))
        << "elector did not win its own election";
    create_group("mine");
    env_->apply(deployment_manifest("theirs", {.ns = other}));
    env_->apply(fmt::format("apiVersion: elector.dev/v1alpha1\nkind: ElectionGroup\nmetadata: {{name: theirs, "
                            "namespace: {}}}\nspec:\n  targetRef: {{name: theirs}}\n",
                            other));
    EXPECT_FALSE(wait_ready("mine").empty());
    auto theirs = env_->get_json({"get", "eg", "theirs", "-n", other});
    EXPECT_FALSE(theirs.contains("status") && theirs["status"].contains("leader")) << theirs.dump();
    EXPECT_TRUE(theirs["metadata"].value("finalizers", json::array()).empty()) << theirs.dump();
    const auto refused = refusals();
    EXPECT_TRUE(refused.empty()) << "the API server refused elector:\n" << fmt::format("{}", fmt::join(refused, "\n"));
    EXPECT_EQ(stop_elector(), 0);
    env_->kubectl({"delete", "namespace", other, "--wait=false"});
    // The cluster-wide rules back for the tests that follow.
    EXPECT_TRUE(apply(rbac_of(render("config/default"))).ok());
}

}  // namespace
}  // namespace elector::testing
