"""Watched by default: log-based metrics over the lines the functions really write, alert policies for export
failures, the 5xx ratio, p95 hit latency and the queue, a dashboard and an uptime check, read from real
Terraform's plan of examples/basic (tests/conftest.py).

Cloud Logging itself cannot run here, so the metrics' extractors are applied to LogEntries built from the
entries functions/core/log_entries.py writes (httpRequest lifted to the entry, the rest in jsonPayload, as
Cloud Logging files a JSON line), by a small evaluator of EXTRACT and REGEXP_EXTRACT.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest

from functions.core.log_entries import request_entry
from tests.support.terraform import plan_example

POLICIES = {"export_failures", "error_ratio", "hit_latency", "queue_backlog", "uptime"}


def single(items):
    assert isinstance(items, list) and len(items) == 1, items
    return items[0]


def by_address_key(deployment, resource_type: str) -> dict[str, dict]:
    return {r["index"] if "index" in r else r["name"]: r["values"] for r in deployment.of_type(resource_type)}


def metrics(deployment) -> dict[str, dict]:
    return {r["values"]["name"]: r["values"] for r in deployment.of_type("google_logging_metric")}


def policies(deployment) -> dict[str, dict]:
    return by_address_key(deployment, "google_monitoring_alert_policy")


def conditions(policy: dict) -> list[dict]:
    return [single(c["condition_threshold"]) for c in policy["conditions"]]


def metric_type(metric: dict) -> str:
    return f"logging.googleapis.com/user/{metric['name']}"


def log_entry(line: dict) -> dict:
    """A structured stderr line as Cloud Logging files it: its own fields lifted, the rest in jsonPayload."""
    payload = {k: v for k, v in line.items() if k not in ("severity", "httpRequest")}
    return {"severity": line["severity"], "httpRequest": line["httpRequest"], "jsonPayload": payload}


def extract(expression: str, entry: dict):
    """EXTRACT(field) or REGEXP_EXTRACT(field, "regex") of a log-based metric, on one LogEntry."""
    found = re.fullmatch(r'(EXTRACT|REGEXP_EXTRACT)\(([A-Za-z_.]+)(?:, "(.*)")?\)', expression)
    assert found, expression
    value = entry
    for part in found.group(2).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None or found.group(1) == "EXTRACT":
        return value if value is None else str(value)
    matched = re.search(found.group(3), str(value))
    return matched.group(1) if matched else None


def dump_line(outcome: str, status: int, seconds: float) -> dict:
    return request_entry(method="GET", path="/datastore/dump/abc", query="format=csv", status=status,
                         response_size=10, seconds=seconds, user_agent="curl", remote_ip="198.51.100.7",
                         fields={"resource": "abc", "outcome": outcome})


def worker_line(task: str) -> dict:
    """What the worker's door writes for a delivery (functions/worker_door.py notes `task`)."""
    return request_entry(method="POST", path="/tasks/export", query="", status=200, response_size=2, seconds=3.5,
                         user_agent="Google-Cloud-Tasks", remote_ip="", fields={"task": task, "retry": False})


def test_the_metrics_read_the_lines_the_functions_write(planned):
    found = metrics(planned)
    requests, latency, tasks = (found[f"bqdump/{n}"] for n in ("dump_requests", "dump_latency", "export_tasks"))
    services = planned.plan_json["planned_values"]["outputs"]["service_names"]["value"]
    assert f'resource.labels.service_name="{services["dump"]}"' in requests["filter"]
    assert f'resource.labels.service_name="{services["dump"]}"' in latency["filter"]
    assert f'resource.labels.service_name="{services["worker"]}"' in tasks["filter"]
    for metric in (requests, latency, tasks):
        assert 'log_id("run.googleapis.com/stderr")' in metric["filter"]  # the app's lines, not Cloud Run's own

    line = log_entry(dump_line("hit", 302, 0.0421))
    assert {k: extract(v, line) for k, v in requests["label_extractors"].items()} == {"outcome": "hit", "status": "302"}
    assert float(extract(latency["value_extractor"], line)) == pytest.approx(0.042)
    assert extract(latency["label_extractors"]["outcome"], line) == "hit"
    failed = log_entry(dump_line("failed", 503, 1.5))
    assert extract(requests["label_extractors"]["status"], failed) == "503"
    assert extract(tasks["label_extractors"]["task"], log_entry(worker_line("failed"))) == "failed"
    declared = {m: {label["key"] for label in single(metric["metric_descriptor"])["labels"]}
                for m, metric in (("requests", requests), ("latency", latency), ("tasks", tasks))}
    assert declared == {"requests": {"outcome", "status"}, "latency": {"outcome"}, "tasks": {"task"}}
    assert single(latency["metric_descriptor"])["value_type"] == "DISTRIBUTION"


