#include "kube/cluster_config.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace elector::kube {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// base64 of "CA PEM", "CERT PEM", "KEY PEM".
constexpr const char* ca_b64 = "Q0EgUEVN";
constexpr const char* cert_b64 = "Q0VSVCBQRU0=";
constexpr const char* key_b64 = "S0VZIFBFTQ==";

// A fresh directory per test, removed afterwards.
class cluster_config_test : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::path(::testing::TempDir()) / "elector-kubeconfig-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string write(const std::string& relative, const std::string& content) {
        fs::path path = dir_ / relative;
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << content;
        return path.string();
    }
    std::string path(const std::string& relative) const { return (dir_ / relative).string(); }

    std::expected<cluster_config, std::string> load_text(const std::string& text, const std::string& context = "") {
        return load_kubeconfig({.explicit_path = write("config", text), .context = context});
    }
    // The error of loading `text`, or a marker that makes the assertion fail.
    std::string error_of(const std::string& text, const std::string& context = "") {
        auto result = load_text(text, context);
        return result ? std::string("<loaded without error>") : result.error();
    }

    fs::path dir_;
};

std::string simple_config(const std::string& server = "https://example:6443") {
    return "apiVersion: v1\n"
           "kind: Config\n"
           "current-context: dev\n"
           "clusters:\n"
           "- name: c\n"
           "  cluster:\n"
           "    server: " + server + "\n"
           "users:\n"
           "- name: u\n"
           "  user:\n"
           "    token: t0k\n"
           "contexts:\n"
           "- name: dev\n"
           "  context:\n"
           "    cluster: c\n"
           "    user: u\n";
}

// ---------------------------------------------------------------- base64

TEST(base64_decode, decodes_with_and_without_padding) {
    EXPECT_EQ(base64_decode("QQ==").value(), "A");
    EXPECT_EQ(base64_decode("QQ").value(), "A");
    EXPECT_EQ(base64_decode("QUI=").value(), "AB");
    EXPECT_EQ(base64_decode("QUI").value(), "AB");
    EXPECT_EQ(base64_decode("QUJD").value(), "ABC");
    EXPECT_EQ(base64_decode("aGVsbG8gd29ybGQ=").value(), "hello world");
    EXPECT_EQ(base64_decode("+/+/").value(), "\xfb\xff\xbf");
}

TEST(base64_decode, empty_input_is_empty_output) {
    EXPECT_EQ(base64_decode("").value(), "");
    EXPECT_EQ(base64_decode(" \n\t\r").value(), "");
}

TEST(base64_decode, ignores_whitespace_and_newlines) {
    EXPECT_EQ(base64_decode("aGVs\nbG8g\r\nd29y bGQ=\n").value(), "hello world");
    EXPECT_EQ(base64_decode("\tQ Q = =").value(), "A");
}

TEST(base64_decode, decodes_binary_bytes) {
    auto decoded = base64_decode("AAD/");
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, std::string("\x00\x00\xff", 3));
}

TEST(base64_decode, rejects_characters_outside_the_alphabet) {
    EXPECT_EQ(base64_decode("QU!D").error(), "not valid base64: unexpected '!' at offset 2");
    EXPECT_EQ(base64_decode("QU-D").error(), "not valid base64: unexpected '-' at offset 2");  // URL alphabet
    EXPECT_EQ(base64_decode(std::string("QU\0D", 4)).error(), "not valid base64: unexpected byte 0x00 at offset 2");
}

TEST(base64_decode, rejects_malformed_padding_and_length) {
    EXPECT_EQ(base64_decode("QQ==QQ==").error(), "not valid base64: data after '=' at offset 4");
    EXPECT_EQ(base64_decode("QQ=").error(), "not valid base64: wrong number of '=' at the end");
    EXPECT_EQ(base64_decode("QQ===").error(), "not valid base64: wrong number of '=' at the end");
    EXPECT_EQ(base64_decode("=").error(), "not valid base64: wrong number of '=' at the end");
    EXPECT_EQ(base64_decode("QUJDR").error(), "not valid base64: truncated (one character too many)");
    EXPECT_EQ(base64_decode("Q").error(), "not valid base64: truncated (one character too many)");
}

// ---------------------------------------------------------------- kubeconfig: success

