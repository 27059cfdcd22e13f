#include "kube/cluster_config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "util/read_file.hpp"

namespace elector::kube {

namespace {

namespace fs = std::filesystem;

template <class T>
using result = std::expected<T, std::string>;

std::string errno_text(int code) { return std::error_code(code, std::generic_category()).message(); }

using util::read_whole_file;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return std::string(s);
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out += separator;
        out += part;
    }
    return out;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::string describe_char(char c) {
    auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("byte 0x{:02x}", byte);
}

// Where a value sits, for error messages: `kubeconfig <file>: <path>: <message>`.
struct location {
    std::string file;
    std::string path;  // `clusters[0] "c": server`; "" for the whole file

    location field(std::string_view name) const {
        return {file, path.empty() ? std::string(name) : fmt::format("{}: {}", path, name)};
    }
    std::string error(std::string_view message) const {
        if (path.empty()) return fmt::format("kubeconfig {}: {}", file, message);
        return fmt::format("kubeconfig {}: {}: {}", file, path, message);
    }
};

// The value under `key` in a YAML map; nullopt when absent or null (`key:`,
// `key: ~`), which kubeconfig treats alike.
std::optional<YAML::Node> find_value(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) return std::nullopt;
    for (const auto& entry : map) {
        if (entry.first.IsScalar() && entry.first.Scalar() == key) {
            if (entry.second.IsNull()) return std::nullopt;
            return entry.second;
        }
    }
    return std::nullopt;
}

std::string resolve_path(const fs::path& base_dir, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (base_dir / path).lexically_normal().string();
}

// Reads the known fields of one YAML map, keeping the first error; unknown
// fields are ignored, as client-go does.
class field_reader {
public:
    field_reader(YAML::Node map, location at) : map_(std::move(map)), at_(std::move(at)) {}

    void text(std::string_view key, std::string& out) {
        auto value = lookup(key);
        if (!value) return;
        if (!value->IsScalar()) return fail(key, "want a string");
        out = value->Scalar();
    }

    void flag(std::string_view key, bool& out) {
        auto value = lookup(key);
        if (!value) return;
        if (!value->IsScalar() || !YAML::convert<bool>::decode(*value, out)) fail(key, "want true or false");
    }

    void base64(std::string_view key, std::string& out) {
        std::string encoded;
        text(key, encoded);
        if (error_) return;
        auto decoded = base64_decode(encoded);
        if (!decoded) return fail(key, decoded.error());
        out = std::move(*decoded);
    }

    void file_path(std::string_view key, const fs::path& base_dir, std::string& out) {
        std::string path;
        text(key, path);
        out = resolve_path(base_dir, path);
    }

    // The first of `keys` that is set, or "".
    std::string first_present(std::initializer_list<std::string_view> keys) const {
        for (auto key : keys) {
            if (find_value(map_, key)) return std::string(key);
        }
        return {};
    }

    result<void> outcome() const {
        if (error_) return std::unexpected(*error_);
        return {};
    }

private:
    std::optional<YAML::Node> lookup(std::string_view key) const {
        if (error_) return std::nullopt;
        return find_value(map_, key);
    }

    void fail(std::string_view key, std::string_view message) { error_ = at_.field(key).error(message); }

    YAML::Node map_;
    location at_;
    std::optional<std::string> error_;
};

struct raw_cluster {
    std::string name;
    location at;
    std::string server;
    std::string ca_file;
    std::string ca_data;
    bool insecure = false;
    std::string tls_server_name;
};

struct raw_user {
    std::string name;
    location at;
    std::string cert_file;
    std::string cert_data;
    std::string key_file;
    std::string key_data;
    std::string token;
    std::string token_file;
    std::string unsupported;  // an authentication field elector cannot use, e.g. "exec"
};

struct raw_context {
    std::string name;
    location at;
    std::string cluster;
    std::string user;
    std::string ns;
};

struct raw_kubeconfig {
    std::string file;
    std::string current_context;
    std::vector<raw_cluster> clusters;
    std::vector<raw_user> users;
    std::vector<raw_context> contexts;
};

result<void> parse_cluster(const YAML::Node& body, const fs::path& base_dir, raw_cluster& cluster) {
    field_reader fields(body, cluster.at);
    fields.text("server", cluster.server);
    fields.file_path("certificate-authority", base_dir, cluster.ca_file);
    fields.base64("certificate-authority-data", cluster.ca_data);
    fields.flag("insecure-skip-tls-verify", cluster.insecure);
    fields.text("tls-server-name", cluster.tls_server_name);
    return fields.outcome();
}

