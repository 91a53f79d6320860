"""The TaskRunnerTree and NodeReapReport CRDs: shape, chart copies, custom resources."""

import copy
import filecmp
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402
import kubeschema  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CRD_DIR = os.path.join(deploy_env.K8S, "crds")
NAMES = ["nodereapreports.airflowreaper.io.yaml", "taskrunnertrees.airflowreaper.io.yaml"]


def crd(name):
    (doc,) = kubeschema.load_documents(os.path.join(CRD_DIR, name))
    return doc


def example(name):
    (doc,) = kubeschema.load_documents(os.path.join(HERE, "examples", name))
    return doc


class CrdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.validator = kubeschema.Validator(deploy_env.require_specs())
        cls.validator.add_crd_files(os.path.join(CRD_DIR, "*.yaml"))

    def test_k8s_holds_exactly_the_two_crds_and_the_chart_has_the_same_files(self):
        self.assertEqual(sorted(os.listdir(CRD_DIR)), NAMES)
        chart_crds = os.path.join(deploy_env.CHART, "crds")
        self.assertEqual(sorted(os.listdir(chart_crds)), NAMES)
        for name in NAMES:
            same = filecmp.cmp(os.path.join(CRD_DIR, name), os.path.join(chart_crds, name),
                               shallow=False)
            self.assertTrue(same, f"charts/airflow-reaper/crds/{name} differs from k8s/crds/")

    def test_group_scope_version_and_status_subresource(self):
        for name, kind, scope in [(NAMES[1], "TaskRunnerTree", "Namespaced"),
                                  (NAMES[0], "NodeReapReport", "Cluster")]:
            spec = crd(name)["spec"]
            self.assertEqual(spec["group"], "airflowreaper.io")
            self.assertEqual(spec["names"]["kind"], kind)
            self.assertEqual(spec["scope"], scope)
            self.assertTrue(spec["names"]["shortNames"])
            (version,) = spec["versions"]
            self.assertEqual((version["name"], version["served"], version["storage"]),
                             ("v1alpha1", True, True))
            self.assertEqual(version["subresources"], {"status": {}})

    def test_task_runner_tree_fields_match_the_contract(self):
        (version,) = crd(NAMES[1])["spec"]["versions"]
        props = version["schema"]["openAPIV3Schema"]["properties"]
        self.assertEqual(set(props["spec"]["properties"]), {
            "nodeName", "podName", "podUID", "dagId", "taskId", "runId", "mapIndex", "tryNumber"})
        status = props["status"]["properties"]
        self.assertEqual(set(status), {
            "phase", "taskInstanceState", "rootPid", "processes", "orphans", "escapees",
            "firstSeen", "lastSeen", "reapedAt", "message"})
        self.assertEqual(status["phase"]["enum"],
                         ["Running", "Reaping", "Reaped", "Gone", "KillFailed"])
        columns = {c["name"]: c for c in version["additionalPrinterColumns"]
                   if not c.get("priority")}
        self.assertEqual(list(columns), ["Pod", "Dag", "Task", "Try", "State", "Phase", "Age"])
        self.assertEqual(columns["State"]["jsonPath"], ".status.taskInstanceState")

    def test_node_reap_report_fields_match_the_contract(self):
        (version,) = crd(NAMES[0])["spec"]["versions"]
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        self.assertEqual(set(status["summary"]["properties"]), {
            "trackedTrees", "trackedProcesses", "reapedTrees", "killedProcesses", "orphansReaped",
            "killFailures"})
        self.assertEqual(status["results"]["maxItems"], 50)
        result = status["results"]["items"]["properties"]
        self.assertEqual(set(result), {
            "time", "pod", "taskInstance", "state", "reason", "killed", "orphans", "outcome"})
        self.assertEqual(set(result["taskInstance"]["properties"]),
                         {"dagId", "taskId", "runId", "mapIndex", "tryNumber"})

    def test_every_field_has_a_description_for_kubectl_explain(self):
        def walk(node, path):
            if path.count(".") > 0 and not path.endswith(("apiVersion", "kind", "metadata")):
                self.assertTrue(node.get("description"), f"{path}: no description")
            for key, child in node.get("properties", {}).items():
                walk(child, f"{path}.{key}")
            if "items" in node:
                walk(node["items"], f"{path}[]")
        for name in NAMES:
            (version,) = crd(name)["spec"]["versions"]
            walk(version["schema"]["openAPIV3Schema"], version["name"])

    def test_crds_name_no_release(self):
        for name in NAMES:
            labels = crd(name)["metadata"]["labels"]
            self.assertEqual(labels["app.kubernetes.io/name"], "airflow-reaper")
            self.assertNotIn("app.kubernetes.io/instance", labels)

    def test_every_schema_node_is_structural_and_described(self):
        def walk(node, path):
            self.assertIn("type", node, path)
            if node["type"] == "object" and path.count(".") > 0 and not path.endswith("metadata"):
                self.assertTrue(node.get("properties"), f"{path}: object without properties")
            for key, child in node.get("properties", {}).items():
                walk(child, f"{path}.{key}")
            if "items" in node:
                walk(node["items"], f"{path}[]")
        for name in NAMES:
            (version,) = crd(name)["spec"]["versions"]
            schema = version["schema"]["openAPIV3Schema"]
            walk(schema, name)
            for field in ("spec", "status"):
                if field in schema["properties"]:
                    self.assertIn("description", schema["properties"][field])

    def test_example_custom_resources_validate(self):
        for name in ("taskrunnertree.yaml", "nodereapreport.yaml"):
            with self.subTest(example=name):
                self.validator.validate(example(name))

    def test_bad_custom_resources_are_rejected(self):
        cases = {
            "unknown phase": ("taskrunnertree.yaml", ["status", "phase"], "Dead"),
            "unknown status field": ("taskrunnertree.yaml", ["status", "environ"], "SECRET=1"),
            "string try number": ("taskrunnertree.yaml", ["spec", "tryNumber"], "2"),
            "bad time": ("taskrunnertree.yaml", ["status", "reapedAt"], "yesterday"),
            "unknown summary field": ("nodereapreport.yaml", ["status", "summary", "pods"], 3),
            "bad outcome": ("nodereapreport.yaml", ["status", "results", 0, "outcome"], "Killed"),
        }
        for case, (name, path, value) in cases.items():
            obj = copy.deepcopy(example(name))
            target = obj
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            with self.subTest(case=case), self.assertRaises(kubeschema.ValidationError):
                self.validator.validate(obj)

    def test_more_than_fifty_results_are_rejected(self):
        obj = example("nodereapreport.yaml")
        obj["status"]["results"] *= 51
        with self.assertRaisesRegex(kubeschema.ValidationError, "at most 50"):
            self.validator.validate(obj)


if __name__ == "__main__":
    unittest.main(verbosity=2)
