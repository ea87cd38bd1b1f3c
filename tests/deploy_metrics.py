"""The metric names the Grafana dashboard and the alert rules under deploy/ use.

Shared by the static deploy tests (tests/test_deploy.py) and the live scrape that checks every one of them
exists in a running process's /metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "aitrader.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

# A metric name can only start where no identifier character precedes it (not inside `my_aitrader_x`).
_NAME = re.compile(r"(?<![A-Za-z0-9_:])aitrader_[a-z0-9_]+")
# String literals (label values, which may look like names) and comments are not where metric names are.
_NOT_NAMES = re.compile(r'''"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|#[^\n]*''')
# The series a histogram is scraped as; the dashboard names `x_bucket`, the process exposes histogram `x`.
_HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def _exprs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item)


def dashboard_expressions() -> list[str]:
    """Every PromQL expression of the dashboard's panels (Grafana's `$__rate_interval` left in)."""
    return list(_exprs(json.loads(DASHBOARD.read_text())))


def rule_expressions() -> dict[str, str]:
    """Alert name -> PromQL expression, for every rule of deploy/prometheus/alerts.yml."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def metric_names(expression: str) -> set[str]:
    """The aitrader_* metric names an expression reads, histogram series folded into their histogram's name."""
    return {_HISTOGRAM_SERIES.sub("", name) for name in _NAME.findall(_NOT_NAMES.sub(" ", expression))}


def deploy_metric_names() -> set[str]:
    """Every metric name the dashboard and the alert rules use."""
    names: set[str] = set()
    for expression in [*dashboard_expressions(), *rule_expressions().values()]:
        names |= metric_names(expression)
    return names
