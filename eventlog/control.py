"""Puts ops' control events (kill switch, configuration, model activation) onto the kernel's input topic.

They go to the same partitions as the ticks, so the kernel meets them in log
order like any other input. Each is stamped with its partition's current event
time (the timestamp of the partition's last record), never the wall clock: one
2026-stamped record among 2013 ticks would make offset-by-time lookups return
it and cut a trading day short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from contract import __version__
from contract.events import (
    ConfigChanged,
    Envelope,
    Event,
    ModelActivated,
    TradingState,
    TradingStateChanged,
)
from contract.ids import id_from_parts
from contract.partitioner import partition_for
from contract.topics import INPUTS, Namespace
from eventlog.consumer import LogReader
from eventlog.kafka_security import KafkaSecurity
from eventlog.producer import EventProducer

PRODUCER = f"control/{__version__}"
# The earliest time a record can carry: a producer reads a timestamp of 0 as "now", the wall clock.
EARLIEST_TIME_MS = 1


def partition_clock(reader: LogReader, topic: str) -> dict[int, tuple[int, int]]:
    """partition -> (end offset, event time of its last record).

    An empty partition has no time of its own yet: it takes the latest time of
    the others (the account's "now" in event time), or ``EARLIEST_TIME_MS`` on
    an empty topic, so a halt sent before a partition's first tick never lands
    with a wall-clock timestamp among event times.
    """
    clock = {}
    for partition, (low, high) in reader.watermarks(topic).items():
        if high > low:
            (last,) = next(reader.read(topic, {partition: (high - 1, high)}))
            clock[partition] = (high, last.timestamp_ms)
    latest = max((time_ms for _, time_ms in clock.values()), default=EARLIEST_TIME_MS)
    for partition, (low, high) in reader.watermarks(topic).items():
        if high <= low:
            clock[partition] = (high, latest)
    return clock


def publish_control(
    bootstrap: str,
    namespace: Namespace,
    symbol: str | None,
    build: Callable[[Envelope], Event],
    request: str,
    security: KafkaSecurity | None = None,
) -> list[tuple[int, Event]]:
    """Writes one control event to the symbol's partition, or to every partition when ``symbol`` is None.

    ``request`` names the request (e.g. ``halt ES by alice: reason``); with the
    partition's end offset it makes the event id, so one request read twice at
    the same point of the log gives one id. ``security`` is the login to write
    with (the process's own when None).
    """
    topic = namespace.topic(INPUTS)
    with LogReader(bootstrap, security) as reader:
        clock = partition_clock(reader, topic)
    targets = [partition_for(symbol, len(clock))] if symbol else sorted(clock)
    producer = EventProducer(bootstrap, namespace, security=security)
    written = []
    for partition in targets:
        end_offset, time_ms = clock[partition]
        event_id = id_from_parts("control", INPUTS.name, partition, end_offset, request)
        event = build(Envelope(event_id, time_ms, PRODUCER, None, event_id))
        producer.send(INPUTS, symbol or "*", event, partition=partition)
        written.append((partition, event))
    producer.flush()
    return written


def publish_trading_state(
    bootstrap: str,
    namespace: Namespace,
    state: TradingState,
    symbol: str | None,
    reason: str,
    actor: str,
    security: KafkaSecurity | None = None,
) -> list[tuple[int, Event]]:
    """The kill switch: HALTED, REDUCING or ACTIVE for ``symbol`` (every symbol when None)."""
    request = f"{state.value} {symbol or '*'} by {actor}: {reason}"
    return publish_control(
        bootstrap, namespace, symbol, lambda envelope: TradingStateChanged(envelope, symbol, state, reason, actor), request, security
    )


def publish_settings(
    bootstrap: str,
    namespace: Namespace,
    settings: Mapping[str, str],
    symbol: str | None,
    reason: str,
    actor: str,
    security: KafkaSecurity | None = None,
) -> list[tuple[int, Event]]:
    """A configuration change from this point of the log on.

    The caller checks ``settings`` first (``kernel.settings.validate_change``,
    which this layer cannot import); the kernel refuses bad ones too.
    """
    changed = dict(settings)
    request = f"set {sorted(changed.items())} {symbol or '*'} by {actor}: {reason}"
    return publish_control(
        bootstrap, namespace, symbol, lambda envelope: ConfigChanged(envelope, symbol, changed, reason, actor), request, security
    )


def publish_model_activation(
    bootstrap: str,
    namespace: Namespace,
    name: str,
    version: str,
    sha256: str,
    reason: str,
    actor: str,
    security: KafkaSecurity | None = None,
) -> list[tuple[int, Event]]:
    """Every partition's kernel scores with this exact build from this point of the log on.

    The caller checks first that the model can be provided (``inference.models.load_scorer``,
    which this layer does not use); a kernel that cannot provide it fails closed.
    """
    request = f"activate {name}@{version} {sha256} by {actor}: {reason}"
    return publish_control(
        bootstrap,
        namespace,
        None,
        lambda envelope: ModelActivated(envelope, name, version, sha256, reason, actor),
        request,
        security,
    )
