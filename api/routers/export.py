"""GET /api/export/{model}: a whole (filtered) read model as CSV or Parquet.

Rows come from one snapshot, in the list endpoint's order and rendering
(decimal strings, ISO times); the snapshot's as-of watermark is in the
``X-As-Of`` header, since the body is the file.

The file is written whole (to a spool: memory, then a temporary file) before
the first byte is sent, so its status tells the truth: a database that fails
mid-way is a 503, not a 200 cut short, and the download carries its
Content-Length. Columns and their types are fixed up front from the read
model's table (integer columns as int64, everything else as text), never
guessed from the first rows, so no later row can break the file; an empty
export still has its header.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Annotated, Any

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
from eventlog import faults
from eventlog.faults import Fault
from projections.models import bars_1m, pnl_daily, positions
from projections.models import fills as fills_table
from projections.models import orders as orders_table
from projections.models import signals as signals_table

router = APIRouter(tags=["export"], dependencies=[Depends(require(*READ))])
log = logging.getLogger("aitrader.api")
CHUNK_ROWS = 5000
SPOOL_BYTES = 64 * 1024 * 1024
SEND_BYTES = 1 << 20


@dataclass(frozen=True)
class Export:
    table: sa.Table
    keys: tuple[Key, ...]
    render: Callable[[Mapping[str, Any]], dict[str, Any]]
    fields: tuple[str, ...]  # what render gives, in order
    time_column: str | None

    def integer(self, name: str) -> bool:
        """Whether the field is an integer column of the table (times are renamed, so they are text)."""
        return name in self.table.c and isinstance(self.table.c[name].type, sa.Integer)


MODELS: dict[str, Export] = {
    "signals": Export(signals_table, signals.KEYS, signals.render, signals.FIELDS, "event_time_ms"),
    "orders": Export(orders_table, orders.KEYS, orders.render, orders.FIELDS, "first_time_ms"),
    "fills": Export(fills_table, fills.KEYS, fills.render, fills.FIELDS, "event_time_ms"),
    "positions": Export(positions, (Key("symbol", "text"),), ledger.render_position, ledger.POSITION_FIELDS, None),
    "pnl": Export(pnl_daily, (Key("trading_day", "date"), Key("symbol", "text")), ledger.render_pnl, ledger.PNL_FIELDS, None),
    "bars": Export(bars_1m, bars.KEYS, bars.render, bars.FIELDS, "start_ms"),
}


def _flat(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append({k: _flat(v) for k, v in row.items()})
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_csv(spec: Export, rows: Iterable[dict[str, Any]], sink: IO[bytes]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(spec.fields), lineterminator="\n")
    writer.writeheader()
    for chunk in _chunks(rows):
        writer.writerows(chunk)
        sink.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    sink.write(buffer.getvalue().encode())


def _write_parquet(spec: Export, rows: Iterable[dict[str, Any]], sink: IO[bytes]) -> None:
    pa, pq = _arrow()
    schema = pa.schema([pa.field(n, pa.int64() if spec.integer(n) else pa.string()) for n in spec.fields])
    with pq.ParquetWriter(sink, schema) as writer:
        for chunk in _chunks(rows):
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))


def _arrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the installation
        raise bad_request("parquet_unavailable", "Parquet export needs pyarrow on the server; use format=csv") from None
    return pa, pq


WRITERS = {"csv": (_write_csv, "text/csv; charset=utf-8"), "parquet": (_write_parquet, "application/vnd.apache.parquet")}


def _statement(spec: Export, model: str, symbol: str | None, start: str | None, to: str | None) -> sa.Select[Any]:
    where: list[sa.ColumnElement[bool]] = []
    if spec.time_column is not None:
        where, _ = time_filters(spec.table.c[spec.time_column], start, to)
    elif start or to:
        raise bad_request("bad_parameter", f"{model} has no time column; filter it by symbol", parameter="from" if start else "to")
    if params.symbol(symbol):
        where.append(spec.table.c.symbol == symbol)
    return sa.select(spec.table).where(*where).order_by(*(spec.table.c[k.column] for k in spec.keys))


def _sent(spool: IO[bytes], fault: Fault | None, blocks: Iterator[int], model: str) -> Iterator[bytes]:
    with spool:
        size = spool.tell()
        spool.seek(0)
        while block := spool.read(SEND_BYTES):
            yield block
            if fault is not None and spool.tell() < size:  # handed to the server, more to come: mid-body
                fault.at(faults.MID_EXPORT, next(blocks), lambda: f"{model} export, {spool.tell():,} of {size:,} bytes sent")


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
    params.choice(file_format, tuple(WRITERS), "format")
    write, media = WRITERS[file_format]
    if file_format == "parquet":
        _arrow()  # refused before any database work when pyarrow is missing
    statement = _statement(spec, model, symbol, start, to)
    database: Database = request.app.state.database
    spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
    try:
        with database.snapshot() as conn:
            watermark = as_of(conn)
            result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(statement)
            write(spec, (spec.render(row._mapping) for row in result), spool)
        size = spool.tell()
    except OSError as exc:  # the spool's disk is full
        spool.close()
        log.warning("export of %s failed: %s", model, exc)
        raise ApiError(503, "export_failed", "the server could not write the file now; retry later", headers={"Retry-After": "10"}) from None
    except BaseException:
        spool.close()
        raise
    headers = {
        "Content-Disposition": f'attachment; filename="{model}.{file_format}"',
        "Content-Length": str(size),
        "X-As-Of": json.dumps(watermark, separators=(",", ":")),
    }
    body = _sent(spool, request.app.state.settings.fault, request.app.state.export_blocks, model)
    return StreamingResponse(body, media_type=media, headers=headers)
