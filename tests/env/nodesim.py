#!/usr/bin/python3
"""Node simulator: stands in for the kubelet of N nodes on a control plane
without container runtime.

- registers N Nodes and keeps them alive: renews their Leases in
  kube-node-lease and posts Ready whenever the node controller thinks otherwise;
- makes every pod bound to its nodes Running and Ready with a pod IP (so the
  real endpoints controller fills Endpoints), level-based like a kubelet;
- finalizes graceful deletions after a short grace (delete with grace 0 and a
  uid precondition);
- lets tests make a pod NotReady/Ready, crash a container the way the kubelet
  reports it, and freeze/thaw a whole node, over HTTP on 127.0.0.1:

    POST /pods/NS/NAME/notready | /ready | /crash?container=C&backoff=S&exitCode=N
    POST /nodes/NAME/freeze | /thaw
    GET  /healthz, /nodes

  Writes answer {"resourceVersion", "ackMonotonic", "ackRealtime"}: when the
  API server acknowledged the write, on CLOCK_MONOTONIC and wall clocks.

Pod IPs come from 198.18.0.0/15 (RFC 2544, the benchmarking range) and node
addresses from 192.0.2.0/24 (TEST-NET-1): valid in Endpoints (loopback is
not) and never connected to, since there is no kube-proxy or container.

Runs under Debian's /usr/bin/python3 with python3-kubernetes, which provides
kubeconfig loading and the authenticated HTTP pool; everything else is raw
JSON so that thousands of pods stay cheap.
"""

import argparse
import heapq
import http.server
import ipaddress
import json
import os
import secrets
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import kubernetes
import urllib3


def log(msg):
    sys.stderr.write(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]} {msg}\n")
    sys.stderr.flush()


def now_time():
    """metav1.Time: RFC 3339 with seconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    """metav1.MicroTime, as Lease renewTime uses."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Api:
    """Raw JSON requests over python3-kubernetes' authenticated pool."""

    def __init__(self, kubeconfig):
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = 32
        self.host = cfg.host
        self.rest = kubernetes.client.ApiClient(cfg).rest_client

    def request(self, method, path, body=None, content_type="application/json", query=None,
                timeout=10, stream=False):
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            r = self.rest.request(method, self.host + path, query_params=query or [], headers=headers,
                                  body=body, _preload_content=not stream, _request_timeout=timeout)
        except kubernetes.client.exceptions.ApiException as e:
            raise ApiError(e.status, e.body if isinstance(e.body, str) else str(e.body)) from None
        return r if stream else json.loads(r.data or b"null")

    def patch_status(self, path, patch, kind="strategic-merge-patch"):
        return self.request("PATCH", path + "/status", body=patch, content_type=f"application/{kind}+json")


