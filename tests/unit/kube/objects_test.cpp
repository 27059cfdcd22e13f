#include "kube/objects.hpp"

#include <algorithm>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace elector::kube {
namespace {

using namespace std::chrono;

time_point at(const char* text) {
    auto t = parse_time(text);
    if (!t) throw std::invalid_argument(text);
    return *t;
}

// A running, ready pod as the kubelet reports it.
const char* const ready_pod_json = R"({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "web-7d4b9c6f5-x2x9k",
    "generateName": "web-7d4b9c6f5-",
    "namespace": "shop",
    "uid": "5f0b8e2c-1a8e-4c0e-9a53-2f1d7c8b9e10",
    "resourceVersion": "184467",
    "creationTimestamp": "2026-11-20T23:40:02Z",
    "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5", "role": "leader"},
    "annotations": {"elector.dev/term": "7"},
    "ownerReferences": [{
      "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c6f5",
      "uid": "0c7a1b9e-55d2-4f51-8d8e-3b2d4f6a7c81", "controller": true, "blockOwnerDeletion": true
    }]
  },
  "spec": {
    "containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "nodeName": "node-1",
    "schedulerName": "default-scheduler"
  },
  "status": {
    "phase": "Running",
    "conditions": [
      {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-20T23:40:03Z"},
      {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-20T23:40:09Z"},
      {"type": "ContainersReady", "status": "True", "lastProbeTime": null,
       "lastTransitionTime": "2026-11-20T23:40:09Z"},
      {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-20T23:40:02Z"}
    ],
    "hostIP": "10.0.0.11",
    "podIP": "10.244.1.17",
    "podIPs": [{"ip": "10.244.1.17"}],
    "startTime": "2026-11-20T23:40:03Z",
    "initContainerStatuses": [{
      "name": "migrate", "ready": true, "restartCount": 0, "image": "migrate:1", "imageID": "",
      "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-11-20T23:40:04Z",
                               "finishedAt": "2026-11-20T23:40:05Z", "containerID": "containerd://aa"}},
      "lastState": {}
    }],
    "containerStatuses": [{
      "name": "web",
      "state": {"running": {"startedAt": "2026-11-20T23:40:06Z"}},
      "lastState": {},
      "ready": true,
      "restartCount": 0,
      "image": "docker.io/library/nginx:1.25",
      "imageID": "docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
      "containerID": "containerd://4c1e0b4c6f1c",
      "started": true
    }],
    "qosClass": "BestEffort"
  }
})";

// A pod whose container keeps crashing, next to a healthy sidecar.
const char* const crashed_pod_json = R"({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "queue-5c9f8d7b6-q7m2p",
    "namespace": "jobs",
    "uid": "e3b0c442-98fc-4c14-9afb-f4c8996fb924",
    "resourceVersion": "99120",
    "creationTimestamp": "2026-11-20T22:00:00Z",
    "labels": {"app": "queue"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "queue-5c9f8d7b6",
                         "uid": "a1", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {"nodeName": "node-2", "containers": [{"name": "consumer"}, {"name": "proxy"}]},
  "status": {
    "phase": "Running",
    "conditions": [
      {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2026-11-20T23:47:27Z",
       "reason": "ContainersNotReady", "message": "containers with unready status: [consumer]"}
    ],
    "podIP": "10.244.2.9",
    "startTime": "2026-11-20T22:00:01Z",
    "containerStatuses": [
      {
        "name": "consumer",
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 40s restarting failed container=consumer"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-11-20T23:47:20Z",
                                     "finishedAt": "2026-11-20T23:47:27Z", "containerID": "containerd://9f"}},
        "ready": false,
        "restartCount": 4,
        "image": "queue:2", "imageID": "", "containerID": "containerd://9f", "started": false
      },
      {
        "name": "proxy",
        "state": {"running": {"startedAt": "2026-11-20T22:00:02Z"}},
        "lastState": {},
        "ready": true,
        "restartCount": 0,
        "image": "envoy:1", "imageID": "", "containerID": "containerd://10", "started": true
      }
    ]
  }
})";

// A pod being deleted: deletionTimestamp set, its container already stopped.
const char* const terminating_pod_json = R"({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "db-0",
    "namespace": "data",
    "uid": "11111111-2222-3333-4444-555555555555",
    "resourceVersion": "7001",
    "generation": 2,
    "creationTimestamp": "2026-11-19T08:00:00Z",
    "deletionTimestamp": "2026-11-20T23:48:00Z",
    "deletionGracePeriodSeconds": 30,
    "finalizers": ["elector.dev/demote", "example.com/cleanup"]
  },
  "spec": {"nodeName": "node-3"},
  "status": {
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "Unknown", "lastTransitionTime": "2026-11-20T23:47:40Z"}],
    "podIP": "10.244.3.4",
    "containerStatuses": [{
      "name": "db",
      "state": {"terminated": {"exitCode": 143, "reason": "Error", "startedAt": "2026-11-19T08:00:05Z",
                               "finishedAt": "2026-11-20T23:47:35Z"}},
      "lastState": {},
      "ready": false,
      "restartCount": 0
    }]
  }
})";

const char* const deployment_json = R"({
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {
    "name": "web",
    "namespace": "shop",
    "uid": "d0d0d0d0-0000-4000-8000-000000000001",
    "resourceVersion": "184400",
    "generation": 5,
    "creationTimestamp": "2026-11-01T10:00:00Z",
    "labels": {"app": "web"},
    "annotations": {"deployment.kubernetes.io/revision": "3",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}"}
  },
  "spec": {
    "replicas": 3,
    "selector": {
      "matchLabels": {"app": "web"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}]
    },
    "template": {
      "metadata": {"labels": {"app": "web", "tier": "frontend"}},
      "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}
    },
    "strategy": {"type": "Recreate"},
    "minReadySeconds": 10,
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600
  },
  "status": {"observedGeneration": 5, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
             "availableReplicas": 3}
})";

