"""News sentiment in the kernel: refused like ticks, kept in snapshots, reaching the scorer only when switched on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from bench.common import sample_ticks
from contract.events import ConfigChanged, DeadLettered, Envelope, Event, NewsScored, OrderIntent, Tick
from inference.baseline import BaselineScorer
from inference.scorer import NEWS_SENTIMENT_FEATURE, quantize_score
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from marketdata.news import NewsItem, news_event, sequenced

TICKS = 20_000
NEWS_EVERY = 2_000  # one news item after every NEWS_EVERY ticks


class NewsTiltedScorer(BaselineScorer):
    """The baseline's score moved by the news sentiment: a model that opted in to the optional feature."""

    name = "baseline-news-tilt"

    def score(self, features: Mapping[str, float]) -> Decimal:
        return quantize_score(float(super().score(features)) + 0.8 * features.get(NEWS_SENTIMENT_FEATURE, 0.0))


@pytest.fixture(scope="module")
def ticks() -> list[Tick]:
    return sample_ticks(TICKS)


def _news(time_ms: int, score: str, symbol: str = "ES", headline: str | None = None) -> NewsScored:
    item = NewsItem(1, time_ms, headline or f"news at {time_ms}", "Synthetic Wire", (symbol,))
    return news_event(sequenced([item])[0], Decimal(score), "test-lexicon", "1", "00" * 32)


def _with_news(ticks: Sequence[Tick], score: str) -> list[Event]:
    inputs: list[Event] = []
    for n, tick in enumerate(ticks):
        inputs.append(tick)
        if n % NEWS_EVERY == NEWS_EVERY - 1:
            inputs.append(_news(tick.event_time_ms, score))
    return inputs


def _run(inputs: Sequence[Event], settings: Mapping[str, str], scorer: BaselineScorer) -> tuple[TradingKernel, list[Event]]:
    kernel = TradingKernel(0, KernelSettings.parse(settings), scorer)
    return kernel, [out for offset, event in enumerate(inputs) for out in kernel.apply(event, offset)]


def _decisions(out: Sequence[Event]) -> list[tuple[int, str, Decimal, Decimal]]:
    return [(i.event_time_ms, i.side.value, i.quantity, i.score) for i in out if isinstance(i, OrderIntent)]


def test_switched_off_news_changes_no_decision(ticks: list[Tick]) -> None:
    _, plain = _run(ticks, {}, NewsTiltedScorer())
    kernel, with_news = _run(_with_news(ticks, "0.9"), {}, NewsTiltedScorer())
    assert kernel.news.score_of("ES") == Decimal("0.9")
    assert _decisions(with_news) == _decisions(plain) != []
    assert not any(isinstance(e, DeadLettered) for e in with_news)


def test_switched_on_the_latest_news_moves_the_scores(ticks: list[Tick]) -> None:
    on = {"strategy.news_sentiment": "true"}
    _, plain = _run(ticks, on, NewsTiltedScorer())
    _, bullish = _run(_with_news(ticks, "0.9"), on, NewsTiltedScorer())
    _, bearish = _run(_with_news(ticks, "-0.9"), on, NewsTiltedScorer())
    after_first_news = ticks[NEWS_EVERY - 1].event_time_ms
    assert [d for d in _decisions(plain) if d[0] <= after_first_news] == [d for d in _decisions(bullish) if d[0] <= after_first_news]
    assert _decisions(bullish) != _decisions(plain) != _decisions(bearish) != _decisions(bullish)
    assert {d[1] for d in _decisions(bullish) if d[0] > after_first_news} != {d[1] for d in _decisions(bearish) if d[0] > after_first_news}
    _, baseline_on = _run(_with_news(ticks, "0.9"), on, BaselineScorer())
    _, baseline_off = _run(ticks, {}, BaselineScorer())
    assert _decisions(baseline_on) == _decisions(baseline_off)  # a scorer of FEATURE_NAMES ignores the feature


def test_a_kernel_restored_mid_day_holds_the_news_and_decides_alike(ticks: list[Tick]) -> None:
    on = {"strategy.news_sentiment": "true"}
    inputs = _with_news(ticks, "0.7")
    _, whole = _run(inputs, on, NewsTiltedScorer())
    cut = len(inputs) // 2
    first, before = _run(inputs[:cut], on, NewsTiltedScorer())
    state = first.to_state()
    assert state["news"]["ES"]["score"] == "0.700000"
    restored = TradingKernel.from_state(state, NewsTiltedScorer())
    after = [out for offset, event in enumerate(inputs[cut:], start=cut) for out in restored.apply(event, offset)]
    assert before + after == whole
    assert restored.to_state() == _run(inputs, on, NewsTiltedScorer())[0].to_state()


def test_a_kernel_that_saw_no_news_snapshots_as_before() -> None:
    kernel = TradingKernel(0, KernelSettings.parse(), BaselineScorer())
    assert "news" not in kernel.to_state()


def test_duplicate_late_and_unknown_news_are_dead_lettered(ticks: list[Tick]) -> None:
    kernel = TradingKernel(0, KernelSettings.parse(), BaselineScorer())
    for offset, tick in enumerate(ticks[:100]):
        kernel.apply(tick, offset)
    now = ticks[99].event_time_ms
    news = _news(now, "0.5")
    stale, unknown = _news(now - 5_000, "0.1", headline="stale"), _news(now, "0.1", symbol="ZZ")
    refusals = {}
    for offset, event in enumerate((stale, news, news, unknown), start=100):
        out = kernel.apply(event, offset)
        if event is news and offset == 101:
            assert out == []  # applied: state only, nothing derived
            continue
        (refused,) = out
        assert isinstance(refused, DeadLettered) and refused.source_offset == offset
        refusals[refused.error_type] = refused.reason
    assert set(refusals) == {"DuplicateNews", "LateNews", "UnknownInstrument"}
    assert kernel.news.score_of("ES") == Decimal("0.5") and kernel.news.score_of("ZZ") is None


def test_the_setting_is_a_symbol_scoped_strategy_switch() -> None:
    settings = KernelSettings.parse().changed({"strategy.news_sentiment": "true"}, "ES")
    assert settings.for_symbol("ES").strategy.news_sentiment
    with pytest.raises(ValueError, match="strategy.news_sentiment"):
        KernelSettings.parse({"strategy.news_sentiment": "maybe"})
    kernel = TradingKernel(0, KernelSettings.parse(), BaselineScorer())
    switch_on = ConfigChanged(Envelope("c", 1378184400000, "t", None, "c"), None, {"strategy.news_sentiment": "true"}, "on", "ops")
    (applied,) = kernel.apply(switch_on, 0)[1:]
    assert kernel.settings.for_symbol("ES").strategy.news_sentiment and applied.changed == {"strategy.news_sentiment": "true"}
