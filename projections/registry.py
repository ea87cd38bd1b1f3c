"""The projections: which topics each reads, which tables it owns, which apply steps it runs.

A projection is the unit of offsets and of rebuilds: its tables change only
together with its rows in ``projection_offsets``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

from contract.topics import (
    CONTROL,
    DEAD_LETTER,
    FILLS,
    INPUTS,
    INTENTS,
    MANIFESTS,
    ORDERS,
    SIGNALS,
    SNAPSHOTS,
    TopicSpec,
)
from projections.readmodels import bars, index, ledger, marks, orders, signals
from projections.readmodels.base import Context, Item

Apply = Callable[[psycopg.Connection, Sequence[Item], Context], None]


@dataclass(frozen=True)
class Projection:
    name: str
    topics: tuple[TopicSpec, ...]
    tables: tuple[str, ...]
    steps: tuple[Apply, ...]

    def reads(self, topic: TopicSpec) -> bool:
        return topic in self.topics


# Topics in the order a pass reads them: inputs first, so marks usually precede the fills they value.
TOPICS: tuple[TopicSpec, ...] = (INPUTS, SIGNALS, INTENTS, ORDERS, FILLS, CONTROL, SNAPSHOTS, MANIFESTS, DEAD_LETTER)

PROJECTIONS: tuple[Projection, ...] = (
    Projection("index", TOPICS, ("event_index",), (index.apply,)),
    Projection("signals", (SIGNALS,), ("signals",), (signals.apply,)),
    Projection("orders", (ORDERS, FILLS), ("order_events", "orders"), (orders.apply,)),
    Projection("ledger", (INPUTS, FILLS), ("fills", "positions", "pnl_daily"), (ledger.apply, marks.apply)),
    Projection("bars", (INPUTS,), ("bars_1m", "bar_ticks"), (bars.apply,)),
)


def by_names(names: Sequence[str] | None) -> tuple[Projection, ...]:
    """The named projections (all when ``names`` is empty), refusing unknown names."""
    if not names:
        return PROJECTIONS
    known = {p.name: p for p in PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(p for p in PROJECTIONS if p.name in names)