result<void> parse_user(const YAML::Node& body, const fs::path& base_dir, raw_user& user) {
    field_reader fields(body, user.at);
    fields.file_path("client-certificate", base_dir, user.cert_file);
    fields.base64("client-certificate-data", user.cert_data);
    fields.file_path("client-key", base_dir, user.key_file);
    fields.base64("client-key-data", user.key_data);
    fields.text("token", user.token);
    fields.file_path("tokenFile", base_dir, user.token_file);
    user.unsupported = fields.first_present({"exec", "auth-provider", "username", "password"});
    return fields.outcome();
}

result<void> parse_context(const YAML::Node& body, const fs::path&, raw_context& context) {
    field_reader fields(body, context.at);
    fields.text("cluster", context.cluster);
    fields.text("user", context.user);
    fields.text("namespace", context.ns);
    return fields.outcome();
}

// One of the named lists (`clusters`, `users`, `contexts`): each item is
// `{name: N, <body_key>: {...}}`.
template <class Entry, class BodyParser>
result<std::vector<Entry>> parse_entries(const YAML::Node& root, const location& top, const fs::path& base_dir,
                                         std::string_view list_key, std::string_view body_key, BodyParser parse_body) {
    std::vector<Entry> entries;
    auto list = find_value(root, list_key);
    if (!list) return entries;
    if (!list->IsSequence()) return std::unexpected(top.field(list_key).error("want a list"));
    std::size_t index = 0;
    for (const auto& item : *list) {
        location at{top.file, fmt::format("{}[{}]", list_key, index++)};
        if (!item.IsMap()) return std::unexpected(at.error("want a map"));
        Entry entry;
        field_reader names(item, at);
        names.text("name", entry.name);
        if (auto ok = names.outcome(); !ok) return std::unexpected(ok.error());
        if (entry.name.empty()) return std::unexpected(at.field("name").error("missing"));
        entry.at = {top.file, fmt::format("{} \"{}\"", at.path, entry.name)};
        for (const auto& earlier : entries) {
            if (earlier.name == entry.name) {
                return std::unexpected(entry.at.error(fmt::format("name already used by {}", earlier.at.path)));
            }
        }
        auto body = find_value(item, body_key);
        if (body && !body->IsMap()) return std::unexpected(entry.at.field(body_key).error("want a map"));
        if (auto ok = parse_body(body.value_or(YAML::Node()), base_dir, entry); !ok) return std::unexpected(ok.error());
        entries.push_back(std::move(entry));
    }
    return entries;
}

result<raw_kubeconfig> parse_document(const YAML::Node& root, const std::string& file) {
    raw_kubeconfig config{.file = file};
    const location top{file, ""};
    if (root.IsNull()) return config;  // an empty file is an empty config, as in client-go
    if (!root.IsMap()) return std::unexpected(top.error("want a map at the top level"));

    std::error_code ec;
    fs::path absolute = fs::absolute(file, ec);
    fs::path base_dir = ec ? fs::path(file).parent_path() : absolute.parent_path();

    field_reader fields(root, top);
    fields.text("current-context", config.current_context);
    if (auto ok = fields.outcome(); !ok) return std::unexpected(ok.error());

    auto clusters = parse_entries<raw_cluster>(root, top, base_dir, "clusters", "cluster", parse_cluster);
    if (!clusters) return std::unexpected(clusters.error());
    auto users = parse_entries<raw_user>(root, top, base_dir, "users", "user", parse_user);
    if (!users) return std::unexpected(users.error());
    auto contexts = parse_entries<raw_context>(root, top, base_dir, "contexts", "context", parse_context);
    if (!contexts) return std::unexpected(contexts.error());

    config.clusters = std::move(*clusters);
    config.users = std::move(*users);
    config.contexts = std::move(*contexts);
    return config;
}

std::string yaml_error(const std::string& file, const YAML::Mark& mark, std::string_view message) {
    if (mark.is_null()) return fmt::format("kubeconfig {}: {}", file, message);
    return fmt::format("kubeconfig {}: line {}, column {}: {}", file, mark.line + 1, mark.column + 1, message);
}

result<raw_kubeconfig> parse_kubeconfig(const std::string& file, const std::string& text) {
    try {
        return parse_document(YAML::Load(text), file);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp 0.7 gives this one the message "bad file".
        return std::unexpected(yaml_error(file, e.mark, "nested too deeply"));
    } catch (const YAML::Exception& e) {
        return std::unexpected(yaml_error(file, e.mark, e.msg));
    }
}

