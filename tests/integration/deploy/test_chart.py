"""The Helm chart, rendered by the real helm and checked against the Kubernetes OpenAPI schemas."""

import os
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402
import kubeschema  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_ON = os.path.join(HERE, "values-all-on.yaml")

# The contract's configuration file keys (mode and hostRoot are fixed by the chart).
CONFIG_KEYS = {
    "": {"mode", "nodeName", "hostRoot", "procRoot", "cgroupRoot", "pollInterval", "startupGrace",
         "dryRun", "airflow", "kill", "kubernetes", "server"},
    "airflow": {"baseUrl", "apiVersion", "auth", "caFile", "insecureSkipVerify", "timeout",
                "pageSize"},
    "airflow.auth": {"type", "username", "passwordFile", "tokenFile"},
    "kill": {"gracePeriod", "onMissingTaskInstance"},
    "kubernetes": {"apiServer", "tokenFile", "caFile", "insecureSkipVerify", "namespaces", "events",
                   "taskTrees", "nodeReport", "treeRetention"},
    "server": {"bindAddress"},
}


def validator():
    v = kubeschema.Validator(deploy_env.require_specs())
    v.add_crd_files(os.path.join(deploy_env.CHART, "crds", "*.yaml"))
    v.add_crd_files(os.path.join(deploy_env.SPECS, "kubernetes", "prometheus-operator", "*.yaml"))
    return v


