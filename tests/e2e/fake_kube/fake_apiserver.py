#!/usr/bin/python3
"""A stand-in kube-apiserver for tests: HTTPS, bearer-token auth, JSON only.

Serves discovery (legacy form), the published OpenAPI v3 documents, pods (list/get/create/update/
patch/delete and streaming watch with bookmarks, resourceVersion resume and 410 Gone),
namespaces, events.k8s.io/v1 Events with the apiserver's validation (core/v1 Events as a read-only
view of them), CustomResourceDefinitions and the custom resources they define (structural-schema
pruning and validation, /status subresource, server-side printer columns), and a generic store for
the other kinds a plain-manifest install holds.

  fake_apiserver.py --port 0 --port-file F --cert C --key K --token T [--crd-dir DIR]
                    [--openapi-dir ../shared/specs/kubernetes]

Without --openapi-dir, `kubectl apply` needs --validate=false. Patches: merge patch and (for
built-in kinds) a simplified strategic merge patch; JSON patch and server-side apply get 415.
A pod deleted without gracePeriodSeconds=0 is Terminating for --pod-deletion-delay seconds.

Test controls under /_fake/ (no auth):
  POST /_fake/fault {"mode": "none|500|drop_watch|410|down", "count": N, "seconds": S}
       500: the next N API requests fail with a 500 Status. drop_watch: open watches are cut
       without a final chunk, and so are the next N watches right after their headers.
       410: open watches and the next N watches get an ERROR event with a 410 Status.
       down: the next N requests (or every request for S seconds) get their connection closed
       without an answer.
  POST /_fake/compact     forget the watch history: resuming from any older resourceVersion is 410
  GET  /_fake/stats       {"requests": [{"verb", "path", "code", "count"}]}
  POST /_fake/objects     create or replace any object as-is, status included, as a kubelet or
                          controller would (pods with containerStatuses, for instance)
"""

import argparse
import collections
import copy
import hashlib
import json
import os
import random
import socket
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

import kube_objects as ko
import validation


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.status = ko.status_object(code, reason, message, details)


class ResourceType:
    """One served resource: where it lives, what it is called, how it is checked and printed."""

    def __init__(self, group, version, plural, kind, namespaced, short_names=(), status=False):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.short_names, self.has_status = namespaced, list(short_names), status
        self.schema = None  # openAPIV3Schema for custom resources
        self.printer_columns = None
        self.storage = (group, plural)  # where its objects live in the Store
        self.view = None  # converts a stored object for a read-only view of another resource

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self):
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        entries = [{"name": self.plural, "singularName": self.kind.lower(),
                    "namespaced": self.namespaced, "kind": self.kind, "verbs": verbs,
                    "shortNames": self.short_names}]
        if self.has_status:
            entries.append({"name": f"{self.plural}/status", "singularName": "",
                            "namespaced": self.namespaced, "kind": self.kind,
                            "verbs": ["get", "patch", "update"]})
        return entries

    def table(self, objects, resource_version):
        if self.printer_columns is not None:
            columns = ko.crd_columns(self.printer_columns)
            return ko.table(columns, lambda o: ko.crd_cells(self.printer_columns, o), objects,
                            resource_version)
        columns, cells = {"Pod": (ko.POD_COLUMNS, ko.pod_cells),
                          "Namespace": (ko.NAMESPACE_COLUMNS, ko.namespace_cells),
                          "Event": (ko.EVENT_COLUMNS, ko.event_cells)}.get(
            self.kind, (ko.NAME_AGE_COLUMNS, ko.name_age_cells))
        return ko.table(columns, cells, objects, resource_version)


BUILTINS = [
    ResourceType("", "v1", "namespaces", "Namespace", False, ["ns"], status=True),
    ResourceType("", "v1", "pods", "Pod", True, ["po"], status=True),
    ResourceType("", "v1", "nodes", "Node", False, ["no"], status=True),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    ResourceType("", "v1", "services", "Service", True, ["svc"], status=True),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], status=True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ["deploy"], status=True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                 False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, ["ev"]),
    ResourceType("", "v1", "events", "Event", True, ["ev"]),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                 "CustomResourceDefinition", False, ["crd", "crds"], status=True),
]


