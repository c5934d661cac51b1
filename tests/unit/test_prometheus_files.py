"""The alert rules, the scrape configuration and the Grafana dashboard in deploy/: well formed,
about metrics e-BOK defines, each alert with its runbook section in docs/operations.md."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401  (registers every e-BOK metric)
from shared.services import SERVICES
from shared.settings import Settings
from tests.support.promql import (
    ALERTS,
    ROOT,
    SCRAPE_CONFIG,
    SYNTHETIC,
    alert_rules,
    dashboard,
    dashboard_panels,
    metric_names,
    used_metrics,
)

OPERATIONS = ROOT / "docs" / "operations.md"
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def defined_samples() -> set[str]:
    """Every sample name the registry's e-BOK metrics can export (x_total, x_bucket, ...)."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum"),
    }
    for family in REGISTRY.collect():
        if family.name.startswith("ebok_"):
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    found = set()
    for line in markdown.splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


def balanced(text: str) -> bool:
    depth = 0
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"(?:\\.|[^"\\])*"', '""', text):
        if char in "([{":
            stack.append(char)
            depth += 1
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
    return not stack


def test_the_extraction_of_metric_names_from_promql() -> None:
    assert metric_names(
        'histogram_quantile(0.99, sum by (job, route, le) (rate(x_bucket{route!~"a(b)"}[5m])))'
        " > 2.5 and on (job) y offset 1d unless sum without (z) (w:v) > 1e3"
    ) == {"x_bucket", "y", "w:v"}
    assert metric_names("time() - ebok_ops_sampled_timestamp_seconds > 120") == {
        "ebok_ops_sampled_timestamp_seconds"
    }


def test_the_rule_file_is_a_list_of_named_groups_of_rules() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names)), names
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}, group["name"]
        assert group["rules"], group["name"]


RULES = alert_rules()


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in RULES]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_each_alert_is_complete(rule: dict) -> None:
    assert set(rule) <= RULE_KEYS, set(rule) - RULE_KEYS
    assert re.fullmatch(r"Ebok[A-Z][A-Za-z0-9]+", rule["alert"])
    assert isinstance(rule["expr"], str) and rule["expr"].strip()
    assert balanced(rule["expr"]), rule["expr"]
    if "for" in rule:
        assert DURATION.match(rule["for"]), rule["for"]
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    for text in annotations.values():
        assert text.count("{{") == text.count("}}"), text
    assert annotations["runbook_url"] == f"docs/operations.md#{rule['alert'].lower()}"


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_each_alert_uses_metrics_e_bok_defines(rule: dict) -> None:
    names = metric_names(rule["expr"])
    assert names, rule["expr"]
    assert names - SYNTHETIC <= defined_samples(), names - SYNTHETIC - defined_samples()


def test_each_alert_has_its_runbook_section() -> None:
    """docs/operations.md has a heading named after each alert (its runbook_url's anchor)."""
    documented = anchors(OPERATIONS.read_text())
    missing = [
        rule["alert"]
        for rule in RULES
        if rule["annotations"]["runbook_url"].partition("#")[2] not in documented
    ]
    assert not missing, f"no section in docs/operations.md for {missing}"


def test_the_scrape_config_loads_the_rules_and_scrapes_every_service() -> None:
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yaml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    ops_port = Settings.model_fields["gateway_ops_port"].default
    for service in SERVICES:
        job = jobs[f"ebok-{service.name}"]
        port = ops_port if service.public else service.port
        assert job["static_configs"] == [{"targets": [f"{service.name}:{port}"]}]
        assert job.get("metrics_path", "/metrics") == "/metrics"


def test_the_dashboard_is_a_grafana_dashboard_of_e_bok_metrics() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])
        }
        assert not cells & taken, f"{panel['title']!r} overlaps another panel"
        taken |= cells
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["datasource"]["uid"] == "${datasource}"
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert balanced(target["expr"]), target["expr"]
            names = metric_names(target["expr"])
            assert names, target["expr"]
            assert names - SYNTHETIC <= defined_samples(), (panel["title"], names)


def test_every_metric_an_alert_uses_is_on_the_dashboard() -> None:
    on_board = {
        name
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
        for name in metric_names(target["expr"])
    }
    alerted = {name for rule in RULES for name in metric_names(rule["expr"])}
    assert alerted <= on_board, alerted - on_board
    assert set(used_metrics()) == on_board | alerted


# Grafana's own variables, which Prometheus never sees: replaced as Grafana would.
GRAFANA_VARIABLES = re.compile(r"\$\{?(__rate_interval|__interval|__range)\}?")
PROMQL_CHECK = ROOT / "web" / "scripts" / "check-promql.mjs"


def unparsed(expressions: list[dict[str, str]]) -> list[dict[str, object]]:
    """The expressions that Prometheus's own PromQL grammar (@prometheus-io/lezer-promql, in
    the web app's node_modules: `make test` installs them first) does not parse."""
    done = subprocess.run(
        ["node", str(PROMQL_CHECK)],
        input=json.dumps(expressions),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_promql_check_finds_a_broken_expression() -> None:
    assert unparsed([{"name": "fine", "expr": "max(ebok_dead_letter_messages) > 0"}]) == []
    refused = unparsed([{"name": "broken", "expr": "sum(rate(ebok_messages_total[5m]) >"}])
    assert [r["name"] for r in refused] == ["broken"]


def test_every_alert_and_panel_expression_parses_as_promql() -> None:
    expressions = [{"name": f"alert {r['alert']}", "expr": r["expr"]} for r in alert_rules()]
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            expr = GRAFANA_VARIABLES.sub("5m", target["expr"])
            expressions.append({"name": f"panel {panel['title']!r}", "expr": expr})
    assert len(expressions) > 30
    assert unparsed(expressions) == []
