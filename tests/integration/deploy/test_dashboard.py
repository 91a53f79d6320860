"""The Grafana dashboard: shipped by the chart for the sidecar; every query names a real metric."""

import json
import os
import re
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

DASHBOARD = os.path.join(deploy_env.CHART, "dashboards", "airflow-reaper.json")
METRIC = re.compile(r"\bairflow_reaper_[a-z0-9_]+")
# Series a histogram family exports besides its name.
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def family(series_name):
    for suffix in HISTOGRAM_SUFFIXES:
        if series_name.endswith(suffix):
            return series_name[:-len(suffix)]
    return series_name


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard):
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["name"], variable["definition"]


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dashboard = json.load(f)

    def test_every_query_names_a_metric_the_agent_exports(self):
        exported = deploy_env.exported_metrics()
        self.assertIn("airflow_reaper_reaps_total", exported)
        for title, expr in queries(self.dashboard):
            names = METRIC.findall(expr)
            with self.subTest(panel=title):
                self.assertTrue(names, f"{title}: {expr} names no airflow_reaper metric")
                for name in names:
                    self.assertIn(family(name), exported, f"{title}: {name} is not exported")

    def test_it_shows_what_an_sre_asks_about(self):
        used = {family(n) for _, expr in queries(self.dashboard) for n in METRIC.findall(expr)}
        self.assertLessEqual({
            "airflow_reaper_reaps_total", "airflow_reaper_orphans_reaped_total",
            "airflow_reaper_processes_killed_total", "airflow_reaper_tracked_trees",
            "airflow_reaper_airflow_requests_total",
            "airflow_reaper_airflow_request_duration_seconds",
            "airflow_reaper_kube_requests_total", "airflow_reaper_kube_request_duration_seconds",
            "airflow_reaper_scan_duration_seconds", "airflow_reaper_reap_duration_seconds",
            "airflow_reaper_undecided_trees", "airflow_reaper_last_successful_poll_timestamp_seconds",
            "airflow_reaper_airflow_consecutive_failures"}, used)

    def test_panels_are_unique_and_use_the_datasource_variable(self):
        ids = [p["id"] for p in panels(self.dashboard)]
        self.assertEqual(len(ids), len(set(ids)))
        for panel in panels(self.dashboard):
            if panel["type"] != "row":
                self.assertEqual(panel["datasource"]["uid"], "${datasource}", panel["title"])
        self.assertEqual(self.dashboard["uid"], "airflow-reaper")

    def test_chart_ships_it_for_the_sidecar_when_enabled(self):
        def render(*args):
            out = deploy_env.helm("template", "reaper", deploy_env.CHART, "--namespace", "ops",
                                  *args).stdout
            return [d for d in yaml.safe_load_all(out) if d and d["kind"] == "ConfigMap"
                    and d["metadata"]["name"].endswith("-dashboard")]
        self.assertEqual(render(), [])
        (cm,) = render("--set", "grafanaDashboard.enabled=true")
        self.assertEqual(cm["metadata"]["namespace"], "ops")
        self.assertEqual(cm["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(json.loads(cm["data"]["airflow-reaper.json"]), self.dashboard)
        (cm,) = render("--set", "grafanaDashboard.enabled=true,"
                       "grafanaDashboard.namespace=monitoring,"
                       "grafanaDashboard.labels.grafana_dashboard=null,"
                       "grafanaDashboard.labels.dashboards=reaper")
        self.assertEqual(cm["metadata"]["namespace"], "monitoring")
        self.assertNotIn("grafana_dashboard", cm["metadata"]["labels"])
        self.assertEqual(cm["metadata"]["labels"]["dashboards"], "reaper")


if __name__ == "__main__":
    unittest.main(verbosity=2)
