"""The latest news sentiment per symbol: kernel state fed by ``NewsScored`` inputs.

The score was computed at ingest and arrived on the event, so applying news
runs no model: live, fast replay, pipeline replay and a restored kernel all hold
the same scores at the same offsets. Like a tick, a news item is applied only if
its symbol is a known instrument, its sequence is after the last news applied
for the symbol (the same item ingested twice is refused as ``DuplicateNews``) and
it is not later than ``input.late_tolerance_ms`` behind the partition's latest
tick (``LateNews``): docs/design.md, "News on the sequenced input".
A symbol's news may arrive before its first tick; it is partition state and is
kept in snapshots. The strategy reads it only when ``strategy.news_sentiment``
is on (``kernel/strategy.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contract.events import NewsScored
from inference.scorer import SCORE_QUANTUM


@dataclass(frozen=True, slots=True)
class LatestNews:
    score: Decimal
    sequence: int
    event_time_ms: int
    news_id: str


class NewsSentiment:
    """Per symbol, the last news applied."""

    __slots__ = ("latest",)

    def __init__(self, latest: Mapping[str, LatestNews] | None = None) -> None:
        self.latest: dict[str, LatestNews] = dict(latest or {})

    def refusal(self, news: NewsScored, known: bool, clock_ms: int | None, tolerance_ms: int) -> tuple[str, str] | None:
        """(error type, reason) when the news must not be applied; None when it may."""
        if not known:
            return "UnknownInstrument", f"news for {news.symbol}, which no instrument defines"
        last = self.latest.get(news.symbol)
        if last is not None and news.sequence <= last.sequence:
            return "DuplicateNews", (
                f"{news.symbol} news sequence {news.sequence} is not after the last one applied ({last.sequence}): "
                "an item already applied, or one out of order"
            )
        if clock_ms is not None and news.event_time_ms < clock_ms - tolerance_ms:
            return "LateNews", (
                f"{news.symbol} news at {news.event_time_ms} is {clock_ms - news.event_time_ms} ms behind the partition's "
                f"latest tick ({clock_ms}); input.late_tolerance_ms is {tolerance_ms}"
            )
        return None

    def apply(self, news: NewsScored) -> None:
        self.latest[news.symbol] = LatestNews(news.score, news.sequence, news.event_time_ms, news.news_id)

    def score_of(self, symbol: str) -> Decimal | None:
        latest = self.latest.get(symbol)
        return None if latest is None else latest.score

    def to_state(self) -> dict[str, Any]:
        """``{}`` while no news was applied, so snapshots of kernels that never saw news keep their bytes."""
        if not self.latest:
            return {}
        return {
            "news": {
                # At the score's resolution, so a snapshot's bytes do not depend on how the Decimal was written.
                symbol: {
                    "score": str(n.score.quantize(SCORE_QUANTUM)),
                    "sequence": n.sequence,
                    "event_time_ms": n.event_time_ms,
                    "news_id": n.news_id,
                }
                for symbol, n in sorted(self.latest.items())
            }
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> NewsSentiment:
        return cls(
            {
                symbol: LatestNews(Decimal(n["score"]), n["sequence"], n["event_time_ms"], n["news_id"])
                for symbol, n in state.get("news", {}).items()
            }
        )
