"""How every Kafka client of this process authenticates: read once from the environment, applied everywhere.

Unset means the local default, an open ``PLAINTEXT`` broker on loopback. A secured
broker (SASL/SCRAM, ``deploy/compose.yml``, ``aitrader stack up --secure``) needs

- ``KAFKA_SECURITY_PROTOCOL``: ``SASL_PLAINTEXT`` or ``SASL_SSL``;
- ``KAFKA_SASL_MECHANISM``: ``SCRAM-SHA-256`` (default) or ``SCRAM-SHA-512``;
- ``KAFKA_SASL_USERNAME`` and ``KAFKA_SASL_PASSWORD`` or ``KAFKA_SASL_PASSWORD_FILE``;
- with ``SASL_SSL``, optionally ``KAFKA_SSL_CA_LOCATION`` (else the system's CAs).

The principal decides what the process may do on the log (``aitrader/acl.py``).
A setting that cannot work (a user name over PLAINTEXT, a password without a
user) is refused with the variable's name rather than silently running open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from eventlog.envsecret import CredentialsError, secret

PROTOCOL_ENV = "KAFKA_SECURITY_PROTOCOL"
MECHANISM_ENV = "KAFKA_SASL_MECHANISM"
CA_ENV = "KAFKA_SSL_CA_LOCATION"
PRINCIPAL_ENV = "KAFKA_SASL"  # + _USERNAME, _PASSWORD, _PASSWORD_FILE
# The API reads the log as `api`, which may not write `inputs`; its control endpoints (ops' kill switch and
# settings) write as the principal named here, so the API process holds ops' write right for those alone.
CONTROL_PRINCIPAL_ENV = "KAFKA_CONTROL_SASL"

OPEN = "PLAINTEXT"
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = OPEN
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_location: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, principal: str = PRINCIPAL_ENV) -> KafkaSecurity:
        """The settings of the environment (``os.environ`` unless given), logging in as ``principal``'s variables."""
        env = os.environ if environ is None else environ
        user_env, password_env = f"{principal}_USERNAME", f"{principal}_PASSWORD"
        protocol = env.get(PROTOCOL_ENV, "").strip().upper() or OPEN
        username = env.get(user_env, "").strip() or None
        password = secret(password_env, env)
        mechanism = env.get(MECHANISM_ENV, "").strip().upper() or None
        if protocol == OPEN:
            stray = [name for name, value in ((user_env, username), (password_env, password), (MECHANISM_ENV, mechanism)) if value]
            if stray:
                raise CredentialsError(
                    f"{stray[0]} is set but {PROTOCOL_ENV} is {OPEN} (or unset): set {PROTOCOL_ENV} to one of "
                    f"{', '.join(SASL_PROTOCOLS)}, or unset {stray[0]}"
                )
            return cls()
        if protocol not in SASL_PROTOCOLS:
            raise CredentialsError(f"{PROTOCOL_ENV}={protocol}: use {OPEN} (local default) or one of {', '.join(SASL_PROTOCOLS)}")
        mechanism = mechanism or MECHANISMS[0]
        if mechanism not in MECHANISMS:
            raise CredentialsError(f"{MECHANISM_ENV}={mechanism}: use one of {', '.join(MECHANISMS)}")
        if not username:
            raise CredentialsError(f"{PROTOCOL_ENV}={protocol} needs {user_env}")
        if not password:
            raise CredentialsError(f"{PROTOCOL_ENV}={protocol} needs {password_env} or {password_env}_FILE")
        ca = env.get(CA_ENV, "").strip() or None
        if ca and protocol != "SASL_SSL":
            raise CredentialsError(f"{CA_ENV} is set but {PROTOCOL_ENV} is {protocol}, which does not use TLS")
        return cls(protocol, mechanism, username, password, ca)

    @property
    def authenticated(self) -> bool:
        return self.protocol != OPEN

    def describe(self) -> str:
        """For people and logs: never the password."""
        if not self.authenticated:
            return f"{OPEN}: no authentication, no encryption"
        return f"{self.protocol} {self.mechanism} as {self.username}"

    def librdkafka(self) -> dict[str, str]:
        """The confluent-kafka (librdkafka) settings."""
        if not self.authenticated:
            return {}
        config = {
            "security.protocol": self.protocol,
            "sasl.mechanism": str(self.mechanism),
            "sasl.username": str(self.username),
            "sasl.password": str(self.password),
        }
        if self.ca_location:
            config["ssl.ca.location"] = self.ca_location
        return config


def control_login(environ: Mapping[str, str] | None = None) -> KafkaSecurity | None:
    """The login control events are written with, when the environment names one (else the process's own)."""
    env = os.environ if environ is None else environ
    if not env.get(f"{CONTROL_PRINCIPAL_ENV}_USERNAME", "").strip():
        return None
    return KafkaSecurity.from_env(env, CONTROL_PRINCIPAL_ENV)


def client_config(bootstrap_servers: str, security: KafkaSecurity | None = None) -> dict[str, object]:
    """The start of every confluent-kafka client's config: where the broker is and how to log in to it."""
    chosen = KafkaSecurity.from_env() if security is None else security
    return {"bootstrap.servers": bootstrap_servers, **chosen.librdkafka()}