class Simulator:
    def __init__(self, args):
        self.api = Api(args.kubeconfig)
        self.nodes = [f"{args.node_prefix}{i}" for i in range(args.nodes)]
        self.node_set = set(self.nodes)
        self.label = args.node_prefix.rstrip("-")[:63]
        self.pod_grace = args.pod_grace
        self.crash_backoff = args.crash_backoff
        self.lease_interval = args.lease_interval

        self.lock = threading.Lock()          # guards the dicts below
        self.pods = {}                        # "ns/name" -> pod JSON (our nodes only)
        self.frozen = set()                   # node names
        self.not_ready = set()                # pod uids forced NotReady
        self.crashing = {}                    # pod uid -> container in CrashLoopBackOff
        self.finalizing = set()               # pod uids whose deletion is scheduled
        self.pod_locks = {}                   # "ns/name" -> Lock serializing writes per pod
        self.ips = {}                         # pod uid -> IP
        self.free_ips = []
        self.next_ip = int(ipaddress.ip_address("198.18.0.1"))
        self.last_ip = int(ipaddress.ip_address("198.19.255.254"))

        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="write")
        self.timers = []                      # heap of (when, seq, fn)
        self.timer_cv = threading.Condition()
        self.timer_seq = 0

    # --- helpers -----------------------------------------------------------
    def pod_lock(self, key):
        with self.lock:
            return self.pod_locks.setdefault(key, threading.Lock())

    def after(self, delay, fn):
        with self.timer_cv:
            self.timer_seq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay, self.timer_seq, fn))
            self.timer_cv.notify()

    def timer_loop(self):
        while True:
            with self.timer_cv:
                while not self.timers or self.timers[0][0] > time.monotonic():
                    self.timer_cv.wait(None if not self.timers else self.timers[0][0] - time.monotonic())
                _, _, fn = heapq.heappop(self.timers)
            self.pool.submit(self.guarded, fn)

    @staticmethod
    def guarded(fn, *a):
        try:
            return fn(*a)
        except ApiError as e:
            if e.status not in (404, 409):
                log(f"API error: {e}")
        except Exception:  # a simulator thread must never die
            log(traceback.format_exc())

    def allocate_ip(self, uid):
        with self.lock:
            if uid in self.ips:
                return self.ips[uid]
            if self.free_ips:
                ip = self.free_ips.pop()
            else:
                while self.next_ip % 256 in (0, 255):
                    self.next_ip += 1
                if self.next_ip > self.last_ip:
                    raise RuntimeError("pod IP range 198.18.0.0/15 exhausted")
                ip = str(ipaddress.ip_address(self.next_ip))
                self.next_ip += 1
            self.ips[uid] = ip
            return ip

    # --- nodes -------------------------------------------------------------
    def node_status(self, index):
        t = now_time()
        resources = {"cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti"}

        def cond(type_, status, reason, message):
            return {"type": type_, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": t, "lastTransitionTime": t}
        return {"status": {
            "capacity": resources, "allocatable": resources,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated)"),
            ],
            "addresses": [{"type": "InternalIP", "address": f"192.0.2.{index + 1}"},
                          {"type": "Hostname", "address": self.nodes[index]}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "0" * 32, "systemUUID": "0" * 32, "bootID": "0" * 32,
                         "kernelVersion": os.uname().release, "osImage": "elector node simulator",
                         "containerRuntimeVersion": "simulated://1.0", "kubeletVersion": "v1.20.2",
                         "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux", "architecture": "amd64"},
        }}

    def register_nodes(self):
        for i, name in enumerate(self.nodes):
            node = {"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {
                        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64", "elector.dev/node-simulator": self.label}}}
            try:
                self.api.request("POST", "/api/v1/nodes", body=node)
            except ApiError as e:
                if e.status != 409:
                    raise
            self.post_node_status(name)
        log(f"registered {len(self.nodes)} nodes")

    def post_node_status(self, name):
        self.api.patch_status(f"/api/v1/nodes/{name}", self.node_status(self.nodes.index(name)))

    def renew_lease(self, name):
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        spec = {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micro()}
        try:
            self.api.request("PATCH", path, body={"spec": spec}, content_type="application/merge-patch+json")
        except ApiError as e:
            if e.status != 404:
                raise
            node = self.api.request("GET", f"/api/v1/nodes/{name}")
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [
                         {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}]},
                     "spec": spec}
            self.api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body=lease)

    def heartbeat_loop(self):
        last_full_status = time.monotonic()
        while True:
            started = time.monotonic()
            with self.lock:
                live = [n for n in self.nodes if n not in self.frozen]
            for name in live:
                self.guarded(self.renew_lease, name)
            # Post Ready again where the node controller marked a live node
            # otherwise (as after a thaw), and refresh every heartbeat a minute.
            refresh_all = started - last_full_status > 60
            try:
                listed = self.api.request("GET", "/api/v1/nodes",
                                          query=[("labelSelector", f"elector.dev/node-simulator={self.label}")])
                for node in listed["items"]:
                    name = node["metadata"]["name"]
                    ready = next((c["status"] for c in node.get("status", {}).get("conditions", [])
                                  if c["type"] == "Ready"), None)
                    with self.lock:
                        frozen = name in self.frozen
                    if name in self.node_set and not frozen and (ready != "True" or refresh_all):
                        self.guarded(self.post_node_status, name)
                if refresh_all:
                    last_full_status = started
            except Exception as e:
                log(f"heartbeat: {e}")
            time.sleep(max(0.0, self.lease_interval - (time.monotonic() - started)))

    def freeze(self, name):
        if name not in self.node_set:
            return 404, {"error": f"node {name} is not simulated here"}
        with self.lock:
            self.frozen.add(name)
        log(f"node {name} frozen")
        return 200, {"node": name, "frozen": True}

    def thaw(self, name):
        if name not in self.node_set:
            return 404, {"error": f"node {name} is not simulated here"}
        with self.lock:
            self.frozen.discard(name)
            keys = [k for k, p in self.pods.items() if p["spec"].get("nodeName") == name]
        self.renew_lease(name)
        self.post_node_status(name)
        for key in keys:
            self.pool.submit(self.guarded, self.reconcile, key)
        log(f"node {name} thawed")
        return 200, {"node": name, "frozen": False}

    # --- pods ----------------------------------------------------------------
    def desired_status(self, pod, ready):
        """The status a kubelet would report for a pod running on this node."""
        t = now_time()
        status = pod.get("status", {})
        uid = pod["metadata"]["uid"]
        ip = status.get("podIP") or self.allocate_ip(uid)
        previous = {c["name"]: c for c in status.get("containerStatuses") or []}
        containers = []
        for c in pod["spec"]["containers"]:
            prev = previous.get(c["name"], {})
            running = prev.get("state", {}).get("running")
            if running:
                container_id = prev.get("containerID")
            else:
                container_id = f"simulated://{secrets.token_hex(16)}"
                running = {"startedAt": t}
            containers.append({
                "name": c["name"], "image": c.get("image", ""), "imageID": f"simulated://{c.get('image', '')}",
                "containerID": container_id, "ready": ready, "started": True,
                "restartCount": prev.get("restartCount", 0),
                "state": {"running": running}, "lastState": prev.get("lastState", {})})
        return {
            "phase": "Running", "hostIP": self.node_ip(pod["spec"]["nodeName"]),
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": status.get("startTime") or t,
            "conditions": self.conditions(status, ready, [c["name"] for c in containers if not ready]),
            "containerStatuses": containers}

    @staticmethod
    def conditions(status, ready, unready_names):
        t = now_time()
        old = {c["type"]: c for c in status.get("conditions") or []}

        def cond(type_, value, reason=None, message=None):
            c = {"type": type_, "status": value, "lastProbeTime": None,
                 "lastTransitionTime": old[type_]["lastTransitionTime"]
                 if type_ in old and old[type_].get("status") == value else t}
            if reason:
                c["reason"], c["message"] = reason, message
            return c
        value = "True" if ready else "False"
        why = (None, None) if ready else ("ContainersNotReady", f"containers with unready status: [{' '.join(unready_names)}]")
        return [cond("Initialized", "True"), cond("Ready", value, *why),
                cond("ContainersReady", value, *why), cond("PodScheduled", "True")]

    def node_ip(self, node):
        return f"192.0.2.{self.nodes.index(node) + 1}"

    @staticmethod
    def matches(pod, want):
        have = pod.get("status", {})
        if have.get("phase") != "Running" or have.get("podIP") != want["podIP"]:
            return False
        conds = {c["type"]: c.get("status") for c in have.get("conditions") or []}
        if any(conds.get(c["type"]) != c["status"] for c in want["conditions"]):
            return False
        have_cs = {c["name"]: c for c in have.get("containerStatuses") or []}
        for c in want["containerStatuses"]:
            h = have_cs.get(c["name"])
            if h is None or h.get("ready") != c["ready"] or "running" not in h.get("state", {}):
                return False
        return True

    def our_pod(self, key):
        """The cached pod if it runs on a live node of ours, else an error."""
        with self.lock:
            pod = self.pods.get(key)
            if pod is None:
                return None, (404, {"error": f"pod {key} is not on a simulated node"})
            if pod["spec"]["nodeName"] in self.frozen:
                return None, (409, {"error": f"node {pod['spec']['nodeName']} is frozen"})
            return pod, None

    def reconcile(self, key):
        """Brings one pod to what a kubelet would report; returns the write's ack or None."""
        with self.pod_lock(key):
            with self.lock:
                pod = self.pods.get(key)
                if pod is None or pod["spec"]["nodeName"] in self.frozen:
                    return None
                uid = pod["metadata"]["uid"]
                if pod["metadata"].get("deletionTimestamp"):
                    if uid not in self.finalizing:
                        self.finalizing.add(uid)
                        grace = pod["metadata"].get("deletionGracePeriodSeconds")
                        delay = self.pod_grace if grace is None else min(self.pod_grace, grace)
                        self.after(delay, lambda: self.finalize(key, uid))
                    return None
                if pod.get("status", {}).get("phase") in ("Succeeded", "Failed") or uid in self.crashing:
                    return None
                ready = uid not in self.not_ready
            want = self.desired_status(pod, ready)
            if self.matches(pod, want):
                return None
            return self.write_status(key, pod, want)

    def write_status(self, key, pod, status):
        ns, name = key.split("/", 1)
        result = self.api.patch_status(f"/api/v1/namespaces/{ns}/pods/{name}",
                                       {"metadata": {"uid": pod["metadata"]["uid"]}, "status": status})
        ack = {"resourceVersion": result["metadata"]["resourceVersion"],
               "ackMonotonic": time.monotonic(), "ackRealtime": time.time()}
        with self.lock:  # do not wait for the watch: the next reconcile sees this
            if key in self.pods and self.pods[key]["metadata"]["uid"] == result["metadata"]["uid"]:
                self.pods[key] = result
        return ack

    def finalize(self, key, uid):
        ns, name = key.split("/", 1)
        with self.lock:
            pod = self.pods.get(key)
            if pod is not None and pod["spec"]["nodeName"] in self.frozen:
                self.finalizing.discard(uid)  # retried on thaw, as a kubelet would
                return
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": uid}}
        try:
            self.api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", body=body)
        except ApiError as e:
            if e.status not in (404, 409):
                with self.lock:
                    self.finalizing.discard(uid)
                raise

    def set_ready(self, key, ready):
        pod, err = self.our_pod(key)
        if err:
            return err
        uid = pod["metadata"]["uid"]
        with self.lock:
            (self.not_ready.discard if ready else self.not_ready.add)(uid)
        ack = self.reconcile(key)
        log(f"pod {key} {'Ready' if ready else 'NotReady'}")
        return 200, {"pod": key, "ready": ready, **(ack or {"unchanged": True})}

    def crash(self, key, container, backoff, exit_code):
        pod, err = self.our_pod(key)
        if err:
            return err
        if pod["metadata"].get("deletionTimestamp") or pod.get("status", {}).get("phase") != "Running":
            return 409, {"error": f"pod {key} is not running"}
        with self.pod_lock(key):
            with self.lock:
                pod = self.pods[key]
                uid = pod["metadata"]["uid"]
                if uid in self.crashing:
                    return 409, {"error": f"pod {key} is already in CrashLoopBackOff"}
                names = [c["name"] for c in pod["spec"]["containers"]]
                container = container or names[0]
                if container not in names:
                    return 404, {"error": f"pod {key} has no container {container}"}
                self.crashing[uid] = container
            t = now_time()
            status = dict(pod["status"])
            statuses = []
            for c in status.get("containerStatuses") or []:
                c = dict(c)
                if c["name"] == container:
                    started = c.get("state", {}).get("running", {}).get("startedAt", t)
                    c["lastState"] = {"terminated": {
                        "exitCode": exit_code, "reason": "Error", "startedAt": started, "finishedAt": t,
                        "containerID": c.get("containerID")}}
                    c["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                  f"back-off {backoff:g}s restarting failed container={container} pod={key.split('/')[1]}"}}
                    c["restartCount"] = c.get("restartCount", 0) + 1
                    c["ready"] = False
                    c["started"] = False
                statuses.append(c)
            status["containerStatuses"] = statuses
            status["conditions"] = self.conditions(status, False, [container])
            try:
                ack = self.write_status(key, pod, status)
            except Exception:
                with self.lock:
                    self.crashing.pop(uid, None)
                raise
        self.after(backoff, lambda: self.restart(key, uid))
        log(f"pod {key} container {container} crashed (exit {exit_code}); restarts in {backoff:g}s")
        return 200, {"pod": key, "container": container, **ack}

    def restart(self, key, uid):
        with self.lock:
            self.crashing.pop(uid, None)
        self.reconcile(key)
        log(f"pod {key} restarted after back-off")

    # --- pod watch -----------------------------------------------------------
    def on_pod(self, event_type, pod):
        meta = pod["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if pod.get("spec", {}).get("nodeName") not in self.node_set:
            return
        with self.lock:
            if event_type == "DELETED":
                old = self.pods.pop(key, None)
                self.pod_locks.pop(key, None)
                uid = meta["uid"]
                self.not_ready.discard(uid)
                self.crashing.pop(uid, None)
                self.finalizing.discard(uid)
                ip = self.ips.pop(uid, None)
                if ip and old is not None:
                    self.free_ips.append(ip)
                return
            current = self.pods.get(key)
            if current is not None and current["metadata"]["uid"] == meta["uid"] and \
                    int(current["metadata"]["resourceVersion"]) > int(meta["resourceVersion"]):
                return  # our own write already moved past this event
            self.pods[key] = pod
            if pod.get("status", {}).get("podIP"):
                self.ips.setdefault(meta["uid"], pod["status"]["podIP"])
        self.pool.submit(self.guarded, self.reconcile, key)

    def list_pods(self):
        listed = self.api.request("GET", "/api/v1/pods", timeout=60)
        seen = set()
        for pod in listed["items"]:
            meta = pod["metadata"]
            seen.add(f"{meta['namespace']}/{meta['name']}")
            self.on_pod("ADDED", pod)
        with self.lock:
            gone = [self.pods[k] for k in self.pods if k not in seen]
        for pod in gone:
            self.on_pod("DELETED", pod)
        return listed["metadata"]["resourceVersion"]

    def watch_loop(self, rv):
        backoff = 0.2
        while True:
            try:
                if rv is None:
                    rv = self.list_pods()
                resp = self.api.request("GET", "/api/v1/pods", stream=True, timeout=(5, 90), query=[
                    ("watch", "1"), ("resourceVersion", rv), ("allowWatchBookmarks", "true"),
                    ("timeoutSeconds", "300")])
                for line in resp:
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise ApiError(obj.get("code", 500), obj.get("message", ""))
                    rv = obj["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self.on_pod(event["type"], obj)
                backoff = 0.2
            except ApiError as e:
                if e.status == 410:
                    rv = None  # too old: list again
                else:
                    log(f"pod watch: {e}")
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
                log(f"pod watch: {type(e).__name__}: {e}")
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
                if isinstance(e, ValueError):
                    rv = None


class Control(http.server.BaseHTTPRequestHandler):
    sim = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        sim = self.sim
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        if self.path == "/nodes":
            with sim.lock:
                return self.reply(200, {"nodes": sim.nodes, "frozen": sorted(sim.frozen)})
        self.reply(404, {"error": f"no such endpoint {self.path}"})

    def do_POST(self):
        sim = self.sim
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            if len(parts) == 4 and parts[0] == "pods":
                key = f"{parts[1]}/{parts[2]}"
                if parts[3] == "notready":
                    return self.reply(*sim.set_ready(key, False))
                if parts[3] == "ready":
                    return self.reply(*sim.set_ready(key, True))
                if parts[3] == "crash":
                    try:
                        backoff = float(query.get("backoff", sim.crash_backoff))
                        exit_code = int(query.get("exitCode", 1))
                    except ValueError:
                        return self.reply(400, {"error": "backoff must be seconds, exitCode an integer"})
                    if not 0 <= backoff <= 3600:
                        return self.reply(400, {"error": "backoff must be 0..3600 seconds"})
                    return self.reply(*sim.crash(key, query.get("container"), backoff, exit_code))
            if len(parts) == 3 and parts[0] == "nodes":
                if parts[2] == "freeze":
                    return self.reply(*sim.freeze(parts[1]))
                if parts[2] == "thaw":
                    return self.reply(*sim.thaw(parts[1]))
            self.reply(404, {"error": f"no such endpoint {url.path}"})
        except ApiError as e:
            self.reply(502, {"error": f"API server: {e}"})
        except Exception as e:
            log(traceback.format_exc())
            self.reply(500, {"error": f"{type(e).__name__}: {e}"})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--node-prefix", default="sim-node-")
    p.add_argument("--pod-grace", type=float, default=1.0,
                   help="seconds before a terminating pod is deleted (at most its own grace period)")
    p.add_argument("--crash-backoff", type=float, default=2.0,
                   help="default seconds in CrashLoopBackOff before a crashed container runs again")
    p.add_argument("--lease-interval", type=float, default=4.0, help="seconds between node Lease renewals")
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--control-port-file", help="written once the simulator is serving")
    args = p.parse_args()
    if not 1 <= args.nodes <= 250:
        p.error("--nodes must be 1..250 (node addresses come from 192.0.2.0/24)")

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sim = Simulator(args)
    while True:  # the API server may still be settling
        try:
            sim.register_nodes()
            break
        except Exception as e:
            log(f"registering nodes: {e}; retrying")
            time.sleep(1)
    rv = sim.list_pods()
    for target in (sim.timer_loop, sim.heartbeat_loop, lambda: sim.watch_loop(rv)):
        threading.Thread(target=target, daemon=True).start()

    Control.sim = sim
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.control_port), Control)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.control_port_file:
        tmp = f"{args.control_port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, args.control_port_file)
    log(f"node simulator serving on 127.0.0.1:{port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
