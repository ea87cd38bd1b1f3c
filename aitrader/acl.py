"""Who may do what on the log: the one ACL matrix both the local secured broker and Redpanda are built from.

Each process logs in as one principal (``eventlog.kafka_security``):

- ``ingest`` writes ticks and ``ops`` writes control events onto ``inputs``: no one else
  may put a HALT, a ConfigChanged or a tick in front of the kernel;
- ``kernel`` reads ``inputs`` and writes what it derives (and its snapshots, manifests,
  dead letters); it cannot write ``inputs``, so a bug or a thief in it cannot feed itself;
- ``projector``, ``api`` and ``notary`` read; the projector dead-letters records it cannot
  decode, the notary writes its checkpoints;
- ``ops`` and ``api`` run replays, which write only under ``replay.`` (never live topics);
- ``admin`` is the super user: creates topics, users and ACLs, and nothing runs as it.

Topic names carry the namespace prefix, so a matrix is for one namespace (live: none).
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.topics import (
    AUDIT_CHECKPOINTS,
    CATALOG,
    DEAD_LETTER,
    DERIVED,
    INPUTS,
    LIVE,
    MANIFESTS,
    OPS_DECISIONS,
    SNAPSHOTS,
    Namespace,
    TopicSpec,
)
from processors.live.app import group_id
from processors.replay.names import REPLAY_PREFIX

ADMIN = "admin"
INGEST, OPS, KERNEL, PROJECTOR, API, NOTARY = "ingest", "ops", "kernel", "projector", "api", "notary"
PRINCIPALS = (INGEST, OPS, KERNEL, PROJECTOR, API, NOTARY)

WRITES: dict[str, tuple[TopicSpec, ...]] = {
    INGEST: (INPUTS,),
    OPS: (INPUTS, OPS_DECISIONS),  # `aitrader control`, the account monitor, `projections skip`
    KERNEL: (*DERIVED, SNAPSHOTS, MANIFESTS, DEAD_LETTER),
    PROJECTOR: (DEAD_LETTER,),
    API: (),  # reads; its control endpoints need ops' rights (README: Threat model: credentials)
    NOTARY: (AUDIT_CHECKPOINTS,),  # checkpoints, and the root's key statements (`audit keys publish`)
}
READS: dict[str, tuple[TopicSpec, ...]] = {
    INGEST: (INPUTS,),  # resumes after the last tick already on the log
    OPS: CATALOG,
    KERNEL: (INPUTS, SNAPSHOTS, MANIFESTS),  # recovery starts from a snapshot
    PROJECTOR: CATALOG,
    API: CATALOG,
    NOTARY: CATALOG,
}
REPLAYERS = (OPS, API)
# Assign-only readers name a group they never commit to, but librdkafka still looks up its coordinator, which
# the broker refuses without DESCRIBE on the group (and then the read fails). DESCRIBE cannot commit offsets.
READER_GROUPS = ("aitrader-reader", "aitrader-admin", "aitrader-api-probe", "aitrader-api-monitor")


@dataclass(frozen=True, order=True)
class Grant:
    """ALLOW ``principal`` to ``operation`` on a resource (``topic``, ``group`` or ``cluster``)."""

    principal: str
    resource: str
    name: str
    operation: str
    prefixed: bool = False


def grants(namespace: Namespace = LIVE) -> tuple[Grant, ...]:
    """Every ACL of the matrix for topics under ``namespace``, sorted (renderings compare as text)."""
    found: set[Grant] = set()
    for principal in PRINCIPALS:
        found.update(Grant(principal, "topic", namespace.topic(spec), "read") for spec in READS[principal])
        found.update(Grant(principal, "topic", namespace.topic(spec), "write") for spec in WRITES[principal])
        found.update(Grant(principal, "group", group, "describe") for group in READER_GROUPS)
    for principal in (*(p for p in PRINCIPALS if WRITES[p]), *REPLAYERS):
        # Our producers are idempotent; Redpanda asks for this explicitly, Kafka accepts WRITE on a topic instead.
        found.add(Grant(principal, "cluster", "kafka-cluster", "idempotent_write"))
    found.add(Grant(KERNEL, "group", group_id(namespace), "read"))
    found.add(Grant(API, "group", group_id(namespace), "describe"))  # the kernel's lag on /api/status
    replays = Namespace(namespace.prefix + REPLAY_PREFIX)  # every replay.NAME. namespace (processors.replay.names)
    for principal in REPLAYERS:
        found.update(Grant(principal, "topic", replays.prefix, op, prefixed=True) for op in ("create", "read", "write"))
        found.add(Grant(principal, "group", group_id(replays) + ".", "read", prefixed=True))
    return tuple(sorted(found))