def test_alert_policies_cover_failures_errors_latency_queue_and_uptime(planned):
    found, metric = policies(planned), metrics(planned)
    assert set(found) == POLICIES
    types = {key: metric_type(metric[f"bqdump/{key}"]) for key in ("dump_requests", "dump_latency", "export_tasks")}

    failures = single(conditions(found["export_failures"]))
    assert f'metric.type="{types["export_tasks"]}"' in failures["filter"]
    assert 'metric.labels.task="failed"' in failures["filter"]
    assert failures["comparison"] == "COMPARISON_GT" and failures["threshold_value"] == 0  # any failure alerts

    ratio = single(conditions(found["error_ratio"]))
    assert f'metric.type="{types["dump_requests"]}"' in ratio["filter"]
    assert 'metric.labels.status=monitoring.regex.full_match("5[0-9][0-9]")' in ratio["filter"]
    assert ratio["denominator_filter"] == ratio["filter"].split(" AND metric.labels.status")[0]
    assert ratio["threshold_value"] == 0.05
    assert single(ratio["aggregations"]) == single(ratio["denominator_aggregations"])

    latency = single(conditions(found["hit_latency"]))
    assert f'metric.type="{types["dump_latency"]}"' in latency["filter"]
    assert 'metric.labels.outcome="hit"' in latency["filter"]
    assert single(latency["aggregations"])["cross_series_reducer"] == "REDUCE_PERCENTILE_95"
    assert latency["threshold_value"] == 2  # seconds, the metric's unit

    queue = single(planned.of_type("google_cloud_tasks_queue"))["values"]["name"]
    backlog = conditions(found["queue_backlog"])
    assert {re.search(r'metric.type="([^"]+)"', c["filter"]).group(1) for c in backlog} == {
        "cloudtasks.googleapis.com/queue/depth", "cloudtasks.googleapis.com/queue/task_attempt_delays"}
    assert all(f'resource.labels.queue_id="{queue}"' in c["filter"] for c in backlog)
    assert found["queue_backlog"]["combiner"] == "OR"

    uptime = single(conditions(found["uptime"]))
    assert single(uptime["aggregations"])["cross_series_reducer"] == "REDUCE_COUNT_FALSE"
    # its filter names the uptime check's id, which Google assigns: unknown until the check exists
    change = next(c for c in planned.plan_json["resource_changes"]
                  if c["type"] == "google_monitoring_alert_policy" and c["index"] == "uptime")
    assert single(single(change["change"]["after_unknown"]["conditions"])["condition_threshold"])["filter"] is True

    for key, policy in found.items():
        assert single(policy["documentation"])["content"].strip(), key  # says what to do
        assert policy["severity"] in ("CRITICAL", "ERROR", "WARNING"), key


def test_every_policy_notifies_the_email_channel_and_the_uptime_check_calls_healthz(planned):
    channel = single(planned.of_type("google_monitoring_notification_channel"))["values"]
    assert channel["type"] == "email" and channel["labels"] == {"email_address": "data-team@example.org"}
    check = single(planned.of_type("google_monitoring_uptime_check_config"))["values"]
    http = single(check["http_check"])
    assert http["path"] == "/healthz" and http["use_ssl"] is True and http["port"] == 443
    dump_url = planned.plan_json["planned_values"]["outputs"]["dump_url"]["value"]
    assert single(check["monitored_resource"])["labels"]["host"] == urlparse(dump_url).hostname
    # The channel's id is known only once it exists: the plan shows each policy's list as unknown, and
    # the configuration shows what it is made of.
    monitoring = planned.plan_json["configuration"]["root_module"]["module_calls"]["monitoring"]["module"]
    policy = next(r for r in monitoring["resources"] if r["type"] == "google_monitoring_alert_policy")
    assert "local.channels" in policy["expressions"]["notification_channels"]["references"]


def test_given_channels_are_notified_too(terraform_workspace):
    given = "projects/my-ckan-project/notificationChannels/42"
    deployment = plan_example(terraform_workspace, f'notification_channels=["{given}"]', "notification_emails=[]",
                              copy_name="terraform-channels")
    assert deployment.plan.retcode == 0, deployment.plan.output
    found = policies(deployment)
    assert set(found) == POLICIES
    assert all(policy["notification_channels"] == [given] for policy in found.values())


def test_the_dashboard_charts_the_alerted_metrics(planned):
    dashboard = json.loads(single(planned.of_type("google_monitoring_dashboard"))["values"]["dashboard_json"])
    filters = [tile["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"]["filter"]
               for tile in dashboard["mosaicLayout"]["tiles"]]
    charted = {re.search(r'metric.type="([^"]+)"', f).group(1) for f in filters}
    assert {metric_type(m) for m in metrics(planned).values()} | {
        "cloudtasks.googleapis.com/queue/depth", "cloudtasks.googleapis.com/queue/task_attempt_delays"} == charted
    tiles = dashboard["mosaicLayout"]["tiles"]
    assert all(t["xPos"] + t["width"] <= dashboard["mosaicLayout"]["columns"] for t in tiles)


def test_monitoring_can_be_turned_off(terraform_workspace):
    deployment = plan_example(terraform_workspace, "monitoring=false", copy_name="terraform-unwatched")
    assert deployment.plan.retcode == 0, deployment.plan.output
    assert not [r for r in deployment.resources() if r["type"].startswith(("google_monitoring", "google_logging"))]
    assert deployment.plan_json["planned_values"]["outputs"]["alert_policies"].get("value") is None
