#!/usr/bin/python3
"""Stand-in Airflow REST API for tests and the demo (Python 3 stdlib only).

Serves the task-instance batch list, version and token endpoints of Airflow 3 (API v2, spec
v2-rest-api-generated.yaml + auth/*) or Airflow 2 (API v1, spec v1.yaml) with their bodies, pagination
(page_limit capped at 100), validation errors (422 on v2, 400 on v1) and auth:
  none; basic (HTTP basic); jwt (POST /auth/token {username, password} -> 201 {access_token}, an HS256
  JWT whose exp is --token-ttl seconds away); bearer (a static --token, changeable at run time).

  fake_airflow.py --port 0 --port-file FILE --api v2|v1 --auth none|jwt|basic|bearer
                  --username U --password P [--token T] [--token-ttl S] [--hang-seconds S]
                  [--tls-cert C --tls-key K]

v2 sorts by `order_by` (the attributes Airflow 3 accepts); without it, and always on v1 (whose batch
body has no order_by), rows come in table order, or in a fresh random order per request under the
"shuffle" fault, as a database without ORDER BY may return them.

Control API, no auth, JSON bodies:
  PUT    /_fake/ti      {dag_id, task_id, run_id, map_index=-1, try_number, state, id?, start_date?,
                         end_date?, hostname?, queued_when?, overrides?} -> the TI (overrides: fields
                         written over the rendered record, e.g. a wrong type; queued_when defaults
                         to now whenever the try number changes)
  PUT    /_fake/tis     {"tis": [TI, ...]}  many at once
  DELETE /_fake/ti      {dag_id, task_id, run_id, map_index}
  POST   /_fake/fault   {"mode": "none|500|503|timeout|garbage|401|422|shuffle|huge|huge_length|
                        slow|flap", "count": N?, "seconds": S?}  (API routes only; timeout holds
                        the request --hang-seconds, then drops it; huge streams a 2 GiB chunked
                        reply, huge_length the same with its Content-Length; slow holds the
                        request S seconds, then answers it as usual, reading the TIs then;
                        flap answers every other request with a 503)
  PUT    /_fake/token   {"token": T}   bearer mode: the token now accepted
  POST   /_fake/revoke  jwt mode: every token issued so far is rejected from now on
  GET    /_fake/stats   {"requests": {"METHOD /path": {"status": n}}, "total": n, "token_issues": n,
                         "held": n (requests a slow fault holds now)}
  POST   /_fake/reset   forget TIs, faults and stats
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import secrets
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_PAGE_LIMIT = 100  # Airflow's default [api] maximum_page_limit
V2_STATES = ["removed", "scheduled", "queued", "running", "success", "restarting", "failed",
             "up_for_retry", "up_for_reschedule", "upstream_failed", "skipped", "deferred"]
V1_STATES = V2_STATES + ["none"]
V2_LIST_FIELDS = {
    "dag_ids": "strlist", "dag_run_ids": "strlist", "task_ids": "strlist", "state": "states",
    "pool": "strlist", "queue": "strlist", "executor": "strlist", "page_offset": "int",
    "page_limit": "int", "order_by": "str",
}
for _prefix in ("run_after", "logical_date", "start_date", "end_date"):
    for _op in ("gte", "gt", "lte", "lt"):
        V2_LIST_FIELDS[f"{_prefix}_{_op}"] = "str"
for _op in ("gte", "gt", "lte", "lt"):
    V2_LIST_FIELDS[f"duration_{_op}"] = "number"
# TaskInstance attributes the v2 batch list sorts by (SortParam in Airflow 3.x).
V2_ORDER_BY = {"id", "state", "duration", "start_date", "end_date", "map_index", "try_number",
               "logical_date", "run_after", "data_interval_start", "data_interval_end",
               "rendered_map_index", "operator"}
V1_LIST_FIELDS = {
    "page_offset": "int", "page_limit": "int", "dag_ids": "strlist", "dag_run_ids": "strlist",
    "task_ids": "strlist", "execution_date_gte": "str", "execution_date_lte": "str",
    "start_date_gte": "str", "start_date_lte": "str", "end_date_gte": "str", "end_date_lte": "str",
    "duration_gte": "number", "duration_lte": "number", "state": "states", "pool": "strlist",
    "queue": "strlist", "executor": "strlist",
}


def uuid7_like():
    millis = int(time.time() * 1000)
    raw = bytearray(millis.to_bytes(6, "big") + secrets.token_bytes(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.secret = secrets.token_bytes(32)
        self.token = args.token
        self.reset()

    def reset(self):
        self.tis = {}
        self.fault = "none"
        self.fault_count = None
        self.fault_seconds = 0.0
        self.flapped = 0
        self.held = 0
        self.stats = {}
        self.token_issues = 0

    def put_ti(self, body):
        """Adds or updates one TI; the caller holds the lock."""
        key = (body["dag_id"], body["run_id"], body["task_id"], int(body.get("map_index", -1)))
        previous = self.tis.get(key, {})

        def field(name, default):
            return body[name] if name in body else previous.get(name, default)
        try_number = int(field("try_number", 1))
        new_try = try_number != previous.get("try_number")
        self.tis[key] = {
            "dag_id": key[0], "run_id": key[1], "task_id": key[2], "map_index": key[3],
            "try_number": try_number, "state": field("state", None),
            "queued_when": body["queued_when"] if "queued_when" in body
            else utc_now() if new_try else previous.get("queued_when"),
            "id": body.get("id") or previous.get("id") or uuid7_like(),
            "start_date": field("start_date", "2026-01-01T00:00:01Z"),
            "end_date": field("end_date", None), "hostname": field("hostname", "worker-0"),
            "overrides": field("overrides", None),
        }
        return self.tis[key]

    def take_fault(self):
        with self.lock:
            if self.fault == "none":
                return "none"
            mode = self.fault
            if self.fault_count is not None:
                self.fault_count -= 1
                if self.fault_count <= 0:
                    self.fault, self.fault_count = "none", None
            return mode

    def count(self, method, path, status):
        with self.lock:
            per_path = self.stats.setdefault(f"{method} {path}", {})
            per_path[str(status)] = per_path.get(str(status), 0) + 1

    def issue_jwt(self, username):
        now = int(time.time())
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps({"sub": username, "iat": now, "nbf": now,
                                     "exp": now + self.args.token_ttl, "jti": uuid.uuid4().hex,
                                     "aud": "apache-airflow", "iss": "fake-airflow"}).encode())
        signing_input = f"{header}.{payload}".encode()
        with self.lock:
            self.token_issues += 1
            sig = hmac.new(self.secret, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{b64url(sig)}"

    def jwt_valid(self, token):
        parts = token.split(".")
        if len(parts) != 3:
            return False
        with self.lock:
            expected = hmac.new(self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, b64url_decode(parts[2])):
                return False
            return json.loads(b64url_decode(parts[1]))["exp"] > time.time()
        except (ValueError, KeyError):
            return False


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1e6):06d}Z"


def v2_ti(ti):
    return {
        "id": ti["id"], "task_id": ti["task_id"], "dag_id": ti["dag_id"],
        "dag_run_id": ti["run_id"], "map_index": ti["map_index"],
        "logical_date": "2026-01-01T00:00:00Z", "run_after": "2026-01-01T00:00:00Z",
        "start_date": ti["start_date"], "end_date": ti["end_date"], "duration": None,
        "state": ti["state"], "try_number": ti["try_number"], "max_tries": 3,
        "task_display_name": ti["task_id"], "dag_display_name": ti["dag_id"],
        "hostname": ti["hostname"], "unixname": "airflow", "pool": "default_pool", "pool_slots": 1,
        "queue": "default", "priority_weight": 1, "operator": "BashOperator",
        "operator_name": "BashOperator", "queued_when": ti["queued_when"], "scheduled_when": None,
        "pid": None,
        "executor": None, "executor_config": "{}", "note": None, "rendered_map_index": None,
        "rendered_fields": {}, "trigger": None, "triggerer_job": None, "dag_version": None,
    }


def v1_time(text):
    """Airflow 2 writes UTC offsets as +00:00."""
    return text.replace("Z", "+00:00") if text else text


def v1_ti(ti):
    return {
        "task_id": ti["task_id"], "task_display_name": ti["task_id"], "dag_id": ti["dag_id"],
        "dag_run_id": ti["run_id"], "execution_date": "2026-01-01T00:00:00+00:00",
        "start_date": v1_time(ti["start_date"]), "end_date": v1_time(ti["end_date"]),
        "duration": None, "state": ti["state"], "try_number": ti["try_number"],
        "map_index": ti["map_index"],
        "max_tries": 3, "hostname": ti["hostname"], "unixname": "airflow", "pool": "default_pool",
        "pool_slots": 1, "queue": "default", "priority_weight": 1, "operator": "BashOperator",
        "queued_when": ti["queued_when"], "pid": None, "executor": None, "executor_config": "{}",
        "sla_miss": None, "rendered_map_index": None, "rendered_fields": {}, "trigger": None,
        "triggerer_job": None, "note": None,
    }


def type_ok(kind, value, states):
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "states":
        return isinstance(value, list) and all(v is None or v in states for v in value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def validate_list_body(body, fields, states, nullable):
    """Returns a list of (field, problem) pairs; empty when the body is valid."""
    if not isinstance(body, dict):
        return [("body", "Input should be a valid dictionary")]
    problems = []
    for key, value in body.items():
        if key not in fields:
            problems.append((key, "Extra inputs are not permitted"))
        elif value is None and nullable:
            continue
        elif not type_ok(fields[key], value, states):
            problems.append((key, f"Input should be of type {fields[key]}"))
    return problems


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def select(tis, body, shuffle):
    def matches(ti):
        for field, attr in (("dag_ids", "dag_id"), ("dag_run_ids", "run_id"), ("task_ids", "task_id")):
            wanted = body.get(field)
            if wanted is not None and ti[attr] not in wanted:
                return False
        states = body.get("state")
        if states is not None:
            normalised = [None if s == "none" else s for s in states]
            if ti["state"] not in normalised:
                return False
        ended_since = body.get("end_date_gte")
        if ended_since is not None:
            if ti["end_date"] is None or parse_time(ti["end_date"]) < parse_time(ended_since):
                return False
        return True
    rows = [ti for key, ti in sorted(tis.items()) if matches(ti)]
    if shuffle:
        random.shuffle(rows)
    order_by = body.get("order_by")
    if order_by:
        field = order_by.lstrip("-")
        # None sorts first ascending, last descending (PostgreSQL sorts NULL as the largest).
        rows.sort(key=lambda ti: (ti.get(field) is not None, ti.get(field) or 0, ti["id"]),
                  reverse=order_by.startswith("-"))
    return rows


def render_ti(ti, v2):
    record = v2_ti(ti) if v2 else v1_ti(ti)
    record.update(ti.get("overrides") or {})
    return record


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by main

    def log_message(self, fmt, *args):
        if self.state.args.verbose:
            sys.stderr.write("fake_airflow: " + fmt % args + "\n")

    # ---- plumbing ----
    def read_body(self):
        return self.body

    def reply(self, status, payload, extra_headers=None, raw=None):
        data = raw if raw is not None else json.dumps(payload).encode()
        # Counted before the reply leaves: a client that reads the stats next must see it.
        path = self.path.split("?")[0]
        if not path.startswith("/_fake/"):
            self.state.count(self.command, path, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def v1_error(self, status, title, detail):
        self.reply(status, {"type": f"https://airflow.apache.org/docs/apache-airflow/2.10.5/"
                                    f"stable-rest-api-ref.html#section/Errors/{title.replace(' ', '')}",
                            "title": title, "status": status, "detail": detail})

    def api_error(self, status, detail):
        if self.state.args.api == "v1":
            titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                      500: "Internal Server Error", 503: "Service Unavailable"}
            headers = {"WWW-Authenticate": "Basic"} if status == 401 else None
            body = {"type": "about:blank", "title": titles.get(status, "Error"), "status": status,
                    "detail": detail}
            self.reply(status, body, headers)
        else:
            self.reply(status, {"detail": detail})

    def validation_error(self, problems):
        if self.state.args.api == "v1":
            self.v1_error(400, "Bad Request", "; ".join(f"{f}: {p}" for f, p in problems))
        else:
            self.reply(422, {"detail": [{"type": "extra_forbidden" if "Extra" in p else "type_error",
                                         "loc": ["body", f], "msg": p, "input": None}
                                        for f, p in problems]})

    # ---- auth ----
    def authorized(self):
        args = self.state.args
        header = self.headers.get("Authorization", "")
        if args.auth == "none":
            return True
        if args.auth == "basic":
            expected = base64.b64encode(f"{args.username}:{args.password}".encode()).decode()
            return header == f"Basic {expected}"
        if not header.startswith("Bearer "):
            return False
        token = header[len("Bearer "):]
        if args.auth == "bearer":
            with self.state.lock:
                return hmac.compare_digest(token, self.state.token or "")
        return self.state.jwt_valid(token)

    def create_token(self):
        if self.state.args.auth != "jwt":
            return self.api_error(404, "Not Found")
        raw = self.read_body()
        content_type = self.headers.get("Content-Type", "application/json")
        try:
            if content_type.startswith("application/x-www-form-urlencoded"):
                from urllib.parse import parse_qs
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                body = json.loads(raw or b"null")
        except ValueError:
            return self.reply(422, {"detail": [{"type": "json_invalid", "loc": ["body"],
                                                "msg": "JSON decode error", "input": None}]})
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str):
            return self.reply(422, {"detail": [{"type": "missing", "loc": ["body", "username"],
                                                "msg": "Field required", "input": None}]})
        args = self.state.args
        if body["username"] != args.username or body["password"] != args.password:
            return self.reply(401, {"detail": "Invalid credentials"})
        self.reply(201, {"access_token": self.state.issue_jwt(body["username"])})

    # ---- faults ----
    def apply_fault(self):
        """Returns True when a fault answered (or swallowed) the request."""
        mode = self.state.take_fault()
        if mode == "none":
            return False
        if mode == "shuffle":
            self.shuffle = True
            return False
        if mode == "slow":
            self.hold(self.state.fault_seconds)
            return False
        if mode == "flap":
            with self.state.lock:
                self.state.flapped += 1
                if self.state.flapped % 2:
                    return False
            mode = "503"
        if mode == "timeout":
            time.sleep(self.state.args.hang_seconds)
            self.close_connection = True
            self.state.count(self.command, self.path.split("?")[0], 0)
            return True
        if mode in ("500", "503"):
            self.api_error(int(mode), "Internal Server Error" if mode == "500" else "Unavailable")
        elif mode in ("huge", "huge_length"):
            self.stream_huge(chunked=mode == "huge")
        elif mode == "garbage":
            self.reply(200, None, raw=b'{"task_instances": [{"dag_id": "x", "tas')
        elif mode == "401":
            self.api_error(401, "Not authenticated")
        elif mode == "422":
            self.validation_error([("page_limit", "Input should be of type int")])
        return True

    def hold(self, seconds):
        with self.state.lock:
            self.state.held += 1
        try:
            time.sleep(seconds)
        finally:
            with self.state.lock:
                self.state.held -= 1

    def stream_huge(self, chunked):
        total = 2 << 30
        self.state.count(self.command, self.path.split("?")[0], 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        piece = b'{"task_instances":[' + b" " * ((1 << 20) - 19)
        sent = 0
        try:
            while sent < total:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
                piece = b" " * (1 << 20)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        self.close_connection = True

    # ---- API ----
    def api_prefix(self):
        return "/api/v2" if self.state.args.api == "v2" else "/api/v1"

    def handle_api(self, method, path):
        self.shuffle = False
        if self.apply_fault():
            return
        if method == "POST" and path == "/auth/token":
            return self.create_token()
        prefix = self.api_prefix()
        if method == "GET" and path == f"{prefix}/version":
            version = "3.1.0" if self.state.args.api == "v2" else "2.10.5"
            return self.reply(200, {"version": version, "git_version": None})
        is_list = is_list_path(prefix, path)
        if not is_list:
            return self.api_error(404, "Not Found")
        if method != "POST":
            return self.api_error(405, "Method Not Allowed")
        if not self.authorized():
            return self.api_error(401, "Not authenticated")
        self.list_task_instances(path)

    def list_task_instances(self, path):
        raw = self.read_body()
        v2 = self.state.args.api == "v2"
        parts = path.split("/")
        if parts[4] != "~" or parts[6] != "~":
            return self.validation_error([("dag_id", "Input should be '~'")])
        try:
            body = json.loads(raw)
        except ValueError:
            return self.validation_error([("body", "JSON decode error")])
        fields, states = (V2_LIST_FIELDS, V2_STATES) if v2 else (V1_LIST_FIELDS, V1_STATES)
        problems = validate_list_body(body, fields, states, nullable=v2)
        if not v2 and not problems and body.get("page_limit", 1) < 1:
            problems = [("page_limit", "must be greater than or equal to 1")]
        if not problems and v2 and body.get("order_by") \
                and body["order_by"].lstrip("-") not in V2_ORDER_BY:
            return self.api_error(400, f"Ordering with '{body['order_by']}' is not supported")
        if problems:
            return self.validation_error(problems)
        offset = body.get("page_offset") or 0
        limit = body.get("page_limit")
        limit = min(100 if limit is None else limit, MAX_PAGE_LIMIT)
        with self.state.lock:
            selected = select(self.state.tis, body, self.shuffle)
        self.reply(200, {"task_instances": [render_ti(ti, v2) for ti in selected[offset:offset + limit]],
                         "total_entries": len(selected)})

    # ---- control ----
    def handle_control(self, method, path):
        try:
            body = json.loads(self.read_body() or b"{}")
        except ValueError:
            return self.reply(400, {"detail": "bad json"})
        state = self.state
        if method == "PUT" and path == "/_fake/ti":
            with state.lock:
                ti = dict(state.put_ti(body))
            return self.reply(200, ti)
        if method == "PUT" and path == "/_fake/tis":
            with state.lock:
                for item in body["tis"]:
                    state.put_ti(item)
            return self.reply(200, {"count": len(body["tis"])})
        if method == "DELETE" and path == "/_fake/ti":
            key = (body["dag_id"], body["run_id"], body["task_id"], int(body.get("map_index", -1)))
            with state.lock:
                found = state.tis.pop(key, None) is not None
            return self.reply(200 if found else 404, {"deleted": found})
        if method == "POST" and path == "/_fake/fault":
            with state.lock:
                state.fault = body.get("mode", "none")
                state.fault_count = body.get("count")
                state.fault_seconds = float(body.get("seconds", 0))
            return self.reply(200, {"mode": state.fault, "count": state.fault_count})
        if method == "PUT" and path == "/_fake/token":
            with state.lock:
                state.token = body["token"]
            return self.reply(200, {})
        if method == "POST" and path == "/_fake/revoke":
            with state.lock:
                state.secret = secrets.token_bytes(32)
            return self.reply(200, {})
        if method == "GET" and path == "/_fake/stats":
            with state.lock:
                stats = {"requests": json.loads(json.dumps(state.stats)),
                         "total": sum(sum(v.values()) for v in state.stats.values()),
                         "token_issues": state.token_issues, "held": state.held}
            return self.reply(200, stats)
        if method == "POST" and path == "/_fake/reset":
            with state.lock:
                state.reset()
            return self.reply(200, {})
        self.reply(404, {"detail": "unknown control route"})

    def dispatch(self):
        # Read the whole body first: a reply that ignored it would leave it in a kept-alive stream.
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        try:
            if path.startswith("/_fake/"):
                self.handle_control(self.command, path)
            else:
                self.handle_api(self.command, path)
        except (KeyError, TypeError, ValueError) as exc:
            self.reply(400, {"detail": f"bad request: {exc}"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = dispatch


def is_list_path(prefix, path):
    # <prefix>/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/list
    if not path.startswith(prefix + "/dags/"):
        return False
    rest = path[len(prefix) + 1:].split("/")
    return len(rest) == 6 and rest[0] == "dags" and rest[2] == "dagRuns" \
        and rest[4] == "taskInstances" and rest[5] == "list"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--api", choices=["v2", "v1"], default="v2")
    parser.add_argument("--auth", choices=["none", "jwt", "basic", "bearer"], default="none")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--token")
    parser.add_argument("--token-ttl", type=int, default=3600)
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    Handler.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, args.port_file)
    print(f"fake_airflow listening on 127.0.0.1:{port} api={args.api} auth={args.auth}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
