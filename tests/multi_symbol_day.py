"""The multi-symbol golden day: the synthetic set's ticks with ops' kill-switch inputs mid-day, per partition.

Shared by the pure golden test (``tests/test_golden_multi_symbol.py``) and the
broker tests that put the very same inputs on a real log
(``tests/integration/test_multi_symbol_day.py``): on a fresh namespace each
partition's offsets are the positions here, so live, replay and the pure kernel
must derive the same bytes.

The kill-switch inputs are placed the way ``aitrader control`` writes them:
after the last tick before their time, stamped with their partition's latest
event time, one event per partition when they name no symbol. They land while
orders rest (the settings make the strategy's limits rest behind the market):

* SYN_YM halted at 2013-09-02 02:00 Chicago, before its first tick (03:00), resumed at 06:00;
* SYN_NQ REDUCING from 2013-09-01 23:30 (short 1, three orders resting), ACTIVE again at 09-03 10:00;
* everything HALTED at 2013-09-03 09:10 (ES, SYN_NQ and the NYSE symbol all have orders resting),
  ACTIVE again at 09:40, when SYN_NQ stays REDUCING: its own state is the more severe.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from contract.events import Envelope, Event, TradingState, TradingStateChanged
from contract.ids import id_from_parts
from contract.partitioner import partition_for
from contract.topics import INPUTS
from eventlog.control import EARLIEST_TIME_MS
from eventlog.sampledata import multi_symbol_ticks
from marketdata.calendar import venue_zone
from marketdata.synthetic import DEFAULT_SYMBOLS

# Limit orders resting 20 ticks behind the last trade, good till canceled: several rest at every switch below.
RESTING = {"strategy.order_type": "LIMIT", "strategy.limit_offset_ticks": "-20", "strategy.time_in_force": "GTC"}
SETTINGS = {**{k: v for d in DEFAULT_SYMBOLS if not d.is_copy for k, v in d.instrument_settings().items()}, **RESTING}


@dataclass(frozen=True)
class Switch:
    at: str  # Chicago local time
    symbol: str | None
    state: TradingState


SWITCHES = (
    Switch("2013-09-02 02:00", "SYN_YM", TradingState.HALTED),
    Switch("2013-09-01 23:30", "SYN_NQ", TradingState.REDUCING),
    Switch("2013-09-02 06:00", "SYN_YM", TradingState.ACTIVE),
    Switch("2013-09-03 09:10", None, TradingState.HALTED),
    Switch("2013-09-03 09:40", None, TradingState.ACTIVE),
    Switch("2013-09-03 10:00", "SYN_NQ", TradingState.ACTIVE),
)


def chicago_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=venue_zone("CME")).timestamp() * 1000)


def partition_inputs(every: int = 4, until: str | None = None) -> dict[int, list[Event]]:
    """Each partition's inputs in log order: the set's ticks (every ``every``-th row) with the switches."""
    ticks = multi_symbol_ticks(every=every, until=until)
    switches = sorted(SWITCHES, key=lambda s: chicago_ms(s.at))
    inputs: dict[int, list[Event]] = defaultdict(list)
    pending = list(switches)
    for tick in ticks:
        while pending and chicago_ms(pending[0].at) <= tick.event_time_ms:
            _switch(inputs, pending.pop(0))
        inputs[partition_for(tick.symbol, INPUTS.partitions)].append(tick)
    for switch in pending:
        _switch(inputs, switch)
    return dict(sorted(inputs.items()))


def _switch(inputs: dict[int, list[Event]], switch: Switch) -> None:
    partitions = range(INPUTS.partitions) if switch.symbol is None else [partition_for(switch.symbol, INPUTS.partitions)]
    latest = max((log[-1].event_time_ms for log in inputs.values() if log), default=EARLIEST_TIME_MS)
    for partition in partitions:
        log = inputs[partition]
        time_ms = log[-1].event_time_ms if log else latest  # as eventlog.control stamps an empty partition
        event_id = id_from_parts("control", INPUTS.name, partition, len(log), f"{switch.state.value} {switch.symbol or '*'}")
        envelope = Envelope(event_id, time_ms, "control/test", None, event_id)
        log.append(TradingStateChanged(envelope, switch.symbol, switch.state, "golden day drill", "ops"))