std::vector<std::string> split_path_list(std::string_view list) {
    std::vector<std::string> paths;
    while (true) {
        auto colon = list.find(':');
        std::string path(list.substr(0, colon));
        if (!path.empty() && std::ranges::find(paths, path) == paths.end()) paths.push_back(std::move(path));
        if (colon == std::string_view::npos) break;
        list.remove_prefix(colon + 1);
    }
    return paths;
}

// The files the loading rules name, and whether a missing one is skipped.
struct candidate_files {
    std::vector<std::string> paths;
    bool skip_missing = true;
    std::string none_found;  // the error when no file could be read
};

result<candidate_files> candidates_for(const kubeconfig_options& options) {
    candidate_files files;
    if (!options.explicit_path.empty()) {
        files.paths = {options.explicit_path};
        files.skip_missing = false;
    } else if (options.kubeconfig_env && !options.kubeconfig_env->empty()) {
        files.paths = split_path_list(*options.kubeconfig_env);
        if (files.paths.empty()) {
            return std::unexpected(
                fmt::format("no kubeconfig found (tried nothing: $KUBECONFIG \"{}\" names no file)",
                            *options.kubeconfig_env));
        }
    } else if (!options.home.empty()) {
        files.paths = {(fs::path(options.home) / ".kube" / "config").string()};
    } else {
        return std::unexpected(
            std::string("no kubeconfig found (tried nothing: neither $KUBECONFIG nor $HOME is set)"));
    }
    files.none_found = fmt::format("no kubeconfig found (tried {})", join(files.paths, ", "));
    return files;
}

result<std::vector<raw_kubeconfig>> load_files(const kubeconfig_options& options) {
    auto candidates = candidates_for(options);
    if (!candidates) return std::unexpected(candidates.error());
    std::vector<raw_kubeconfig> loaded;
    for (const auto& path : candidates->paths) {
        auto text = read_whole_file(path);
        if (!text) {
            if (text.error() == ENOENT && candidates->skip_missing) continue;
            return std::unexpected(fmt::format("kubeconfig {}: cannot read: {}", path, errno_text(text.error())));
        }
        auto parsed = parse_kubeconfig(path, *text);
        if (!parsed) return std::unexpected(parsed.error());
        loaded.push_back(std::move(*parsed));
    }
    if (loaded.empty()) return std::unexpected(candidates->none_found);
    return loaded;
}

// The first entry named `name` across the files: the first file wins.
template <class Entry>
const Entry* find_entry(const std::vector<raw_kubeconfig>& files, std::vector<Entry> raw_kubeconfig::*list,
                        const std::string& name) {
    for (const auto& file : files) {
        for (const auto& entry : file.*list) {
            if (entry.name == name) return &entry;
        }
    }
    return nullptr;
}

// Inline data wins over the file, as in client-go's transport.
result<std::string> data_or_file(const std::string& data, const std::string& file, const location& at) {
    if (!data.empty() || file.empty()) return data;
    auto content = read_whole_file(file);
    if (!content) {
        return std::unexpected(at.error(fmt::format("cannot read {}: {}", file, errno_text(content.error()))));
    }
    return std::move(*content);
}

result<void> apply_cluster(const raw_cluster& cluster, cluster_config& config) {
    const auto& server = cluster.server;
    auto server_at = cluster.at.field("server");
    if (server.empty()) return std::unexpected(server_at.error("missing"));
    {
        // user:password@host would be logged with every message naming the
        // server: refused, and not repeated in the error.
        const auto scheme_end = server.find("://");
        const auto authority_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
        const auto authority = std::string_view(server).substr(authority_start, server.find('/', authority_start) - authority_start);
        if (authority.find('@') != std::string_view::npos) {
            return std::unexpected(server_at.error(
                "credentials in the URL (user@host) are not supported: use token, tokenFile or a client certificate"));
        }
    }
    std::string_view rest = server;
    if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else {
        return std::unexpected(server_at.error(fmt::format("want a URL starting with https:// or http://, got \"{}\"",
                                                           server)));
    }
    if (rest.empty() || rest.front() == '/') {
        return std::unexpected(server_at.error(fmt::format("no host in \"{}\"", server)));
    }
    config.server = server;
    while (config.server.ends_with('/')) config.server.pop_back();

    auto ca = data_or_file(cluster.ca_data, cluster.ca_file, cluster.at.field("certificate-authority"));
    if (!ca) return std::unexpected(ca.error());
    // client-go's transport refuses this combination too, but only at the first request.
    if (cluster.insecure && !ca->empty()) {
        return std::unexpected(cluster.at.field("insecure-skip-tls-verify")
                                   .error("cannot be true together with certificate-authority(-data)"));
    }
    config.ca_pem = std::move(*ca);
    config.insecure_skip_tls_verify = cluster.insecure;
    config.tls_server_name = cluster.tls_server_name;
    return {};
}

