"""GET /api/export/{model}: a whole (filtered) read model as CSV or Parquet, streamed.

Rows come from one snapshot, in the list endpoint's order and rendering
(decimal strings, ISO times); the snapshot's as-of watermark is in the
``X-As-Of`` header, since the body is the file. Parquet needs ``pyarrow``.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api import params
from api.auth import READ, require
from api.database import Database, as_of
from api.errors import ApiError, bad_request
from api.pagination import Key
from api.routers import bars, fills, ledger, orders, signals
from api.routers.common import FROM, SYMBOL, TO, time_filters
from projections.models import bars_1m, pnl_daily, positions
from projections.models import fills as fills_table
from projections.models import orders as orders_table
from projections.models import signals as signals_table

router = APIRouter(tags=["export"], dependencies=[Depends(require(*READ))])
CHUNK_ROWS = 5000
SPOOL_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Export:
    table: sa.Table
    keys: tuple[Key, ...]
    render: Callable[[Mapping[str, Any]], dict[str, Any]]
    time_column: str | None


MODELS: dict[str, Export] = {
    "signals": Export(signals_table, signals.KEYS, signals.render, "event_time_ms"),
    "orders": Export(orders_table, orders.KEYS, orders.render, "first_time_ms"),
    "fills": Export(fills_table, fills.KEYS, fills.render, "event_time_ms"),
    "positions": Export(positions, (Key("symbol", "text"),), ledger.render_position, None),
    "pnl": Export(pnl_daily, (Key("trading_day", "date"), Key("symbol", "text")), ledger.render_pnl, None),
    "bars": Export(bars_1m, bars.KEYS, bars.render, "start_ms"),
}


def _flat(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for n, row in enumerate(rows, start=1):
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: _flat(v) for k, v in row.items()})
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _arrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the installation
        raise bad_request("parquet_unavailable", "Parquet export needs pyarrow on the server; use format=csv") from None
    return pa, pq


def _parquet(rows: Iterator[dict[str, Any]], pa: Any, pq: Any) -> Iterator[bytes]:
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
        writer = None
        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append({k: _flat(v) for k, v in row.items()})
            if len(chunk) == CHUNK_ROWS:
                writer = _write(pa, pq, spool, writer, chunk)
                chunk = []
        if chunk or writer is None:
            writer = _write(pa, pq, spool, writer, chunk)
        writer.close()
        spool.seek(0)
        while block := spool.read(1 << 20):
            yield block


def _write(pa: Any, pq: Any, sink: Any, writer: Any, chunk: list[dict[str, Any]]) -> Any:
    if writer is None:
        # Integers stay integers; everything else (decimal strings, times, ids, JSON) is text.
        names = list(chunk[0]) if chunk else ["empty"]
        fields = [
            pa.field(n, pa.int64() if chunk and all(isinstance(r[n], int) or r[n] is None for r in chunk) else pa.string())
            for n in names
        ]
        writer = pq.ParquetWriter(sink, pa.schema(fields))
    if chunk:
        writer.write_table(pa.Table.from_pylist(chunk, schema=writer.schema))
    return writer


@router.get("/api/export/{model}", summary="A read model as a CSV or Parquet file")
def export(
    request: Request,
    model: str,
    file_format: Annotated[str, Query(alias="format", description="csv or parquet")] = "csv",
    symbol: SYMBOL = None,
    start: FROM = None,
    to: TO = None,
) -> StreamingResponse:
    spec = MODELS.get(model)
    if spec is None:
        raise ApiError(404, "not_found", f"no model {model!r}; models: {', '.join(MODELS)}")
    params.choice(file_format, ("csv", "parquet"), "format")
    arrow = _arrow() if file_format == "parquet" else None
    where: list[sa.ColumnElement[bool]] = []
    if spec.time_column is not None:
        where, _ = time_filters(spec.table.c[spec.time_column], start, to)
    elif start or to:
        raise bad_request("bad_parameter", f"{model} has no time column; filter it by symbol")
    if params.symbol(symbol):
        where.append(spec.table.c.symbol == symbol)
    statement = sa.select(spec.table).where(*where).order_by(*(spec.table.c[k.column] for k in spec.keys))
    database: Database = request.app.state.database
    stack = ExitStack()
    conn = stack.enter_context(database.snapshot())
    try:
        watermark = as_of(conn)
        result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(statement)
    except BaseException:
        stack.close()
        raise

    def rows() -> Iterator[dict[str, Any]]:
        with stack:  # the snapshot lives as long as the download
            for row in result:
                yield spec.render(row._mapping)

    body = _csv(rows()) if arrow is None else _parquet(rows(), *arrow)
    media = "text/csv; charset=utf-8" if file_format == "csv" else "application/vnd.apache.parquet"
    headers = {
        "Content-Disposition": f'attachment; filename="{model}.{file_format}"',
        "X-As-Of": json.dumps(watermark, separators=(",", ":")),
    }
    return StreamingResponse(body, media_type=media, headers=headers)