const char* const replica_set_json = R"({
  "apiVersion": "apps/v1",
  "kind": "ReplicaSet",
  "metadata": {
    "name": "web-7d4b9c6f5",
    "namespace": "shop",
    "uid": "0c7a1b9e-55d2-4f51-8d8e-3b2d4f6a7c81",
    "resourceVersion": "184410",
    "generation": 1,
    "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5"},
    "annotations": {"deployment.kubernetes.io/desired-replicas": "3",
                    "deployment.kubernetes.io/max-replicas": "4",
                    "deployment.kubernetes.io/revision": "3"},
    "ownerReferences": [
      {"apiVersion": "example.com/v1", "kind": "Audit", "name": "a", "uid": "x"},
      {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
       "uid": "d0d0d0d0-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}
    ]
  },
  "spec": {
    "replicas": 3,
    "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c6f5"}},
    "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "7d4b9c6f5"}}, "spec": {}}
  },
  "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
             "observedGeneration": 1}
})";

const char* const not_ready_node_json = R"({
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {
    "name": "node-2",
    "uid": "a0a0a0a0-1111-4222-8333-444444444444",
    "resourceVersion": "183999",
    "creationTimestamp": "2026-11-01T00:00:00Z",
    "labels": {"kubernetes.io/hostname": "node-2", "kubernetes.io/os": "linux"}
  },
  "spec": {
    "podCIDR": "10.244.2.0/24",
    "unschedulable": true,
    "taints": [
      {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": "2026-11-20T23:47:00Z"},
      {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-11-20T23:47:05Z"},
      {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    ]
  },
  "status": {
    "conditions": [
      {"type": "MemoryPressure", "status": "Unknown", "reason": "NodeStatusUnknown"},
      {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": "2026-11-20T23:46:20Z",
       "lastTransitionTime": "2026-11-20T23:47:00Z", "reason": "NodeStatusUnknown",
       "message": "Kubelet stopped posting node status."}
    ]
  }
})";

// As client-go's leader election leaves it after an update.
const char* const lease_json = R"({
  "apiVersion": "coordination.k8s.io/v1",
  "kind": "Lease",
  "metadata": {
    "name": "web",
    "namespace": "shop",
    "uid": "1ea5e000-0000-4000-8000-000000000001",
    "resourceVersion": "184470",
    "creationTimestamp": "2026-11-20T23:40:10Z",
    "labels": {"elector.dev/group": "web"},
    "managedFields": [{"manager": "elector", "operation": "Update", "apiVersion": "coordination.k8s.io/v1",
                       "time": "2026-11-20T23:47:27Z"}]
  },
  "spec": {
    "holderIdentity": "web-7d4b9c6f5-x2x9k",
    "leaseDurationSeconds": 15,
    "acquireTime": "2026-11-20T23:40:10.250000Z",
    "renewTime": "2026-11-20T23:47:27.123456Z",
    "leaseTransitions": 2
  }
})";

json sample(const char* text) {
    return json::parse(text);
}

TEST(objects_labels, find_label_and_sort_labels) {
    labels l = {{"role", "x"}, {"app", "web"}, {"role", "leader"}, {"tier", "frontend"}};
    sort_labels(l);
    EXPECT_EQ(l, (labels{{"app", "web"}, {"role", "leader"}, {"tier", "frontend"}}));
    ASSERT_NE(find_label(l, "role"), nullptr);
    EXPECT_EQ(*find_label(l, "role"), "leader");
    EXPECT_EQ(*find_label(l, "app"), "web");
    EXPECT_EQ(*find_label(l, "tier"), "frontend");
    EXPECT_EQ(find_label(l, "rol"), nullptr);
    EXPECT_EQ(find_label(l, "zzz"), nullptr);
    EXPECT_EQ(find_label(labels{}, "app"), nullptr);
}

TEST(objects_pod, ready_pod_as_the_kubelet_reports_it) {
    auto p = pod::from_json(sample(ready_pod_json));
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(p->meta.name, "web-7d4b9c6f5-x2x9k");
    EXPECT_EQ(p->meta.namespace_, "shop");
    EXPECT_EQ(p->meta.uid, "5f0b8e2c-1a8e-4c0e-9a53-2f1d7c8b9e10");
    EXPECT_EQ(p->meta.resource_version, "184467");
    EXPECT_EQ(p->meta.generation, 0);
    EXPECT_EQ(p->meta.creation_timestamp, at("2026-11-20T23:40:02Z"));
    EXPECT_FALSE(p->meta.deletion_timestamp.has_value());
    EXPECT_EQ(p->meta.labels, (labels{{"app", "web"}, {"pod-template-hash", "7d4b9c6f5"}, {"role", "leader"}}));
    EXPECT_EQ(p->meta.annotations, (labels{{"elector.dev/term", "7"}}));
    EXPECT_TRUE(p->meta.finalizers.empty());
    EXPECT_EQ(p->node_name, "node-1");
    EXPECT_EQ(p->phase, "Running");
    EXPECT_EQ(p->ready, true);
    EXPECT_EQ(p->ready_since, at("2026-11-20T23:40:09Z"));
    EXPECT_EQ(p->pod_ip, "10.244.1.17");
    EXPECT_EQ(p->start_time, at("2026-11-20T23:40:03Z"));

    ASSERT_EQ(p->containers.size(), 1u);  // the init container is left out
    const container_status& c = p->containers[0];
    EXPECT_EQ(c.name, "web");
    EXPECT_TRUE(c.ready);
    EXPECT_EQ(c.restart_count, 0);
    EXPECT_EQ(c.state, container_state::running);
    EXPECT_EQ(c.state_reason, "");
    EXPECT_FALSE(c.last_terminated);
    EXPECT_FALSE(c.last_terminated_at.has_value());

    const owner_reference* owner = p->controller_owner();
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(*owner, (owner_reference{"apps/v1", "ReplicaSet", "web-7d4b9c6f5",
                                       "0c7a1b9e-55d2-4f51-8d8e-3b2d4f6a7c81", true}));
}

