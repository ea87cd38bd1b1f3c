"""The domain events of AITrader: frozen, fully specified facts.

Every event that crosses the log is one of these dataclasses. Each maps field
for field onto an Avro record under ``schemas/events/`` (the contract); the
mapping is checked by ``tests/test_schemas.py``. Money, prices, quantities and
scores are exact ``Decimal`` values here and scaled integers on the wire (an
Avro field ``price_e8`` carries ``Decimal`` attribute ``price`` times 10^8), so
no float ever reaches P&L. Times are integer epoch milliseconds (UTC).

This module imports only the standard library: it is shared by the pure
decision code and by every adapter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar


class Side(str, enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(str, enum.Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(str, enum.Enum):
    DAY = "DAY"
    IOC = "IOC"
    GTC = "GTC"


class TradingState(str, enum.Enum):
    """Like NautilusTrader's trading states: what new orders the risk gate lets through."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every event carries besides its payload.

    ``producer`` names the logical stage and code version (``kernel/0.2.0``),
    never a host or process, so live and replay produce the same bytes.
    ``causation_id`` is the event that directly caused this one (None for
    external inputs); ``correlation_id`` ties a whole chain together.
    """

    event_id: str
    event_time_ms: int
    producer: str
    causation_id: str | None
    correlation_id: str


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events; ``SCHEMA`` is the Avro full name of its record."""

    SCHEMA: ClassVar[str] = ""
    envelope: Envelope

    @property
    def event_id(self) -> str:
        return self.envelope.event_id

    @property
    def event_time_ms(self) -> int:
        return self.envelope.event_time_ms


# --- market data -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick(Event):
    """A trade print, with room for the top of book when the source has it.

    ``sequence`` orders the ticks of one (venue, symbol) across files and days:
    ``event_time_ms * 1_000_000 + n``, n the tick's position among its file's
    ticks of the same millisecond (``contract.sequencing``). The same trade loaded
    twice (a feed replaying after a reconnect, a file loaded again) has the same
    sequence, and the kernel refuses a tick whose sequence is not after the last
    one it applied for its (venue, symbol).
    """

    SCHEMA: ClassVar[str] = "aitrader.events.Tick"
    symbol: str
    venue: str
    sequence: int
    price: Decimal
    size: Decimal
    bid_price: Decimal | None = None
    bid_size: Decimal | None = None
    ask_price: Decimal | None = None
    ask_size: Decimal | None = None


# --- control inputs (ops, config, recorded manifests) ------------------------


@dataclass(frozen=True, slots=True)
class TradingStateChanged(Event):
    """The kill switch. ``symbol`` None means every symbol of the partition."""

    SCHEMA: ClassVar[str] = "aitrader.events.TradingStateChanged"
    symbol: str | None
    state: TradingState
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class ConfigChanged(Event):
    """Settings in force from this point of the log on (``risk.max_order_qty`` = ``5``)."""

    SCHEMA: ClassVar[str] = "aitrader.events.ConfigChanged"
    symbol: str | None
    settings: dict[str, str]
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class RunManifestRecorded(Event):
    """What ran: code, configuration, model and schema versions, at a run's start."""

    SCHEMA: ClassVar[str] = "aitrader.events.RunManifestRecorded"
    code_version: str
    config_hash: str
    settings: dict[str, str]
    model_name: str
    model_version: str
    model_sha256: str
    schema_fingerprints: dict[str, str]
    # Where the scores were computed (an ONNX Runtime provider, the native TensorRT engine, "python" for a
    # formula); None in a manifest recorded before the field. A replay on another one says so.
    scoring_provider: str | None = None


# --- kernel outputs ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal(Event):
    """A pattern fired; ``score`` in [-1, 1], its sign is the direction."""

    SCHEMA: ClassVar[str] = "aitrader.events.Signal"
    symbol: str
    pattern: str
    score: Decimal
    features: dict[str, float]


@dataclass(frozen=True, slots=True)
class OrderIntent(Event):
    """The strategy wants this order; risk has not looked at it yet."""

    SCHEMA: ClassVar[str] = "aitrader.events.OrderIntent"
    symbol: str
    signal_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    time_in_force: TimeInForce
    score: Decimal
    model_name: str
    model_version: str
    # Schema v2: the scored model's SHA-256 (inference.scorer.Scorer.sha256); "" on intents written before it.
    model_sha256: str = ""


