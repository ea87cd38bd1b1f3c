"""Tick identity: the sequence that orders the ticks of one (venue, symbol) across files and days.

Feeds replay after a reconnect, and ops load a file again after a failed or
partial load: the same trade then reaches the log twice, and a kernel that
applied it twice would trade twice. So the kernel refuses a tick whose sequence
is not after the last one it applied for the tick's (venue, symbol), and
``aitrader ingest`` does not even write such a tick. That needs a sequence
that orders one instrument's ticks whatever file they came from; a line number
restarts with every file and cannot. The rule:

    sequence = event_time_ms * 1_000_000 + n

where n is the tick's position (from 0) among its file's ticks with the same
event time. The same trade in two files (a whole day and its first half, a
replayed feed) gets the same sequence; a later trade always gets a greater
one. A file with a million ticks in one millisecond is refused rather than
let n spill into the next millisecond. The sequence fits Avro's long until
the year 2262. Tick *ids* still derive from file name and line number
(``marketdata.tickfile``): the sequence says where a trade stands, not which row
carried it.

Ticks of several files are merged by event time on the way in (ties in the
order the files were given, then line order), so a partition's timestamps do
not go down. A tick may still arrive a little behind its partition's latest
event time (symbols sharing a partition come from separate feeds); the kernel
accepts a lag up to ``input.late_tolerance_ms`` (default
``DEFAULT_LATE_TOLERANCE_MS``) and refuses older ticks as late.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from contract.events import Event, Tick

SLOTS_PER_MS = 1_000_000
"""How many ticks of one file one millisecond can hold (n runs from 0 to SLOTS_PER_MS - 1)."""

DEFAULT_LATE_TOLERANCE_MS = 1000
"""How far a tick may lag the latest event time already on its partition before the kernel refuses it as late."""

E = TypeVar("E", bound=Event)
TickKey = tuple[str, str]
"""(venue, symbol): whose ticks one sequence orders."""


class SequenceOverflow(ValueError):
    """More ticks in one millisecond of one file than a sequence can tell apart."""


def tick_sequence(event_time_ms: int, n: int) -> int:
    """The sequence of the ``n``-th tick (from 0) of a file at ``event_time_ms``."""
    if not 0 <= n < SLOTS_PER_MS:
        raise SequenceOverflow(f"more than {SLOTS_PER_MS:,} rows in one millisecond: a sequence tells no more apart")
    return event_time_ms * SLOTS_PER_MS + n


def sequence_time_ms(sequence: int) -> int:
    """The event time a sequence was made from; a tick whose event time differs has a sequence of another rule."""
    return sequence // SLOTS_PER_MS


def tick_key(tick: Tick) -> TickKey:
    return (tick.venue, tick.symbol)


@dataclass
class SameTimeCounter:
    """Gives each successive tick of one file its n: 0 at a new event time, one more at the same time."""

    _time_ms: int | None = None
    _n: int = 0

    def __call__(self, event_time_ms: int) -> int:
        self._n = self._n + 1 if event_time_ms == self._time_ms else 0
        self._time_ms = event_time_ms
        return self._n


@dataclass
class SequenceGate:
    """Admits a tick only when its sequence is after the last admitted one of its (venue, symbol).

    ``last`` starts from what is already on the log and follows what is admitted,
    so a trade given twice in one run (the same file twice) is also admitted once.
    """

    last: MutableMapping[TickKey, int] = field(default_factory=dict)

    def admits(self, tick: Tick) -> bool:
        key = tick_key(tick)
        previous = self.last.get(key)
        if previous is not None and tick.sequence <= previous:
            return False
        self.last[key] = tick.sequence
        return True


def merge_in_time(streams: Sequence[Iterable[E]]) -> Iterator[E]:
    """The events (ticks, news) of several time-ordered streams as one stream in event-time order.

    Equal times keep the order of ``streams`` and then each stream's own order
    (``heapq.merge`` is stable), so the merge is a pure function of its inputs.
    """
    return heapq.merge(*streams, key=lambda tick: tick.event_time_ms)