TEST(objects_pod, crashed_container_waiting_in_crash_loop_back_off) {
    auto p = pod::from_json(sample(crashed_pod_json));
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(p->ready, false);
    EXPECT_FALSE(p->ready_since.has_value());
    ASSERT_EQ(p->containers.size(), 2u);
    const container_status& consumer = p->containers[0];
    EXPECT_EQ(consumer.name, "consumer");
    EXPECT_FALSE(consumer.ready);
    EXPECT_EQ(consumer.restart_count, 4);
    EXPECT_EQ(consumer.state, container_state::waiting);
    EXPECT_EQ(consumer.state_reason, "CrashLoopBackOff");
    EXPECT_TRUE(consumer.last_terminated);
    EXPECT_EQ(consumer.last_terminated_at, at("2026-11-20T23:47:27Z"));
    const container_status& proxy = p->containers[1];
    EXPECT_EQ(proxy.state, container_state::running);
    EXPECT_TRUE(proxy.ready);
    EXPECT_FALSE(proxy.last_terminated);
}

TEST(objects_pod, terminating_pod) {
    auto p = pod::from_json(sample(terminating_pod_json));
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(p->meta.deletion_timestamp, at("2026-11-20T23:48:00Z"));
    EXPECT_EQ(p->meta.generation, 2);
    EXPECT_EQ(p->meta.finalizers, (std::vector<std::string>{"elector.dev/demote", "example.com/cleanup"}));
    EXPECT_EQ(p->ready, std::nullopt);  // Unknown
    EXPECT_EQ(p->controller_owner(), nullptr);
    EXPECT_FALSE(p->start_time.has_value());
    ASSERT_EQ(p->containers.size(), 1u);
    EXPECT_EQ(p->containers[0].state, container_state::terminated);
    EXPECT_EQ(p->containers[0].state_reason, "Error");
}

TEST(objects_pod, minimal_pod_gets_defaults) {
    auto p = pod::from_json(
        json::parse(R"({"metadata":{"name":"p","namespace":"n","uid":"u","resourceVersion":"1"}})"));
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(*p, (pod{.meta = {.name = "p", .namespace_ = "n", .uid = "u", .resource_version = "1"}}));
}

TEST(objects_deployment, revision_selector_with_expressions_and_strategy) {
    auto d = deployment::from_json(sample(deployment_json));
    ASSERT_TRUE(d.has_value()) << d.error();
    EXPECT_EQ(d->meta.name, "web");
    EXPECT_EQ(d->meta.generation, 5);
    EXPECT_EQ(d->replicas, 3);
    EXPECT_EQ(d->selector_match_labels, (labels{{"app", "web"}}));
    EXPECT_TRUE(d->has_match_expressions);
    EXPECT_EQ(d->template_labels, (labels{{"app", "web"}, {"tier", "frontend"}}));
    EXPECT_EQ(d->min_ready_seconds, 10);
    EXPECT_EQ(d->strategy_type, "Recreate");
    EXPECT_EQ(d->revision, 3);
    EXPECT_EQ(d->observed_generation, 5);
    EXPECT_FALSE(d->paused);
}

TEST(objects_deployment, defaults) {
    auto d = deployment::from_json(json::parse(R"({"metadata":{"name":"d","namespace":"n","uid":"u",
        "resourceVersion":"1"},"spec":{"paused":true,"selector":{"matchExpressions":[]}}})"));
    ASSERT_TRUE(d.has_value()) << d.error();
    EXPECT_EQ(d->replicas, 1);
    EXPECT_EQ(d->strategy_type, "RollingUpdate");
    EXPECT_EQ(d->revision, 0);
    EXPECT_EQ(d->observed_generation, 0);
    EXPECT_FALSE(d->has_match_expressions);
    EXPECT_TRUE(d->paused);
    EXPECT_EQ(d->min_ready_seconds, 0);
}

