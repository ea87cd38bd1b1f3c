"""``signals``: every pattern signal with its score and feature snapshot."""

from __future__ import annotations

import math
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from contract.events import Signal
from projections.bulk import insert_new
from projections.readmodels.base import Context, Item

COLUMNS = ("event_id", "symbol", "pattern", "score", "features", "event_time_ms", "correlation_id")


def _json_features(features: dict[str, float]) -> Jsonb:
    """JSON has no NaN or infinity: those are kept as their names rather than refused."""
    return Jsonb({k: v if math.isfinite(v) else str(v) for k, v in features.items()})


def apply(conn: psycopg.Connection, items: Sequence[Item], context: Context) -> None:
    rows = [
        (e.event_id, e.symbol, e.pattern, e.score, _json_features(e.features), e.event_time_ms, e.envelope.correlation_id)
        for e in (i.event for i in items)
        if isinstance(e, Signal)
    ]
    if rows:
        insert_new(conn, "signals", COLUMNS, rows)
