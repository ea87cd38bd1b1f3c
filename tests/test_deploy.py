"""The Docker deployment's credentials, checked from its files (no Docker engine here to run it).

Each check fails on the compose file as it was before SASL: fixed passwords in
``environment:``, services without a login of their own, ports on every interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aitrader.acl_rpk import script

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
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