TEST(objects_deployment, revision_annotation_must_be_a_plain_number) {
    struct row {
        json value;
        std::int64_t revision;
    };
    for (const auto& [value, revision] :
         {row{"12", 12}, row{"0", 0}, row{"", 0}, row{"abc", 0}, row{"12a", 0}, row{"-3", 0}, row{"+3", 0},
          row{" 3", 0}, row{"99999999999999999999", 0}, row{7, 0}, row{nullptr, 0}}) {
        json j = sample(deployment_json);
        j["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = value;
        auto d = deployment::from_json(j);
        ASSERT_TRUE(d.has_value()) << d.error();
        EXPECT_EQ(d->revision, revision) << value.dump();
    }
}

TEST(objects_replica_set, revision_replicas_template_and_controller) {
    auto rs = replica_set::from_json(sample(replica_set_json));
    ASSERT_TRUE(rs.has_value()) << rs.error();
    EXPECT_EQ(rs->meta.name, "web-7d4b9c6f5");
    EXPECT_EQ(rs->revision, 3);
    EXPECT_EQ(rs->replicas, 3);
    EXPECT_EQ(rs->template_labels, (labels{{"app", "web"}, {"pod-template-hash", "7d4b9c6f5"}}));
    ASSERT_EQ(rs->meta.owner_references.size(), 2u);
    EXPECT_FALSE(rs->meta.owner_references[0].controller);
    const owner_reference* owner = rs->controller_owner();
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(owner->kind, "Deployment");
    EXPECT_EQ(owner->name, "web");
    EXPECT_EQ(owner->uid, "d0d0d0d0-0000-4000-8000-000000000001");
}

TEST(objects_node, unknown_node_with_taints) {
    auto n = node::from_json(sample(not_ready_node_json));
    ASSERT_TRUE(n.has_value()) << n.error();
    EXPECT_EQ(n->meta.name, "node-2");
    EXPECT_EQ(n->meta.namespace_, "");
    EXPECT_EQ(n->ready, std::nullopt);
    EXPECT_TRUE(n->unschedulable);
    EXPECT_EQ(n->taints, (std::vector<taint>{{"node.kubernetes.io/unreachable", "NoSchedule"},
                                             {"node.kubernetes.io/unreachable", "NoExecute"},
                                             {"node.kubernetes.io/unschedulable", "NoSchedule"}}));
}

TEST(objects_node, ready_condition_values) {
    struct row {
        json conditions;
        std::optional<bool> ready;
    };
    for (const auto& [conditions, ready] : {
             row{json::parse(R"([{"type":"Ready","status":"True"}])"), true},
             row{json::parse(R"([{"type":"Ready","status":"False","reason":"KubeletNotReady"}])"), false},
             row{json::parse(R"([{"type":"Ready","status":"Unknown"}])"), std::nullopt},
             row{json::parse(R"([{"type":"Ready"}])"), std::nullopt},
             row{json::parse(R"([{"type":"Ready","status":true}])"), std::nullopt},
             row{json::parse(R"([{"type":"DiskPressure","status":"False"}])"), std::nullopt},
             row{json::parse(R"([{"status":"True"},{"type":7},"x",null,{"type":"Ready","status":"False"}])"), false},
             row{json::array(), std::nullopt},
             row{json("Ready"), std::nullopt},
         }) {
        json j = sample(not_ready_node_json);
        j["status"]["conditions"] = conditions;
        auto n = node::from_json(j);
        ASSERT_TRUE(n.has_value()) << n.error();
        EXPECT_EQ(n->ready, ready) << conditions.dump();
    }
}

TEST(objects_lease, as_client_go_writes_it) {
    auto l = lease::from_json(sample(lease_json));
    ASSERT_TRUE(l.has_value()) << l.error();
    EXPECT_EQ(l->meta.name, "web");
    EXPECT_EQ(l->meta.namespace_, "shop");
    EXPECT_EQ(l->holder_identity, "web-7d4b9c6f5-x2x9k");
    EXPECT_EQ(l->lease_duration_seconds, 15);
    EXPECT_EQ(l->acquire_time, at("2026-11-20T23:40:10.25Z"));
    EXPECT_EQ(l->renew_time, at("2026-11-20T23:47:27.123456Z"));
    EXPECT_EQ(l->lease_transitions, 2);
}

TEST(objects_lease, released_lease_with_empty_holder_and_no_times) {
    auto l = lease::from_json(json::parse(R"({"metadata":{"name":"l","namespace":"n","uid":"u","resourceVersion":"3"},
        "spec":{"holderIdentity":"","leaseDurationSeconds":1,"leaseTransitions":0,"acquireTime":null}})"));
    ASSERT_TRUE(l.has_value()) << l.error();
    EXPECT_EQ(l->holder_identity, "");
    EXPECT_FALSE(l->acquire_time.has_value());
    EXPECT_FALSE(l->renew_time.has_value());
}

TEST(objects_lease, to_json_is_the_object_client_go_writes) {
    lease l;
    l.meta.name = "web";
    l.meta.namespace_ = "shop";
    l.meta.resource_version = "184470";
    l.meta.uid = "not-written";
    l.meta.labels = {{"elector.dev/group", "web"}};
    l.meta.owner_references = {{"elector.dev/v1alpha1", "ElectionGroup", "web", "eg-uid", true}};
    l.holder_identity = "web-7d4b9c6f5-x2x9k";
    l.lease_duration_seconds = 15;
    l.acquire_time = at("2026-11-20T23:40:10Z");
    l.renew_time = at("2026-11-20T23:47:27.123456789Z");
    l.lease_transitions = 2;
    EXPECT_EQ(l.to_json(), json::parse(R"({
      "apiVersion": "coordination.k8s.io/v1",
      "kind": "Lease",
      "metadata": {
        "name": "web", "namespace": "shop", "resourceVersion": "184470",
        "labels": {"elector.dev/group": "web"},
        "ownerReferences": [{"apiVersion": "elector.dev/v1alpha1", "kind": "ElectionGroup", "name": "web",
                             "uid": "eg-uid", "controller": true}]
      },
      "spec": {
        "holderIdentity": "web-7d4b9c6f5-x2x9k",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-20T23:40:10.000000Z",
        "renewTime": "2026-11-20T23:47:27.123456Z",
        "leaseTransitions": 2
      }
    })"));
}

TEST(objects_lease, to_json_for_a_create_leaves_out_what_is_unset) {
    lease l;
    l.meta.name = "web";
    l.meta.namespace_ = "shop";
    l.lease_duration_seconds = 15;
    EXPECT_EQ(l.to_json(), json::parse(R"({
      "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
      "metadata": {"name": "web", "namespace": "shop"},
      "spec": {"holderIdentity": "", "leaseDurationSeconds": 15, "leaseTransitions": 0}
    })"));
}

TEST(objects_lease, to_json_then_from_json_round_trips) {
    lease l;
    l.meta.name = "web";
    l.meta.namespace_ = "shop";
    l.meta.resource_version = "42";
    l.meta.labels = {{"a", "1"}, {"b", "2"}};
    l.meta.annotations = {{"elector.dev/term", "9"}};
    l.meta.owner_references = {{"elector.dev/v1alpha1", "ElectionGroup", "web", "eg-uid", true},
                               {"v1", "ConfigMap", "c", "cm-uid", false}};
    l.holder_identity = "web-1";
    l.lease_duration_seconds = 15;
    l.acquire_time = at("2026-11-20T23:40:10.000001Z");
    l.renew_time = at("2026-11-20T23:47:27.999999Z");
    l.lease_transitions = 7;
    json written = l.to_json();
    // The server adds the uid; to_json never writes it.
    written["metadata"]["uid"] = "lease-uid";
    l.meta.uid = "lease-uid";
    auto back = lease::from_json(written);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, l);

    l.acquire_time.reset();
    l.renew_time.reset();
    l.holder_identity.clear();
    written = l.to_json();
    written["metadata"]["uid"] = "lease-uid";
    back = lease::from_json(written);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, l);
}

