"""Client security settings from the environment: refused with the variable's name when they cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog.endpoints import redacted, with_password
from eventlog.envsecret import CredentialsError
from eventlog.kafka_security import KafkaSecurity, control_login

SASL = {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "ingest"}


def test_unset_is_the_open_local_default() -> None:
    assert KafkaSecurity.from_env({}).librdkafka() == {}


def test_the_password_comes_from_its_file_and_never_shows(tmp_path: Path) -> None:
    secret = tmp_path / "ingest.password"
    secret.write_text("s3cret\n")
    security = KafkaSecurity.from_env({**SASL, "KAFKA_SASL_PASSWORD_FILE": str(secret)})
    assert security.librdkafka()["sasl.password"] == "s3cret"
    assert security.librdkafka()["sasl.mechanism"] == "SCRAM-SHA-256"
    assert "s3cret" not in repr(security) + security.describe()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KAFKA_SASL_USERNAME": "ingest"}, "KAFKA_SASL_USERNAME"),  # would silently run open
        ({"KAFKA_SECURITY_PROTOCOL": "SSL"}, "KAFKA_SECURITY_PROTOCOL"),
        ({**SASL, "KAFKA_SASL_PASSWORD": "x", "KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "x"}, "KAFKA_SASL_USERNAME"),
        (SASL, "KAFKA_SASL_PASSWORD"),
        ({**SASL, "KAFKA_SASL_PASSWORD": "x", "KAFKA_SASL_PASSWORD_FILE": "/x"}, "KAFKA_SASL_PASSWORD_FILE"),
        ({**SASL, "KAFKA_SASL_PASSWORD_FILE": "/no/such/file"}, "KAFKA_SASL_PASSWORD_FILE"),
        ({**SASL, "KAFKA_SASL_PASSWORD": "x", "KAFKA_SSL_CA_LOCATION": "/ca.pem"}, "KAFKA_SSL_CA_LOCATION"),
    ],
)
def test_settings_that_cannot_work_name_their_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(CredentialsError, match=named):
        KafkaSecurity.from_env(env)


def test_a_database_password_joins_its_url_and_is_redacted_when_shown() -> None:
    url = with_password("postgresql://aitrader_api@db:5432/aitrader", "p@ss/word")
    assert url == "postgresql://aitrader_api:p%40ss%2Fword@db:5432/aitrader"
    assert redacted(url) == "postgresql://aitrader_api:***@db:5432/aitrader"
    with pytest.raises(CredentialsError, match="DATABASE_PASSWORD"):
        with_password(url, "other")


def test_the_control_login_is_its_own_principal_and_only_when_named() -> None:
    assert control_login({**SASL, "KAFKA_SASL_PASSWORD": "api-pass"}) is None
    control = control_login(
        {**SASL, "KAFKA_SASL_PASSWORD": "api-pass", "KAFKA_CONTROL_SASL_USERNAME": "ops", "KAFKA_CONTROL_SASL_PASSWORD": "ops-pass"}
    )
    assert control is not None
    assert (control.username, control.password, control.protocol) == ("ops", "ops-pass", "SASL_PLAINTEXT")
    with pytest.raises(CredentialsError, match="KAFKA_CONTROL_SASL_PASSWORD"):
        control_login({**SASL, "KAFKA_SASL_PASSWORD": "api-pass", "KAFKA_CONTROL_SASL_USERNAME": "ops"})
