"""What the kernel applied, read from the log for /api/status: trading states, settings and snapshots per partition.

The trading state shown is the kernel's ``TradingStateApplied`` (the state it
trades under), never the request ops sent: a request the kernel has not reached
yet changes nothing. Per symbol, it is the state the symbol trades under (the
more severe of its own and its partition's, as the kernel decides it), for the
symbols with a state of their own and the symbol the latest change named (a
symbol set back to ACTIVE has none of its own any more, yet is worth showing).
Settings likewise: the latest ``ConfigApplied`` change; and the latest
``KernelSnapshotTaken`` (where a restart or a replay starts from). The latest
event of a type per partition is found by reading its topic backwards from the
end, a window at a time, so the cost does not grow with the topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from api.serialize import iso_time
from contract.events import ConfigApplied, Event, KernelSnapshotTaken, TradingState, TradingStateApplied
from contract.records import RawRecord
from contract.serde import EventCodec
from contract.topics import CONTROL, DEAD_LETTER, SNAPSHOTS, Namespace
from eventlog.consumer import LogReader, UndecodableRecord, decode
from kernel.engine import TradingStates

WINDOW = 200  # records read per step backwards
E = TypeVar("E", bound=Event)


def _latest(reader: LogReader, topic: str, partition: int, low: int, high: int, kind: type[E]) -> tuple[RawRecord, E] | None:
    codec, end = EventCodec(), high
    while end > low:
        start = max(low, end - WINDOW)
        records = [r for batch in reader.read(topic, {partition: (start, end)}) for r in batch]
        for record in reversed(records):
            try:
                event = decode(codec, record)
            except UndecodableRecord:
                continue  # the projector dead-letters it; what is in force is in an earlier event
            if isinstance(event, kind):
                return record, event
        end = start
    return None


def _per_partition(
    reader: LogReader, topic: str, kind: type[E], render: Callable[[E], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per partition of ``topic`` with one, its latest ``kind`` event rendered, by partition."""
    rows = []
    for partition, (low, high) in sorted(reader.watermarks(topic).items()):
        found = _latest(reader, topic, partition, low, high, kind)
        if found is not None:
            record, event = found
            where = {"event_id": event.event_id, "event_time": iso_time(event.event_time_ms), "offset": record.offset}
            rows.append({"partition": partition, **render(event), **where})
    return rows


def _trading(event: TradingStateApplied) -> dict[str, Any]:
    states = TradingStates(event.partition_state, {s: TradingState(v) for s, v in event.symbol_states.items()})
    named = set(event.symbol_states) | ({event.symbol} if event.symbol else set())
    return {
        "partition_state": event.partition_state.value,
        "symbol_states": {symbol: states.of(symbol).value for symbol in sorted(named)},
        "changed": {"symbol": event.symbol, "state": event.state.value},
    }


def _settings(event: ConfigApplied) -> dict[str, Any]:
    return {"symbol": event.symbol, "changed": dict(sorted(event.changed.items())), "reason": event.reason}


def _snapshot(event: KernelSnapshotTaken) -> dict[str, Any]:
    return {"input_offset": event.input_offset, "reason": event.reason}


def trading_states(reader: LogReader, namespace: Namespace) -> list[dict[str, Any]]:
    return _per_partition(reader, namespace.topic(CONTROL), TradingStateApplied, _trading)


def settings_changes(reader: LogReader, namespace: Namespace) -> list[dict[str, Any]]:
    return _per_partition(reader, namespace.topic(CONTROL), ConfigApplied, _settings)


def snapshots(reader: LogReader, namespace: Namespace) -> list[dict[str, Any]]:
    return _per_partition(reader, namespace.topic(SNAPSHOTS), KernelSnapshotTaken, _snapshot)


def dead_letters(reader: LogReader, namespace: Namespace) -> int:
    """Records on the dead-letter topic (event topics keep everything, so: every dead letter ever)."""
    return sum(high - low for low, high in reader.watermarks(namespace.topic(DEAD_LETTER)).values())