using parse_function = std::function<std::optional<std::string>(const json&)>;

template <class T>
parse_function error_of() {
    return [](const json& j) -> std::optional<std::string> {
        auto parsed = T::from_json(j);
        if (parsed) return std::nullopt;
        return parsed.error();
    };
}

struct kind_case {
    const char* kind;
    const char* sample;
    parse_function parse;
    bool namespaced;
};

std::vector<kind_case> kinds() {
    return {
        {"pod", ready_pod_json, error_of<pod>(), true},
        {"pod", crashed_pod_json, error_of<pod>(), true},
        {"pod", terminating_pod_json, error_of<pod>(), true},
        {"deployment", deployment_json, error_of<deployment>(), true},
        {"replicaset", replica_set_json, error_of<replica_set>(), true},
        {"node", not_ready_node_json, error_of<node>(), false},
        {"lease", lease_json, error_of<lease>(), true},
    };
}

TEST(objects_identity, every_missing_or_mistyped_identity_field_is_an_error) {
    for (const auto& k : kinds()) {
        SCOPED_TRACE(k.kind);
        EXPECT_EQ(k.parse(sample(k.sample)), std::nullopt);
        std::vector<std::string> fields = {"name", "uid", "resourceVersion"};
        if (k.namespaced) fields.emplace_back("namespace");
        for (const auto& field : fields) {
            const std::string expected = std::string(k.kind) + ": metadata." + field + " missing or not a string";
            json missing = sample(k.sample);
            missing["metadata"].erase(field);
            EXPECT_EQ(k.parse(missing), expected);
            for (const json& wrong : {json(nullptr), json(12), json(true), json::array({"x"}), json::object()}) {
                json mistyped = sample(k.sample);
                mistyped["metadata"][field] = wrong;
                EXPECT_EQ(k.parse(mistyped), expected) << wrong.dump();
            }
        }
        const std::string no_metadata = std::string(k.kind) + ": metadata missing or not an object";
        json missing = sample(k.sample);
        missing.erase("metadata");
        EXPECT_EQ(k.parse(missing), no_metadata);
        for (const json& wrong : {json(nullptr), json("meta"), json::array(), json(1.5)}) {
            json mistyped = sample(k.sample);
            mistyped["metadata"] = wrong;
            EXPECT_EQ(k.parse(mistyped), no_metadata);
            EXPECT_EQ(k.parse(wrong), no_metadata);  // not even an object
        }
    }
}

TEST(objects_identity, nodes_need_no_namespace) {
    json j = sample(not_ready_node_json);
    ASSERT_FALSE(j["metadata"].contains("namespace"));
    EXPECT_TRUE(node::from_json(j).has_value());
    j["metadata"]["namespace"] = 5;  // ignored, not an error
    auto n = node::from_json(j);
    ASSERT_TRUE(n.has_value()) << n.error();
    EXPECT_EQ(n->meta.namespace_, "");
}

