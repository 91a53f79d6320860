#!/usr/bin/python3
"""Proves the stand-in kube-apiserver with the real kubectl 1.35 and a raw HTTPS client.

Run: REAPER_SOURCE_DIR=<repo> /usr/bin/python3 tests/e2e/fake_kube/test_fake_apiserver.py
kubectl comes from <repo>/.tools/bin (tests/tools/install-kube-tools.sh) unless KUBECTL is set.
"""

import http.client
import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REAPER_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..", "..")))
KUBECTL = os.environ.get("KUBECTL", os.path.join(REPO, ".tools", "bin", "kubectl"))
SPECS = os.path.normpath(os.path.join(REPO, "..", "shared", "specs", "kubernetes"))
CRDS = os.path.join(REPO, "k8s", "crds")
TOKEN = "test-token-" + uuid.uuid4().hex
WAIT = 30  # seconds before a wait for an expected line gives up (a hang guard, not a timing check)


def make_certs(directory):
    """A throwaway CA and a serving certificate for 127.0.0.1 signed by it."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=fake-kube-test-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "san.ext"), "w", encoding="utf-8") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext")


class FakeKube:
    """Starts fake_apiserver.py on a free loopback port and talks to it with kubectl or HTTPS."""

    def __init__(self, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="fake-kube-")
        make_certs(self.dir)
        port_file = os.path.join(self.dir, "port")
        args = [sys.executable, os.path.join(HERE, "fake_apiserver.py"), "--port", "0",
                "--port-file", port_file, "--cert", self.path("server.crt"),
                "--key", self.path("server.key"), "--token", TOKEN, *extra_args]
        if os.path.isdir(SPECS):
            args += ["--openapi-dir", SPECS]
        self.log = open(self.path("server.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.port = self.wait_for_port(port_file)
            self.write_kubeconfig()
        except Exception:
            self.stop()
            raise
        self.tls = ssl.create_default_context(cafile=self.path("ca.crt"))

    def path(self, name):
        return os.path.join(self.dir, name)

    def wait_for_port(self, port_file):
        deadline = time.monotonic() + WAIT
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake_apiserver did not start: " + self.server_log())
            time.sleep(0.05)
        with open(port_file, encoding="utf-8") as f:
            return int(f.read())

    def write_kubeconfig(self):
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                  "clusters": [{"name": "fake", "cluster": {
                      "server": f"https://127.0.0.1:{self.port}",
                      "certificate-authority": self.path("ca.crt")}}],
                  "users": [{"name": "tester", "user": {"token": TOKEN}}],
                  "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}]}
        with open(self.path("kubeconfig"), "w", encoding="utf-8") as f:
            json.dump(config, f)

    def server_log(self):
        self.log.flush()
        with open(self.path("server.log"), encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kubectl_args(self, *args):
        return [KUBECTL, "--kubeconfig", self.path("kubeconfig"),
                "--cache-dir", self.path("kube-cache"), *args]

    def kubectl(self, *args, check=True):
        result = subprocess.run(self.kubectl_args(*args), capture_output=True, text=True,
                                timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def connect(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=WAIT)

    def request(self, method, path, body=None, content_type="application/json", token=TOKEN):
        conn = self.connect()
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, json.loads(data) if data else None

    def must(self, method, path, body=None, content_type="application/json"):
        status, obj = self.request(method, path, body, content_type)
        if status >= 300:
            raise AssertionError(f"{method} {path} -> {status}: {obj}")
        return obj

    def watch(self, path):
        """Opens a watch; returns (connection, response); end it with close_watch(connection)."""
        conn = self.connect()
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        return conn, conn.getresponse()


def close_watch(conn):
    # Shut the socket down first: a reader thread blocked in recv would otherwise hold close().
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


def pod(name, node, namespace="default", labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]}}


def event(name, **overrides):
    body = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name},
            "eventTime": "2026-01-02T03:04:05.000000Z", "type": "Normal",
            "reportingController": "airflowreaper.io/agent", "reportingInstance": "reaper-n1",
            "action": "Reap", "reason": "OrphansReaped", "note": "killed 3 processes",
            "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "worker-0",
                          "namespace": "default"}}
    body.update(overrides)
    return body


class LineReader:
    """Reads lines from a stream on a thread so a test can wait for one without hanging."""

    def __init__(self, stream):
        self.lines = queue.Queue()
        threading.Thread(target=self.pump, args=(stream,), daemon=True).start()

    def pump(self, stream):
        try:
            for line in stream:
                self.lines.put(line)
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            # AttributeError: http.client's reader after the test closed the connection.
            pass
        self.lines.put(None)

    def next(self):
        """The next line, or None once the stream has ended."""
        return self.lines.get(timeout=WAIT)

    def until(self, predicate):
        seen = []
        while True:
            line = self.next()
            if line is None:
                raise AssertionError(f"stream ended before the expected line; saw {seen}")
            seen.append(line)
            if predicate(line):
                return line


class WatchEvents(LineReader):
    def next(self):
        """The next decoded watch event, or None once the stream has ended."""
        line = super().next()
        return json.loads(line) if line else None


class FakeKubeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(KUBECTL, os.X_OK):
            raise RuntimeError(f"kubectl not found at {KUBECTL}: "
                               "run tests/tools/install-kube-tools.sh")
        crd_args = ["--crd-dir", CRDS] if os.path.isdir(CRDS) else []
        cls.kube = FakeKube(crd_args + ["--bookmark-interval", "0.2"])
        cls.addClassCleanup(cls.kube.stop)

    def setUp(self):
        self.ns = "t-" + uuid.uuid4().hex[:8]
        self.kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": self.ns}})

    def pods_path(self):
        return f"/api/v1/namespaces/{self.ns}/pods"

    # --- auth and discovery ---------------------------------------------------------------------

    def test_wrong_token_is_rejected_with_a_401_status(self):
        status, body = self.kube.request("GET", "/api/v1/pods", token="wrong")
        self.assertEqual(status, 401)
        self.assertEqual((body["kind"], body["reason"], body["code"]),
                         ("Status", "Unauthorized", 401))
        result = self.kube.kubectl("--token", "wrong", "get", "pods", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Unauthorized", result.stderr)

    def test_kubectl_discovers_every_served_resource(self):
        out = self.kube.kubectl("api-resources", "--no-headers", "-o", "name").stdout.split()
        for name in ("pods", "namespaces", "events.events.k8s.io", "daemonsets.apps",
                     "customresourcedefinitions.apiextensions.k8s.io",
                     "taskrunnertrees.airflowreaper.io", "nodereapreports.airflowreaper.io"):
            self.assertIn(name, out)

    # --- pods -----------------------------------------------------------------------------------

    def test_get_pods_by_node_field_selector(self):
        self.kube.must("POST", self.pods_path(), pod("on-n1", "n1", self.ns))
        self.kube.must("POST", self.pods_path(), pod("on-n2", "n2", self.ns))
        out = self.kube.kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=n1").stdout
        self.assertRegex(out, rf"(?m)^{self.ns}\s+on-n1\s+0/1\s+Pending")
        self.assertNotIn("on-n2", out)

    def test_label_selector_filters_pod_list(self):
        self.kube.must("POST", self.pods_path(), pod("celery", "n1", self.ns, {"app": "worker"}))
        self.kube.must("POST", self.pods_path(), pod("web", "n1", self.ns, {"app": "web"}))
        out = self.kube.kubectl("get", "pods", "-n", self.ns, "-l", "app in (worker)",
                                "-o", "name").stdout.split()
        self.assertEqual(out, ["pod/celery"])

    def test_kubectl_watch_sees_an_added_pod(self):
        proc = subprocess.Popen(self.kube.kubectl_args("get", "pods", "-n", self.ns, "--watch"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.kube.must("POST", self.pods_path(), pod("before", "n1", self.ns))
            lines = LineReader(proc.stdout)
            lines.until(lambda line: line.startswith("before"))
            self.kube.must("POST", self.pods_path(), pod("added-later", "n1", self.ns))
            line = lines.until(lambda line: line.startswith("added-later"))
            self.assertIn("Pending", line)
        finally:
            proc.kill()
            proc.communicate()

    def test_watch_resumes_after_a_resource_version(self):
        first = self.kube.must("POST", self.pods_path(), pod("first", "n1", self.ns))
        self.kube.must("POST", self.pods_path(), pod("second", "n1", self.ns))
        rv = first["metadata"]["resourceVersion"]
        conn, response = self.kube.watch(f"{self.pods_path()}?watch=1&resourceVersion={rv}")
        try:
            self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
            next_event = WatchEvents(response).next
            added = next_event()
            self.assertEqual((added["type"], added["object"]["metadata"]["name"]),
                             ("ADDED", "second"))
            self.kube.must("DELETE", f"{self.pods_path()}/second?gracePeriodSeconds=0")
            deleted = next_event()
            self.assertEqual((deleted["type"], deleted["object"]["metadata"]["name"]),
                             ("DELETED", "second"))
        finally:
            close_watch(conn)

    def test_watch_with_field_selector_only_sees_its_node(self):
        rv = self.kube.must("GET", self.pods_path())["metadata"]["resourceVersion"]
        conn, response = self.kube.watch(
            f"{self.pods_path()}?watch=true&resourceVersion={rv}&fieldSelector=spec.nodeName%3Dn1")
        try:
            self.kube.must("POST", self.pods_path(), pod("elsewhere", "n2", self.ns))
            self.kube.must("POST", self.pods_path(), pod("here", "n1", self.ns))
            self.kube.must("PATCH", f"{self.pods_path()}/here/status",
                           {"status": {"phase": "Running"}}, "application/merge-patch+json")
            next_event = WatchEvents(response).next
            self.assertEqual([next_event()["type"], next_event()["object"]["status"]["phase"]],
                             ["ADDED", "Running"])
        finally:
            close_watch(conn)

    def test_watch_sends_bookmarks_when_allowed(self):
        rv = self.kube.must("GET", self.pods_path())["metadata"]["resourceVersion"]
        conn, response = self.kube.watch(
            f"{self.pods_path()}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true")
        try:
            bookmark = WatchEvents(response).next()
            self.assertEqual(bookmark["type"], "BOOKMARK")
            self.assertGreaterEqual(int(bookmark["object"]["metadata"]["resourceVersion"]), int(rv))
        finally:
            close_watch(conn)

    def test_watch_from_a_compacted_resource_version_gets_410_gone(self):
        old = self.kube.must("POST", self.pods_path(), pod("old", "n1", self.ns))
        self.kube.must("POST", self.pods_path(), pod("newer", "n1", self.ns))
        self.kube.must("POST", "/_fake/compact")
        rv = old["metadata"]["resourceVersion"]
        conn, response = self.kube.watch(f"{self.pods_path()}?watch=1&resourceVersion={rv}")
        try:
            error = WatchEvents(response).next()
            self.assertEqual(error["type"], "ERROR")
            self.assertEqual((error["object"]["kind"], error["object"]["code"],
                              error["object"]["reason"]), ("Status", 410, "Expired"))
        finally:
            close_watch(conn)

    def test_drop_watch_fault_cuts_open_watches(self):
        conn, response = self.kube.watch(f"{self.pods_path()}?watch=1")
        try:
            next_event = WatchEvents(response).next
            self.kube.must("POST", "/_fake/fault", {"mode": "drop_watch", "count": 0})
            self.assertIsNone(next_event())
        finally:
            close_watch(conn)
            self.kube.must("POST", "/_fake/fault", {"mode": "none"})

    def test_410_fault_ends_an_open_watch_with_an_expired_status(self):
        conn, response = self.kube.watch(f"{self.pods_path()}?watch=1")
        try:
            next_event = WatchEvents(response).next
            self.kube.must("POST", "/_fake/fault", {"mode": "410", "count": 0})
            error = next_event()
            self.assertEqual((error["type"], error["object"]["code"]), ("ERROR", 410))
            self.assertIsNone(next_event())
        finally:
            close_watch(conn)
            self.kube.must("POST", "/_fake/fault", {"mode": "none"})

    def test_down_fault_closes_connections_without_an_answer(self):
        self.kube.must("POST", "/_fake/fault", {"mode": "down", "count": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.kube.request("GET", self.pods_path())
        self.assertEqual(self.kube.request("GET", self.pods_path())[0], 200)

    def test_deleted_pod_is_terminating_before_it_goes(self):
        self.kube.must("POST", self.pods_path(), pod("going", "n1", self.ns))
        conn, response = self.kube.watch(f"{self.pods_path()}?watch=1")
        try:
            next_event = WatchEvents(response).next
            self.assertEqual(next_event()["type"], "ADDED")
            self.kube.must("DELETE", f"{self.pods_path()}/going")
            terminating = next_event()
            self.assertEqual(terminating["type"], "MODIFIED")
            self.assertIn("deletionTimestamp", terminating["object"]["metadata"])
            self.assertEqual(next_event()["type"], "DELETED")
        finally:
            close_watch(conn)

    def test_objects_backdoor_writes_pod_status_as_a_kubelet_would(self):
        running = pod("running", "n1", self.ns)
        running["status"] = {"phase": "Running", "containerStatuses": [
            {"name": "main", "ready": True, "restartCount": 0,
             "containerID": "containerd://" + "a" * 64}]}
        self.kube.must("POST", "/_fake/objects", running)
        out = self.kube.kubectl("get", "pod", "running", "-n", self.ns).stdout
        self.assertRegex(out, r"running\s+1/1\s+Running")

    def test_unsupported_patch_types_get_415(self):
        self.kube.must("POST", self.pods_path(), pod("patched", "n1", self.ns))
        status, _ = self.kube.request("PATCH", f"{self.pods_path()}/patched", [],
                                      "application/json-patch+json")
        self.assertEqual(status, 415)
        self.kube.must("POST", self.trees_path(), self.tree("smp"))
        status, _ = self.kube.request("PATCH", f"{self.trees_path()}/smp", {"spec": {}},
                                      "application/strategic-merge-patch+json")
        self.assertEqual(status, 415)

    def test_500_fault_fails_the_next_request_and_is_counted(self):
        self.kube.must("POST", "/_fake/fault", {"mode": "500", "count": 1})
        self.assertEqual(self.kube.request("GET", self.pods_path())[0], 500)
        self.assertEqual(self.kube.request("GET", self.pods_path())[0], 200)
        rows = self.kube.must("GET", "/_fake/stats")["requests"]
        codes = {r["code"] for r in rows if r["path"] == self.pods_path()}
        self.assertEqual(codes, {200, 500})

    # --- events ---------------------------------------------------------------------------------

    def events_path(self):
        return f"/apis/events.k8s.io/v1/namespaces/{self.ns}/events"

    def test_posted_events_are_listed_by_kubectl(self):
        body = event("reaped-1", regarding={"kind": "Pod", "name": "worker-0",
                                            "namespace": self.ns, "apiVersion": "v1"})
        self.kube.must("POST", self.events_path(), body)
        out = self.kube.kubectl("get", "events.events.k8s.io", "-A").stdout
        self.assertRegex(out, rf"(?m)^{self.ns}\s+\S+\s+Normal\s+OrphansReaped\s+pod/worker-0\s+"
                              "killed 3 processes")

    def test_invalid_event_is_rejected_with_422_and_causes(self):
        body = event("bad", eventTime=None, reportingInstance="", reason="r" * 129, note="n" * 1025,
                     series={"count": 1})
        del body["regarding"]
        status, reply = self.kube.request("POST", self.events_path(), body)
        self.assertEqual((status, reply["reason"]), (422, "Invalid"))
        fields = {c["field"] for c in reply["details"]["causes"]}
        self.assertEqual(fields, {"eventTime", "reportingInstance", "reason", "note",
                                  "series.count", "series.lastObservedTime", "regarding"})

    def test_event_series_can_be_patched_but_the_note_cannot(self):
        self.kube.must("POST", self.events_path(), event("repeated", regarding={
            "kind": "Pod", "name": "w", "namespace": self.ns}))
        path = f"{self.events_path()}/repeated"
        series = {"series": {"count": 2, "lastObservedTime": "2026-01-02T03:05:00.000000Z"}}
        patched = self.kube.must("PATCH", path, series, "application/strategic-merge-patch+json")
        self.assertEqual(patched["series"]["count"], 2)
        status, _ = self.kube.request("PATCH", path, {"note": "other"},
                                      "application/merge-patch+json")
        self.assertEqual(status, 422)

    # --- custom resources -----------------------------------------------------------------------

    def tree(self, name, **spec):
        body = {"apiVersion": "airflowreaper.io/v1alpha1", "kind": "TaskRunnerTree",
                "metadata": {"name": name, "namespace": self.ns},
                "spec": {"nodeName": "n1", "podName": "worker-0", "podUID": "uid-1",
                         "dagId": "etl", "taskId": "load", "runId": "manual__1", "mapIndex": -1,
                         "tryNumber": 1}}
        body["spec"].update(spec)
        return body

    def trees_path(self):
        return f"/apis/airflowreaper.io/v1alpha1/namespaces/{self.ns}/taskrunnertrees"

    def test_kubectl_applies_crds_and_shows_printer_columns(self):
        fresh = FakeKube()
        self.addCleanup(fresh.stop)
        out = fresh.kubectl("apply", "-f", CRDS).stdout
        self.assertIn("taskrunnertrees.airflowreaper.io created", out)
        manifest = os.path.join(fresh.dir, "tree.json")
        with open(manifest, "w", encoding="utf-8") as f:
            json.dump(dict(self.tree("etl-load-1"), metadata={"name": "etl-load-1"}), f)
        fresh.kubectl("apply", "-f", manifest)
        fresh.must("PATCH", "/apis/airflowreaper.io/v1alpha1/namespaces/default/taskrunnertrees/"
                   "etl-load-1/status",
                   {"status": {"phase": "Reaped", "taskInstanceState": "failed"}},
                   "application/merge-patch+json")
        lines = fresh.kubectl("get", "taskrunnertrees", "-A").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAMESPACE", "NAME", "POD", "DAG", "TASK", "TRY",
                                            "STATE", "PHASE", "AGE"])
        self.assertEqual(lines[1].split()[:8], ["default", "etl-load-1", "worker-0", "etl", "load",
                                                "1", "failed", "Reaped"])
        self.assertIn("No resources found", fresh.kubectl("get", "nodereapreports").stderr)
        fresh.kubectl("delete", "crd", "taskrunnertrees.airflowreaper.io")
        gone = fresh.kubectl("get", "taskrunnertrees", "-A", check=False)
        self.assertNotEqual(gone.returncode, 0)
        status, _ = fresh.request("GET", "/apis/airflowreaper.io/v1alpha1/namespaces/default/"
                                  "taskrunnertrees/etl-load-1")
        self.assertEqual(status, 404)

    def test_kubectl_get_nodereapreports_shows_status_columns(self):
        path = "/apis/airflowreaper.io/v1alpha1/nodereapreports"
        name = "node-" + self.ns
        self.kube.must("POST", path, {"apiVersion": "airflowreaper.io/v1alpha1",
                                      "kind": "NodeReapReport", "metadata": {"name": name}})
        self.kube.must("PATCH", f"{path}/{name}/status",
                       {"status": {"summary": {"trackedTrees": 4, "trackedProcesses": 9,
                                               "reapedTrees": 2, "killedProcesses": 7,
                                               "orphansReaped": 1, "killFailures": 0}}},
                       "application/merge-patch+json")
        lines = self.kube.kubectl("get", "nodereapreports", name).stdout.splitlines()
        row = dict(zip(lines[0].split(), lines[1].split()))
        self.assertEqual((row["NAME"], row["TREES"], row["REAPED"]),
                         (name, "4", "2"))

    def test_kubectl_apply_of_the_whole_k8s_dir(self):
        if not os.path.isdir(os.path.join(REPO, "k8s")):
            self.skipTest("k8s/ does not exist yet")
        fresh = FakeKube()
        self.addCleanup(fresh.stop)
        fresh.kubectl("apply", "-f", CRDS)
        out = fresh.kubectl("apply", "-R", "-f", os.path.join(REPO, "k8s")).stdout
        self.assertIn("daemonset.apps/", out)
        again = fresh.kubectl("apply", "-R", "-f", os.path.join(REPO, "k8s")).stdout
        self.assertNotIn("created", again)
        self.assertIn("daemonset", fresh.kubectl("get", "daemonsets", "-A", "-o", "name").stdout)

    def test_status_is_ignored_on_the_main_resource_and_spec_on_status(self):
        created = self.kube.must("POST", self.trees_path(),
                                 dict(self.tree("t1"), status={"phase": "Running"}))
        self.assertNotIn("status", created)
        self.assertEqual(created["metadata"]["generation"], 1)
        path = f"{self.trees_path()}/t1"
        on_status = self.kube.must("PATCH", f"{path}/status",
                                   {"spec": {"tryNumber": 9}, "status": {"phase": "Reaping"}},
                                   "application/merge-patch+json")
        self.assertEqual((on_status["spec"]["tryNumber"], on_status["status"]["phase"]),
                         (1, "Reaping"))
        self.assertEqual(on_status["metadata"]["generation"], 1)
        on_main = self.kube.must("PATCH", path, {"spec": {"tryNumber": 2}, "status": {
            "phase": "Gone"}}, "application/merge-patch+json")
        self.assertEqual((on_main["spec"]["tryNumber"], on_main["status"]["phase"]), (2, "Reaping"))
        self.assertEqual(on_main["metadata"]["generation"], 2)

    def test_custom_resource_server_fields_conflicts_and_not_found(self):
        owner = [{"apiVersion": "v1", "kind": "Pod", "name": "worker-0", "uid": "uid-1"}]
        body = self.tree("t2")
        body["metadata"]["ownerReferences"] = owner
        created = self.kube.must("POST", self.trees_path(), body)
        meta = created["metadata"]
        self.assertTrue(meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"])
        self.assertEqual(meta["ownerReferences"], owner)
        status, reply = self.kube.request("POST", self.trees_path(), body)
        self.assertEqual((status, reply["reason"]), (409, "AlreadyExists"))
        status, reply = self.kube.request("GET", f"{self.trees_path()}/missing")
        self.assertEqual((status, reply["kind"], reply["reason"]), (404, "Status", "NotFound"))
        stale = dict(created, spec=dict(created["spec"], tryNumber=5))
        self.kube.must("PUT", f"{self.trees_path()}/t2", stale)
        status, reply = self.kube.request("PUT", f"{self.trees_path()}/t2", stale)
        self.assertEqual((status, reply["reason"]), (409, "Conflict"))

    def test_custom_resource_schema_prunes_unknown_fields_and_rejects_wrong_types(self):
        body = self.tree("t3")
        body["spec"]["surprise"] = "x"
        created = self.kube.must("POST", self.trees_path(), body)
        self.assertNotIn("surprise", created["spec"])
        status, reply = self.kube.request("POST", self.trees_path(),
                                          self.tree("t4", tryNumber="one"))
        self.assertEqual(status, 422)
        self.assertEqual([c["field"] for c in reply["details"]["causes"]], ["spec.tryNumber"])
        status, reply = self.kube.request("POST", self.trees_path(), self.tree("t5", runId=None))
        self.assertEqual(status, 422)
        self.assertEqual([(c["field"], c["reason"]) for c in reply["details"]["causes"]],
                         [("spec.runId", "FieldValueRequired")])

    def test_label_selector_on_custom_resources(self):
        for name, node in (("a", "n1"), ("b", "n2")):
            body = self.tree(name)
            body["metadata"]["labels"] = {"airflowreaper.io/node": node}
            self.kube.must("POST", self.trees_path(), body)
        items = self.kube.must("GET", f"{self.trees_path()}?labelSelector="
                                      "airflowreaper.io%2Fnode%3Dn2")["items"]
        self.assertEqual([i["metadata"]["name"] for i in items], ["b"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
