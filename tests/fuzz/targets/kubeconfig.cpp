// Fuzz target "kubeconfig": a kubeconfig file's text through
// kube::kubeconfig_from_text (the YAML parse, the field checks, the context
// selection, as load_kubeconfig does for one file), and base64_decode.
//
// Input: a line "--context NAME" first, if present, is the --context
// value; the rest is the file. The file is named /nonexistent/fuzz/config,
// so relative paths inside it name nothing.
//
// Properties:
//  - no exception escapes (yaml-cpp's are turned into errors) and errors
//    name the file;
//  - a loaded config has an http(s) server without a trailing '/', and
//    never both insecure-skip-tls-verify and a CA;
//  - base64: decode(encode(b)) == b for any bytes b (the input itself), and
//    whatever decodes, re-encoded and decoded again, is the same bytes.
#include "fuzz_target.hpp"

#include <string>

#include <fmt/format.h>

#include "kube/cluster_config.hpp"
#include "webhook/admission.hpp"

namespace {

using namespace elector;
using elector::fuzz::check;

constexpr const char* file_name = "/nonexistent/fuzz/config";

}  // namespace

extern "C" int elector_fuzz_one(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string context;
    if (input.starts_with("--context ")) {
        const auto nl = input.find('\n');
        context = std::string(input.substr(10, nl == std::string_view::npos ? std::string_view::npos : nl - 10));
        input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    }
    const std::string text(input);

    auto loaded = kube::kubeconfig_from_text(file_name, text, context);
    if (!loaded) {
        check(loaded.error().starts_with(fmt::format("kubeconfig {}", file_name)), "kubeconfig: errors name the file",
              loaded.error());
    } else {
        const auto& c = *loaded;
        check(c.server.starts_with("https://") || c.server.starts_with("http://"),
              "kubeconfig: the server is an http(s) URL", c.server);
        check(!c.server.ends_with('/'), "kubeconfig: the server has no trailing '/'", c.server);
        check(!(c.insecure_skip_tls_verify && !c.ca_pem.empty()),
              "kubeconfig: never insecure-skip-tls-verify together with a CA");
        check(c.client_cert_pem.empty() == c.client_key_pem.empty(),
              "kubeconfig: a client certificate always comes with its key");
        check(c.source.starts_with("kubeconfig "), "kubeconfig: the source names the file", c.source);
    }

    // base64: the input as bytes, and the input as base64 text.
    const std::string encoded = webhook::base64_encode(text);
    auto round = kube::base64_decode(encoded);
    check(round.has_value() && *round == text, "base64: decode(encode(bytes)) == bytes",
          round ? std::string() : round.error());
    if (auto decoded = kube::base64_decode(text)) {
        auto again = kube::base64_decode(webhook::base64_encode(*decoded));
        check(again.has_value() && *again == *decoded, "base64: what decodes, re-encoded, decodes the same");
    } else {
        check(decoded.error().starts_with("not valid base64"), "base64: errors say it is not valid base64",
              decoded.error());
    }
    return 0;
}