TEST(objects_tolerance, wrong_types_are_treated_as_absent) {
    struct row {
        const char* pointer;
        json value;
        std::function<void(const pod&)> check;
    };
    const std::vector<row> rows = {
        {"/metadata/labels", "app=web", [](const pod& p) { EXPECT_TRUE(p.meta.labels.empty()); }},
        {"/metadata/labels/app", 3,
         [](const pod& p) {
             EXPECT_EQ(p.meta.labels, (labels{{"pod-template-hash", "7d4b9c6f5"}, {"role", "leader"}}));
         }},
        {"/metadata/annotations", json::array({"a"}), [](const pod& p) { EXPECT_TRUE(p.meta.annotations.empty()); }},
        {"/metadata/generation", "2", [](const pod& p) { EXPECT_EQ(p.meta.generation, 0); }},
        {"/metadata/generation", 2.5, [](const pod& p) { EXPECT_EQ(p.meta.generation, 0); }},
        {"/metadata/creationTimestamp", 1700000000,
         [](const pod& p) { EXPECT_FALSE(p.meta.creation_timestamp.has_value()); }},
        {"/metadata/creationTimestamp", "yesterday",
         [](const pod& p) { EXPECT_FALSE(p.meta.creation_timestamp.has_value()); }},
        {"/metadata/deletionTimestamp", nullptr,
         [](const pod& p) { EXPECT_FALSE(p.meta.deletion_timestamp.has_value()); }},
        {"/metadata/ownerReferences", json::object(), [](const pod& p) { EXPECT_EQ(p.controller_owner(), nullptr); }},
        {"/metadata/ownerReferences/0/controller", "true",
         [](const pod& p) { EXPECT_EQ(p.controller_owner(), nullptr); }},
        {"/metadata/ownerReferences/0/name", 1,
         [](const pod& p) { EXPECT_EQ(p.meta.owner_references.at(0).name, ""); }},
        {"/metadata/finalizers", json::array({"a", 1, nullptr, "b"}),
         [](const pod& p) { EXPECT_EQ(p.meta.finalizers, (std::vector<std::string>{"a", "b"})); }},
        {"/spec", "none", [](const pod& p) { EXPECT_EQ(p.node_name, ""); }},
        {"/spec/nodeName", json::array(), [](const pod& p) { EXPECT_EQ(p.node_name, ""); }},
        {"/status", nullptr,
         [](const pod& p) {
             EXPECT_EQ(p.phase, "");
             EXPECT_TRUE(p.containers.empty());
             EXPECT_EQ(p.ready, std::nullopt);
         }},
        {"/status/phase", false, [](const pod& p) { EXPECT_EQ(p.phase, ""); }},
        {"/status/conditions", "Ready", [](const pod& p) { EXPECT_EQ(p.ready, std::nullopt); }},
        {"/status/conditions/1/type", nullptr, [](const pod& p) { EXPECT_EQ(p.ready, std::nullopt); }},
        {"/status/conditions/1/status", 1, [](const pod& p) { EXPECT_EQ(p.ready, std::nullopt); }},
        {"/status/conditions/1/lastTransitionTime", json::object(),
         [](const pod& p) {
             EXPECT_EQ(p.ready, true);
             EXPECT_FALSE(p.ready_since.has_value());
         }},
        {"/status/podIP", 10, [](const pod& p) { EXPECT_EQ(p.pod_ip, ""); }},
        {"/status/startTime", "2026-11-20", [](const pod& p) { EXPECT_FALSE(p.start_time.has_value()); }},
        {"/status/containerStatuses", json::object({{"name", "web"}}),
         [](const pod& p) { EXPECT_TRUE(p.containers.empty()); }},
        {"/status/containerStatuses/0", "web", [](const pod& p) { EXPECT_TRUE(p.containers.empty()); }},
        {"/status/containerStatuses/0/restartCount", "3",
         [](const pod& p) { EXPECT_EQ(p.containers.at(0).restart_count, 0); }},
        {"/status/containerStatuses/0/restartCount", 4294967296LL,
         [](const pod& p) { EXPECT_EQ(p.containers.at(0).restart_count, 0); }},
        {"/status/containerStatuses/0/restartCount", -1,
         [](const pod& p) { EXPECT_EQ(p.containers.at(0).restart_count, -1); }},
        {"/status/containerStatuses/0/ready", "true", [](const pod& p) { EXPECT_FALSE(p.containers.at(0).ready); }},
        // No name: not a container the spec declares, so left out.
        {"/status/containerStatuses/0/name", nullptr, [](const pod& p) { EXPECT_TRUE(p.containers.empty()); }},
        {"/status/containerStatuses/0/state", "running",
         [](const pod& p) { EXPECT_EQ(p.containers.at(0).state, container_state::unknown); }},
        {"/status/containerStatuses/0/state/running", true,
         [](const pod& p) { EXPECT_EQ(p.containers.at(0).state, container_state::unknown); }},
        {"/status/containerStatuses/0/lastState", json::array(),
         [](const pod& p) { EXPECT_FALSE(p.containers.at(0).last_terminated); }},
        {"/status/containerStatuses/0/lastState/terminated", json::object({{"finishedAt", 5}}),
         [](const pod& p) {
             EXPECT_TRUE(p.containers.at(0).last_terminated);
             EXPECT_FALSE(p.containers.at(0).last_terminated_at.has_value());
         }},
    };
    for (const auto& [pointer, value, check] : rows) {
        SCOPED_TRACE(std::string(pointer) + " = " + value.dump());
        json j = sample(ready_pod_json);
        j[json::json_pointer(pointer)] = value;
        std::expected<pod, std::string> p;
        ASSERT_NO_THROW(p = pod::from_json(j));
        ASSERT_TRUE(p.has_value()) << p.error();
        check(*p);
    }
}

TEST(objects_tolerance, statuses_of_containers_the_spec_does_not_declare_are_left_out) {
    // Written through the status subresource by someone other than a kubelet:
    // a container "ghost" that does not exist, terminated with a huge restart
    // count. It must not read as a crash or a restart of the pod.
    json j = sample(ready_pod_json);
    j["status"]["containerStatuses"].push_back(
        {{"name", "ghost"}, {"ready", false}, {"restartCount", 2147483647},
         {"state", {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}}}});
    j["status"]["containerStatuses"].push_back({{"restartCount", 5}});
    auto p = pod::from_json(j);
    ASSERT_TRUE(p.has_value()) << p.error();
    ASSERT_EQ(p->containers.size(), 1u);
    EXPECT_EQ(p->containers[0].name, "web");
    EXPECT_EQ(p->containers[0].state, container_state::running);

    // Without spec.containers (not a pod the API server would serve) nothing
    // is known to filter by: every status counts.
    j["spec"].erase("containers");
    p = pod::from_json(j);
    ASSERT_TRUE(p.has_value()) << p.error();
    EXPECT_EQ(p->containers.size(), 3u);

    // Declared but not (yet) reported: no status, as before.
    json k = sample(ready_pod_json);
    k["spec"]["containers"].push_back({{"name", "sidecar"}});
    p = pod::from_json(k);
    ASSERT_TRUE(p.has_value()) << p.error();
    ASSERT_EQ(p->containers.size(), 1u);
    EXPECT_EQ(p->containers[0].name, "web");
}

