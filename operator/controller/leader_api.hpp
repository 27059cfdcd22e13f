#pragma once

#include <string_view>

#include "controller/group_cache.hpp"
#include "http/server.hpp"

namespace elector::controller {

// The leader discovery API, answered by any replica from its cache of
// ElectionGroups (the contract of the classic leader-elector sidecar, which
// answered {"name": ...}):
//   GET /leader/NAMESPACE/GROUP
//     200 {"name": "<pod>", "term": N, "lease": "<lease>"}   a leader is elected and renewed
//     503 {"error": ..., "reason": ..., "name"?: ...}        no usable leader (reason from LeaderElected)
//     404 {"error": ...}                                      no such group (or not watched)
//     400 {"error": ...}                                      not /leader/NAMESPACE/GROUP
//     503 {"error": "not synced", ...}                        the cache has not listed yet
http::response leader_response(const group_cache& groups, std::string_view path);

// Adds the /leader/ route to `server`.
void add_leader_routes(http::server& server, const group_cache& groups);

}  // namespace elector::controller