def render(*args):
    out = deploy_env.helm("template", "reaper", deploy_env.CHART, "--namespace", "ops",
                          "--include-crds", *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def one(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"want one {kind}, got {len(found)}"
    return found[0]


def agent_config(objects):
    return yaml.safe_load(one(objects, "ConfigMap")["data"]["config.yaml"])


class ChartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.validator = validator()
        cls.default = render()
        cls.all_on = render("--values", ALL_ON)

    def test_helm_lint_strict_passes(self):
        for extra in ([], ["--values", ALL_ON]):
            result = deploy_env.helm("lint", "--strict", deploy_env.CHART, *extra)
            self.assertIn("0 chart(s) failed", result.stdout)

    def test_every_rendered_object_validates_strictly(self):
        for objects in (self.default, self.all_on):
            for obj in objects:
                with self.subTest(kind=obj["kind"], name=obj["metadata"]["name"]):
                    self.validator.validate(obj)

    def test_default_renders_no_monitoring_objects(self):
        kinds = sorted(o["kind"] for o in self.default)
        self.assertEqual(kinds, ["ClusterRole", "ClusterRoleBinding", "ConfigMap",
                                 "CustomResourceDefinition", "CustomResourceDefinition",
                                 "DaemonSet", "ServiceAccount"])

    def test_all_on_renders_service_monitor_and_rules(self):
        kinds = {o["kind"] for o in self.all_on}
        self.assertTrue({"Service", "ServiceMonitor", "PrometheusRule"} <= kinds, kinds)
        service = one(self.all_on, "Service")
        monitor = one(self.all_on, "ServiceMonitor")
        self.assertEqual(monitor["spec"]["selector"]["matchLabels"],
                         {k: service["metadata"]["labels"][k] for k in
                          ("app.kubernetes.io/name", "app.kubernetes.io/instance")})
        self.assertEqual(monitor["spec"]["endpoints"][0]["port"],
                         service["spec"]["ports"][0]["name"])
        groups = one(self.all_on, "PrometheusRule")["spec"]["groups"]
        alerts = {r["alert"]: r["expr"] for g in groups for r in g["rules"]}
        self.assertIn('outcome="failed"', alerts["AirflowReaperKillFailed"])
        self.assertIn("> 50", alerts["AirflowReaperReapSpike"])
        job = service["metadata"]["name"]
        self.assertIn(f'up{{job="{job}"}} == 0', alerts["AirflowReaperDown"])

    def test_every_object_carries_name_and_instance_labels(self):
        for obj in self.default + self.all_on:
            labels = obj["metadata"].get("labels", {})
            with self.subTest(kind=obj["kind"]):
                self.assertEqual(labels.get("app.kubernetes.io/name"), "airflow-reaper")
                self.assertIn("app.kubernetes.io/instance", labels)

    def test_daemonset_security_posture(self):
        for objects in (self.default, self.all_on):
            pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
            self.assertIs(pod["hostPID"], True)
            self.assertNotIn("hostNetwork", pod)
            self.assertNotIn("hostIPC", pod)
            self.assertEqual(pod["priorityClassName"], "system-node-critical")
            self.assertIn({"operator": "Exists"}, pod["tolerations"])
            (container,) = pod["containers"]
            sc = container["securityContext"]
            self.assertIs(sc["privileged"], False)
            self.assertIs(sc["allowPrivilegeEscalation"], False)
            self.assertIs(sc["readOnlyRootFilesystem"], True)
            self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
            self.assertEqual(sorted(sc["capabilities"]["add"]),
                             ["DAC_READ_SEARCH", "KILL", "SYS_PTRACE"])
            host_paths = {v["name"]: v["hostPath"]["path"]
                          for v in pod["volumes"] if "hostPath" in v}
            self.assertEqual(host_paths, {"host-proc": "/proc", "host-cgroup": "/sys/fs/cgroup"})
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            self.assertEqual(mounts["host-proc"]["mountPath"], "/host/proc")
            self.assertIs(mounts["host-proc"]["readOnly"], True)
            self.assertEqual(mounts["host-cgroup"]["mountPath"], "/host/sys/fs/cgroup")
            for name, mount in mounts.items():
                if name != "host-cgroup":
                    self.assertIs(mount.get("readOnly"), True, name)

    def test_daemonset_runs_the_agent_with_probes_and_resources(self):
        ds = one(self.default, "DaemonSet")
        self.assertEqual(ds["spec"]["updateStrategy"]["type"], "RollingUpdate")
        (c,) = ds["spec"]["template"]["spec"]["containers"]
        self.assertEqual(c["image"], "ghcr.io/airflow-reaper/airflow-reaper:0.1.0")
        self.assertEqual(c["command"], ["/usr/local/bin/airflow-reaper"])
        self.assertEqual(c["args"][:3], ["run", "--config", "/etc/airflow-reaper/config.yaml"])
        node_name = {"fieldRef": {"fieldPath": "spec.nodeName"}}
        self.assertIn({"name": "NODE_NAME", "valueFrom": node_name}, c["env"])
        self.assertEqual(c["ports"],
                         [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}])
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "metrics"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "metrics"})
        self.assertTrue({"cpu", "memory"} <= set(c["resources"]["requests"]))
        self.assertIn("memory", c["resources"]["limits"])
        self.assertEqual(agent_config(self.default)["server"]["bindAddress"], "0.0.0.0:9464")

    def test_cluster_role_is_least_privilege(self):
        rules = one(self.default, "ClusterRole")["rules"]
        granted = {(g, r, v) for rule in rules for g in rule["apiGroups"]
                   for r in rule["resources"] for v in rule["verbs"]}
        crud = ["get", "list", "watch", "create", "update", "patch"]
        want = {("", "pods", v) for v in ["get", "list", "watch"]}
        want |= {(g, "events", v) for g in ["", "events.k8s.io"] for v in ["create", "patch"]}
        want |= {("airflowreaper.io", "taskrunnertrees", v) for v in crud + ["delete"]}
        want |= {("airflowreaper.io", "nodereapreports", v) for v in crud}
        want |= {("airflowreaper.io", r + "/status", v)
                 for r in ["taskrunnertrees", "nodereapreports"]
                 for v in ["get", "update", "patch"]}
        self.assertEqual(granted, want)
        for rule in rules:
            self.assertEqual(set(rule), {"apiGroups", "resources", "verbs"})

    def test_cluster_role_drops_rules_for_disabled_reports(self):
        objects = render("--set", "config.kubernetes.events=false,"
                         "config.kubernetes.taskTrees=false,config.kubernetes.nodeReport=false")
        resources = {r for rule in one(objects, "ClusterRole")["rules"] for r in rule["resources"]}
        self.assertEqual(resources, {"pods"})

    def test_binding_names_the_service_account(self):
        for objects in (self.default, self.all_on):
            binding = one(objects, "ClusterRoleBinding")
            sa = one(objects, "ServiceAccount")
            sa_name = sa["metadata"]["name"]
            role_name = one(objects, "ClusterRole")["metadata"]["name"]
            self.assertEqual(binding["roleRef"]["name"], role_name)
            self.assertEqual(binding["subjects"],
                             [{"kind": "ServiceAccount", "name": sa_name, "namespace": "ops"}])
            pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
            self.assertEqual(pod["serviceAccountName"], sa_name)

    def assert_contract_keys(self, config, where=""):
        self.assertLessEqual(set(config), CONFIG_KEYS[where], where or "top level")
        for key, value in config.items():
            child = f"{where}.{key}" if where else key
            if isinstance(value, dict):
                self.assert_contract_keys(value, child)

    def test_config_has_only_contract_keys(self):
        for objects in (self.default, self.all_on):
            config = agent_config(objects)
            self.assert_contract_keys(config)
            self.assertEqual(config["mode"], "kubernetes")
            self.assertEqual(config["hostRoot"], "/host")

    def test_config_follows_values(self):
        config = agent_config(self.all_on)
        self.assertEqual(config["pollInterval"], "500ms")
        self.assertIs(config["dryRun"], True)
        self.assertEqual(config["airflow"]["auth"], {
            "type": "jwt", "username": "reaper",
            "passwordFile": "/etc/airflow-reaper/airflow-auth/password"})
        self.assertEqual(config["airflow"]["caFile"], "/etc/airflow-reaper/airflow-ca/ca.crt")
        self.assertEqual(config["kill"], {"gracePeriod": "20s", "onMissingTaskInstance": "kill"})
        self.assertEqual(config["kubernetes"]["namespaces"], ["airflow", "airflow-batch"])
        self.assertEqual(config["server"]["bindAddress"], "0.0.0.0:9500")

    def test_credentials_are_secret_references_mounted_as_files(self):
        pod = one(self.all_on, "DaemonSet")["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["airflow-auth"]["secret"]["secretName"],
                         "airflow-reaper-credentials")
        self.assertEqual(volumes["airflow-auth"]["secret"]["items"],
                         [{"key": "airflow-password", "path": "password"}])
        self.assertNotIn("Secret", {o["kind"] for o in self.all_on})
        for env in pod["containers"][0]["env"]:
            self.assertNotIn("secretKeyRef", env.get("valueFrom", {}), env["name"])

    def test_bearer_token_is_mounted_as_token_file(self):
        objects = render("--set", "config.airflow.auth.type=bearer,"
                         "config.airflow.auth.existingSecret=airflow-token")
        self.assertEqual(agent_config(objects)["airflow"]["auth"],
                         {"type": "bearer", "tokenFile": "/etc/airflow-reaper/airflow-auth/token"})
        pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["airflow-auth"]["secret"]["items"],
                         [{"key": "token", "path": "token"}])

    def test_install_dry_run_prints_what_an_sre_looks_at(self):
        # --dry-run=client needs no cluster and, unlike template, renders NOTES.txt.
        out = deploy_env.helm("install", "reaper", deploy_env.CHART, "--namespace", "ops",
                              "--dry-run=client", "--values", ALL_ON).stdout
        notes = out[out.index("NOTES:"):]
        for wanted in ("kubectl get taskrunnertrees -A", "kubectl get nodereapreports",
                       "reason=TaskTreeReaped", "DRY RUN"):
            self.assertIn(wanted, notes)

    def test_image_tag_can_be_pinned(self):
        (c,) = one(self.all_on, "DaemonSet")["spec"]["template"]["spec"]["containers"]
        self.assertEqual(c["image"], "ghcr.io/airflow-reaper/airflow-reaper:0.1.0-test")


class ValuesSchemaTest(unittest.TestCase):
    REJECTED = {
        "wrong type": ["--set", "config.dryRun=yes"],
        "wrong type (port)": ["--set-string", "metrics.port=9464"],
        "unknown key": ["--set", "config.airflow.password=hunter2"],
        "unknown top-level key": ["--set", "hostNetwork=true"],
        "bad enum": ["--set", "config.kill.onMissingTaskInstance=maybe"],
        "bad duration": ["--set", "config.pollInterval=2 seconds"],
        "basic auth without secret": ["--set", "config.airflow.auth.type=basic,"
                                      "config.airflow.auth.username=u"],
        "no memory limit": ["--set", "resources.limits.memory=null"],
    }

    def test_schema_rejects_bad_values(self):
        for case, args in self.REJECTED.items():
            with self.subTest(case=case):
                result = deploy_env.helm("template", "reaper", deploy_env.CHART, *args, check=False)
                self.assertNotEqual(result.returncode, 0, f"{case}: helm template accepted {args}")
                self.assertIn("values don't meet the specifications of the schema", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