TEST_F(cluster_config_test, loads_a_full_kubeconfig_with_inline_data) {
    auto file = write("config", std::string("apiVersion: v1\n"
                                            "kind: Config\n"
                                            "preferences: {}\n"
                                            "current-context: admin@prod\n"
                                            "clusters:\n"
                                            "- name: prod\n"
                                            "  cluster:\n"
                                            "    server: https://10.0.0.1:6443/\n"
                                            "    certificate-authority-data: ") +
                                    ca_b64 +
                                    "\n"
                                    "    tls-server-name: kubernetes.default\n"
                                    "    extensions: [{name: x, extension: {}}]\n"
                                    "users:\n"
                                    "- name: admin\n"
                                    "  user:\n"
                                    "    client-certificate-data: " +
                                    cert_b64 +
                                    "\n"
                                    "    client-key-data: |\n"
                                    "      S0VZ\n"
                                    "      IFBFTQ==\n"
                                    "contexts:\n"
                                    "- name: admin@prod\n"
                                    "  context:\n"
                                    "    cluster: prod\n"
                                    "    user: admin\n"
                                    "    namespace: team-a\n");
    auto config = load_kubeconfig({.explicit_path = file});
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://10.0.0.1:6443");
    EXPECT_EQ(config->ca_pem, "CA PEM");
    EXPECT_FALSE(config->insecure_skip_tls_verify);
    EXPECT_EQ(config->tls_server_name, "kubernetes.default");
    EXPECT_EQ(config->client_cert_pem, "CERT PEM");
    EXPECT_EQ(config->client_key_pem, "KEY PEM");
    EXPECT_EQ(config->token, "");
    EXPECT_EQ(config->token_file, "");
    EXPECT_EQ(config->default_namespace, "team-a");
    EXPECT_EQ(config->source, "kubeconfig " + file + " (context admin@prod)");
}

TEST_F(cluster_config_test, reads_file_references_relative_to_the_kubeconfig_directory) {
    write("conf/pki/ca.crt", "CA FROM FILE");
    write("conf/pki/client.crt", "CERT FROM FILE");
    auto key = write("elsewhere/client.key", "KEY FROM FILE");
    auto file = write("conf/kubeconfig",
                      "current-context: x\n"
                      "clusters:\n"
                      "- name: c\n"
                      "  cluster:\n"
                      "    server: https://h\n"
                      "    certificate-authority: pki/ca.crt\n"
                      "users:\n"
                      "- name: u\n"
                      "  user:\n"
                      "    client-certificate: ./pki/client.crt\n"
                      "    client-key: " + key + "\n"
                      "    tokenFile: ../tokens/t\n"
                      "contexts:\n"
                      "- name: x\n"
                      "  context: {cluster: c, user: u}\n");
    auto config = load_kubeconfig({.explicit_path = file});
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->ca_pem, "CA FROM FILE");
    EXPECT_EQ(config->client_cert_pem, "CERT FROM FILE");
    EXPECT_EQ(config->client_key_pem, "KEY FROM FILE");
    // Kept as a path, made absolute, not read (it does not even exist).
    EXPECT_EQ(config->token_file, (dir_ / "tokens" / "t").string());
}

