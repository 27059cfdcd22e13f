#include "controller/leader_api.hpp"

#include <string>

#include <nlohmann/json.hpp>

namespace elector::controller {

namespace {

http::response reply(int status, const nlohmann::json& body) {
    return {.status = status, .body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace

http::response leader_response(const group_cache& groups, std::string_view path) {
    constexpr std::string_view prefix = "/leader/";
    std::string_view rest = path.substr(path.starts_with(prefix) ? prefix.size() : 0);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    const auto slash = rest.find('/');
    if (!path.starts_with(prefix) || slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size() ||
        rest.find('/', slash + 1) != std::string_view::npos) {
        return reply(400, {{"error", "want GET /leader/NAMESPACE/GROUP"}});
    }
    const std::string ns(rest.substr(0, slash));
    const std::string name(rest.substr(slash + 1));
    if (!groups.has_synced()) {
        return reply(503, {{"error", "not synced"}, {"reason", "NotSynced"},
                           {"message", "elector has not listed the ElectionGroups yet"}});
    }
    auto g = groups.get(ns + "/" + name);
    if (!g) return reply(404, {{"error", "electiongroup " + ns + "/" + name + " not found"}});
    const auto& status = g->status;
    const auto* elected = status.find(election::conditions::leader_elected);
    if (!status.leader.empty() && elected != nullptr && elected->status == "True") {
        return reply(200, {{"name", status.leader}, {"term", status.term}, {"lease", status.lease_name}});
    }
    nlohmann::json body{{"error", "no leader"},
                        {"reason", elected != nullptr ? elected->reason : "Pending"},
                        {"message", elected != nullptr ? elected->message : "elector has not reconciled this group yet"}};
    if (!status.leader.empty()) {
        body["name"] = status.leader;  // holds the lease but is not usable now
        body["term"] = status.term;
    }
    return reply(503, body);
}

void add_leader_routes(http::server& server, const group_cache& groups) {
    server.get("/leader/", [&groups](const http::request& r) { return leader_response(groups, r.path); });
}

}  // namespace elector::controller
