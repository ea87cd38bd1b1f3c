"""What the kernel applied, read from the log for /api/status: trading states per partition, dead letters.

The trading state shown is the kernel's ``TradingStateApplied`` (the state it
trades under), never the request ops sent: a request the kernel has not reached
yet changes nothing. Per symbol, it is the state the symbol trades under (the
more severe of its own and its partition's, as the kernel decides it), for the
symbols with a state of their own and the symbol the latest change named (a
symbol set back to ACTIVE has none of its own any more, yet is worth showing). The latest one per partition is found by reading the
control topic backwards from its end, a window at a time, so the cost does not
grow with the topic.
"""

from __future__ import annotations

from typing import Any

from api.serialize import iso_time
from contract.events import TradingState, TradingStateApplied
from contract.serde import EventCodec
from contract.topics import CONTROL, DEAD_LETTER, Namespace
from eventlog.consumer import LogReader, UndecodableRecord, decode
from kernel.engine import TradingStates

WINDOW = 200  # records read per step backwards


def _latest_applied(reader: LogReader, codec: EventCodec, topic: str, partition: int, low: int, high: int) -> dict[str, Any] | None:
    end = high
    while end > low:
        start = max(low, end - WINDOW)
        records = [r for batch in reader.read(topic, {partition: (start, end)}) for r in batch]
        for record in reversed(records):
            try:
                event = decode(codec, record)
            except UndecodableRecord:
                continue  # the projector dead-letters it; the state is in an earlier event
            if isinstance(event, TradingStateApplied):
                states = TradingStates(event.partition_state, {s: TradingState(v) for s, v in event.symbol_states.items()})
                named = set(event.symbol_states) | ({event.symbol} if event.symbol else set())
                return {
                    "partition": partition,
                    "partition_state": event.partition_state.value,
                    "symbol_states": {symbol: states.of(symbol).value for symbol in sorted(named)},
                    "changed": {"symbol": event.symbol, "state": event.state.value},
                    "event_id": event.event_id,
                    "event_time": iso_time(event.event_time_ms),
                    "offset": record.offset,
                }
        end = start
    return None


def trading_states(reader: LogReader, namespace: Namespace) -> list[dict[str, Any]]:
    """Per control partition with one, the kernel's latest TradingStateApplied, by partition."""
    topic, codec = namespace.topic(CONTROL), EventCodec()
    found = (
        _latest_applied(reader, codec, topic, partition, low, high)
        for partition, (low, high) in sorted(reader.watermarks(topic).items())
    )
    return [state for state in found if state is not None]


def dead_letters(reader: LogReader, namespace: Namespace) -> int:
    """Records on the dead-letter topic (event topics keep everything, so: every dead letter ever)."""
    return sum(high - low for low, high in reader.watermarks(namespace.topic(DEAD_LETTER)).values())