result<void> apply_user(const raw_user& user, cluster_config& config) {
    auto cert = data_or_file(user.cert_data, user.cert_file, user.at.field("client-certificate"));
    if (!cert) return std::unexpected(cert.error());
    auto key = data_or_file(user.key_data, user.key_file, user.at.field("client-key"));
    if (!key) return std::unexpected(key.error());
    if (!cert->empty() && key->empty()) {
        return std::unexpected(user.at.field("client-key").error("missing (client-certificate is set)"));
    }
    if (cert->empty() && !key->empty()) {
        return std::unexpected(user.at.field("client-certificate").error("missing (client-key is set)"));
    }
    bool has_credential = !cert->empty() || !user.token.empty() || !user.token_file.empty();
    if (!has_credential && !user.unsupported.empty()) {
        return std::unexpected(user.at.field(user.unsupported)
                                   .error("not supported by elector; use token, tokenFile or a client certificate"));
    }
    config.client_cert_pem = std::move(*cert);
    config.client_key_pem = std::move(*key);
    config.token = user.token;
    if (user.token.empty()) config.token_file = user.token_file;
    return {};
}

result<cluster_config> select_context(const std::vector<raw_kubeconfig>& files, const std::string& wanted) {
    std::vector<std::string> names;
    for (const auto& file : files) names.push_back(file.file);
    const std::string all = join(names, ":");

    std::string name = wanted;
    for (const auto& file : files) {
        if (!name.empty()) break;
        name = file.current_context;
    }
    if (name.empty()) {
        return std::unexpected(
            fmt::format("kubeconfig {}: current-context is not set and no --context was given", all));
    }
    const raw_context* context = find_entry(files, &raw_kubeconfig::contexts, name);
    if (context == nullptr) return std::unexpected(fmt::format("kubeconfig {}: context \"{}\" not found", all, name));
    if (context->cluster.empty()) return std::unexpected(context->at.field("cluster").error("missing"));

    const raw_cluster* cluster = find_entry(files, &raw_kubeconfig::clusters, context->cluster);
    if (cluster == nullptr) {
        return std::unexpected(
            context->at.field("cluster").error(fmt::format("cluster \"{}\" not found", context->cluster)));
    }
    cluster_config config;
    if (auto ok = apply_cluster(*cluster, config); !ok) return std::unexpected(ok.error());

    if (!context->user.empty()) {  // no user: anonymous
        const raw_user* user = find_entry(files, &raw_kubeconfig::users, context->user);
        if (user == nullptr) {
            return std::unexpected(
                context->at.field("user").error(fmt::format("user \"{}\" not found", context->user)));
        }
        if (auto ok = apply_user(*user, config); !ok) return std::unexpected(ok.error());
    }
    config.default_namespace = context->ns;
    config.source = fmt::format("kubeconfig {} (context {})", all, name);
    return config;
}

std::optional<std::string> environment(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

bool is_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

std::expected<std::string, std::string> base64_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size() / 4 * 3 + 3);
    std::uint32_t bits = 0;
    int bit_count = 0;
    std::size_t symbols = 0;
    std::size_t padding = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding > 0) return std::unexpected(fmt::format("not valid base64: data after '=' at offset {}", i));
        int value = base64_value(c);
        if (value < 0) {
            return std::unexpected(fmt::format("not valid base64: unexpected {} at offset {}", describe_char(c), i));
        }
        ++symbols;
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out.push_back(static_cast<char>((bits >> bit_count) & 0xffu));
            bits &= (1u << bit_count) - 1;
        }
    }
    if (symbols % 4 == 1) return std::unexpected(std::string("not valid base64: truncated (one character too many)"));
    if (padding > 0 && (padding > 2 || (symbols + padding) % 4 != 0)) {
        return std::unexpected(std::string("not valid base64: wrong number of '=' at the end"));
    }
    return out;
}

std::expected<cluster_config, std::string> load_kubeconfig(const kubeconfig_options& options) {
    auto files = load_files(options);
    if (!files) return std::unexpected(files.error());
    return select_context(*files, options.context);
}