TEST_F(cluster_config_test, inline_data_wins_over_a_file_reference) {
    auto config = load_text(std::string("current-context: x\n"
                                        "clusters:\n"
                                        "- name: c\n"
                                        "  cluster:\n"
                                        "    server: https://h\n"
                                        "    certificate-authority: does-not-exist.crt\n"
                                        "    certificate-authority-data: ") +
                            ca_b64 +
                            "\n"
                            "contexts:\n"
                            "- name: x\n"
                            "  context: {cluster: c}\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->ca_pem, "CA PEM");
}

TEST_F(cluster_config_test, token_wins_over_token_file) {
    auto config = load_text("current-context: x\n"
                            "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                            "users: [{name: u, user: {token: static, tokenFile: /run/token}}]\n"
                            "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->token, "static");
    EXPECT_EQ(config->token_file, "");
}

TEST_F(cluster_config_test, token_file_alone_is_kept_as_a_path) {
    auto config = load_text("current-context: x\n"
                            "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                            "users: [{name: u, user: {tokenFile: /run/token}}]\n"
                            "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->token, "");
    EXPECT_EQ(config->token_file, "/run/token");
}

TEST_F(cluster_config_test, context_option_overrides_current_context) {
    auto config = load_text("current-context: a\n"
                            "clusters:\n"
                            "- {name: ca, cluster: {server: 'https://a'}}\n"
                            "- {name: cb, cluster: {server: 'https://b', insecure-skip-tls-verify: true}}\n"
                            "contexts:\n"
                            "- {name: a, context: {cluster: ca}}\n"
                            "- {name: b, context: {cluster: cb, namespace: ns-b}}\n",
                            "b");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://b");
    EXPECT_TRUE(config->insecure_skip_tls_verify);
    EXPECT_EQ(config->default_namespace, "ns-b");
    EXPECT_EQ(config->source, "kubeconfig " + path("config") + " (context b)");
}

TEST_F(cluster_config_test, context_without_user_is_anonymous) {
    auto config = load_text("current-context: x\n"
                            "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080'}}]\n"
                            "contexts: [{name: x, context: {cluster: c}}]\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "http://127.0.0.1:8080");
    EXPECT_EQ(config->token, "");
    EXPECT_EQ(config->client_cert_pem, "");
    EXPECT_EQ(config->default_namespace, "");
}

TEST_F(cluster_config_test, only_the_selected_entries_need_a_server_and_readable_files) {
    auto config = load_text("current-context: x\n"
                            "clusters:\n"
                            "- {name: broken, cluster: {certificate-authority: /nonexistent/ca.crt}}\n"
                            "- {name: c, cluster: {server: 'https://h'}}\n"
                            "contexts: [{name: x, context: {cluster: c}}]\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://h");
}

TEST_F(cluster_config_test, accepts_yaml_boolean_spellings) {
    auto config = load_text("current-context: x\n"
                            "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: yes}}]\n"
                            "contexts: [{name: x, context: {cluster: c}}]\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_TRUE(config->insecure_skip_tls_verify);
}

TEST_F(cluster_config_test, null_values_count_as_absent) {
    auto config = load_text("current-context: x\n"
                            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: ~}}]\n"
                            "users: [{name: u, user: {token: t, client-key-data: }}]\n"
                            "contexts: [{name: x, context: {cluster: c, user: u, namespace: null}}]\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->ca_pem, "");
    EXPECT_EQ(config->client_key_pem, "");
    EXPECT_EQ(config->default_namespace, "");
}

// ---------------------------------------------------------------- kubeconfig: selection errors

TEST_F(cluster_config_test, missing_current_context_is_an_error) {
    auto file = path("config");
    EXPECT_EQ(error_of("clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                       "contexts: [{name: x, context: {cluster: c}}]\n"),
              "kubeconfig " + file + ": current-context is not set and no --context was given");
}

TEST_F(cluster_config_test, empty_file_is_an_empty_config) {
    EXPECT_EQ(error_of(""), "kubeconfig " + path("config") + ": current-context is not set and no --context was given");
}

TEST_F(cluster_config_test, missing_context_is_an_error) {
    auto file = path("config");
    EXPECT_EQ(error_of(simple_config(), "prod"), "kubeconfig " + file + ": context \"prod\" not found");
    EXPECT_EQ(error_of("current-context: prod\n"), "kubeconfig " + file + ": context \"prod\" not found");
}

TEST_F(cluster_config_test, missing_cluster_is_an_error) {
    auto file = path("config");
    EXPECT_EQ(error_of("current-context: x\n"
                       "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                       "contexts: [{name: x, context: {cluster: nope}}]\n"),
              "kubeconfig " + file + ": contexts[0] \"x\": cluster: cluster \"nope\" not found");
    EXPECT_EQ(error_of("current-context: x\n"
                       "contexts: [{name: x, context: {user: u}}]\n"),
              "kubeconfig " + file + ": contexts[0] \"x\": cluster: missing");
}

TEST_F(cluster_config_test, missing_user_is_an_error) {
    EXPECT_EQ(error_of("current-context: x\n"
                       "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                       "contexts: [{name: y, context: {cluster: c}}, {name: x, context: {cluster: c, user: ghost}}]\n"),
              "kubeconfig " + path("config") + ": contexts[1] \"x\": user: user \"ghost\" not found");
}

// ---------------------------------------------------------------- kubeconfig: loading rules

TEST_F(cluster_config_test, kubeconfig_list_merges_first_wins) {
    auto first = write("a",
                       "clusters: [{name: c, cluster: {server: 'https://from-a'}}]\n"
                       "contexts: [{name: ctx, context: {cluster: c, user: u, namespace: from-a}}]\n");
    auto second = write("b",
                        "current-context: ctx\n"
                        "clusters:\n"
                        "- {name: c, cluster: {server: 'https://from-b'}}\n"
                        "- {name: d, cluster: {server: 'https://d'}}\n"
                        "users: [{name: u, user: {token: from-b}}]\n"
                        "contexts: [{name: ctx, context: {cluster: d, namespace: from-b}}]\n");
    auto third = write("c", "current-context: other\nusers: [{name: u, user: {token: from-c}}]\n");
    auto missing = path("missing");
    auto list = first + ":" + missing + "::" + second + ":" + third + ":";
    auto config = load_kubeconfig({.kubeconfig_env = list, .home = path("home")});
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://from-a");
    EXPECT_EQ(config->default_namespace, "from-a");
    EXPECT_EQ(config->token, "from-b");
    EXPECT_EQ(config->source, "kubeconfig " + first + ":" + second + ":" + third + " (context ctx)");
}

TEST_F(cluster_config_test, kubeconfig_list_entries_resolve_paths_against_their_own_directory) {
    write("one/ca.crt", "CA ONE");
    auto first = write("one/config",
                       "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: ca.crt}}]\n");
    auto second = write("two/config",
                        "current-context: x\n"
                        "users: [{name: u, user: {tokenFile: token}}]\n"
                        "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    auto config = load_kubeconfig({.kubeconfig_env = first + ":" + second});
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->ca_pem, "CA ONE");
    EXPECT_EQ(config->token_file, path("two/token"));
}

TEST_F(cluster_config_test, context_not_found_in_a_list_names_every_file) {
    auto first = write("a", "current-context: nope\n");
    auto second = write("b", simple_config());
    auto result = load_kubeconfig({.kubeconfig_env = first + ":" + second});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "kubeconfig " + first + ":" + second + ": context \"nope\" not found");
}

TEST_F(cluster_config_test, explicit_path_is_used_alone) {
    auto explicit_file = write("explicit", simple_config("https://explicit"));
    auto env_file = write("env", simple_config("https://env"));
    write("home/.kube/config", simple_config("https://home"));
    auto config = load_kubeconfig({.explicit_path = explicit_file, .kubeconfig_env = env_file, .home = path("home")});
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://explicit");
}

TEST_F(cluster_config_test, explicit_path_that_does_not_exist_is_an_error) {
    auto missing = path("missing");
    write("home/.kube/config", simple_config());
    auto result = load_kubeconfig({.explicit_path = missing, .home = path("home")});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "kubeconfig " + missing + ": cannot read: No such file or directory");
}

TEST_F(cluster_config_test, home_config_is_used_when_kubeconfig_is_unset_or_empty) {
    write("home/.kube/config", simple_config("https://home"));
    auto unset = load_kubeconfig({.home = path("home")});
    ASSERT_TRUE(unset) << unset.error();
    EXPECT_EQ(unset->server, "https://home");
    auto empty = load_kubeconfig({.kubeconfig_env = "", .home = path("home")});
    ASSERT_TRUE(empty) << empty.error();
    EXPECT_EQ(empty->server, "https://home");
}

TEST_F(cluster_config_test, kubeconfig_list_does_not_fall_back_to_home) {
    write("home/.kube/config", simple_config());
    auto result = load_kubeconfig({.kubeconfig_env = path("x") + ":" + path("y"), .home = path("home")});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "no kubeconfig found (tried " + path("x") + ", " + path("y") + ")");
}

TEST_F(cluster_config_test, no_file_at_all_is_an_error) {
    auto missing_home = load_kubeconfig({.home = path("home")});
    ASSERT_FALSE(missing_home);
    EXPECT_EQ(missing_home.error(), "no kubeconfig found (tried " + path("home/.kube/config") + ")");

    auto only_colons = load_kubeconfig({.kubeconfig_env = "::"});
    ASSERT_FALSE(only_colons);
    EXPECT_EQ(only_colons.error(), "no kubeconfig found (tried nothing: $KUBECONFIG \"::\" names no file)");

    auto nothing = load_kubeconfig({});
    ASSERT_FALSE(nothing);
    EXPECT_EQ(nothing.error(), "no kubeconfig found (tried nothing: neither $KUBECONFIG nor $HOME is set)");
}

TEST_F(cluster_config_test, unreadable_file_in_the_list_is_an_error_not_skipped) {
    auto directory = path("a-directory");
    fs::create_directories(directory);
    auto result = load_kubeconfig({.kubeconfig_env = directory});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "kubeconfig " + directory + ": cannot read: Is a directory");
}

// ---------------------------------------------------------------- kubeconfig: field errors

TEST_F(cluster_config_test, yaml_syntax_error_names_line_and_column) {
    EXPECT_EQ(error_of("clusters:\n"
                       "- name: c\n"
                       "  cluster:\n"
                       "    server: [https://h\n"),
              "kubeconfig " + path("config") + ": line 5, column 1: end of sequence flow not found");
    EXPECT_EQ(error_of("current-context: x\n"
                       "  user: u\n"),
              "kubeconfig " + path("config") + ": line 2, column 7: illegal map value");
}

TEST_F(cluster_config_test, invalid_base64_names_the_entry_and_field) {
    EXPECT_EQ(error_of("users:\n"
                       "- name: admin\n"
                       "  user:\n"
                       "    client-key-data: not*base64\n"),
              "kubeconfig " + path("config") +
                  ": users[0] \"admin\": client-key-data: not valid base64: unexpected '*' at offset 3");
    EXPECT_EQ(error_of("clusters: [{name: c, cluster: {certificate-authority-data: QQ=}}]\n"),
              "kubeconfig " + path("config") +
                  ": clusters[0] \"c\": certificate-authority-data: not valid base64: wrong number of '=' at the end");
}

TEST_F(cluster_config_test, missing_server_names_the_entry) {
    EXPECT_EQ(error_of("current-context: x\n"
                       "clusters:\n"
                       "- {name: other, cluster: {server: 'https://h'}}\n"
                       "- {name: c, cluster: {tls-server-name: h}}\n"
                       "contexts: [{name: x, context: {cluster: c}}]\n"),
              "kubeconfig " + path("config") + ": clusters[1] \"c\": server: missing");
    EXPECT_EQ(error_of("current-context: x\n"
                       "clusters: [{name: c}]\n"
                       "contexts: [{name: x, context: {cluster: c}}]\n"),
              "kubeconfig " + path("config") + ": clusters[0] \"c\": server: missing");
}

TEST_F(cluster_config_test, server_needs_an_http_scheme_and_a_host) {
    auto prefix = "kubeconfig " + path("config") + ": clusters[0] \"c\": server: ";
    EXPECT_EQ(error_of(simple_config("example:6443")),
              prefix + "want a URL starting with https:// or http://, got \"example:6443\"");
    EXPECT_EQ(error_of(simple_config("ftp://h")),
              prefix + "want a URL starting with https:// or http://, got \"ftp://h\"");
    EXPECT_EQ(error_of(simple_config("https://")), prefix + "no host in \"https://\"");
    for (const char* with_credentials : {"https://admin:s3cret@example:6443", "ftp://admin:s3cret@h/x"}) {
        const std::string error = error_of(simple_config(with_credentials));
        EXPECT_EQ(error, prefix + "credentials in the URL (user@host) are not supported: use token, tokenFile or a client "
                                  "certificate");
        EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
    }
    EXPECT_EQ(error_of(simple_config("https://example:6443/path@x")), "<loaded without error>")
        << "an @ after the host is not userinfo";
}

TEST_F(cluster_config_test, server_keeps_its_path_without_trailing_slashes) {
    auto config = load_text(simple_config("https://rancher/k8s/clusters/c-1//"));
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://rancher/k8s/clusters/c-1");
}

TEST_F(cluster_config_test, unreadable_certificate_authority_names_field_and_path) {
    EXPECT_EQ(error_of("current-context: x\n"
                       "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: ca.crt}}]\n"
                       "contexts: [{name: x, context: {cluster: c}}]\n"),
              "kubeconfig " + path("config") + ": clusters[0] \"c\": certificate-authority: cannot read " +
                  path("ca.crt") + ": No such file or directory");
}

TEST_F(cluster_config_test, unreadable_client_files_name_field_and_path) {
    write("client.crt", "CERT");
    auto prefix = "kubeconfig " + path("config") + ": users[0] \"u\": ";
    auto with_user = [](const std::string& user) {
        return "current-context: x\n"
               "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
               "users: [{name: u, user: " + user + "}]\n"
               "contexts: [{name: x, context: {cluster: c, user: u}}]\n";
    };
    EXPECT_EQ(error_of(with_user("{client-certificate: /nonexistent/c.crt, client-key: k}")),
              prefix + "client-certificate: cannot read /nonexistent/c.crt: No such file or directory");
    EXPECT_EQ(error_of(with_user("{client-certificate: client.crt, client-key: k}")),
              prefix + "client-key: cannot read " + path("k") + ": No such file or directory");
    EXPECT_EQ(error_of(with_user("{client-certificate: client.crt}")),
              prefix + "client-key: missing (client-certificate is set)");
    EXPECT_EQ(error_of(with_user(std::string("{client-key-data: ") + key_b64 + "}")),
              prefix + "client-certificate: missing (client-key is set)");
    EXPECT_EQ(error_of(with_user("{exec: {command: aws}}")),
              prefix + "exec: not supported by elector; use token, tokenFile or a client certificate");
    EXPECT_TRUE(load_text(with_user("{token: t, auth-provider: {name: gcp}}")));
}

TEST_F(cluster_config_test, insecure_with_certificate_authority_is_an_error) {
    EXPECT_EQ(error_of(std::string("current-context: x\n"
                                   "clusters: [{name: c, cluster: {server: 'https://h', "
                                   "insecure-skip-tls-verify: true, "
                                   "certificate-authority-data: ") +
                       ca_b64 +
                       "}}]\n"
                       "contexts: [{name: x, context: {cluster: c}}]\n"),
              "kubeconfig " + path("config") +
                  ": clusters[0] \"c\": insecure-skip-tls-verify: cannot be true together with "
                  "certificate-authority(-data)");
}

TEST_F(cluster_config_test, duplicate_names_are_an_error) {
    EXPECT_EQ(error_of("users: [{name: u, user: {token: a}}, {name: v}, {name: u, user: {token: b}}]\n"),
              "kubeconfig " + path("config") + ": users[2] \"u\": name already used by users[0] \"u\"");
}

TEST_F(cluster_config_test, entries_need_a_name) {
    EXPECT_EQ(error_of("clusters: [{cluster: {server: 'https://h'}}]\n"),
              "kubeconfig " + path("config") + ": clusters[0]: name: missing");
}

// ---------------------------------------------------------------- kubeconfig: wrong types

TEST_F(cluster_config_test, wrong_types_name_the_field) {
    auto file = path("config");
    EXPECT_EQ(error_of("clusters: [{name: c, cluster: {server: {host: h}}}]\n"),
              "kubeconfig " + file + ": clusters[0] \"c\": server: want a string");
    EXPECT_EQ(error_of("users: admin\n"), "kubeconfig " + file + ": users: want a list");
    EXPECT_EQ(error_of("contexts: {name: x}\n"), "kubeconfig " + file + ": contexts: want a list");
    EXPECT_EQ(error_of("clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}}]\n"),
              "kubeconfig " + file + ": clusters[0] \"c\": insecure-skip-tls-verify: want true or false");
    EXPECT_EQ(error_of("clusters: [{name: c, cluster: {insecure-skip-tls-verify: [true]}}]\n"),
              "kubeconfig " + file + ": clusters[0] \"c\": insecure-skip-tls-verify: want true or false");
    EXPECT_EQ(error_of("clusters: [just-a-name]\n"), "kubeconfig " + file + ": clusters[0]: want a map");
    EXPECT_EQ(error_of("clusters: [{name: c, cluster: [server]}]\n"),
              "kubeconfig " + file + ": clusters[0] \"c\": cluster: want a map");
    EXPECT_EQ(error_of("users: [{name: [a, b]}]\n"), "kubeconfig " + file + ": users[0]: name: want a string");
    EXPECT_EQ(error_of("users: [{name: u, user: {token: {a: b}}}]\n"),
              "kubeconfig " + file + ": users[0] \"u\": token: want a string");
    EXPECT_EQ(error_of("users: [{name: u, user: {client-key-data: [QQ==]}}]\n"),
              "kubeconfig " + file + ": users[0] \"u\": client-key-data: want a string");
    EXPECT_EQ(error_of("contexts: [{name: x, context: {namespace: [a]}}]\n"),
              "kubeconfig " + file + ": contexts[0] \"x\": namespace: want a string");
    EXPECT_EQ(error_of("current-context: {a: b}\n"), "kubeconfig " + file + ": current-context: want a string");
    EXPECT_EQ(error_of("- a\n- b\n"), "kubeconfig " + file + ": want a map at the top level");
    EXPECT_EQ(error_of("just text\n"), "kubeconfig " + file + ": want a map at the top level");
}

TEST_F(cluster_config_test, truncated_or_garbage_yaml_is_an_error_not_a_crash) {
    const std::string prefix = "kubeconfig " + path("config") + ": ";
    const std::string full = simple_config();
    const std::vector<std::string> inputs = {
        full.substr(0, full.size() / 2),
        full.substr(0, 37),
        "clusters:\n- name: c\n  cluster:\n    server: 'https://h\n",
        "{{{{",
        "]]]]:::",
        "key: [unclosed\n",
        "\tclusters:\n\t- name: c\n",
        "a: &x [*x]\n",
        "current-context: !!binary ~~~\n",
        std::string(100000, '['),
        std::string("\x00\x01\x02\xff\xfe garbage \x7f", 15),
        "%YAML 9.9\n--- a\n",
        "clusters: *undefined\n",
    };
    for (const auto& input : inputs) {
        std::expected<cluster_config, std::string> result;
        ASSERT_NO_THROW(result = load_text(input)) << input.substr(0, 60);
        ASSERT_FALSE(result) << input.substr(0, 60);
        EXPECT_TRUE(result.error().starts_with(prefix)) << result.error();
        EXPECT_EQ(result.error().find('\n'), std::string::npos) << result.error();
    }
}

TEST_F(cluster_config_test, deep_nesting_is_reported_as_such) {
    EXPECT_EQ(error_of(std::string(100000, '[')),
              "kubeconfig " + path("config") + ": line 1, column 1: nested too deeply");
}

// ---------------------------------------------------------------- in-cluster

class in_cluster_test : public cluster_config_test {
protected:
    in_cluster_options options() {
        return {.service_host = "10.96.0.1", .service_port = "443", .account_dir = path("sa")};
    }
    void write_account(bool with_namespace = true) {
        write("sa/token", "header.payload.sig\n");
        write("sa/ca.crt", "CLUSTER CA");
        if (with_namespace) write("sa/namespace", "elector-system\n");
    }
};

TEST_F(in_cluster_test, loads_the_service_account) {
    write_account();
    auto config = load_in_cluster(options());
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://10.96.0.1:443");
    EXPECT_EQ(config->ca_pem, "CLUSTER CA");
    EXPECT_EQ(config->token, "");
    EXPECT_EQ(config->token_file, path("sa/token"));
    EXPECT_EQ(config->default_namespace, "elector-system");
    EXPECT_EQ(config->source, "in-cluster");
    EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST_F(in_cluster_test, namespace_file_is_optional) {
    write_account(false);
    auto config = load_in_cluster(options());
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->default_namespace, "");
}

TEST_F(in_cluster_test, brackets_ipv6_hosts) {
    write_account();
    auto opts = options();
    opts.service_host = "fd00::1";
    auto config = load_in_cluster(opts);
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->server, "https://[fd00::1]:443");
}

TEST_F(in_cluster_test, needs_host_and_port) {
    write_account();
    auto no_host = options();
    no_host.service_host.reset();
    EXPECT_EQ(load_in_cluster(no_host).error(), "in-cluster config: $KUBERNETES_SERVICE_HOST is not set");
    auto empty_host = options();
    empty_host.service_host = "";
    EXPECT_EQ(load_in_cluster(empty_host).error(), "in-cluster config: $KUBERNETES_SERVICE_HOST is not set");
    auto no_port = options();
    no_port.service_port.reset();
    EXPECT_EQ(load_in_cluster(no_port).error(), "in-cluster config: $KUBERNETES_SERVICE_PORT is not set");
    auto bad_port = options();
    bad_port.service_port = "https";
    EXPECT_EQ(load_in_cluster(bad_port).error(),
              "in-cluster config: $KUBERNETES_SERVICE_PORT: want a port number, got \"https\"");
}

TEST_F(in_cluster_test, needs_the_token_file) {
    write("sa/ca.crt", "CLUSTER CA");
    EXPECT_EQ(load_in_cluster(options()).error(), "in-cluster config: cannot read service account token " +
                                                      path("sa/token") + ": No such file or directory");
}

TEST_F(in_cluster_test, needs_the_ca_file) {
    write("sa/token", "t");
    EXPECT_EQ(load_in_cluster(options()).error(),
              "in-cluster config: cannot read service account CA " + path("sa/ca.crt") + ": No such file or directory");
}

// ---------------------------------------------------------------- resolve_cluster_config

// Sets or unsets one environment variable for the scope of a test.
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST_F(cluster_config_test, resolve_prefers_flag_then_kubeconfig_env_then_in_cluster_then_home) {
    auto flag_file = write("flag", simple_config("https://flag"));
    auto env_file = write("env", simple_config("https://env"));
    write("home/.kube/config", simple_config("https://home"));
    scoped_env home("HOME", path("home").c_str());
    scoped_env port("KUBERNETES_SERVICE_PORT", "443");
    {
        scoped_env kubeconfig("KUBECONFIG", env_file.c_str());
        scoped_env host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
        EXPECT_EQ(resolve_cluster_config(flag_file, "").value().server, "https://flag");
        EXPECT_EQ(resolve_cluster_config("", "").value().server, "https://env");
    }
    {
        scoped_env kubeconfig("KUBECONFIG", nullptr);
        scoped_env host("KUBERNETES_SERVICE_HOST", nullptr);
        EXPECT_EQ(resolve_cluster_config("", "").value().server, "https://home");
    }
}

TEST_F(cluster_config_test, resolve_rejects_context_with_in_cluster_config) {
    scoped_env kubeconfig("KUBECONFIG", nullptr);
    scoped_env host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    scoped_env port("KUBERNETES_SERVICE_PORT", "443");
    auto result = resolve_cluster_config("", "prod");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(),
              "--context \"prod\" needs a kubeconfig: the in-cluster config has no contexts (set --kubeconfig)");
}

