"""The Helm chart, rendered by the real helm and checked against the Kubernetes OpenAPI schemas."""

import glob
import json
import os
import shutil
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chart_readme  # noqa: E402
import deploy_env  # noqa: E402
import kubeschema  # noqa: E402

CI_VALUES = os.path.join(deploy_env.CHART, "ci")
ALL_ON = os.path.join(CI_VALUES, "all-on-values.yaml")

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
    v.add_crd_files(os.path.join(deploy_env.LOCAL_SPECS, "*.yaml"))
    return v


def render(*args):
    out = deploy_env.helm("template", "reaper", deploy_env.CHART, "--namespace", "ops",
                          "--include-crds", *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def one(objects, kind, component=None):
    found = [o for o in objects if o["kind"] == kind and (
        component is None or o["metadata"]["labels"]["app.kubernetes.io/component"] == component)]
    assert len(found) == 1, f"want one {kind}, got {len(found)}"
    return found[0]


def test_pod(objects):
    return one(objects, "Pod", "test")


def ci_values():
    return sorted(os.path.join(CI_VALUES, n) for n in os.listdir(CI_VALUES))


def agent_config(objects):
    (config,) = [o for o in objects if o["kind"] == "ConfigMap" and "config.yaml" in o["data"]]
    return yaml.safe_load(config["data"]["config.yaml"])


class ChartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="airflow-reaper-chart-")
        cls.validator = validator()
        cls.default = render()
        cls.all_on = render("--values", ALL_ON)
        cls.ci = {os.path.basename(p): render("--values", p) for p in ci_values()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_helm_lint_strict_passes(self):
        for extra in [[]] + [["--values", p] for p in ci_values()]:
            result = deploy_env.helm("lint", "--strict", deploy_env.CHART, *extra)
            self.assertIn("0 chart(s) failed", result.stdout)

    def test_every_rendered_object_validates_strictly(self):
        for name, objects in [("default", self.default)] + list(self.ci.items()):
            for obj in objects:
                with self.subTest(values=name, kind=obj["kind"], name=obj["metadata"]["name"]):
                    self.validator.validate(obj)

    def test_default_renders_no_monitoring_objects(self):
        kinds = sorted(o["kind"] for o in self.default)
        self.assertEqual(kinds, ["ClusterRole", "ClusterRoleBinding", "ConfigMap",
                                 "CustomResourceDefinition", "CustomResourceDefinition",
                                 "DaemonSet", "Pod", "Service", "ServiceAccount"])

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
        self.assertIn('up{namespace="ops"} == 0', alerts["AirflowReaperDown"])

    def test_every_object_carries_name_and_instance_labels(self):
        for obj in self.default + self.all_on:
            if obj["kind"] in ("CustomResourceDefinition", "Pod"):
                continue
            labels = obj["metadata"].get("labels", {})
            with self.subTest(kind=obj["kind"]):
                self.assertEqual(labels.get("app.kubernetes.io/name"), "airflow-reaper")
                self.assertIn("app.kubernetes.io/instance", labels)

    def test_crds_belong_to_no_release(self):
        # One CRD serves every installation in the cluster, and Helm never templates crds/.
        for crd in [o for o in self.default if o["kind"] == "CustomResourceDefinition"]:
            labels = crd["metadata"]["labels"]
            self.assertEqual(labels["app.kubernetes.io/name"], "airflow-reaper")
            self.assertNotIn("app.kubernetes.io/instance", labels)

    def test_test_pod_is_selected_by_neither_the_daemonset_nor_the_service(self):
        for objects in (self.default, self.all_on):
            pod = test_pod(objects)
            self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook"], "test")
            labels = pod["metadata"]["labels"]
            self.assertEqual(labels["app.kubernetes.io/instance"], "reaper")
            for selector in (one(objects, "DaemonSet")["spec"]["selector"]["matchLabels"],
                             one(objects, "Service")["spec"]["selector"]):
                self.assertFalse(selector.items() <= labels.items(), selector)
            (container,) = pod["spec"]["containers"]
            self.assertIn("http://reaper-airflow-reaper-metrics.ops.svc:", container["command"][2])
            self.assertIn("/readyz", container["command"][2])
            self.assertIs(pod["spec"]["securityContext"]["runAsNonRoot"], True)
            self.assertEqual(container["securityContext"]["capabilities"]["drop"], ["ALL"])

    def test_no_test_pod_without_the_service(self):
        objects = self.ci["ondelete-podmonitor-values.yaml"]
        self.assertEqual([o for o in objects if o["kind"] in ("Pod", "Service")], [])

    def test_daemonset_security_posture(self):
        for objects in [self.default] + list(self.ci.values()):
            pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
            self.assertIs(pod["hostPID"], True)
            self.assertNotIn("hostNetwork", pod)
            self.assertNotIn("hostIPC", pod)
            self.assertEqual(pod["priorityClassName"], "system-node-critical")
            (container,) = pod["containers"]
            sc = container["securityContext"]
            self.assertIs(sc["privileged"], False)
            self.assertIs(sc["allowPrivilegeEscalation"], False)
            self.assertIs(sc["readOnlyRootFilesystem"], True)
            self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
            self.assertEqual(sorted(sc["capabilities"]["add"]),
                             ["DAC_READ_SEARCH", "KILL", "SYS_PTRACE"])
            self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
            self.assertEqual(sc["runAsUser"], 0)
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

    def test_default_placement_is_every_linux_node(self):
        pod = one(self.default, "DaemonSet")["spec"]["template"]["spec"]
        self.assertEqual(pod["tolerations"], [{"operator": "Exists"}])
        self.assertEqual(pod["nodeSelector"], {"kubernetes.io/os": "linux"})
        self.assertEqual(test_pod(self.default)["spec"]["nodeSelector"],
                         {"kubernetes.io/os": "linux"})

    def test_security_contexts_merge_overrides_into_the_defaults(self):
        pod = one(self.all_on, "DaemonSet")["spec"]["template"]["spec"]
        self.assertEqual(pod["securityContext"]["seLinuxOptions"], {"type": "spc_t"})
        self.assertEqual(pod["securityContext"]["appArmorProfile"], {"type": "RuntimeDefault"})
        sc = pod["containers"][0]["securityContext"]
        self.assertEqual(sc["appArmorProfile"],
                         {"type": "Localhost", "localhostProfile": "airflow-reaper"})
        objects = render("--set", "securityContext.runAsUser=null,"
                         "securityContext.runAsNonRoot=null,"
                         "podSecurityContext.seccompProfile.type=Localhost,"
                         "podSecurityContext.seccompProfile.localhostProfile=reaper.json")
        pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
        self.assertNotIn("runAsUser", pod["containers"][0]["securityContext"])
        self.assertEqual(pod["securityContext"]["seccompProfile"],
                         {"type": "Localhost", "localhostProfile": "reaper.json"})
        self.validator.validate(one(objects, "DaemonSet"))

    def test_extra_env_args_volumes_and_mounts_are_added_after_the_charts_own(self):
        (c,) = one(self.all_on, "DaemonSet")["spec"]["template"]["spec"]["containers"]
        self.assertEqual([e["name"] for e in c["env"]], ["NODE_NAME", "POD_IP", "TZ", "HOST_IP"])
        self.assertEqual(c["args"][-2:], ["--log-level", "trace"])
        self.assertEqual(c["volumeMounts"][-1],
                         {"name": "scratch", "mountPath": "/tmp", "readOnly": True})
        volumes = one(self.all_on, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
        self.assertEqual(volumes[-1], {"name": "scratch", "emptyDir": {"sizeLimit": "16Mi"}})

    def test_a_chart_bump_alone_changes_no_pod_template(self):
        copy = os.path.join(self.tmp, "chart")
        shutil.copytree(deploy_env.CHART, copy)
        with open(os.path.join(copy, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        chart["version"] = "9.9.9"
        with open(os.path.join(copy, "Chart.yaml"), "w") as f:
            yaml.safe_dump(chart, f)
        out = deploy_env.helm("template", "reaper", copy, "--namespace", "ops").stdout
        bumped = one([d for d in yaml.safe_load_all(out) if d], "DaemonSet")
        ds = one(self.default, "DaemonSet")
        self.assertEqual(bumped["metadata"]["labels"]["helm.sh/chart"], "airflow-reaper-9.9.9")
        self.assertEqual(bumped["spec"]["template"], ds["spec"]["template"])
        self.assertNotIn("helm.sh/chart", ds["spec"]["template"]["metadata"]["labels"])

    def test_common_labels_reach_every_object_and_the_pods(self):
        for obj in self.all_on:
            if obj["kind"] == "CustomResourceDefinition":
                continue
            with self.subTest(kind=obj["kind"]):
                self.assertEqual(obj["metadata"]["labels"]["example.com/cost-center"], "data")
        template = one(self.all_on, "DaemonSet")["spec"]["template"]["metadata"]
        self.assertEqual(template["labels"]["example.com/cost-center"], "data")

    def test_daemonset_metadata_and_update_strategy_follow_values(self):
        ds = one(self.all_on, "DaemonSet")
        self.assertEqual(ds["metadata"]["annotations"], {"example.com/owner": "sre"})
        self.assertEqual(ds["spec"]["revisionHistoryLimit"], 3)
        self.assertEqual(ds["spec"]["updateStrategy"], {
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}})
        ds = one(self.ci["ondelete-podmonitor-values.yaml"], "DaemonSet")
        self.assertEqual(ds["spec"]["updateStrategy"], {"type": "OnDelete"})
        self.assertNotIn("nodeSelector", ds["spec"]["template"]["spec"])
        self.assertNotIn("tolerations", ds["spec"]["template"]["spec"])
        default = one(self.default, "DaemonSet")["spec"]
        self.assertEqual(default["revisionHistoryLimit"], 10)
        self.assertEqual(default["updateStrategy"], {
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})

    def test_monitors_add_user_relabelings_after_the_node_label(self):
        node = {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node",
                "action": "replace"}
        endpoints = {
            "ServiceMonitor": one(self.all_on, "ServiceMonitor")["spec"]["endpoints"],
            "PodMonitor": one(self.all_on, "PodMonitor")["spec"]["podMetricsEndpoints"]}
        for kind, (endpoint,) in endpoints.items():
            with self.subTest(kind=kind):
                self.assertEqual(endpoint["port"], "metrics")
                self.assertEqual(endpoint["relabelings"][0], node)
                self.assertEqual(len(endpoint["relabelings"]), 2)
                self.assertEqual(len(endpoint["metricRelabelings"]), 1)
        pm = one(self.all_on, "PodMonitor")
        self.assertEqual(pm["spec"]["selector"]["matchLabels"],
                         one(self.all_on, "DaemonSet")["spec"]["selector"]["matchLabels"])
        self.assertEqual(pm["metadata"]["labels"]["release"], "kube-prometheus-stack")

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
        # The pod's own IP, not every interface of its network namespace.
        pod_ip = {"fieldRef": {"fieldPath": "status.podIP"}}
        self.assertIn({"name": "POD_IP", "valueFrom": pod_ip}, c["env"])
        self.assertEqual(agent_config(self.default)["server"]["bindAddress"], "${POD_IP}:9464")

    def test_network_policy_is_opt_in_and_admits_only_the_metrics_port(self):
        self.assertNotIn("NetworkPolicy", {o["kind"] for o in self.default})
        policy = one(self.all_on, "NetworkPolicy")["spec"]
        pod = one(self.all_on, "DaemonSet")["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(policy["podSelector"]["matchLabels"].items() <= pod.items())
        self.assertEqual(policy["policyTypes"], ["Ingress"])
        self.assertEqual(policy["ingress"], [{
            "ports": [{"port": "metrics", "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "monitoring"}}}]}])

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
        self.assertEqual(config["server"]["bindAddress"], "${POD_IP}:9500")

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
                       "reason=TaskTreeReaped", "reason=OrphansReaped", "reason=TaskTreeKillFailed",
                       "reason=DryRunWouldReap", "DRY RUN", "helm test", "#troubleshooting",
                       "CRDs"):
            self.assertIn(wanted, notes)

    def test_image_by_registry_tag_or_digest(self):
        def image(objects):
            return one(objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["image"]
        self.assertEqual(image(self.all_on), "registry.example.com:5000/mirror/airflow-reaper@"
                         "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        self.assertEqual(image(self.ci["ondelete-podmonitor-values.yaml"]),
                         "docker.io/example/airflow-reaper:0.1.0-custom")
        self.assertEqual(image(render("--set", "image.tag=0.1.0-test")),
                         "ghcr.io/airflow-reaper/airflow-reaper:0.1.0-test")


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
        "old updateStrategy shape": ["--set", "updateStrategy.maxUnavailable=2"],
        "bad update strategy": ["--set", "updateStrategy.type=Recreate"],
        "misspelt securityContext key": ["--set", "securityContext.privilegd=true"],
        "capability as a string": ["--set", "securityContext.capabilities.add=KILL"],
        "env without name": ["--set", "extraEnv[0].value=x"],
        "mount without path": ["--set", "extraVolumeMounts[0].name=x"],
        "volume without source key typo": ["--set", "extraVolumes[0].name=x,"
                                           "extraVolumes[0].emptydir.medium=Memory"],
        "arg not a string": ["--set", "extraArgs[0]=1"],
        "bad digest": ["--set", "image.digest=latest"],
        "selector with braces": ["--set-string", "metrics.prometheusRule.selector={job=x}"],
        "unknown relabeling field": ["--set", "metrics.podMonitor.relabelings[0].target=x"],
    }

    def test_schema_rejects_bad_values(self):
        for case, args in self.REJECTED.items():
            with self.subTest(case=case):
                result = deploy_env.helm("template", "reaper", deploy_env.CHART, *args, check=False)
                self.assertNotEqual(result.returncode, 0, f"{case}: helm template accepted {args}")
                self.assertIn("values don't meet the specifications of the schema", result.stderr)


class ValuesSchemaMirrorsKubernetesTest(unittest.TestCase):
    """Values that are Kubernetes objects list exactly the fields of the 1.35 API types."""

    MIRRORS = {
        "securityContext": "SecurityContext",
        "podSecurityContext": "PodSecurityContext",
        "extraEnv[]": "EnvVar",
        "extraVolumes[]": "Volume",
        "extraVolumeMounts[]": "VolumeMount",
    }

    def test_field_names_match_the_openapi(self):
        with open(os.path.join(deploy_env.CHART, "values.schema.json")) as f:
            schema = json.load(f)["properties"]
        with open(os.path.join(deploy_env.require_specs(), "kubernetes",
                               "api__v1_openapi.json")) as f:
            types = json.load(f)["components"]["schemas"]
        for key, kind in self.MIRRORS.items():
            node = schema[key.rstrip("[]")]
            if key.endswith("[]"):
                node = node["items"]
            api = types["io.k8s.api.core.v1." + kind]
            with self.subTest(key=key):
                self.assertIs(node["additionalProperties"], False)
                self.assertEqual(set(node["properties"]), set(api["properties"]))
                self.assertEqual(set(node.get("required", [])), set(api.get("required", [])))


class ChartPackagingTest(unittest.TestCase):
    def test_readme_is_generated_from_the_current_values(self):
        with open(chart_readme.README) as f:
            self.assertEqual(f.read(), chart_readme.render(),
                             "the chart's README.md is stale: run chart_readme.py --write")

    def test_every_value_is_documented(self):
        with open(chart_readme.VALUES) as f:
            text = f.read()
        documented = {path for path, _ in chart_readme.documented_keys(text)}
        self.assertEqual(chart_readme.undocumented(yaml.safe_load(text), documented), [])
        for path, description in chart_readme.documented_keys(text):
            self.assertTrue(description, path)

    def test_helm_show_readme_prints_it(self):
        out = deploy_env.helm("show", "readme", deploy_env.CHART).stdout
        self.assertIn("| `image.digest` |", out)
        self.assertIn("kubectl apply --server-side -f charts/airflow-reaper/crds/", out)

    def test_artifact_hub_metadata(self):
        with open(os.path.join(deploy_env.CHART, "Chart.yaml")) as f:
            annotations = yaml.safe_load(f)["annotations"]
        self.assertEqual(annotations["artifacthub.io/license"], "Apache-2.0")
        (image,) = yaml.safe_load(annotations["artifacthub.io/images"])
        ds = one(render(), "DaemonSet")
        self.assertEqual(image["image"], ds["spec"]["template"]["spec"]["containers"][0]["image"])
        crds = {(c["kind"], c["version"], c["name"])
                for c in yaml.safe_load(annotations["artifacthub.io/crds"])}
        files = [kubeschema.load_documents(p)[0] for p in
                 glob.glob(os.path.join(deploy_env.CHART, "crds", "*.yaml"))]
        self.assertEqual(crds, {(c["spec"]["names"]["kind"], c["spec"]["versions"][0]["name"],
                                 c["metadata"]["name"]) for c in files})
        v = validator()
        for example in yaml.safe_load(annotations["artifacthub.io/crdsExamples"]):
            with self.subTest(example=example["kind"]):
                v.validate(example)
        for change in yaml.safe_load(annotations["artifacthub.io/changes"]):
            self.assertIn(change["kind"], ("added", "changed", "deprecated", "removed", "fixed",
                                           "security"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
