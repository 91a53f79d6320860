"""The chart's PrometheusRule: promtool check and unit tests, runbooks, selectors."""

import os
import re
import shutil
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(deploy_env.REPO, "README.md")
PLACEHOLDER = re.compile(r"\{\{ \$(labels\.(\w+)|value) \}\}")


def rule_groups(*args):
    out = deploy_env.helm("template", "reaper", deploy_env.CHART, "--namespace", "ops",
                          "--set", "metrics.prometheusRule.enabled=true", *args).stdout
    (rule,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "PrometheusRule"]
    return rule["spec"]["groups"]


def rules(groups):
    return [r for g in groups for r in g["rules"]]


def github_anchors(markdown):
    """The anchors GitHub gives the headings of a markdown file."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def fill_annotations(test_file, groups):
    """Expected annotations of each expected alert, from its rule and its expected labels."""
    by_name = {r["alert"]: r for r in rules(groups)}
    for case in test_file["tests"]:
        for check in case.get("alert_rule_test", []):
            for alert in check["exp_alerts"]:
                values = {"value": str(alert.pop("value", ""))}
                values.update({f"labels.{k}": str(v) for k, v in alert["exp_labels"].items()})
                alert["exp_annotations"] = {
                    key: PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
                    for key, text in by_name[check["alertname"]]["annotations"].items()}
    return test_file


class AlertsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.groups = rule_groups()
        cls.tmp = tempfile.mkdtemp(prefix="airflow-reaper-alerts-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write_rules(self, groups, name="rules.yaml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            yaml.safe_dump({"groups": groups}, f)
        return path

    def test_promtool_checks_the_rules_of_every_values_file(self):
        variants = {"default": []}
        ci = os.path.join(deploy_env.CHART, "ci")
        for name in sorted(os.listdir(ci)):
            variants[name] = ["--values", os.path.join(ci, name)]
        for name, args in variants.items():
            with self.subTest(values=name):
                result = deploy_env.promtool("check", "rules", self.write_rules(rule_groups(*args)))
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_promtool_unit_tests_pass(self):
        self.write_rules(self.groups)
        with open(os.path.join(HERE, "alerts_test.yaml")) as f:
            test_file = fill_annotations(yaml.safe_load(f), self.groups)
        path = os.path.join(self.tmp, "alerts_test.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(test_file, f)
        result = deploy_env.promtool("test", "rules", path)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_every_alert_is_unit_tested(self):
        with open(os.path.join(HERE, "alerts_test.yaml")) as f:
            tested = {c["alertname"] for t in yaml.safe_load(f)["tests"]
                      for c in t["alert_rule_test"] if c["exp_alerts"]}
        self.assertEqual(tested, {r["alert"] for r in rules(self.groups)})

    def test_every_alert_has_a_runbook_section_in_the_readme(self):
        with open(README) as f:
            anchors = github_anchors(f.read())
        base = "https://github.com/airflow-reaper/airflow-reaper/blob/main/README.md#"
        for rule in rules(self.groups):
            with self.subTest(alert=rule["alert"]):
                self.assertEqual(set(rule["annotations"]),
                                 {"summary", "description", "runbook_url"})
                self.assertIn(rule["labels"]["severity"], ("warning", "critical"))
                url = rule["annotations"]["runbook_url"]
                self.assertTrue(url.startswith(base), url)
                self.assertEqual(url[len(base):], rule["alert"].lower())
                self.assertIn(url[len(base):], anchors)

    def test_every_alert_names_metrics_the_agent_exports(self):
        exported = deploy_env.exported_metrics()
        for rule in rules(self.groups):
            names = re.findall(r"\bairflow_reaper_\w+", rule["expr"])
            self.assertTrue(names, rule["alert"])
            for name in names:
                self.assertIn(name, exported, rule["alert"])

    def test_no_alert_names_a_job(self):
        for rule in rules(self.groups):
            self.assertNotIn("job=", rule["expr"].replace(" ", ""), rule["alert"])

    def test_the_selector_narrows_every_series(self):
        groups = rule_groups("--set-string", 'metrics.prometheusRule.selector=cluster="prod"')
        for rule in rules(groups):
            selectors = re.findall(r"\b(airflow_reaper_\w+|up)(\{[^}]*\})?", rule["expr"])
            self.assertTrue(selectors, rule["alert"])
            for metric, labels in selectors:
                self.assertIn('cluster="prod"', labels, f"{rule['alert']}: {metric}")

    def test_runbook_base_url_is_configurable(self):
        groups = rule_groups(
            "--set", "metrics.prometheusRule.runbookBaseUrl=https://wiki.example.com/reaper")
        for rule in rules(groups):
            self.assertEqual(rule["annotations"]["runbook_url"],
                             "https://wiki.example.com/reaper#" + rule["alert"].lower())


if __name__ == "__main__":
    unittest.main(verbosity=2)
