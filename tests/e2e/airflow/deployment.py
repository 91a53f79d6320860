"""A real Apache Airflow deployment on loopback for the end-to-end tests: a test-owned AIRFLOW_HOME,
its database (SQLite, or a throwaway PostgreSQL cluster where the executor needs one), the services
the version has (api-server or webserver, scheduler, dag-processor, triggerer, Celery worker and a
Redis broker), real authentication, and a small REST client.

Every process started here carries a unique marker in its environment, inherited by whatever
Airflow forks or execs: cleanup signals only those."""
import base64
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import procs
from harness import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REAPER_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
TOOLS = os.path.join(REPO, ".tools", "airflow")
DAGS = os.path.join(HERE, "dags")
PG_BIN = "/usr/lib/postgresql/15/bin"


def installed_versions():
    """{series: version} as written by tests/tools/install-airflow.sh."""
    with open(os.path.join(TOOLS, "versions")) as f:
        return dict(line.split() for line in f if line.strip())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


class Deployment:
    USER = "reaper"

    def __init__(self, version, executor, log_dir):
        self.version = version
        self.major = int(version.split(".")[0])
        self.executor = executor  # "LocalExecutor" | "CeleryExecutor"
        self.venv = os.path.join(TOOLS, version)
        self.tmp = tempfile.mkdtemp(prefix=f"reaper-airflow-{version}-")
        os.chmod(self.tmp, 0o755)
        # Logs outlive the deployment (for the failure report and CI artifacts); the rest does not.
        self.log_dir = log_dir
        shutil.rmtree(log_dir, ignore_errors=True)
        os.makedirs(log_dir)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.marker = "REAPER_E2E_AIRFLOW_" + secrets.token_hex(6)
        self.password = "pw-" + secrets.token_urlsafe(12)
        self.password_file = os.path.join(self.tmp, "password")
        with open(self.password_file, "w") as f:
            f.write(self.password + "\n")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api = "v2" if self.major >= 3 else "v1"
        self.services = {}  # name -> Popen
        self.logs = []
        self.token = None
        self.closed = False
        self.last_latency = 0.0  # seconds the last REST request took
        self.env = self._environment()

    # --- configuration
    def _environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update({
            self.marker: "1",
            "PATH": f"{self.venv}/bin:{env.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": self.home,
            "AIRFLOW__CORE__DAGS_FOLDER": DAGS,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__PARALLELISM": "12",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        })
        if self.needs_postgres():
            self.pg_port = free_port()
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
                f"postgresql+psycopg2://postgres@127.0.0.1:{self.pg_port}/airflow")
        else:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{self.home}/airflow.db"
        if self.major >= 3:
            env.update({
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                                               "simple_auth_manager.SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                    os.path.join(self.home, "passwords.json"),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
                # The execution API answers slowly on 2 busy cores: the default 5 s read timeout
                # kills tasks at start.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            })
            with open(os.path.join(self.home, "passwords.json"), "w") as f:
                json.dump({self.USER: self.password}, f)
        else:
            env.update({
                "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
                "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.port),
                "AIRFLOW__WEBSERVER__WORKERS": "1",
                # `airflow webserver` shuts itself down when gunicorn's master does not answer
                # within 120 s, which happens on 2 busy cores; no worker refresh cycles either.
                "AIRFLOW__WEBSERVER__WEB_SERVER_MASTER_TIMEOUT": "1200",
                "AIRFLOW__WEBSERVER__WEB_SERVER_WORKER_TIMEOUT": "1200",
                "AIRFLOW__WEBSERVER__WORKER_REFRESH_BATCH_SIZE": "0",
                "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            })
        if self.executor == "CeleryExecutor":
            self.redis_port = free_port()
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"redis://127.0.0.1:{self.redis_port}/1",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "8",
            })
        return env

    def needs_postgres(self):
        # Airflow 2 refuses SQLite with any executor that runs tasks in parallel; Airflow 3 accepts
        # it but its API server answers "database is locked" (HTTP 500) under the load of a few
        # tasks on 2 busy cores.
        return True

    # --- lifecycle
    def start(self):
        if self.needs_postgres():
            self._start_postgres()
        if self.executor == "CeleryExecutor":
            self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind",
                                  "127.0.0.1", "--save", "", "--appendonly", "no"])
        self._run(["airflow", "db", "migrate"], timeout=600)
        if self.major < 3:
            self._run(["airflow", "users", "create", "--username", self.USER, "--password",
                       self.password, "--role", "Admin", "--email", "reaper@example.com",
                       "--firstname", "reaper", "--lastname", "e2e"], timeout=300)
            self._spawn("webserver", ["airflow", "webserver"])
            self._spawn("scheduler", ["airflow", "scheduler"])
        else:
            self._spawn("api-server", ["airflow", "api-server"])
            self._spawn("scheduler", ["airflow", "scheduler"])
            self._spawn("dag-processor", ["airflow", "dag-processor"])
            self._spawn("triggerer", ["airflow", "triggerer"])
        if self.executor == "CeleryExecutor":
            self._spawn("celery-worker", ["airflow", "celery", "worker", "--concurrency", "8"])
        if not wait_for(self._api_up, 300, step=1):
            raise RuntimeError(f"Airflow API did not come up\n{self.tail_logs()}")
        for dag_id in ("reaper_e2e_bash", "reaper_e2e_python", "reaper_e2e_mapped",
                       "reaper_e2e_retry"):
            if not wait_for(lambda: self._dag_parsed(dag_id), 300, step=1):
                raise RuntimeError(f"DAG {dag_id} was not parsed\n{self.tail_logs()}")

    def _start_postgres(self):
        data = os.path.join(self.tmp, "pgdata")
        os.makedirs(data)
        postgres = pwd.getpwnam("postgres")
        os.chown(data, postgres.pw_uid, postgres.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run(as_postgres + [f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres"],
                  timeout=120)
        self._spawn("postgres", as_postgres + [
            f"{PG_BIN}/postgres", "-D", data, "-h", "127.0.0.1", "-p", str(self.pg_port), "-k",
            data, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"])
        if not wait_for(lambda: subprocess.run(
                [f"{PG_BIN}/pg_isready", "-h", "127.0.0.1", "-p", str(self.pg_port)],
                capture_output=True).returncode == 0, 60):
            raise RuntimeError(f"PostgreSQL did not start\n{self.tail_logs()}")
        self._run(as_postgres + [f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(self.pg_port),
                                 "-U", "postgres", "airflow"], timeout=60)

    def _run(self, args, timeout):
        out = subprocess.run(args, env=self.env, cwd=self.tmp, capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed:\n{out.stdout[-3000:]}"
                               f"\n{out.stderr[-3000:]}")

    def _spawn(self, name, args):
        log = open(os.path.join(self.log_dir, f"{name}.log"), "w")
        self.logs.append(log)
        # Each service leads its own session, as under systemd or in a container.
        self.services[name] = subprocess.Popen(args, env=self.env, cwd=self.tmp, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)

    def root_pids(self):
        return {proc.pid for proc in self.services.values()}

    def processes(self):
        return procs.snapshot(self.marker, self.root_pids())

    def tail_logs(self, lines=40):
        out = []
        for log in self.logs:
            log.flush()
            with open(log.name, errors="replace") as f:
                out.append(f"--- {os.path.basename(log.name)}\n" +
                           "".join(f.readlines()[-lines:]))
        return "\n".join(out)

    def close(self):
        if self.closed:
            return
        self.closed = True
        # Read the whole deployment first, while parent chains still lead to the services.
        doomed = self.processes()
        for proc in self.services.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # the service's own session and group
                except ProcessLookupError:
                    pass
        for proc in self.services.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        for p in list(doomed.values()) + list(self.processes().values()):
            if procs.alive(p):
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.services.values():
            if proc.poll() is None:
                proc.wait()
        for log in self.logs:
            log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- REST
    def _api_up(self):
        try:
            self.authenticate()
            self.request("GET", "/version")
            return True
        except (OSError, ApiError):
            return False

    def _dag_parsed(self, dag_id):
        try:
            self.request("GET", f"/dags/{dag_id}")
            return True
        except ApiError:
            return False

    def authenticate(self):
        """3.x: a JWT from the simple auth manager's POST /auth/token; 2.10: basic auth."""
        if self.major < 3:
            return
        status, body = self._http("POST", "/auth/token",
                                  {"username": self.USER, "password": self.password})
        self.token = json.loads(body)["access_token"]

    def _headers(self):
        if self.major >= 3:
            return {"Authorization": f"Bearer {self.token}"}
        basic = base64.b64encode(f"{self.USER}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def _http(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if not path.startswith("/auth"):
            headers.update(self._headers())
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, e.read().decode(errors="replace")) from None

    def request(self, method, path, body=None):
        started = time.monotonic()
        try:
            return self._request(method, path, body)
        finally:
            self.last_latency = time.monotonic() - started

    def _request(self, method, path, body):
        try:
            return json.loads(self._http(method, f"/api/{self.api}{path}", body)[1] or "null")
        except ApiError as e:
            if e.status != 401 or self.major < 3:
                raise
            self.authenticate()
            return json.loads(self._http(method, f"/api/{self.api}{path}", body)[1] or "null")

    def trigger(self, dag_id):
        run_id = f"e2e_{dag_id}_{secrets.token_hex(4)}"
        body = {"dag_run_id": run_id}
        if self.major >= 3:
            body["logical_date"] = None
        self.request("POST", f"/dags/{dag_id}/dagRuns", body)
        return run_id

    def _ti_path(self, dag_id, run_id, task_id, map_index=-1):
        run = urllib.parse.quote(run_id, safe="")
        path = f"/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}"
        return path if map_index < 0 else f"{path}/{map_index}"

    def task_instance(self, dag_id, run_id, task_id, map_index=-1):
        return self.request("GET", self._ti_path(dag_id, run_id, task_id, map_index))

    def set_state(self, dag_id, run_id, task_id, state, map_index=-1):
        body = {"new_state": state}
        if self.major < 3:
            body["dry_run"] = False
        return self.request("PATCH", self._ti_path(dag_id, run_id, task_id, map_index), body)

    def clear(self, dag_id, run_id, task_id):
        return self.request("POST", f"/dags/{dag_id}/clearTaskInstances",
                            {"dry_run": False, "task_ids": [task_id], "dag_run_id": run_id,
                             "only_failed": False, "reset_dag_runs": False})