# core/v1 Events are a read-only view of the events.k8s.io/v1 objects, as `kubectl describe` reads.
CORE_EVENTS = next(t for t in BUILTINS if t.api_version == "v1" and t.kind == "Event")
CORE_EVENTS.storage, CORE_EVENTS.view = ("events.k8s.io", "events"), ko.core_event


class Registry:
    """Served resource types by (group, version, plural); CRDs add and replace entries."""

    def __init__(self):
        self.lock = threading.Lock()
        self.types = {(t.group, t.version, t.plural): t for t in BUILTINS}

    def find(self, group, version, plural):
        with self.lock:
            return self.types.get((group, version, plural))

    def by_kind(self, api_version, kind):
        with self.lock:
            return next((t for t in self.types.values() if t.view is None
                         and t.api_version == api_version and t.kind == kind), None)

    def group_versions(self):
        with self.lock:
            result = collections.defaultdict(list)
            for t in self.types.values():
                result[(t.group, t.version)].append(t)
            return result

    def register_crd(self, crd):
        spec = crd["spec"]
        names = spec["names"]
        with self.lock:
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                rtype = ResourceType(spec["group"], version["name"], names["plural"],
                                     names["kind"], spec["scope"] == "Namespaced",
                                     names.get("shortNames", []),
                                     "status" in version.get("subresources", {}))
                rtype.schema = version.get("schema", {}).get("openAPIV3Schema", {})
                rtype.printer_columns = version.get("additionalPrinterColumns") or [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
                self.types[(rtype.group, rtype.version, rtype.plural)] = rtype


HistoryEntry = collections.namedtuple("HistoryEntry", "rv type key obj old")


class Store:
    """All objects, one resourceVersion sequence, and a bounded history that watches replay."""

    def __init__(self, history_size):
        self.cond = threading.Condition()
        self.rv = 1
        self.compacted_rv = 1  # watching from below this is 410 Gone
        self.objects = {}
        self.history = collections.deque(maxlen=history_size)

    def get(self, key):
        with self.cond:
            return copy.deepcopy(self.objects.get(key))

    def list(self, group, plural, namespace):
        with self.cond:
            items = [copy.deepcopy(o) for (g, p, ns, _), o in sorted(self.objects.items())
                     if g == group and p == plural and (not namespace or ns == namespace)]
            return items, str(self.rv)

    def commit(self, event_type, key, obj):
        """Stores (or removes, for DELETED) obj under the next resourceVersion."""
        with self.cond:
            old = self.objects.get(key)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            if event_type == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = copy.deepcopy(obj)
            if len(self.history) == self.history.maxlen:
                self.compacted_rv = self.history[0].rv
            self.history.append(HistoryEntry(self.rv, event_type, key, copy.deepcopy(obj), old))
            self.cond.notify_all()
            return obj

    def compact(self):
        with self.cond:
            self.history.clear()
            self.compacted_rv = self.rv
            self.cond.notify_all()

    def since(self, rv):
        return [e for e in self.history if e.rv > rv]


class Faults:
    """Failures the tests ask for through POST /_fake/fault."""

    def __init__(self, store):
        self.store = store
        self.mode, self.count, self.down_until = "none", 0, 0.0
        self.epoch = 0  # bumped to end every open watch

    def set(self, mode, count, seconds):
        with self.store.cond:
            self.mode, self.count = mode, 0 if seconds else count
            self.down_until = time.monotonic() + seconds if mode == "down" else 0.0
            if mode in ("drop_watch", "410"):
                self.epoch += 1
            self.store.cond.notify_all()

    def take(self, mode):
        """True when this request should suffer `mode` (and uses one count of it)."""
        with self.store.cond:
            if mode == "down" and self.mode == "down" and time.monotonic() < self.down_until:
                return True
            if self.mode != mode or self.count <= 0:
                return False
            self.count -= 1
            return True


class FakeApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, args):
        super().__init__(address, Handler)
        self.token = args.token
        self.registry = Registry()
        self.store = Store(args.history)
        self.faults = Faults(self.store)
        self.stats = collections.Counter()
        self.bookmark_interval = args.bookmark_interval
        self.pod_deletion_delay = args.pod_deletion_delay
        self.openapi = OpenApi(args.openapi_dir, self.registry)
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.write_as_is({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                              "status": {"phase": "Active"}})

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, on the request's thread, so a slow or idle client cannot
        # hold up the accept loop.
        try:
            request.settimeout(10)
            request.do_handshake()
            request.settimeout(None)
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def key(self, rtype, namespace, name):
        return rtype.storage + (namespace if rtype.namespaced else "", name)

    def write_as_is(self, obj):
        """Creates or replaces obj with its status as given (the /_fake/objects backdoor)."""
        rtype = self.registry.by_kind(obj.get("apiVersion"), obj.get("kind"))
        if rtype is None:
            raise ApiError(400, "BadRequest",
                           f"no kind {obj.get('kind')} in {obj.get('apiVersion')}")
        meta = obj.setdefault("metadata", {})
        key = self.key(rtype, meta.get("namespace", "default"), meta.get("name", ""))
        old = self.store.get(key)
        stamp_new_object(obj, rtype, old)
        if rtype.namespaced:
            meta.setdefault("namespace", "default")
        if rtype.kind == "CustomResourceDefinition":
            accept_crd(obj, self.registry)
        return self.store.commit("MODIFIED" if old else "ADDED", key, obj)


