"""The plain-manifest install in k8s/: in sync with the chart, valid, readable by kubectl."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402
import kubeschema  # noqa: E402
import manifests  # noqa: E402


def k8s_files():
    names = sorted(n for n in os.listdir(deploy_env.K8S) if n.endswith((".yaml", ".yml", ".json")))
    crds = sorted(os.path.join("crds", n) for n in os.listdir(os.path.join(deploy_env.K8S, "crds")))
    return names + crds


class ManifestsTest(unittest.TestCase):
    def test_k8s_is_the_chart_rendered_with_defaults(self):
        rendered = manifests.render()
        on_disk = sorted(n for n in os.listdir(deploy_env.K8S) if n.endswith(".yaml"))
        self.assertEqual(on_disk, sorted(rendered))
        for name, text in rendered.items():
            with open(os.path.join(deploy_env.K8S, name)) as f:
                self.assertEqual(f.read(), text, f"k8s/{name} is stale: run manifests.py --write")

    def test_every_file_validates_strictly(self):
        validator = kubeschema.Validator(deploy_env.require_specs())
        validator.add_crd_files(os.path.join(deploy_env.K8S, "crds", "*.yaml"))
        for name in k8s_files():
            for obj in kubeschema.load_documents(os.path.join(deploy_env.K8S, name)):
                with self.subTest(file=name, kind=obj["kind"]):
                    validator.validate(obj)
                    labels = obj["metadata"]["labels"]
                    self.assertEqual(labels["app.kubernetes.io/name"], "airflow-reaper")
                    # A CRD serves every installation: it names none.
                    if obj["kind"] != "CustomResourceDefinition":
                        self.assertIn("app.kubernetes.io/instance", labels)

    def test_namespaced_objects_live_in_the_namespace_the_install_creates(self):
        (namespace,) = kubeschema.load_documents(os.path.join(deploy_env.K8S, "00-namespace.yaml"))
        for name in k8s_files():
            for obj in kubeschema.load_documents(os.path.join(deploy_env.K8S, name)):
                if obj["kind"] in ("ServiceAccount", "ConfigMap", "DaemonSet", "Service"):
                    self.assertEqual(obj["metadata"]["namespace"], namespace["metadata"]["name"])

    def test_real_kubectl_reads_every_file(self):
        # `label --local` decodes the files with kubectl's own machinery and needs no server.
        args = [deploy_env.tool("kubectl"), "label", "--local", "-o", "name", "reaper-test=1"]
        for name in k8s_files():
            args += ["-f", os.path.join(deploy_env.K8S, name)]
        result = subprocess.run(args, capture_output=True, text=True,
                                env=dict(os.environ, KUBECONFIG=os.devnull))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.split()), 9, result.stdout)
        self.assertIn("daemonset.apps/airflow-reaper", result.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