// ---------------------------------------------------------------- bearer_token_source

struct fake_clock {
    std::chrono::steady_clock::time_point now{};
    bearer_token_source::clock_fn fn() {
        return [this] { return now; };
    }
};

TEST_F(cluster_config_test, token_source_returns_the_static_token) {
    bearer_token_source source(cluster_config{.token = "static", .token_file = path("unused")});
    EXPECT_EQ(source.token().value(), "static");
}

TEST_F(cluster_config_test, token_source_without_token_is_empty) {
    bearer_token_source source(cluster_config{});
    EXPECT_EQ(source.token().value(), "");
}

TEST_F(cluster_config_test, token_source_rereads_the_file_after_refresh) {
    auto file = write("token", "first\n");
    fake_clock clock;
    bearer_token_source source(cluster_config{.token_file = file}, 60s, clock.fn());
    EXPECT_EQ(source.token().value(), "first");

    write("token", "second\r\n");
    clock.now += 59s;
    EXPECT_EQ(source.token().value(), "first");  // cached until refresh
    clock.now += 1s;
    EXPECT_EQ(source.token().value(), "second");
    clock.now += 30s;
    write("token", "third");
    EXPECT_EQ(source.token().value(), "second");  // refresh counts from the last read
    clock.now += 30s;
    EXPECT_EQ(source.token().value(), "third");
}

