"""Parses news files (CSV or JSON lines: event time, headline, source, symbols) into news items.

Pure: lines in, ``NewsItem`` or ``BadNews`` (line number, field, reason) out.

    CSV         a header naming event_time, headline, source, symbols (any order, other columns ignored);
                symbols separated by spaces, ';' or '|'; quote a headline holding a comma
    JSON lines  one object per line with those keys; symbols a list of strings (or one such string)

``event_time`` is ISO 8601 with a UTC offset (``2013-09-03T09:35:00-04:00``,
``...Z``) or integer epoch milliseconds: a news time without a zone would be
read in some local time nobody wrote down, so it is refused. An item's
identity (``news_id``) is the SHA-256 of its event time, source and headline,
so the same item in two files is the same item; its copy for each symbol gets
a sequence like a tick's (``contract.sequencing``): event time in ms * 10^6 +
its place among that symbol's items of the same millisecond in the file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from contract import __version__
from contract.events import Envelope, NewsScored
from contract.ids import id_from_parts
from contract.sequencing import tick_sequence

FIELDS = ("event_time", "headline", "source", "symbols")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
PRODUCER = f"ingest-news/{__version__}"
MAX_TEXT = 1000
_SYMBOL_SEPARATORS = re.compile(r"[\s;|]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NewsFileError(ValueError):
    """The file as a whole cannot be read (unknown format, no header, missing columns)."""


@dataclass(frozen=True, slots=True)
class BadNews:
    """One line that is not a news item: where, which field, why."""

    line_number: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_number}, field {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class NewsItem:
    line_number: int
    event_time_ms: int
    headline: str
    source: str
    symbols: tuple[str, ...]  # sorted, each once

    @property
    def news_id(self) -> str:
        identity = json.dumps([self.event_time_ms, self.source, self.headline], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(identity.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewsCopy:
    """An item's copy for one of its symbols, with the sequence that orders that symbol's news."""

    item: NewsItem
    symbol: str
    sequence: int


def news_format(file_name: str) -> str:
    """'csv' or 'jsonl' from the name (a trailing .gz aside)."""
    stem = file_name[:-3] if file_name.endswith(".gz") else file_name
    for suffix, form in FORMATS.items():
        if stem.endswith(suffix):
            return form
    raise NewsFileError(f"{file_name}: a news file is .csv, .jsonl or .ndjson (optionally .gz)")


def parse_news(lines: Iterable[str], form: str) -> Iterator[NewsItem | BadNews]:
    """Every item and every bad line of a file, in file order (line numbers from 1)."""
    if form == "csv":
        yield from _csv_items(lines)
    else:
        yield from _json_items(lines)


def _csv_items(lines: Iterable[str]) -> Iterator[NewsItem | BadNews]:
    reader = csv.DictReader(iter(lines))
    header = reader.fieldnames
    if header is None:
        raise NewsFileError("empty file: expected a header line naming " + ", ".join(FIELDS))
    missing = [name for name in FIELDS if name not in [column.strip() for column in header]]
    if missing:
        raise NewsFileError(f"line 1: the header lacks column(s) {', '.join(missing)}; it needs {', '.join(FIELDS)}")
    reader.fieldnames = [column.strip() for column in header]
    for row in reader:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        yield _item(reader.line_num, {name: row.get(name) for name in FIELDS})


def _json_items(lines: Iterable[str]) -> Iterator[NewsItem | BadNews]:
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadNews(line_number, "(line)", f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(record, dict):
            yield BadNews(line_number, "(line)", f"expected a JSON object, got {type(record).__name__}")
            continue
        yield _item(line_number, {name: record.get(name) for name in FIELDS})


def _item(line_number: int, raw: dict[str, Any]) -> NewsItem | BadNews:
    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        if raw[name] is None or raw[name] == "":
            return BadNews(line_number, name, "missing")
        try:
            values[name] = parse(raw[name])
        except ValueError as exc:
            return BadNews(line_number, name, str(exc))
    return NewsItem(line_number, values["event_time"], values["headline"], values["source"], values["symbols"])


def _event_time_ms(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected ISO 8601 text or epoch milliseconds, got {value!r}")
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if stamp.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (write ...Z or ...-04:00)")
    # Integer arithmetic on timedeltas is exact; a time finer than a millisecond is truncated to it.
    return (stamp - _EPOCH) // timedelta(milliseconds=1)


def _text(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_TEXT:
        raise ValueError(f"must be text of 1 to {MAX_TEXT} characters")
    return text


def _symbols(value: Any) -> tuple[str, ...]:
    tokens = _SYMBOL_SEPARATORS.split(value.strip()) if isinstance(value, str) else value
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"expected symbols as text or a list of strings, got {value!r}")
    symbols = sorted({t.strip() for t in tokens if t.strip()})
    if not symbols:
        raise ValueError("no symbol named")
    return tuple(symbols)


_PARSERS = {"event_time": _event_time_ms, "headline": _text, "source": _text, "symbols": _symbols}


def sequenced(items: Iterable[NewsItem]) -> list[NewsCopy]:
    """Each item's copy for each of its symbols, in event-time order (file order within a millisecond), sequenced."""
    copies = []
    same_time: dict[tuple[str, int], int] = {}
    for item in sorted(items, key=lambda i: (i.event_time_ms, i.line_number)):
        for symbol in item.symbols:
            n = same_time.get((symbol, item.event_time_ms), 0)
            same_time[(symbol, item.event_time_ms)] = n + 1
            copies.append(NewsCopy(item, symbol, tick_sequence(item.event_time_ms, n)))
    return copies


def news_event(copy: NewsCopy, score: Decimal, scorer_name: str, scorer_version: str, scorer_sha256: str) -> NewsScored:
    """The input event of one copy; its ids derive from the item and the symbol, so a re-ingest mints the same ones."""
    item = copy.item
    return NewsScored(
        envelope=Envelope(
            id_from_parts("news", item.news_id, copy.symbol), item.event_time_ms, PRODUCER, None, id_from_parts("news", item.news_id)
        ),
        symbol=copy.symbol,
        sequence=copy.sequence,
        news_id=item.news_id,
        headline=item.headline,
        source=item.source,
        symbols=list(item.symbols),
        score=score,
        scorer_name=scorer_name,
        scorer_version=scorer_version,
        scorer_sha256=scorer_sha256,
    )
