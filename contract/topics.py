"""The topic catalog: every topic AITrader uses, with the settings it must have.

Topics are created from here (``aitrader topics create``), never by broker
auto-creation or by Faust defaults: our records carry 2013 event times as their
Kafka timestamps, and any time-based retention would delete them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract import events

KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicSpec:
    """One logical topic. ``name`` is logical; a namespace prefix may be added on the broker."""

    name: str
    partitions: int
    key: str
    description: str
    config: dict[str, str] = field(default_factory=lambda: dict(KEEP_FOREVER))


# Every per-symbol topic is co-partitioned with the inputs: same count, same key (the symbol).
SYMBOL_PARTITIONS = 3

INPUTS = TopicSpec(
    "inputs",
    SYMBOL_PARTITIONS,
    "symbol",
    "The kernel's sequenced input: ticks, kill-switch, config and model activations; its order is the order of decisions.",
)
SIGNALS = TopicSpec("signals", SYMBOL_PARTITIONS, "symbol", "Pattern signals with their feature snapshots.")
INTENTS = TopicSpec("intents", SYMBOL_PARTITIONS, "symbol", "Scored order intents from the strategy.")
ORDERS = TopicSpec(
    "orders",
    SYMBOL_PARTITIONS,
    "symbol",
    "Order lifecycle: initialized, accepted, denied (by our risk), rejected (by a venue), canceled, expired.",
)
FILLS = TopicSpec("fills", SYMBOL_PARTITIONS, "symbol", "Executions (OrderFilled) from the execution simulator or a venue.")
CONTROL = TopicSpec(
    "control",
    SYMBOL_PARTITIONS,
    "partition",
    "What each kernel applied of its control inputs: the trading states, settings and model in force on its partition.",
)
SNAPSHOTS = TopicSpec("snapshots", SYMBOL_PARTITIONS, "symbol", "Kernel state per partition at session boundaries and intervals.")
MANIFESTS = TopicSpec("manifests", 1, "run", "Run manifests: code, config, model and schema versions of each run.")
DEAD_LETTER = TopicSpec("dead-letter", 1, "source topic", "Records that could not be processed, with the reason.")
AUDIT_CHECKPOINTS = TopicSpec(
    "audit.checkpoints",
    1,
    "topic",
    "Signed hash-chain checkpoints of the event topics, and the root key's statements about the notary keys.",
)
OPS_DECISIONS = TopicSpec(
    "ops.decisions", 1, "projection", "Ops' audited decisions about records, e.g. a refused record a projection may skip."
)

CATALOG: tuple[TopicSpec, ...] = (
    INPUTS,
    SIGNALS,
    INTENTS,
    ORDERS,
    FILLS,
    CONTROL,
    SNAPSHOTS,
    MANIFESTS,
    DEAD_LETTER,
    AUDIT_CHECKPOINTS,
    OPS_DECISIONS,
)

# What the kernel derives from its inputs: the topics a replay rebuilds and compares.
DERIVED: tuple[TopicSpec, ...] = (SIGNALS, INTENTS, ORDERS, FILLS, CONTROL)


def by_name(name: str) -> TopicSpec:
    for spec in CATALOG:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown topic {name!r}; catalog topics: {', '.join(s.name for s in CATALOG)}")


@dataclass(frozen=True)
class Namespace:
    """Maps logical topic names to broker names: live uses none, a replay ``replay.NAME.``, tests their own."""

    prefix: str = ""

    def topic(self, spec_or_name: TopicSpec | str) -> str:
        name = spec_or_name.name if isinstance(spec_or_name, TopicSpec) else spec_or_name
        return f"{self.prefix}{name}"

    def logical(self, broker_name: str) -> str:
        if not broker_name.startswith(self.prefix):
            raise ValueError(f"topic {broker_name!r} is not in namespace {self.prefix!r}")
        return broker_name[len(self.prefix) :]


LIVE = Namespace()


def topic_for(event: object) -> TopicSpec:
    """Where an event of each type lives on the log."""
    routes: dict[type, TopicSpec] = {
        events.Tick: INPUTS,
        events.TradingStateChanged: INPUTS,
        events.ConfigChanged: INPUTS,
        events.Signal: SIGNALS,
        events.OrderIntent: INTENTS,
        events.OrderInitialized: ORDERS,
        events.OrderAccepted: ORDERS,
        events.OrderDenied: ORDERS,
        events.OrderRejected: ORDERS,
        events.OrderCanceled: ORDERS,
        events.OrderExpired: ORDERS,
        events.OrderFilled: FILLS,
        events.TradingStateApplied: CONTROL,
        events.ConfigApplied: CONTROL,
        events.KernelSnapshotTaken: SNAPSHOTS,
        events.RunManifestRecorded: MANIFESTS,
        events.DeadLettered: DEAD_LETTER,
        events.AuditCheckpointSealed: AUDIT_CHECKPOINTS,
        events.NotaryKeyCertified: AUDIT_CHECKPOINTS,
        events.ProjectionRecordSkipped: OPS_DECISIONS,
        events.NewsScored: INPUTS,
        events.ModelActivated: INPUTS,
        events.ModelApplied: CONTROL,
    }
    return routes[type(event)]
