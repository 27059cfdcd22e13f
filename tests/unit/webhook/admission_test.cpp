#include "webhook/admission.hpp"

#include "kube/cluster_config.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace elector::webhook {
namespace {

// An AdmissionReview as kube-apiserver 1.28 POSTs it for a CREATE.
const char* const create_review = R"({
  "kind": "AdmissionReview",
  "apiVersion": "admission.k8s.io/v1",
  "request": {
    "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
    "kind": {"group": "elector.dev", "version": "v1alpha1", "kind": "ElectionGroup"},
    "resource": {"group": "elector.dev", "version": "v1alpha1", "resource": "electiongroups"},
    "requestKind": {"group": "elector.dev", "version": "v1alpha1", "kind": "ElectionGroup"},
    "requestResource": {"group": "elector.dev", "version": "v1alpha1", "resource": "electiongroups"},
    "name": "db",
    "namespace": "shop",
    "operation": "CREATE",
    "userInfo": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
    "object": {
      "apiVersion": "elector.dev/v1alpha1", "kind": "ElectionGroup",
      "metadata": {"name": "db", "namespace": "shop"},
      "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    },
    "oldObject": null,
    "dryRun": false,
    "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply"}
  }
})";

// The patch field as the API server reads it: elector's kubeconfig decoder
// (kube::base64_decode, written and tested apart from the encoder under test),
// held to the canonical form: padded to whole quads, no whitespace.
std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0 || text.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
    auto decoded = kube::base64_decode(text);
    if (!decoded) return std::nullopt;
    return *decoded;
}

json parsed(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << text;
    return j;
}

// ---------------------------------------------------------------- decode

TEST(admission_decode, reads_every_field_of_an_api_server_review) {
    auto r = decode_review(create_review);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    EXPECT_EQ(r->group, "elector.dev");
    EXPECT_EQ(r->version, "v1alpha1");
    EXPECT_EQ(r->kind, "ElectionGroup");
    EXPECT_EQ(r->operation, "CREATE");
    EXPECT_EQ(r->ns, "shop");
    EXPECT_EQ(r->name, "db");
    ASSERT_TRUE(r->object.is_object());
    EXPECT_EQ(r->object["spec"]["targetRef"]["name"], "web");
    EXPECT_TRUE(r->old_object.is_null());
    EXPECT_FALSE(r->dry_run);
}

TEST(admission_decode, update_with_old_object_and_dry_run) {
    json review = json::parse(create_review);
    review["request"]["operation"] = "UPDATE";
    review["request"]["oldObject"] = review["request"]["object"];
    review["request"]["oldObject"]["spec"]["targetRef"]["name"] = "api";
    review["request"]["dryRun"] = true;
    auto r = decode_review(review.dump());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->operation, "UPDATE");
    EXPECT_EQ(r->old_object["spec"]["targetRef"]["name"], "api");
    EXPECT_TRUE(r->dry_run);
}

TEST(admission_decode, optional_fields_may_be_absent) {
    auto r = decode_review(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}})");
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->uid, "u");
    EXPECT_EQ(r->kind, "");
    EXPECT_EQ(r->operation, "");
    EXPECT_EQ(r->name, "");
    EXPECT_TRUE(r->object.is_null());
    EXPECT_TRUE(r->old_object.is_null());
}

TEST(admission_decode, object_of_any_type_is_left_for_validation) {
    json review = json::parse(create_review);
    review["request"]["object"] = json::array({1, 2});
    auto r = decode_review(review.dump());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_TRUE(r->object.is_array());
}

struct malformed_case {
    const char* name;
    std::string body;
    const char* needle;  // the error must say this
};

std::string review_with(const char* key, const json& value) {
    json review = json::parse(create_review);
    review[key] = value;
    return review.dump();
}

std::string request_with(const char* key, const json& value) {
    json review = json::parse(create_review);
    review["request"][key] = value;
    return review.dump();
}

std::string request_without(const char* key) {
    json review = json::parse(create_review);
    review["request"].erase(key);
    return review.dump();
}