def stamp_new_object(obj, rtype, old):
    meta = obj["metadata"]
    if old:
        for field in ("uid", "creationTimestamp"):
            meta[field] = old["metadata"][field]
    else:
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = ko.now_rfc3339()
    if rtype.schema is not None or "spec" in obj and rtype.kind not in ("Pod", "Service"):
        meta.setdefault("generation", 1)


def accept_crd(crd, registry):
    names = crd["spec"]["names"]
    crd["status"] = {
        "acceptedNames": names, "storedVersions": [v["name"] for v in crd["spec"]["versions"]
                                                   if v.get("storage")],
        "conditions": [{"type": t, "status": "True", "reason": r, "message": m,
                        "lastTransitionTime": ko.now_rfc3339()} for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"))]}
    registry.register_crd(crd)


class OpenApi:
    """/openapi/v3: the published Kubernetes documents plus one generated per CRD group."""

    def __init__(self, directory, registry):
        self.registry = registry
        self.files = {}
        for name in sorted(os.listdir(directory)) if directory else []:
            if name.endswith("_openapi.json"):
                self.files[name[:-len("_openapi.json")].replace("__", "/")] = \
                    os.path.join(directory, name)

    def index(self):
        paths = {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={self._hash(p)}"}
                 for p in list(self.files) + self._crd_paths()}
        return {"paths": paths}

    def _hash(self, path):
        return hashlib.sha256(json.dumps(self.document(path), sort_keys=True).encode()
                              if path not in self.files else path.encode()).hexdigest()[:32]

    def _crd_paths(self):
        return [f"apis/{g}/{v}" for (g, v), types in self.registry.group_versions().items()
                if any(t.schema is not None for t in types)]

    def document(self, path):
        if path in self.files:
            with open(self.files[path], "rb") as f:
                return json.load(f)
        if path not in self._crd_paths():
            return None
        _, group, version = path.split("/")
        types = self.registry.group_versions()[(group, version)]
        return crd_openapi_document(types)


def crd_openapi_document(types):
    paths, schemas = {}, {}
    for t in types:
        gvk = {"group": t.group, "version": t.version, "kind": t.kind}
        name = ".".join(reversed(t.group.split("."))) + f".{t.version}.{t.kind}"
        schemas[name] = dict(t.schema, **{"x-kubernetes-group-version-kind": [gvk]})
        scope = "namespaces/{namespace}/" if t.namespaced else ""
        prefix = f"/apis/{t.group}/{t.version}/{scope}"
        params = [{"name": n, "in": "query", "schema": {"type": "string"}}
                  for n in ("dryRun", "fieldManager", "fieldValidation")]
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}}
        paths[prefix + t.plural] = {"get": op, "post": op}
        paths[prefix + t.plural + "/{name}"] = {"get": op, "put": op, "patch": op, "delete": op}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": paths, "components": {"schemas": schemas}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_KUBE_LOG"):
            sys.stderr.write("fake_apiserver: " + fmt % args + "\n")

    # --- plumbing -----------------------------------------------------------------------------

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        self.url_path = url.path.rstrip("/") or "/"
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        self.verb = self.command.lower()
        # Read the body before anything can fail, so a kept-alive connection stays in step.
        self.raw_body = self.read_raw_body()
        try:
            if self.url_path.startswith("/_fake/"):
                return self.serve_control()
            if self.server.faults.take("down"):
                return self.drop_connection()
            if self.headers.get("Authorization") != f"Bearer {self.server.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if self.server.faults.take("500"):
                raise ApiError(500, "InternalError", "Internal error occurred: injected fault")
            self.route()
        except ApiError as err:
            self.send_json(err.status["code"], err.status)
        except ValueError as err:  # a malformed query parameter such as limit=abc
            self.send_json(400, ko.status_object(400, "BadRequest", str(err)))
        except OSError:  # the client went away, mostly from a watch
            self.close_connection = True

    def read_raw_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
            if size == 0:
                return b"".join(chunks)

    def read_body(self):
        try:
            return json.loads(self.raw_body) if self.raw_body else {}
        except ValueError as err:
            raise ApiError(400, "BadRequest", f"error decoding request body: {err}") from err

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.record(code)

    def record(self, code):
        with self.server.store.cond:
            self.server.stats[(self.verb, self.url_path, code)] += 1

    def drop_connection(self):
        self.close_connection = True
        self.record(0)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    # --- routing ------------------------------------------------------------------------------

    def route(self):
        path = self.url_path
        static = {"/version": self.serve_version, "/api": self.serve_core_versions,
                  "/apis": self.serve_groups, "/openapi/v3": self.serve_openapi_index,
                  "/healthz": self.serve_ok, "/readyz": self.serve_ok, "/livez": self.serve_ok}
        if path in static and self.command == "GET":
            return static[path]()
        if path.startswith("/openapi/v3/"):
            return self.serve_openapi_document(path[len("/openapi/v3/"):])
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            return self.serve_group(parts[1])
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self.serve_resource_list(group, version)
        if rest[0] == "watch":
            self.query["watch"] = "true"
            rest = rest[1:]
        self.serve_resource(group, version, rest)

    def parse_resource_path(self, group, version, rest):
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        rtype = self.server.registry.find(group, version, rest[0])
        if rtype is None or (namespace and not rtype.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and (sub != "status" or not rtype.has_status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return rtype, namespace, name, sub

    def serve_resource(self, group, version, rest):
        rtype, namespace, name, sub = self.parse_resource_path(group, version, rest)
        handler = ResourceHandler(self.server, rtype, namespace, self.query)
        self.verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                     "DELETE": "delete"}.get(self.command, "get")
        watching = self.query.get("watch") in ("1", "true")
        if self.command == "GET" and watching:
            self.verb = "watch"
            return WatchStream(self, rtype, namespace, name).run()
        if self.command == "GET" and not name:
            self.verb = "list"
            items, rv = handler.list()
            if self.wants_table():
                return self.send_json(200, rtype.table(items, rv))
            return self.send_json(200, list_object(rtype, items, rv, handler.continue_token))
        actions = {"GET": lambda: (200, handler.get(name)),
                   "POST": lambda: (201, handler.create(self.read_body())),
                   "PUT": lambda: (200, handler.update(name, sub, self.read_body())),
                   "PATCH": lambda: handler.patch(name, sub, self.read_body(),
                                                  self.headers.get("Content-Type", "")),
                   "DELETE": lambda: (200, handler.delete(name))}
        read_only = rtype.view is not None and self.command != "GET"
        if read_only or self.command not in actions or (self.command == "POST") == bool(name):
            raise ApiError(405, "MethodNotAllowed", f"{self.command} is not supported here")
        code, obj = actions[self.command]()
        if self.command == "GET" and self.wants_table():
            obj = rtype.table([obj], obj["metadata"]["resourceVersion"])
        self.send_json(code, obj)

    # --- discovery and openapi ----------------------------------------------------------------

    def serve_ok(self):
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.record(200)

    def serve_version(self):
        self.send_json(200, {"major": "1", "minor": "35", "gitVersion": "v1.35.0-fake",
                             "gitCommit": "0" * 40, "gitTreeState": "clean",
                             "buildDate": "2025-12-17T00:00:00Z", "goVersion": "go1.25.5",
                             "compiler": "gc", "platform": "linux/amd64"})

    def serve_core_versions(self):
        # Plain application/json tells a client asking for aggregated discovery (apidiscovery v2)
        # that this server only has the legacy form; client-go then walks /api/v1 and /apis/g/v.
        self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                             "serverAddressByClientCIDRs": [
                                 {"clientCIDR": "0.0.0.0/0",
                                  "serverAddress": f"127.0.0.1:{self.server.server_port}"}]})

    def group_object(self, group, versions):
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in sorted(versions)]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0]}

    def groups(self):
        result = collections.defaultdict(set)
        for group, version in self.server.registry.group_versions():
            if group:
                result[group].add(version)
        return result

    def serve_groups(self):
        self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            self.group_object(g, vs) for g, vs in sorted(self.groups().items())]})

    def serve_group(self, group):
        versions = self.groups().get(group)
        if not versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.send_json(200, self.group_object(group, versions))

    def serve_resource_list(self, group, version):
        types = self.server.registry.group_versions().get((group, version))
        if not types:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        types = sorted(types, key=lambda t: t.plural)
        resources = [entry for t in types for entry in t.discovery()]
        self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": types[0].api_version, "resources": resources})

    def serve_openapi_index(self):
        self.send_json(200, self.server.openapi.index())

    def serve_openapi_document(self, path):
        document = self.server.openapi.document(path)
        if document is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.send_json(200, document)

    # --- test controls ------------------------------------------------------------------------

    def serve_control(self):
        server = self.server
        if self.url_path == "/_fake/fault" and self.command == "POST":
            body = self.read_body()
            server.faults.set(body.get("mode", "none"), int(body.get("count", 1)),
                              float(body.get("seconds", 0)))
            return self.send_json(200, {"mode": server.faults.mode})
        if self.url_path == "/_fake/compact" and self.command == "POST":
            server.store.compact()
            return self.send_json(200, {"compactedResourceVersion": str(server.store.compacted_rv)})
        if self.url_path == "/_fake/stats" and self.command == "GET":
            with server.store.cond:
                rows = [{"verb": v, "path": p, "code": c, "count": n}
                        for (v, p, c), n in sorted(server.stats.items(), key=str)]
            return self.send_json(200, {"requests": rows})
        if self.url_path == "/_fake/objects" and self.command == "POST":
            try:
                return self.send_json(200, server.write_as_is(self.read_body()))
            except ApiError as err:
                return self.send_json(err.status["code"], err.status)
        self.send_json(404, ko.status_object(404, "NotFound", "unknown control endpoint"))


