"""``aitrader ingest-news``: news items scored for sentiment, then sequenced on the kernel's input topic.

Each item is scored once, here, before it is sequenced, so its score travels on
its ``NewsScored`` events and a replay never runs the sentiment model. An item
naming several symbols becomes one event per symbol, on that symbol's
partition: a partition's kernel then sees every news of its symbols in the one
order of its input, and no partition depends on another's (docs/design.md,
"News on the sequenced input").

The rules are those of ``aitrader ingest`` for ticks (docs/design.md, "Inputs:
duplicates, order and lateness"): the whole file is checked first and a bad line
stops the load (naming line and field) unless bad lines are skipped; per symbol,
only news after the last one already on the log is written, so the same file
twice writes nothing the second time; and a load whose first news is older than
its partition's latest record by more than the late tolerance is refused
before anything is written (the kernel would refuse it as late).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contract.events import NewsScored
from contract.partitioner import partition_for
from contract.sequencing import DEFAULT_LATE_TOLERANCE_MS
from eventlog.ingest import open_text
from eventlog.logtail import PartitionTail
from inference.sentiment.scorer import SentimentScorer
from marketdata.news import BadNews, NewsCopy, NewsItem, news_event, news_format, parse_news, sequenced


@dataclass
class NewsFile:
    """A checked news file: its good items (each once) and its bad lines."""

    path: Path
    items: list[NewsItem] = field(default_factory=list)
    bad: list[BadNews] = field(default_factory=list)
    repeated: int = 0  # lines repeating an item already given earlier in the file


def read_news_file(path: Path, known_symbol: Callable[[str], bool]) -> NewsFile:
    """Every line parsed; an item naming a symbol ``known_symbol`` refuses is a bad line (field symbols)."""
    checked = NewsFile(path)
    seen: set[str] = set()
    with open_text(path) as handle:
        for parsed in parse_news(handle, news_format(path.name)):
            if isinstance(parsed, BadNews):
                checked.bad.append(parsed)
                continue
            unknown = [s for s in parsed.symbols if not known_symbol(s)]
            if unknown:
                checked.bad.append(BadNews(parsed.line_number, "symbols", f"unknown instrument(s) {', '.join(unknown)}"))
            elif parsed.news_id in seen:
                checked.repeated += 1
            else:
                seen.add(parsed.news_id)
                checked.items.append(parsed)
    return checked


@dataclass
class SymbolNews:
    """What one load will do for one symbol."""

    symbol: str
    partition: int
    last_on_log: int | None  # the sequence of the symbol's last news already on the log
    given: int = 0
    to_write: list[NewsCopy] = field(default_factory=list)


def plan_news(items: Sequence[NewsItem], tails: Mapping[int, PartitionTail], partitions: int) -> dict[str, SymbolNews]:
    """Per symbol (sorted), the copies after its last news on the log, in event-time order."""
    plans: dict[str, SymbolNews] = {}
    for copy in sequenced(items):
        plan = plans.get(copy.symbol)
        if plan is None:
            partition = partition_for(copy.symbol, partitions)
            last = tails[partition].last.get(copy.symbol)
            plan = plans[copy.symbol] = SymbolNews(copy.symbol, partition, None if last is None else last.sequence)
        plan.given += 1
        if plan.last_on_log is None or copy.sequence > plan.last_on_log:
            plan.to_write.append(copy)
    return dict(sorted(plans.items()))


@dataclass(frozen=True)
class LateNews:
    """A partition whose first news to write is older than its latest record by more than the tolerance."""

    partition: int
    first_ms: int
    latest_ms: int
    symbols: tuple[str, ...]


def late_news(
    plans: Mapping[str, SymbolNews], tails: Mapping[int, PartitionTail], tolerance_ms: int = DEFAULT_LATE_TOLERANCE_MS
) -> list[LateNews]:
    """The partitions this load would write news to that the kernel refuses as late; none means go."""
    late = []
    for partition, tail in sorted(tails.items()):
        on_partition = [p for p in plans.values() if p.partition == partition and p.to_write]
        if tail.latest_ms is None or not on_partition:
            continue
        first_ms = min(p.to_write[0].item.event_time_ms for p in on_partition)
        if first_ms < tail.latest_ms - tolerance_ms:
            late.append(LateNews(partition, first_ms, tail.latest_ms, tuple(p.symbol for p in on_partition)))
    return late


def scored_events(plans: Mapping[str, SymbolNews], scorer: SentimentScorer) -> list[NewsScored]:
    """The events to write, in event-time order (``publish_merged`` sends them): each item scored once for all its symbols."""
    copies = sorted((c for p in plans.values() for c in p.to_write), key=lambda c: (c.item.event_time_ms, c.item.line_number, c.symbol))
    items = list({c.item.news_id: c.item for c in copies}.values())
    scores = dict(zip((i.news_id for i in items), scorer.score_texts([i.headline for i in items]), strict=True))
    return [news_event(c, scores[c.item.news_id], scorer.name, scorer.version, scorer.sha256) for c in copies]