TEST(admission_decode, every_malformed_body_is_a_clear_error) {
    const std::string huge(4 << 20, 'x');
    const std::vector<malformed_case> cases = {
        {"empty", "", "not JSON"},
        {"not json", "hello", "not JSON"},
        {"truncated", std::string(create_review).substr(0, 200), "not JSON"},
        {"trailing garbage", std::string(create_review) + "}", "not JSON"},
        {"invalid utf-8", "{\"apiVersion\":\"\xff\xfe\"}", "not JSON"},
        {"array", "[1,2,3]", "array"},
        {"string", "\"AdmissionReview\"", "string"},
        {"number", "42", "number"},
        {"null", "null", "null"},
        {"no apiVersion", R"({"kind":"AdmissionReview","request":{"uid":"u"}})", "apiVersion"},
        {"v1beta1", review_with("apiVersion", "admission.k8s.io/v1beta1"), "admission.k8s.io/v1beta1"},
        {"apiVersion a number", review_with("apiVersion", 1), "apiVersion"},
        {"wrong kind", review_with("kind", "ConversionReview"), "ConversionReview"},
        {"no kind", R"({"apiVersion":"admission.k8s.io/v1","request":{"uid":"u"}})", "kind is missing"},
        {"no request", review_with("request", nullptr), "without a request"},
        {"request an array", review_with("request", json::array()), "request is a JSON array"},
        {"no uid", request_without("uid"), "without a uid"},
        {"empty uid", request_with("uid", ""), "without a uid"},
        {"uid a number", request_with("uid", 7), "request.uid"},
        {"kind a string", request_with("kind", "ElectionGroup"), "request.kind"},
        {"kind.kind a number", request_with("kind", json{{"group", "elector.dev"}, {"kind", 1}}), "request.kind.kind"},
        {"operation an object", request_with("operation", json::object()), "request.operation"},
        {"namespace a bool", request_with("namespace", true), "request.namespace"},
        {"name an array", request_with("name", json::array()), "request.name"},
        {"dryRun a string", request_with("dryRun", "true"), "request.dryRun"},
        {"huge apiVersion", review_with("apiVersion", huge), "not supported"},
        {"huge operation type", request_with("operation", json::array({huge})), "request.operation"},
        {"deep nesting", std::string(100000, '[') + std::string(100000, ']'), "nests deeper"},
        {"deep nesting in the object", request_with("object", json::parse(std::string(200, '[') + std::string(200, ']'))),
         "nests deeper"},
        {"huge not json", std::string(1 << 20, '{'), "nests deeper"},
        {"huge unterminated string", "{\"apiVersion\":\"" + huge, "not JSON"},
    };
    for (const auto& c : cases) {
        std::expected<admission_request, std::string> r = std::unexpected(std::string("not run"));
        ASSERT_NO_THROW(r = decode_review(c.body)) << c.name;
        ASSERT_FALSE(r.has_value()) << c.name;
        EXPECT_NE(r.error().find(c.needle), std::string::npos) << c.name << ": " << r.error();
        EXPECT_LT(r.error().size(), 600U) << c.name << ": the error quotes too much";
    }
}

TEST(admission_decode, brackets_inside_strings_do_not_count_as_nesting) {
    json review = json::parse(create_review);
    review["request"]["object"]["metadata"]["annotations"] = {{"note", std::string(5000, '[') + "\\\"{"}};
    auto r = decode_review(review.dump());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->object["metadata"]["annotations"]["note"].get<std::string>().size(), 5003U);
}

TEST(admission_decode, nesting_up_to_the_limit_is_accepted) {
    // The review itself nests 2 levels (review, request) around the object.
    const std::size_t inner = max_review_depth - 2;
    json review = json::parse(create_review);
    review["request"]["object"] = json::parse(std::string(inner, '[') + std::string(inner, ']'));
    EXPECT_TRUE(decode_review(review.dump()).has_value());
    review["request"]["object"] = json::parse(std::string(inner + 1, '[') + std::string(inner + 1, ']'));
    EXPECT_FALSE(decode_review(review.dump()).has_value());
}

TEST(admission_decode, huge_strings_in_a_valid_review_decode) {
    json review = json::parse(create_review);
    const std::string big(2 << 20, 'n');
    review["request"]["object"]["metadata"]["name"] = big;
    auto r = decode_review(review.dump());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->object["metadata"]["name"], big);
}

TEST(admission_decode, every_prefix_and_byte_flip_of_a_review_is_answered_without_a_throw) {
    const std::string body = json::parse(create_review).dump();
    std::size_t decoded = 0;
    for (std::size_t n = 0; n <= body.size(); ++n) {
        ASSERT_NO_THROW({
            if (decode_review(std::string_view(body).substr(0, n))) ++decoded;
        }) << n;
    }
    EXPECT_EQ(decoded, 1U);  // only the whole body
    for (std::size_t i = 0; i < body.size(); ++i) {
        for (const char c : {'\0', '"', '{', ']', '\\', '\xc3'}) {
            std::string flipped = body;
            flipped[i] = c;
            ASSERT_NO_THROW({
                auto r = decode_review(flipped);
                if (r) (void)encode_review(admission_response{.uid = r->uid});
            }) << i;
        }
    }
}

// ---------------------------------------------------------------- encode

TEST(admission_encode, allowed_answer_echoes_the_uid_and_has_no_status_or_patch) {
    const json j = parsed(encode_review(admission_response{.uid = "705ab4f5"}));
    EXPECT_EQ(j.at("apiVersion"), "admission.k8s.io/v1");
    EXPECT_EQ(j.at("kind"), "AdmissionReview");
    const json& r = j.at("response");
    EXPECT_EQ(r.at("uid"), "705ab4f5");
    EXPECT_EQ(r.at("allowed"), true);
    EXPECT_FALSE(r.contains("status"));
    EXPECT_FALSE(r.contains("patch"));
    EXPECT_FALSE(r.contains("patchType"));
    EXPECT_FALSE(r.contains("warnings"));
}