std::expected<cluster_config, std::string> kubeconfig_from_text(const std::string& file, const std::string& text,
                                                                 const std::string& context) {
    auto parsed = parse_kubeconfig(file, text);
    if (!parsed) return std::unexpected(parsed.error());
    return select_context({std::move(*parsed)}, context);
}

std::expected<cluster_config, std::string> load_in_cluster(const in_cluster_options& options) {
    const std::string host = options.service_host.value_or("");
    const std::string port = options.service_port.value_or("");
    if (host.empty()) return std::unexpected(std::string("in-cluster config: $KUBERNETES_SERVICE_HOST is not set"));
    if (port.empty()) return std::unexpected(std::string("in-cluster config: $KUBERNETES_SERVICE_PORT is not set"));
    if (!is_port(port)) {
        return std::unexpected(
            fmt::format("in-cluster config: $KUBERNETES_SERVICE_PORT: want a port number, got \"{}\"", port));
    }
    const bool bracket = host.find(':') != std::string::npos && !host.starts_with('[');

    cluster_config config;
    config.server = fmt::format("https://{}{}{}:{}", bracket ? "[" : "", host, bracket ? "]" : "", port);
    config.source = "in-cluster";

    const fs::path dir(options.account_dir);
    const std::string token_path = (dir / "token").string();
    if (auto token = read_whole_file(token_path); !token) {
        return std::unexpected(fmt::format("in-cluster config: cannot read service account token {}: {}", token_path,
                                           errno_text(token.error())));
    }
    config.token_file = token_path;

    const std::string ca_path = (dir / "ca.crt").string();
    auto ca = read_whole_file(ca_path);
    if (!ca) {
        return std::unexpected(
            fmt::format("in-cluster config: cannot read service account CA {}: {}", ca_path, errno_text(ca.error())));
    }
    config.ca_pem = std::move(*ca);

    const std::string namespace_path = (dir / "namespace").string();
    auto ns = read_whole_file(namespace_path);
    if (ns) {
        config.default_namespace = trim(*ns);
    } else if (ns.error() != ENOENT) {
        return std::unexpected(fmt::format("in-cluster config: cannot read service account namespace {}: {}",
                                           namespace_path, errno_text(ns.error())));
    }
    return config;
}

std::expected<cluster_config, std::string> resolve_cluster_config(const std::string& kubeconfig_flag,
                                                                   const std::string& context) {
    kubeconfig_options options{
        .explicit_path = kubeconfig_flag,
        .context = context,
        .kubeconfig_env = environment("KUBECONFIG"),
        .home = environment("HOME").value_or(""),
    };
    const bool kubeconfig_env_set = options.kubeconfig_env && !options.kubeconfig_env->empty();
    const auto service_host = environment("KUBERNETES_SERVICE_HOST");
    if (kubeconfig_flag.empty() && !kubeconfig_env_set && service_host && !service_host->empty()) {
        if (!context.empty()) {
            return std::unexpected(fmt::format(
                "--context \"{}\" needs a kubeconfig: the in-cluster config has no contexts (set --kubeconfig)",
                context));
        }
        return load_in_cluster({.service_host = service_host, .service_port = environment("KUBERNETES_SERVICE_PORT")});
    }
    return load_kubeconfig(options);
}

bearer_token_source::bearer_token_source(const cluster_config& config, std::chrono::seconds refresh, clock_fn clock)
    : static_token_(config.token), file_(config.token_file), refresh_(refresh), clock_(std::move(clock)) {}

std::expected<std::string, std::string> bearer_token_source::token() {
    // Both are fixed at construction, so they need no lock.
    if (!static_token_.empty()) return static_token_;
    if (file_.empty()) return std::string();

    std::lock_guard lock(mutex_);
    const auto now = clock_();
    if (read_at_ && now - *read_at_ < refresh_) return cached_;

    std::string failure;
    if (auto content = read_whole_file(file_); !content) {
        failure = fmt::format("cannot read token file {}: {}", file_, errno_text(content.error()));
    } else if (auto fresh = trim(*content); fresh.empty()) {
        failure = fmt::format("token file {} is empty", file_);
    } else {
        cached_ = std::move(fresh);
        read_at_ = now;
        return cached_;
    }
    // A rotation caught mid-write or a briefly unmounted volume: the old token
    // is still the best bet, and the next call tries the file again.
    if (read_at_) return cached_;
    return std::unexpected(failure);
}

}  // namespace elector::kube