TEST(objects_tolerance, other_kinds_tolerate_wrong_types) {
    json d = sample(deployment_json);
    d["spec"]["replicas"] = "3";
    d["spec"]["selector"]["matchLabels"] = "app=web";
    d["spec"]["selector"]["matchExpressions"] = json::object({{"key", "tier"}});
    d["spec"]["template"]["metadata"] = nullptr;
    d["spec"]["strategy"] = "Recreate";
    d["spec"]["minReadySeconds"] = -1.5;
    d["spec"]["paused"] = "yes";
    d["status"] = json::array();
    auto parsed_d = deployment::from_json(d);
    ASSERT_TRUE(parsed_d.has_value()) << parsed_d.error();
    EXPECT_EQ(*parsed_d, (deployment{.meta = parsed_d->meta, .revision = 3}));

    json rs = sample(replica_set_json);
    rs["spec"] = 1;
    rs["metadata"]["annotations"] = "deployment.kubernetes.io/revision=3";
    auto parsed_rs = replica_set::from_json(rs);
    ASSERT_TRUE(parsed_rs.has_value()) << parsed_rs.error();
    EXPECT_EQ(parsed_rs->revision, 0);
    EXPECT_EQ(parsed_rs->replicas, 1);
    EXPECT_TRUE(parsed_rs->template_labels.empty());

    json n = sample(not_ready_node_json);
    n["spec"]["unschedulable"] = 1;
    n["spec"]["taints"] = json::array({"NoSchedule", json::object({{"key", 1}, {"effect", "NoExecute"}})});
    auto parsed_n = node::from_json(n);
    ASSERT_TRUE(parsed_n.has_value()) << parsed_n.error();
    EXPECT_FALSE(parsed_n->unschedulable);
    EXPECT_EQ(parsed_n->taints, (std::vector<taint>{{"", "NoExecute"}}));

    json l = sample(lease_json);
    l["spec"]["holderIdentity"] = nullptr;
    l["spec"]["leaseDurationSeconds"] = "15";
    l["spec"]["renewTime"] = 1700000000;
    l["spec"]["acquireTime"] = "2026-11-20T23:40:10.250000";
    l["spec"]["leaseTransitions"] = 3000000000LL;
    auto parsed_l = lease::from_json(l);
    ASSERT_TRUE(parsed_l.has_value()) << parsed_l.error();
    EXPECT_EQ(parsed_l->holder_identity, "");
    EXPECT_EQ(parsed_l->lease_duration_seconds, 0);
    EXPECT_FALSE(parsed_l->renew_time.has_value());
    EXPECT_FALSE(parsed_l->acquire_time.has_value());
    EXPECT_EQ(parsed_l->lease_transitions, 0);
}

// Every node in the tree, the root excluded.
void collect_pointers(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
    if (j.is_object()) {
        for (const auto& [key, value] : j.items()) {
            out.push_back(at / key);
            collect_pointers(value, at / key, out);
        }
    } else if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            out.push_back(at / i);
            collect_pointers(j[i], at / i, out);
        }
    }
}

json random_value(std::mt19937& rng, json::value_t not_this, int depth = 0) {
    static const std::vector<std::string> strings = {"",   "x", "True", "Ready", "2026-11-20T23:47:27Z",
                                                     "-1", "\xC3\xA9"};
    for (;;) {
        json v;
        switch (std::uniform_int_distribution<int>(0, depth < 2 ? 6 : 4)(rng)) {
            case 0: v = nullptr; break;
            case 1: v = std::bernoulli_distribution(0.5)(rng); break;
            case 2: v = std::uniform_int_distribution<std::int64_t>(-5, 5)(rng) * 1000000000LL; break;
            case 3: v = 0.5; break;
            case 4: v = strings[std::uniform_int_distribution<std::size_t>(0, strings.size() - 1)(rng)]; break;
            case 5: {
                v = json::array();
                for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) {
                    v.push_back(random_value(rng, json::value_t::discarded, depth + 1));
                }
                break;
            }
            default: {
                v = json::object();
                static const std::vector<std::string> keys = {"name", "type", "status", "running", "terminated"};
                for (const auto& key : keys) {
                    if (!std::bernoulli_distribution(0.4)(rng)) continue;
                    v[key] = random_value(rng, json::value_t::discarded, depth + 1);
                }
                break;
            }
        }
        const bool same_kind = v.type() == not_this || (v.is_number() && json(not_this).is_number());
        if (!same_kind) return v;
    }
}

bool breaks_identity(const std::string& pointer, bool namespaced) {
    std::vector<std::string> identity = {"/metadata/name", "/metadata/uid", "/metadata/resourceVersion"};
    if (namespaced) identity.emplace_back("/metadata/namespace");
    if (pointer == "/metadata") return true;
    return std::find(identity.begin(), identity.end(), pointer) != identity.end();
}