TEST(admission_encode, refusal_carries_the_status) {
    admission_response a{.uid = "u-9",
                         .allowed = false,
                         .code = 422,
                         .reason = "Invalid",
                         .message = "spec.leaseDuration: 0s must be whole seconds; spec.targetRef.name: required",
                         .rejection = "invalid_spec"};
    const json r = parsed(encode_review(a)).at("response");
    EXPECT_EQ(r.at("uid"), "u-9");
    EXPECT_EQ(r.at("allowed"), false);
    EXPECT_EQ(r.at("status").at("code"), 422);
    EXPECT_EQ(r.at("status").at("reason"), "Invalid");
    EXPECT_EQ(r.at("status").at("message"), a.message);
    EXPECT_FALSE(r.contains("patch"));
    EXPECT_FALSE(r.contains("rejection")) << "rejection is for metrics, not the API server";
}

TEST(admission_encode, patch_is_base64_json_patch_that_decodes_back) {
    admission_response a{.uid = "u-1"};
    a.patch = json::array({{{"op", "add"}, {"path", "/spec"}, {"value", json::object()}},
                           {{"op", "add"}, {"path", "/spec/leaseName"}, {"value", "db-é"}}});
    const json r = parsed(encode_review(a)).at("response");
    EXPECT_EQ(r.at("patchType"), "JSONPatch");
    auto bytes = base64_decode(r.at("patch").get<std::string>());
    ASSERT_TRUE(bytes.has_value()) << r.at("patch");
    EXPECT_EQ(parsed(*bytes), a.patch);
}

TEST(admission_encode, no_patch_when_refused_or_empty) {
    admission_response a{.uid = "u", .allowed = false, .code = 400, .reason = "BadRequest", .message = "m"};
    a.patch = json::array({{{"op", "add"}, {"path", "/x"}, {"value", 1}}});
    EXPECT_FALSE(parsed(encode_review(a)).at("response").contains("patch"));
    admission_response b{.uid = "u"};
    b.patch = json::array();
    EXPECT_FALSE(parsed(encode_review(b)).at("response").contains("patchType"));
}

TEST(admission_encode, warnings_only_when_any) {
    admission_response a{.uid = "u"};
    a.warnings = {"spec.targetRef.name: Deployment web not found", "second"};
    const json r = parsed(encode_review(a)).at("response");
    ASSERT_TRUE(r.contains("warnings"));
    EXPECT_EQ(r.at("warnings"), json::array({"spec.targetRef.name: Deployment web not found", "second"}));
}

TEST(admission_encode, invalid_utf8_is_replaced_not_thrown) {
    admission_response a{.uid = "u\xff", .allowed = false, .code = 422, .reason = "Invalid", .message = "bad \xc3("};
    a.warnings = {"\xff"};
    std::string out;
    ASSERT_NO_THROW(out = encode_review(a));
    const json r = parsed(out).at("response");
    EXPECT_EQ(r.at("status").at("message"), "bad \xef\xbf\xbd(");
}

// ---------------------------------------------------------------- helpers

TEST(admission_helpers, base64_rfc4648_vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00\x80", 4)), "//4AgA==");
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(admission_helpers, json_pointer_escape_resolves_with_nlohmann) {
    EXPECT_EQ(json_pointer_escape("leaseName"), "leaseName");
    EXPECT_EQ(json_pointer_escape("elector.dev/role"), "elector.dev~1role");
    EXPECT_EQ(json_pointer_escape("a~/b"), "a~0~1b");
    EXPECT_EQ(json_pointer_escape("~1"), "~01");
    const json j = {{"a~/b", {{"~1", 5}}}};
    EXPECT_EQ(j.at(json::json_pointer("/" + json_pointer_escape("a~/b") + "/" + json_pointer_escape("~1"))), 5);
}

TEST(admission_helpers, truncate_utf8_cuts_at_a_character_boundary) {
    EXPECT_EQ(truncate_utf8("short", 10), "short");
    EXPECT_EQ(truncate_utf8("exactly10!", 10), "exactly10!");
    EXPECT_EQ(truncate_utf8("0123456789abc", 10), "0123456789...");
    // "é" is 2 bytes: cutting after 4 bytes of "abcé" would split it.
    EXPECT_EQ(truncate_utf8("abc\xc3\xa9xyz", 4), "abc...");
    EXPECT_EQ(truncate_utf8("\xe2\x82\xac\xe2\x82\xac", 4), "\xe2\x82\xac...");
}

}  // namespace
}  // namespace elector::webhook
