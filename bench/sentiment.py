"""Sentiment scoring speed: per-headline latency and headlines/s of each scorer given.

    python -m bench.sentiment [--scorer vader-fin] [--scorer DIR_OF_AN_EXPORTED_MODEL] [--repeat 50]

Scores the headlines of the bundled synthetic news files, one at a time as
ingest does, ``--repeat`` times over, and prints p50/p99 latency and
throughput per scorer. A FinBERT-class scorer needs an exported model
directory (``aitrader sentiment export``); none is bundled, so by default only
the lexicon scorer is measured. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.common import figure
from inference.sentiment.lexicon import NAME as LEXICON_NAME
from inference.sentiment.load import load_sentiment_scorer
from marketdata.news import NewsItem, news_format, parse_news

DATA = Path(__file__).resolve().parents[1] / "data"
NEWS_FILES = ("news_SYNTHETIC_2013-09-01_03.csv", "news_SYNTHETIC_multi_symbol_2013-09-03.jsonl")


def headlines() -> list[str]:
    found = []
    for name in NEWS_FILES:
        with (DATA / name).open() as lines:
            found += [item.headline for item in parse_news(lines, news_format(name)) if isinstance(item, NewsItem)]
    return found


def measure(scorers: list[str] | None = None, repeat: int = 50) -> dict:
    """Prints each scorer's figures and returns them."""
    texts = headlines()
    figures = []
    for name in scorers or [LEXICON_NAME]:
        scorer = load_sentiment_scorer(name)
        scorer.score_texts(texts[:1])  # warm-up: lazy tables, session allocation
        seconds = []
        for _ in range(repeat):
            for text in texts:
                started = time.perf_counter()
                scorer.score_texts([text])
                seconds.append(time.perf_counter() - started)
        ms = sorted(s * 1000 for s in seconds)
        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        per_s = len(ms) / sum(seconds)
        label = f"{scorer.name} {scorer.version}"
        print(f"{label}: {len(ms):,} headlines, p50 {p50:.3f} ms, p99 {p99:.3f} ms, {per_s:,.0f} headlines/s")
        figures += [
            figure(f"{label}: p50 per headline", p50, "ms"),
            figure(f"{label}: p99 per headline", p99, "ms"),
            figure(f"{label}: throughput", per_s, "headlines/s"),
        ]
    return {"bench": "sentiment", "headlines": len(texts) * repeat, "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scorer", action="append", help=f"a scorer name or model directory (default: {LEXICON_NAME})")
    parser.add_argument("--repeat", type=int, default=50, help="passes over the headlines")
    args = parser.parse_args()
    measure(args.scorer, args.repeat)


if __name__ == "__main__":
    main()