def list_object(rtype, items, rv, continue_token):
    if rtype.schema is None:
        for item in items:
            item.pop("apiVersion", None)
            item.pop("kind", None)
    metadata = {"resourceVersion": rv}
    if continue_token:
        metadata["continue"] = continue_token
    return {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": metadata,
            "items": items}


class ResourceHandler:
    """create/get/list/update/patch/delete of one resource type in one namespace."""

    def __init__(self, server, rtype, namespace, query):
        self.server, self.rtype, self.namespace, self.query = server, rtype, namespace, query
        self.store = server.store
        self.continue_token = ""

    def key(self, name):
        return self.server.key(self.rtype, self.namespace, name)

    def not_found(self, name):
        return ApiError(404, "NotFound", f'{self.rtype.qualified} "{name}" not found',
                        {"name": name, "group": self.rtype.group, "kind": self.rtype.plural})

    def matches(self, obj):
        return (ko.label_matcher(self.query.get("labelSelector"))(obj)
                and ko.field_matcher(self.query.get("fieldSelector"))(obj))

    def read(self, obj):
        return self.rtype.view(obj) if self.rtype.view and obj is not None else obj

    def get(self, name):
        obj = self.read(self.store.get(self.key(name)))
        if obj is None:
            raise self.not_found(name)
        return obj

    def list(self):
        items, rv = self.store.list(*self.rtype.storage, self.namespace)
        items = [o for o in map(self.read, items) if self.matches(o)]
        start = int(self.query.get("continue") or 0)
        limit = int(self.query.get("limit") or 0)
        if limit and start + limit < len(items):
            self.continue_token = str(start + limit)
            return items[start:start + limit], rv
        return items[start:], rv

    def create(self, obj):
        meta = obj.setdefault("metadata", {})
        self.check_kind(obj)
        self.place_in_namespace(meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                random.choices(string.ascii_lowercase + string.digits, k=5))
        self.fail_if_invalid(meta.get("name", ""), validation.check_object_name(meta.get("name")))
        obj = self.prepare_create(obj)
        with self.store.cond:
            if self.store.get(self.key(meta["name"])) is not None:
                raise ApiError(409, "AlreadyExists",
                               f'{self.rtype.qualified} "{meta["name"]}" already exists',
                               {"name": meta["name"], "group": self.rtype.group,
                                "kind": self.rtype.plural})
            stamp_new_object(obj, self.rtype, None)
            if self.rtype.kind == "CustomResourceDefinition":
                accept_crd(obj, self.server.registry)
            return self.store.commit("ADDED", self.key(meta["name"]), obj)

    def place_in_namespace(self, meta):
        if not self.rtype.namespaced:
            meta.pop("namespace", None)
            return
        if not self.namespace:
            raise ApiError(405, "MethodNotAllowed", "create needs a namespace in the path")
        if meta.get("namespace", self.namespace) != self.namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                           "match the namespace sent on the request")
        meta["namespace"] = self.namespace
        if self.store.get(("", "namespaces", "", self.namespace)) is None:
            raise ApiError(404, "NotFound", f'namespaces "{self.namespace}" not found',
                           {"name": self.namespace, "kind": "namespaces"})

    def prepare_create(self, obj):
        kind = self.rtype.kind
        if kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif self.rtype.schema is not None and self.rtype.has_status:
            obj.pop("status", None)
        return self.validate(obj, None)

    def check_kind(self, obj):
        if obj.get("kind") != self.rtype.kind or obj.get("apiVersion") != self.rtype.api_version:
            raise ApiError(400, "BadRequest", f"the API version in the data "
                           f"({obj.get('apiVersion')}) does not match the expected API version "
                           f"({self.rtype.api_version})")

    def validate(self, obj, old):
        """Returns obj as stored (pruned) or raises 422 with the causes."""
        name = obj["metadata"].get("name", "")
        if self.rtype.schema is not None:
            strict = self.query.get("fieldValidation") == "Strict"
            obj, causes, unknown = validation.check_custom_resource(self.rtype.schema, obj, strict)
            if unknown:
                raise ApiError(400, "BadRequest", "strict decoding error: " + ", ".join(
                    f'unknown field "{field}"' for field in unknown))
        elif self.rtype.group == "events.k8s.io":
            causes = validation.check_event_update(obj, old) if old else \
                validation.check_event_create(obj)
        else:
            causes = []
        self.fail_if_invalid(name, causes)
        return obj

    def fail_if_invalid(self, name, causes):
        if not causes:
            return
        summary = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
        raise ApiError(422, "Invalid", f'{self.rtype.kind}.{self.rtype.group or "core"} '
                       f'"{name}" is invalid: [{summary}]',
                       {"name": name, "group": self.rtype.group, "kind": self.rtype.kind,
                        "causes": causes})

    def update(self, name, sub, obj, precondition_required=True):
        with self.store.cond:
            old = self.get(name)
            meta = obj.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the "
                               "name on the URL")
            self.check_kind(obj)
            self.check_precondition(name, meta.get("resourceVersion"), old,
                                    precondition_required)
            new = self.merge_update(old, obj, sub)
            if new == old:
                return old
            if self.rtype.kind == "CustomResourceDefinition":
                accept_crd(new, self.server.registry)
            return self.store.commit("MODIFIED", self.key(name), new)

    def check_precondition(self, name, rv, old, required):
        if not rv and required and self.rtype.schema is not None:
            self.fail_if_invalid(name, [validation.invalid(
                "metadata.resourceVersion", "0x0", "must be specified for an update")])
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                           f'{self.rtype.qualified} "{name}": the object has been modified; '
                           "please apply your changes to the latest version and try again",
                           {"name": name, "group": self.rtype.group, "kind": self.rtype.plural})

    def merge_update(self, old, obj, sub):
        """Applies the status-subresource rules, keeps server-owned metadata, bumps generation."""
        if sub == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status")
        else:
            new = copy.deepcopy(obj)
            if self.rtype.has_status:
                new["status"] = old.get("status")
        if new.get("status") is None:
            new.pop("status", None)
        meta = new["metadata"]
        for field in ("uid", "creationTimestamp", "namespace", "deletionTimestamp",
                      "generation", "resourceVersion"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
        new = self.validate(new, old)
        if "generation" in meta and new.get("spec") != old.get("spec"):
            meta["generation"] += 1
        return new

    def patch(self, name, sub, body, content_type):
        kind = content_type.split(";")[0].strip()
        with self.store.cond:
            old = self.get(name)
            patched = self.apply_patch(old, body, kind)
            # Only a resourceVersion the patch itself carries is a precondition.
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            patched.setdefault("metadata", {})["resourceVersion"] = wanted
            return 200, self.update(name, sub, patched, precondition_required=False)

    def apply_patch(self, old, body, kind):
        strategic = kind == "application/strategic-merge-patch+json"
        # JSON patch and server-side apply are not implemented by this stand-in; CRs, as in the
        # real apiserver, take no strategic merge patch.
        builtin = self.rtype.schema is None
        if kind != "application/merge-patch+json" and not (strategic and builtin):
            accepted = "application/merge-patch+json" + (
                ", application/strategic-merge-patch+json" if builtin else "")
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an "
                           f"unknown format ({kind}) - accepted media types include: {accepted}")
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        return ko.strategic_merge_patch(old, body) if strategic else ko.merge_patch(old, body)

    def delete(self, name):
        obj = self.get(name)
        grace = self.query.get("gracePeriodSeconds")
        if self.rtype.kind == "Pod" and grace != "0" and self.server.pod_deletion_delay > 0:
            return self.delete_gracefully(name, obj)
        if self.rtype.kind == "CustomResourceDefinition":
            self.delete_custom_resources(obj)
        return self.store.commit("DELETED", self.key(name), obj)

    def delete_custom_resources(self, crd):
        """Deleting a CRD deletes its objects and stops serving it."""
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        with self.server.registry.lock:
            for key in [k for k in self.server.registry.types if k[0] == group and k[2] == plural]:
                del self.server.registry.types[key]
        with self.store.cond:
            for key, obj in list(self.store.objects.items()):
                if key[:2] == (group, plural):
                    self.store.commit("DELETED", key, obj)

    def delete_gracefully(self, name, obj):
        """Marks the pod terminating; a timer stands in for the kubelet confirming it."""
        if obj["metadata"].get("deletionTimestamp"):
            return obj
        obj["metadata"]["deletionTimestamp"] = ko.now_rfc3339()
        obj["metadata"]["deletionGracePeriodSeconds"] = int(
            obj.get("spec", {}).get("terminationGracePeriodSeconds", 30))
        obj = self.store.commit("MODIFIED", self.key(name), obj)

        def finish():
            current = self.store.get(self.key(name))
            if current and current["metadata"]["uid"] == obj["metadata"]["uid"]:
                self.store.commit("DELETED", self.key(name), current)
        threading.Timer(self.server.pod_deletion_delay, finish).start()
        return obj


