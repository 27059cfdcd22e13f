// Fuzz target "admission": an AdmissionReview body, as the API server POSTs
// it to elector's webhooks, through webhook::decode_review, then
// webhook::validate() and webhook::mutate() and webhook::encode_review().
//
// Input: the body; optionally followed by a line "--view--" and a JSON
// object {"target": <Deployment>, "others": [<ElectionGroup>...]}: the
// cluster_view validate() judges against (read with kube::deployment and
// election_group from_json; without it the view is empty).
//
// Properties:
//  - nothing throws; a refused body has a message;
//  - each answer carries the request's uid; allowed exactly when it names
//    no rejection; a refusal has code 400 or 403, a known rejection and a
//    message, bounded in size (every problem is cut to 1 KiB, each warning
//    to 256 B);
//  - encode_review() gives JSON that reads back with the same uid and
//    decision, and the base64 "patch" decodes to the patch;
//  - mutate()'s patch applies to request.object (RFC 6902) and leaves
//    spec.leaseName set to the group's name.
#include "fuzz_target.hpp"

#include <algorithm>
#include <array>
#include <string>

#include <fmt/format.h>

#include "election/group.hpp"
#include "kube/cluster_config.hpp"
#include "kube/objects.hpp"
#include "webhook/admission.hpp"
#include "webhook/electiongroup.hpp"

namespace {

using namespace elector;
using elector::fuzz::check;
using elector::fuzz::fail;
using json = nlohmann::json;

webhook::cluster_view view_from(std::string_view text) {
    webhook::cluster_view view;
    if (text.empty()) return view;
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return view;
    if (auto t = j.find("target"); t != j.end()) {
        if (auto d = kube::deployment::from_json(*t)) view.target = std::move(*d);
    }
    if (auto o = j.find("others"); o != j.end() && o->is_array()) {
        for (const auto& item : *o) {
            if (auto g = election::election_group::from_json(item)) view.others.push_back(std::move(*g));
        }
    }
    return view;
}

void check_answer(const webhook::admission_request& r, const webhook::admission_response& a, std::string_view who) {
    const std::string where = fmt::format("{} of uid {}", who, json(r.uid).dump(-1, ' ', true, json::error_handler_t::replace));
    check(a.uid == r.uid, "the answer carries the request's uid", where);
    check(a.allowed == a.rejection.empty(), "allowed exactly when no rejection is named",
          fmt::format("{}: allowed={} rejection={}", where, a.allowed, a.rejection));
    if (!a.allowed) {
        check(a.code == 400 || a.code == 403, "a refusal has code 400 or 403", fmt::format("{}: {}", where, a.code));
        constexpr std::array<std::string_view, 6> known = {
            webhook::rejections::invalid_spec,     webhook::rejections::immutable_field,
            webhook::rejections::duplicate_target, webhook::rejections::label_conflict,
            webhook::rejections::wrong_kind,       webhook::rejections::malformed};
        check(std::find(known.begin(), known.end(), a.rejection) != known.end(), "a refusal names a known rejection",
              a.rejection);
        check(!a.message.empty(), "a refusal has a message", where);
        check(!a.patch.is_array() || a.patch.empty(), "a refusal carries no patch", where);
    }
    check(a.message.size() <= 64 * 1024, "the message is bounded", fmt::format("{}: {} bytes", where, a.message.size()));
    for (const auto& w : a.warnings) {
        check(w.size() <= 256 + 3, "each warning is bounded", fmt::format("{}: {} bytes", where, w.size()));
    }

    const std::string encoded = webhook::encode_review(a);
    const json back = json::parse(encoded, nullptr, false);
    check(back.is_object(), "encode_review gives JSON", encoded.substr(0, 256));
    static const json none = json::object();
    const auto found = back.is_object() ? back.find("response") : back.end();
    const json& response = back.is_object() && found != back.end() ? *found : none;
    check(back.value("apiVersion", "") == webhook::review_api_version &&
              back.value("kind", "") == webhook::review_kind && response.is_object() &&
              response.value("allowed", !a.allowed) == a.allowed,
          "encode_review: an AdmissionReview with the decision", encoded.substr(0, 256));
    // Invalid UTF-8 in the uid is replaced, never thrown: compare only what JSON can carry.
    if (json(a.uid).dump(-1, ' ', false, json::error_handler_t::replace) ==
        json(a.uid).dump(-1, ' ', false, json::error_handler_t::ignore)) {
        check(response.value("uid", std::string("\x01")) == a.uid, "encode_review keeps the uid", where);
    }
    if (a.allowed && a.patch.is_array() && !a.patch.empty()) {
        const std::string b64 = response.value("patch", "");
        auto bytes = kube::base64_decode(b64);
        if (!bytes) fail("encode_review: the patch is valid base64", bytes.error());
        check(json::parse(*bytes, nullptr, false) == a.patch, "encode_review: the patch decodes to the patch", where);
        check(response.value("patchType", "") == "JSONPatch", "encode_review: patchType JSONPatch", where);
    }
}

}  // namespace

extern "C" int elector_fuzz_one(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto [body, view_text] = fuzz::split_at_line(input, "--view--");

    auto request = webhook::decode_review(body);
    if (!request) {
        check(!request.error().empty(), "decode_review: a refused body has a message");
        return 0;
    }
    check(!request->uid.empty(), "decode_review: a request has a uid");
    const webhook::cluster_view view = view_from(view_text);

    const auto validated = webhook::validate(*request, view);
    check_answer(*request, validated, "validate");
    check(validated.patch.is_null() || validated.patch.empty(), "validate: never a patch");

    const auto mutated = webhook::mutate(*request);
    check_answer(*request, mutated, "mutate");
    if (mutated.allowed && mutated.patch.is_array() && !mutated.patch.empty()) {
        json patched;
        try {
            patched = request->object.patch(mutated.patch);
        } catch (const json::exception& e) {
            fail("mutate: the patch applies to request.object", e.what());
        }
        const json* spec = patched.is_object() && patched.contains("spec") ? &patched["spec"] : nullptr;
        check(spec != nullptr && spec->is_object() && spec->contains("leaseName") && (*spec)["leaseName"].is_string() &&
                  !(*spec)["leaseName"].get<std::string>().empty(),
              "mutate: the patched object has a spec.leaseName", patched.dump(-1, ' ', true, json::error_handler_t::replace));
        // The defaulted group reads, and its lease name is the name.
        auto g = webhook::group_of(*request, patched);
        if (g) {
            check(g->spec.lease_name == (*spec)["leaseName"].get<std::string>(),
                  "mutate: the group reads with the defaulted leaseName");
        }
    }
    return 0;
}
