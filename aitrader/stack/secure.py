"""The SCRAM-secured local broker (`aitrader stack up --secure`): its listeners, passwords, users and ACLs.

It proves on Kafka 3.9 (KRaft) what the Redpanda deployment does: clients log in
with SCRAM on the client port, and the StandardAuthorizer allows each principal
only what ``aitrader/acl.py`` grants. The broker itself and this stack's admin
tooling use PLAIN on two loopback listeners of their own (controller, internal):
KRaft cannot use SCRAM there (SCRAM users live in the metadata those listeners
serve), and no password ever goes on a command line.

Passwords are random, made once, one file per principal under the broker's
``secrets/`` (mode 0600): point ``KAFKA_SASL_PASSWORD_FILE`` at one to act as that principal.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from aitrader.acl import ADMIN, PRINCIPALS, Grant
from aitrader.stack.paths import LOCAL_HOST, StackPaths, kafka_port
from eventlog.kafka_security import MECHANISMS, KafkaSecurity, client_config

ADMIN_TIMEOUT_S = 30.0
SCRAM_ITERATIONS = 8192
_SCRAM = {"SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256, "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512}
_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}


def password_file(paths: StackPaths, principal: str) -> Path:
    return paths.secrets / f"{principal}.password"


def ensure_passwords(paths: StackPaths) -> None:
    """A random password file for the admin and each principal that has none yet."""
    paths.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    for principal in (ADMIN, *PRINCIPALS):
        path = password_file(paths, principal)
        if not path.is_file():
            # O_EXCL + 0600: never readable by others, never overwriting a password a client already uses.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(24) + "\n")


def _password(paths: StackPaths, principal: str) -> str:
    return password_file(paths, principal).read_text().strip()


def internal_bootstrap() -> str:
    return f"{LOCAL_HOST}:{kafka_port(secure=True) + 2}"


def admin_security(paths: StackPaths) -> KafkaSecurity:
    """The stack's own login, on the internal listener."""
    return KafkaSecurity("SASL_PLAINTEXT", "PLAIN", ADMIN, _password(paths, ADMIN))


def listener_lines(paths: StackPaths) -> list[str]:
    """The server.properties lines that differ from the open broker's."""
    port = kafka_port(secure=True)
    admin = _password(paths, ADMIN)
    plain = (
        'org.apache.kafka.common.security.plain.PlainLoginModule required '
        f'username="{ADMIN}" password="{admin}" user_{ADMIN}="{admin}";'
    )
    return [
        "# SCRAM for clients on the client port; PLAIN (static admin) for the controller and the internal listener.",
        f"listeners=CLIENT://{LOCAL_HOST}:{port},CONTROLLER://{LOCAL_HOST}:{port + 1},INTERNAL://{LOCAL_HOST}:{port + 2}",
        f"advertised.listeners=CLIENT://{LOCAL_HOST}:{port},INTERNAL://{LOCAL_HOST}:{port + 2}",
        f"controller.quorum.voters=1@{LOCAL_HOST}:{port + 1}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT",
        "inter.broker.listener.name=INTERNAL",
        "sasl.mechanism.inter.broker.protocol=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        f"listener.name.client.sasl.enabled.mechanisms={','.join(MECHANISMS)}",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "listener.name.internal.sasl.enabled.mechanisms=PLAIN",
        *(
            f"listener.name.client.{m.lower()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
            for m in MECHANISMS
        ),
        f"listener.name.controller.plain.sasl.jaas.config={plain}",
        f"listener.name.internal.plain.sasl.jaas.config={plain}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{ADMIN}",
        "allow.everyone.if.no.acl.found=false",
    ]


def admin_client(paths: StackPaths) -> AdminClient:
    return AdminClient({**client_config(internal_bootstrap(), admin_security(paths)), "log_level": 0})


def ensure_users(paths: StackPaths) -> None:
    """SCRAM credentials (both mechanisms) for the admin and every principal, from their password files. Idempotent."""
    admin = admin_client(paths)  # kept alive until the futures resolve
    for mechanism in MECHANISMS:  # the broker takes one change per user per request
        upserts = [
            UserScramCredentialUpsertion(
                principal, ScramCredentialInfo(_SCRAM[mechanism], SCRAM_ITERATIONS), _password(paths, principal).encode()
            )
            for principal in (ADMIN, *PRINCIPALS)
        ]
        for future in admin.alter_user_scram_credentials(upserts, request_timeout=ADMIN_TIMEOUT_S).values():
            future.result()


def binding(grant: Grant) -> AclBinding:
    return AclBinding(
        _RESOURCES[grant.resource],
        grant.name,
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        f"User:{grant.principal}",
        "*",
        AclOperation[grant.operation.upper()],
        AclPermissionType.ALLOW,
    )


def ensure_acls(admin: AdminClient, grants: Iterable[Grant]) -> None:
    """Creates the ACLs (creating one that exists is a no-op on the broker)."""
    for future in admin.create_acls([binding(g) for g in grants], request_timeout=ADMIN_TIMEOUT_S).values():
        future.result()
