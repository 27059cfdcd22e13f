#pragma once

// The admission decisions for ElectionGroup: the validating webhook's
// validate() and the mutating webhook's mutate(). Pure: the cluster state
// comes in as a cluster_view; no IO, never throws.

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "election/group.hpp"
#include "kube/objects.hpp"
#include "webhook/admission.hpp"

namespace elector::webhook {

// What validation needs from the cluster (the webhook server reads it from elector's caches).
struct cluster_view {
    std::optional<kube::deployment> target;        // the group's target Deployment, if it exists
    std::vector<election::election_group> others;  // the other ElectionGroups of the namespace (not the one under review)
};

// The decision of the validating webhook for an ElectionGroup request.
// CREATE and UPDATE are judged; DELETE and CONNECT are allowed. A request for
// another kind (not elector.dev ElectionGroup) is refused, code 400,
// rejection wrong_kind, with a message naming what came; an unknown operation
// or an object that is not a JSON object is refused, code 400, rejection
// malformed. Otherwise every problem at once, each with its field path,
// joined by "; " in the message, in this order: immutable fields (UPDATE),
// the spec's own problems, the leader label against the target Deployment,
// duplicate targets; code 403, reason Forbidden (kubectl shows a 422
// without causes as just "The request is invalid"), rejection the kind of
// the first problem. A missing target Deployment is not an error (it may be
// created later): a warning instead.
//
// Ratcheting: an UPDATE that leaves the spec as it was (leaseName compared
// by its effective value) is allowed even if that spec is invalid, with a
// warning, so that metadata changes (labels, elector's finalizer) and the
// deletion of a group written before the webhook existed are not blocked.
// For the same reason an UPDATE is checked for duplicate targets only when
// it changes the target's name or the leader label key.
admission_response validate(const admission_request& r, const cluster_view& view);

// The mutating webhook's decision: allowed, with a JSON patch that defaults
// what the CRD schema cannot: spec.leaseName from metadata.name when absent
// or empty (on CREATE; on UPDATE only if the old object had none — leaseName
// is immutable). No patch when nothing to default, nor when the name is not
// known yet (generateName): elector then defaults it at runtime. Never
// refuses a well-formed ElectionGroup (validation is the validating
// webhook's job) but refuses wrong kinds and malformed requests like validate().
admission_response mutate(const admission_request& r);

// The ElectionGroup in `object` (the request's object or oldObject) as
// elector reads it. Unlike election_group::from_json it does not require
// what the API server may not have set yet when it calls an admission
// webhook on CREATE (metadata.uid, metadata.resourceVersion, and
// metadata.name with generateName); a missing name or namespace is the
// request's. Fails only when `object` or its metadata is not a JSON object
// or an identity field is not a string. For the server: the namespace, name
// and target of the group to build a cluster_view for.
std::expected<election::election_group, std::string> group_of(const admission_request& r, const json& object);

}  // namespace elector::webhook
