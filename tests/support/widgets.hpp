#pragma once

#include "control_plane.hpp"

namespace elector::testing {

// A small custom resource for tests: Widget (test.elector.dev/v1), with a
// structural schema (spec.size, spec.labels) and a status subresource.
inline constexpr const char* widget_crd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.elector.dev
spec:
  group: test.elector.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              labels: {type: object, additionalProperties: {type: string}}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
)";

// Applies the Widget CRD and waits until it is Established; throws if not.
inline void install_widget_crd(const control_plane& env) {
    env.apply(widget_crd);
    auto r = env.kubectl({"wait", "--for=condition=Established", "crd/widgets.test.elector.dev", "--timeout=30s"});
    if (!r.ok()) throw std::runtime_error("Widget CRD not established: " + r.describe());
}

}  // namespace elector::testing