class WatchStream:
    """One chunked watch response: replays history after the requested resourceVersion, then
    streams new events, bookmarks when asked, and ends on timeoutSeconds or an injected fault."""

    def __init__(self, request, rtype, namespace, name):
        self.request, self.rtype, self.server = request, rtype, request.server
        self.store = self.server.store
        query = dict(request.query)
        if name:
            query["fieldSelector"] = ",".join(filter(None, [query.get("fieldSelector"),
                                                            f"metadata.name={name}"]))
        self.handler = ResourceHandler(self.server, rtype, namespace, query)
        self.query = query
        self.table = request.wants_table()

    def run(self):
        rv_param = self.query.get("resourceVersion", "")
        with self.store.cond:
            epoch = self.server.faults.epoch
            if rv_param in ("", "0") or self.query.get("sendInitialEvents") == "true":
                position = self.store.rv
                initial = [("ADDED", o) for o in self.handler.list()[0]]
            else:
                position, initial = int(rv_param), []
        self.start_stream()
        if self.server.faults.take("drop_watch"):
            return self.request.drop_connection()
        if self.server.faults.take("410") or position < self.store.compacted_rv:
            return self.send_gone(position)
        for event_type, obj in initial:
            self.send_event(event_type, obj)
        if self.query.get("sendInitialEvents") == "true":
            self.send_bookmark(position, initial_end=True)
        self.stream(position, epoch)

    def stream(self, position, epoch):
        bookmarks = self.query.get("allowWatchBookmarks") == "true"
        deadline = time.monotonic() + float(self.query.get("timeoutSeconds") or 1800)
        next_bookmark = time.monotonic() + self.server.bookmark_interval
        while time.monotonic() < deadline:
            with self.store.cond:
                self.store.cond.wait_for(
                    lambda: self.store.rv > position or self.server.faults.epoch != epoch,
                    timeout=max(0.05, min(next_bookmark, deadline) - time.monotonic()))
                entries = self.store.since(position)
                gone = position < self.store.compacted_rv
                dropped = self.server.faults.epoch != epoch
                mode = self.server.faults.mode
            if dropped:
                return self.send_gone(position) if mode == "410" else self.request.drop_connection()
            if gone:
                return self.send_gone(position)
            for entry in entries:
                self.send_entry(entry)
                position = entry.rv
            if bookmarks and time.monotonic() >= next_bookmark:
                self.send_bookmark(position)  # everything up to here was delivered
                next_bookmark = time.monotonic() + self.server.bookmark_interval
        self.end_stream()

    def start_stream(self):
        request = self.request
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        request.record(200)

    def write_chunk(self, data):
        self.request.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.request.wfile.flush()

    def end_stream(self):
        self.write_chunk(b"")  # the zero-length chunk ends the response

    def send_event(self, event_type, obj):
        if self.table and event_type in ("ADDED", "MODIFIED", "DELETED"):
            obj = self.rtype.table([obj], obj["metadata"]["resourceVersion"])
        self.write_chunk(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")

    def send_entry(self, entry):
        """Turns a store change into what this watcher sees through its selectors."""
        if entry.key[:2] != self.rtype.storage:
            return
        if self.handler.namespace and entry.key[2] != self.handler.namespace:
            return
        obj, old = self.handler.read(entry.obj), self.handler.read(entry.old)
        now_matches = entry.type != "DELETED" and self.handler.matches(obj)
        was_matching = old is not None and self.handler.matches(old)
        if entry.type == "DELETED" and was_matching:
            self.send_event("DELETED", obj)
        elif now_matches:
            self.send_event("MODIFIED" if was_matching else "ADDED", obj)
        elif was_matching:
            self.send_event("DELETED", obj)

    def send_bookmark(self, rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        self.send_event("BOOKMARK", {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version,
                                     "metadata": meta})

    def send_gone(self, position):
        status = ko.status_object(410, "Expired", f"too old resource version: {position} "
                                  f"({self.store.compacted_rv})")
        self.send_event("ERROR", status)
        self.end_stream()


def load_crds(server, directory):
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(f for f in files if f.endswith((".yaml", ".yml"))):
            with open(os.path.join(root, name), encoding="utf-8") as f:
                for doc in yaml.safe_load_all(f):
                    if doc and doc.get("kind") == "CustomResourceDefinition":
                        server.write_as_is(doc)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="written with the bound port once serving")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--crd-dir", action="append", default=[])
    parser.add_argument("--openapi-dir", help="folder of published *_openapi.json v3 documents")
    parser.add_argument("--history", type=int, default=1000, help="watch events kept for resume")
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    parser.add_argument("--pod-deletion-delay", type=float, default=0.5,
                        help="seconds a deleted pod stays Terminating (0: delete at once)")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    server = FakeApiServer(("127.0.0.1", args.port), args)
    for directory in args.crd_dir:
        load_crds(server, directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(str(server.server_port))
        os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