@dataclass(frozen=True, slots=True)
class OrderInitialized(Event):
    """An order was created from an intent (status NEW)."""

    SCHEMA: ClassVar[str] = "aitrader.events.OrderInitialized"
    order_id: str
    intent_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    time_in_force: TimeInForce
    expire_time_ms: int | None


@dataclass(frozen=True, slots=True)
class OrderAccepted(Event):
    SCHEMA: ClassVar[str] = "aitrader.events.OrderAccepted"
    order_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class OrderDenied(Event):
    """Our pre-trade risk refused the order before it reached any venue.

    Kept apart from ``OrderRejected`` (as NautilusTrader keeps its risk engine's
    denials apart from venue rejections) so that "our limits said no" never reads
    as "the market said no". ``reason`` is the failed check's stable code
    (``oms.risk.DenialReason``), ``detail`` the numbers behind it, for people.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.OrderDenied"
    order_id: str
    symbol: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class OrderRejected(Event):
    """A venue refused the order; ``reason`` is the venue's code, ``detail`` for people.

    No venue rejects today (the simulator accepts every order risk let through),
    but the type stays: a real venue will need it, and logs written before
    ``OrderDenied`` existed carry pre-trade risk refusals as ``OrderRejected``,
    which must keep decoding and projecting as they were written.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.OrderRejected"
    order_id: str
    symbol: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class OrderFilled(Event):
    """One execution against an order (the fill)."""

    SCHEMA: ClassVar[str] = "aitrader.events.OrderFilled"
    order_id: str
    fill_id: str
    symbol: str
    side: Side
    last_qty: Decimal
    last_price: Decimal
    fee: Decimal
    liquidity: str


@dataclass(frozen=True, slots=True)
class OrderCanceled(Event):
    SCHEMA: ClassVar[str] = "aitrader.events.OrderCanceled"
    order_id: str
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderExpired(Event):
    SCHEMA: ClassVar[str] = "aitrader.events.OrderExpired"
    order_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class TradingStateApplied(Event):
    """The kernel applied a kill-switch input: the trading states its partition holds from here on.

    ``symbol`` and ``state`` repeat what was asked (``symbol`` None: the whole
    partition). ``partition_state`` holds for every symbol of the partition,
    those not seen yet included; ``symbol_states`` are the states set for single
    symbols. A symbol trades under the more severe of its own and the
    partition's, so this event alone tells what any symbol may do.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.TradingStateApplied"
    partition: int
    symbol: str | None
    state: TradingState
    partition_state: TradingState
    symbol_states: dict[str, str]
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class ConfigApplied(Event):
    """The kernel applied settings: what is in force on its partition from here on.

    ``changed`` is the change as applied (for a kernel that starts empty: all its
    settings); ``settings`` are the partition-wide settings after it, reference
    data (``instrument.*``) included, and ``symbol_settings`` each symbol's
    overrides. The read side (projections, the account monitor) takes its
    instruments from these events, so it values fills as the kernel booked them.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.ConfigApplied"
    partition: int
    symbol: str | None
    changed: dict[str, str]
    settings: dict[str, str]
    symbol_settings: dict[str, dict[str, str]]
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class KernelSnapshotTaken(Event):
    """The kernel's whole state for one partition after applying ``input_offset``.

    ``state_json`` is canonical JSON (sorted keys) so equal states give equal bytes.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.KernelSnapshotTaken"
    partition: int
    input_offset: int
    reason: str
    state_json: str


# --- operations --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLettered(Event):
    """A record that could not be processed, kept whole with the reason."""

    SCHEMA: ClassVar[str] = "aitrader.events.DeadLettered"
    source_topic: str
    source_partition: int
    source_offset: int
    stage: str
    error_type: str
    reason: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditCheckpointSealed(Event):
    """The notary's signed head of one partition's hash chain over ``records`` records up to ``last_offset``.

    The envelope's event time is the sealed record's timestamp; ``head`` and
    ``signature`` are hex (SHA-256 chain link, Ed25519 over the other fields).
    ``audit.events.Checkpoint`` says what each format signs.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.AuditCheckpointSealed"
    topic: str
    partition: int
    last_offset: int
    records: int
    head: str
    key_id: str
    signature: str
    # Format v2 (schema v2). The defaults are what a checkpoint written before them reads as.
    format: str = "aitrader.audit.checkpoint.v1"
    namespace: str = ""
    topic_offsets: list[int] = field(default_factory=list)
    sequence: int = -1