TEST_F(cluster_config_test, token_source_keeps_the_last_good_token_when_a_reread_fails) {
    auto file = write("token", "good");
    fake_clock clock;
    bearer_token_source source(cluster_config{.token_file = file}, 10s, clock.fn());
    EXPECT_EQ(source.token().value(), "good");

    fs::remove(file);
    clock.now += 11s;
    EXPECT_EQ(source.token().value(), "good");
    write("token", " \n");  // empty after trimming: also a failed read
    clock.now += 11s;
    EXPECT_EQ(source.token().value(), "good");
    write("token", "better");  // the failures did not restart the refresh period
    EXPECT_EQ(source.token().value(), "better");
}

TEST_F(cluster_config_test, token_source_fails_when_the_file_was_never_read) {
    auto file = path("token");
    fake_clock clock;
    bearer_token_source source(cluster_config{.token_file = file}, 10s, clock.fn());
    EXPECT_EQ(source.token().error(), "cannot read token file " + file + ": No such file or directory");
    write("token", "\n");
    EXPECT_EQ(source.token().error(), "token file " + file + " is empty");
    write("token", "late");
    EXPECT_EQ(source.token().value(), "late");
}

// The text entry point (used by tests/fuzz) follows the same rules as the file.
TEST_F(cluster_config_test, text_is_loaded_like_the_file) {
    write("ca.pem", "CA FROM FILE");
    const std::string text =
        "current-context: dev\n"
        "clusters:\n"
        "- name: c\n"
        "  cluster: {server: 'https://example:6443'}\n"
        "- name: c2\n"
        "  cluster: {server: 'http://other:8080/', certificate-authority: ca.pem}\n"
        "users:\n"
        "- name: u\n"
        "  user: {token: t0k}\n"
        "contexts:\n"
        "- name: dev\n"
        "  context: {cluster: c, user: u}\n"
        "- name: other\n"
        "  context: {cluster: c2, namespace: team}\n";
    const std::string file = write("config", text);
    for (const std::string context : {"", "dev", "other", "missing"}) {
        auto from_file = load_kubeconfig({.explicit_path = file, .context = context});
        auto from_text = kubeconfig_from_text(file, text, context);
        ASSERT_EQ(from_file.has_value(), from_text.has_value()) << context;
        if (!from_file) {
            EXPECT_EQ(from_text.error(), from_file.error());
            continue;
        }
        EXPECT_EQ(from_text->server, from_file->server);
        EXPECT_EQ(from_text->token, from_file->token);
        EXPECT_EQ(from_text->ca_pem, from_file->ca_pem);
        EXPECT_EQ(from_text->default_namespace, from_file->default_namespace);
        EXPECT_EQ(from_text->source, from_file->source);
    }
    auto other = kubeconfig_from_text(file, text, "other");
    ASSERT_TRUE(other.has_value()) << other.error();
    EXPECT_EQ(other->server, "http://other:8080");
    EXPECT_EQ(other->ca_pem, "CA FROM FILE");  // relative to the named file's directory
    EXPECT_EQ(other->default_namespace, "team");
    EXPECT_EQ(kubeconfig_from_text("/no/such/dir/k", "users: 3\n", "").error(),
              "kubeconfig /no/such/dir/k: users: want a list");
}

TEST_F(cluster_config_test, token_source_is_safe_to_share_between_threads) {
    auto file = write("token", "shared");
    std::atomic<long> ticks{0};
    bearer_token_source source(cluster_config{.token_file = file}, 1s, [&ticks] {
        return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ticks.fetch_add(100)));
    });
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                if (source.token().value_or("") == "shared") ++good;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(good.load(), 800);
}

}  // namespace
}  // namespace elector::kube