TEST(objects_fuzz, random_type_replacements_never_throw) {
    std::mt19937 rng(20261120);
    const auto all_kinds = kinds();
    int errors = 0;
    for (int iteration = 0; iteration < 3000; ++iteration) {
        const kind_case& k = all_kinds[iteration % all_kinds.size()];
        json j = sample(k.sample);
        bool identity_broken = false;
        std::string trace;
        for (int mutations = std::uniform_int_distribution<int>(1, 3)(rng); mutations > 0; --mutations) {
            std::vector<json::json_pointer> pointers;
            collect_pointers(j, json::json_pointer(), pointers);
            if (pointers.empty()) break;
            const auto& target = pointers[std::uniform_int_distribution<std::size_t>(0, pointers.size() - 1)(rng)];
            json value = random_value(rng, j[target].type());
            identity_broken = identity_broken || breaks_identity(target.to_string(), k.namespaced);
            trace += target.to_string() + " = " + value.dump() + "; ";
            j[target] = std::move(value);
        }
        SCOPED_TRACE(std::string(k.kind) + ": " + trace);
        std::optional<std::string> error;
        ASSERT_NO_THROW(error = k.parse(j));
        if (identity_broken) {
            errors += error.has_value();
        } else {
            ASSERT_EQ(error, std::nullopt);
        }
        // Every other kind's view of the same JSON must not throw either.
        for (const auto& other : all_kinds) ASSERT_NO_THROW(other.parse(j));
    }
    EXPECT_GT(errors, 0);  // the fuzzer did reach the identity fields
}

TEST(objects_event, make_event_writes_a_core_v1_event) {
    event_spec spec{
        .namespace_ = "shop",
        .involved = {"v1", "Pod", "web-7d4b9c6f5-x2x9k", "shop", "5f0b8e2c", "184467"},
        .type = "Warning",
        .reason = "LeaderLost",
        .message = "container web crashed; demoting",
        .reporting_instance = "elector-6b7c9-abcde",
        .now = at("2026-11-20T23:47:27.654321Z"),
        .count = 3,
    };
    EXPECT_EQ(make_event(spec), json::parse(R"({
      "apiVersion": "v1",
      "kind": "Event",
      "metadata": {"generateName": "web-7d4b9c6f5-x2x9k.", "namespace": "shop"},
      "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web-7d4b9c6f5-x2x9k", "namespace": "shop",
                         "uid": "5f0b8e2c", "resourceVersion": "184467"},
      "reason": "LeaderLost",
      "message": "container web crashed; demoting",
      "type": "Warning",
      "source": {"component": "elector"},
      "firstTimestamp": "2026-11-20T23:47:27Z",
      "lastTimestamp": "2026-11-20T23:47:27Z",
      "count": 3,
      "reportingComponent": "elector",
      "reportingInstance": "elector-6b7c9-abcde"
    })"));
}

TEST(objects_event, defaults_and_cluster_scoped_objects) {
    event_spec spec{.involved = {.api_version = "v1", .kind = "Node", .name = "node-2", .uid = "n-uid"},
                    .reason = "NodeLost",
                    .message = "m",
                    .now = at("2026-11-20T23:47:27Z")};
    json e = make_event(spec);
    EXPECT_EQ(e["metadata"]["namespace"], "default");
    EXPECT_EQ(e["involvedObject"], json::parse(R"({"apiVersion":"v1","kind":"Node","name":"node-2","uid":"n-uid"})"));
    EXPECT_EQ(e["type"], "Normal");
    EXPECT_EQ(e["count"], 1);
    EXPECT_EQ(e["source"]["component"], "elector");
    EXPECT_EQ(e["reportingComponent"], "elector");
    EXPECT_EQ(e["reportingInstance"], "");
    EXPECT_FALSE(e.contains("eventTime"));

    spec.involved.namespace_ = "shop";
    EXPECT_EQ(make_event(spec)["metadata"]["namespace"], "shop");
}

TEST(objects_event, message_is_cut_at_1024_bytes_on_a_utf8_boundary) {
    struct row {
        std::string message;
        std::string expected;
    };
    const std::string euro = "\xE2\x82\xAC";  // 3 bytes
    const std::string emoji = "\xF0\x9F\x98\x80";  // 4 bytes
    const std::vector<row> rows = {
        {std::string(1024, 'a'), std::string(1024, 'a')},
        {std::string(1025, 'a'), std::string(1024, 'a')},
        {std::string(1022, 'a') + euro, std::string(1022, 'a')},
        {std::string(1021, 'a') + euro + "b", std::string(1021, 'a') + euro},
        {std::string(1023, 'a') + "\xC3\xA9", std::string(1023, 'a')},
        {std::string(1021, 'a') + emoji, std::string(1021, 'a')},
        {std::string(1020, 'a') + emoji + emoji, std::string(1020, 'a') + emoji},
        // Invalid UTF-8 would make nlohmann::json's dump() throw: replaced by U+FFFD.
        {"bad \xFF byte", "bad \xEF\xBF\xBD byte"},
        {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"overlong \xC0\xAF", "overlong \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"surrogate \xED\xA0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
    };
    for (const auto& [message, expected] : rows) {
        json e = make_event({.involved = {.name = "p"}, .message = message, .now = {}});
        const std::string got = e["message"].get<std::string>();
        EXPECT_EQ(got, expected) << message.size();
        EXPECT_LE(got.size(), max_event_message_bytes);
        EXPECT_NO_THROW((void)e.dump());
    }
    std::string long_utf8;
    while (long_utf8.size() < 5000) long_utf8 += "h\xC3\xA9llo " + euro + emoji;
    json e = make_event({.involved = {.name = "p"}, .message = long_utf8, .now = {}});
    const std::string got = e["message"].get<std::string>();
    EXPECT_LE(got.size(), max_event_message_bytes);
    EXPECT_GT(got.size(), max_event_message_bytes - 4);
    EXPECT_EQ(long_utf8.substr(0, got.size()), got);
    EXPECT_NO_THROW((void)e.dump());
}

}  // namespace
}  // namespace elector::kube