@dataclass(frozen=True, slots=True)
class NotaryKeyCertified(Event):
    """The operator's root key says which checkpoint sequences a notary key may sign in ``namespace``.

    A certificate carries ``public_key`` and ``valid_from``; a statement with
    ``valid_until`` ends the key there: retired (its earlier checkpoints stand)
    or ``compromised`` (they count only inside a chain a good key sealed later).
    It sits on ``audit.checkpoints`` beside the checkpoints it vouches for, so
    rotation rests on the root, never on the old notary key.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.NotaryKeyCertified"
    namespace: str
    key_id: str
    public_key: str
    valid_from: int
    valid_until: int | None
    compromised: bool
    root_key_id: str
    signature: str


@dataclass(frozen=True, slots=True)
class ProjectionRecordSkipped(Event):
    """Ops decided that ``projection`` skips the record at ``offset`` of ``topic`` partition ``partition``.

    The projector stops at a record its read model refuses rather than lose it
    silently; this is the human decision that lets it pass, kept on the log so
    every projector and every rebuild skips the same record and an auditor sees
    who decided and why. ``topic`` is the logical name; the event time is the
    skipped record's own.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.ProjectionRecordSkipped"
    projection: str
    topic: str
    partition: int
    offset: int
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class NewsScored(Event):
    """A news item naming ``symbol``, with the sentiment score it was given before it was sequenced.

    One event per symbol the item names, on that symbol's input partition, so
    each kernel sees the news of its own symbols in its own sequenced order; the
    copies share ``news_id`` (and the envelope's correlation id). ``sequence``
    orders one symbol's news like a tick's (``event_time_ms * 1_000_000 + n``,
    ``contract.sequencing``), so the same item ingested twice is refused.
    ``score`` in [-1, 1] (positive minus negative, quantized to 1e-6) was
    computed by the named scorer at ingest: a replay reads it and never runs
    the sentiment model again.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.NewsScored"
    symbol: str
    sequence: int
    news_id: str
    headline: str
    source: str
    symbols: list[str]
    score: Decimal
    scorer_name: str
    scorer_version: str
    scorer_sha256: str


@dataclass(frozen=True, slots=True)
class ModelActivated(Event):
    """Ops activate a model from this point of the log on: the kernel scores with it from the next input.

    ``sha256`` pins the build (``inference.scorer.Scorer.sha256``), so a replay
    scores with exactly the model live had at that offset, or refuses.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.ModelActivated"
    name: str
    version: str
    sha256: str
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class ModelApplied(Event):
    """What the kernel made of a ``ModelActivated``: the model its partition scores with from here on, or none.

    ``refusal`` None: the model is active. Otherwise the kernel could not
    provide exactly that model (unknown, another build) and the partition
    fails closed: no intents until a model it can provide is activated.
    """

    SCHEMA: ClassVar[str] = "aitrader.events.ModelApplied"
    partition: int
    name: str
    version: str
    sha256: str
    refusal: str | None
    reason: str
    actor: str


ALL_EVENT_TYPES: tuple[type[Event], ...] = (
    Tick,
    TradingStateChanged,
    ConfigChanged,
    RunManifestRecorded,
    Signal,
    OrderIntent,
    OrderInitialized,
    OrderAccepted,
    OrderDenied,
    OrderRejected,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
    TradingStateApplied,
    ConfigApplied,
    KernelSnapshotTaken,
    DeadLettered,
    AuditCheckpointSealed,
    NotaryKeyCertified,
    ProjectionRecordSkipped,
    NewsScored,
    ModelActivated,
    ModelApplied,
)
