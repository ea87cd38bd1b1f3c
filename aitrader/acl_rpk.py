"""The ACL matrix as the Redpanda init script (``deploy/redpanda/acls.sh``): users and ACLs made with rpk.

Generated, committed, and checked against the matrix by ``tests/test_deploy.py``:
``python -m aitrader.acl_rpk > deploy/redpanda/acls.sh``.
"""

from __future__ import annotations

from aitrader.acl import ADMIN, PRINCIPALS, Grant, grants

HEADER = f"""#!/bin/sh
# Generated from aitrader/acl.py by `python -m aitrader.acl_rpk`; edit the matrix, not this file.
# Run once the broker is up (compose service `acls`): makes each principal's SCRAM user from its
# secret file and its ACLs. Idempotent: a user that exists gets its password set again (rotation).
set -eu
export RPK_BROKERS=redpanda:9092 RPK_ADMIN_HOSTS=redpanda:9644 RPK_SASL_MECHANISM=SCRAM-SHA-256 RPK_USER={ADMIN}
RPK_PASS="$(cat /run/secrets/kafka_{ADMIN})"
export RPK_PASS
user() {{
    password="$(cat "/run/secrets/kafka_$1")"
    rpk security user create "$1" --password "$password" --mechanism SCRAM-SHA-256 2>/dev/null \\
        || rpk security user update "$1" --new-password "$password" --mechanism SCRAM-SHA-256
}}
"""


def rpk_acl(grant: Grant) -> str:
    resource = "--cluster" if grant.resource == "cluster" else f"--{grant.resource} {grant.name}"
    pattern = " --resource-pattern-type prefixed" if grant.prefixed else ""
    operation = grant.operation.replace("_", "-")
    return f"rpk security acl create --allow-principal User:{grant.principal} --operation {operation} {resource}{pattern}"


def script() -> str:
    lines = [HEADER, *(f"user {p}" for p in PRINCIPALS), "", *(rpk_acl(g) for g in grants())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(script(), end="")
