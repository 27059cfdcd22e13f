#include "kube/error.hpp"

#include <gtest/gtest.h>

namespace elector::kube {
namespace {

TEST(api_error, conflict_status_keeps_reason_message_and_code) {
    auto e = error_from_response(409, R"({"kind":"Status","apiVersion":"v1","status":"Failure",
        "message":"Operation cannot be fulfilled on leases.coordination.k8s.io \"x\": the object has been modified",
        "reason":"Conflict","details":{"name":"x","group":"coordination.k8s.io","kind":"leases"},"code":409})");
    EXPECT_EQ(e.kind, error_kind::conflict);
    EXPECT_EQ(e.http_status, 409);
    EXPECT_EQ(e.reason, "Conflict");
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(e.to_string(),
              "Conflict (409): Operation cannot be fulfilled on leases.coordination.k8s.io \"x\": the object has been modified");
}

TEST(api_error, already_exists_is_told_apart_from_conflict_by_reason) {
    auto e = error_from_response(409, R"({"kind":"Status","reason":"AlreadyExists","message":"exists","code":409})");
    EXPECT_EQ(e.kind, error_kind::already_exists);
}

TEST(api_error, invalid_carries_field_causes) {
    auto e = error_from_response(422, R"({"kind":"Status","reason":"Invalid","code":422,
        "message":"Lease.coordination.k8s.io \"x\" is invalid",
        "details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value: -1: must be greater than 0",
                              "field":"spec.leaseDurationSeconds"}]}})");
    EXPECT_EQ(e.kind, error_kind::invalid);
    ASSERT_EQ(e.causes.size(), 1u);
    EXPECT_EQ(e.causes[0].field, "spec.leaseDurationSeconds");
    EXPECT_EQ(e.to_string(), "Invalid (422): Lease.coordination.k8s.io \"x\" is invalid; field "
                             "spec.leaseDurationSeconds: Invalid value: -1: must be greater than 0");
}

TEST(api_error, too_many_requests_honours_retry_after_header_and_details) {
    auto header = error_from_response(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})", " 7\r\n");
    EXPECT_EQ(header.kind, error_kind::too_many_requests);
    ASSERT_TRUE(header.retry_after.has_value());
    EXPECT_EQ(header.retry_after->count(), 7);
    EXPECT_TRUE(header.retryable());
    auto details = error_from_response(429, R"({"kind":"Status","code":429,"details":{"retryAfterSeconds":3}})");
    ASSERT_TRUE(details.retry_after.has_value());
    EXPECT_EQ(details.retry_after->count(), 3);
    auto garbage = error_from_response(429, "", "soon");
    EXPECT_FALSE(garbage.retry_after.has_value());
}

TEST(api_error, kinds_from_codes_when_no_status_body) {
    struct row {
        int code;
        error_kind kind;
        bool retryable;
    };
    for (auto [code, kind, retryable] : {row{400, error_kind::bad_request, false}, row{401, error_kind::unauthorized, false},
                                         row{403, error_kind::forbidden, false}, row{404, error_kind::not_found, false},
                                         row{405, error_kind::method_not_allowed, false}, row{410, error_kind::gone, false},
                                         row{415, error_kind::unsupported, false}, row{422, error_kind::invalid, false},
                                         row{500, error_kind::server_error, true}, row{503, error_kind::server_error, true},
                                         row{504, error_kind::timeout, true}, row{418, error_kind::other, false}}) {
        auto e = error_from_response(code, "<html>proxy error</html>");
        EXPECT_EQ(e.kind, kind) << code;
        EXPECT_EQ(e.retryable(), retryable) << code;
        EXPECT_EQ(e.message, "<html>proxy error</html>");
    }
    EXPECT_EQ(error_from_response(502, "").message, "HTTP 502 with an empty body");
}

TEST(api_error, gone_from_a_watch_error_event) {
    auto e = error_from_status_json(R"json({"kind":"Status","apiVersion":"v1","status":"Failure",
        "message":"too old resource version: 5 (120)","reason":"Expired","code":410})json");
    EXPECT_EQ(e.kind, error_kind::gone);
    EXPECT_EQ(e.http_status, 410);
    EXPECT_EQ(error_from_status_json("{\"kind\":\"Pod\"}").kind, error_kind::decode);
}

TEST(api_error, odd_status_fields_do_not_throw) {
    auto e = error_from_response(409, R"({"kind":"Status","reason":7,"message":["x"],"details":{"causes":"no"}})");
    EXPECT_EQ(e.kind, error_kind::conflict);
    EXPECT_TRUE(e.causes.empty());
    auto huge = std::string(10000, 'x');
    EXPECT_LE(error_from_response(500, huge).message.size(), 300u);
}

}  // namespace
}  // namespace elector::kube
