"""The strict validator itself: it must reject what the apiserver rejects, or it proves nothing."""

import copy
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402
import kubeschema  # noqa: E402

DAEMONSET = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "x", "labels": {"a": "b"}},
    "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{
                "name": "c", "image": "i:1",
                "ports": [{"containerPort": 9464}],
                "resources": {"requests": {"cpu": "50m", "memory": 64}},
                "securityContext": {"capabilities": {"drop": ["ALL"]}},
            }]},
        },
    },
}


def with_change(path, value):
    obj = copy.deepcopy(DAEMONSET)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


class ValidatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = kubeschema.Validator(deploy_env.require_specs())
        cls.v.add_crd_files(
            os.path.join(deploy_env.SPECS, "kubernetes", "prometheus-operator", "*.yaml"))

    def test_accepts_a_valid_daemonset(self):
        self.v.validate(DAEMONSET)

    def test_rejects(self):
        pod = ["spec", "template", "spec"]
        container = pod + ["containers", 0]
        cases = {
            "unknown top-level field": (["extra"], 1),
            "unknown nested field": (container + ["securityContext", "privilegd"], False),
            "unknown metadata field": (["metadata", "label"], {}),
            "wrong type": (pod + ["hostPID"], "true"),
            "wrong item type": (container + ["ports", 0, "containerPort"], "9464"),
            "missing required": (container + ["name"], None),
            "bad enum": (["spec", "updateStrategy", "type"], "Sometimes"),
            "int-or-string given a list": (["spec", "updateStrategy", "rollingUpdate",
                                            "maxUnavailable"], [1]),
            "quantity given a bool": (container + ["resources", "requests", "cpu"], True),
        }
        for case, (path, value) in cases.items():
            obj = with_change(path, value)
            if value is None:
                del obj["spec"]["template"]["spec"]["containers"][0]["name"]
            with self.subTest(case=case), self.assertRaises(kubeschema.ValidationError):
                self.v.validate(obj)

    def test_rejects_unknown_kinds_and_versions(self):
        for api_version, kind in [("apps/v1beta2", "DaemonSet"), ("v1", "Widget"),
                                  ("airflowreaper.io/v1alpha1", "TaskRunnerTree")]:
            with self.subTest(kind=kind), self.assertRaises(kubeschema.ValidationError):
                self.v.validate(
                    {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})

    def test_crd_schemas_are_strict_but_honour_preserve_unknown_fields(self):
        rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": "r"},
                "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]}}
        self.v.validate(rule)
        bad = copy.deepcopy(rule)
        bad["spec"]["groups"][0]["rules"][0]["severity"] = "page"
        with self.assertRaisesRegex(kubeschema.ValidationError, "unknown field 'severity'"):
            self.v.validate(bad)
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "things.example.com"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"kind": "Thing", "plural": "things"},
                        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                            "openAPIV3Schema": {"type": "object", "properties": {
                                "spec": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True},
                                "status": {"type": "object"}}}}}]}}
        self.v.add_crd(crd)
        thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
                 "spec": {"anything": {"goes": 1}}}
        self.v.validate(thing)
        thing["status"] = {"pruned": True}
        with self.assertRaisesRegex(kubeschema.ValidationError, "unknown field 'pruned'"):
            self.v.validate(thing)


if __name__ == "__main__":
    unittest.main(verbosity=2)
