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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scorer", action="append", help=f"a scorer name or model directory (default: {LEXICON_NAME})")
    parser.add_argument("--repeat", type=int, default=50, help="passes over the headlines")
    args = parser.parse_args()
    texts = headlines()
    for name in args.scorer or [LEXICON_NAME]:
        scorer = load_sentiment_scorer(name)
        scorer.score_texts(texts[:1])  # warm-up: lazy tables, session allocation
        seconds = []
        for _ in range(args.repeat):
            for text in texts:
                started = time.perf_counter()
                scorer.score_texts([text])
                seconds.append(time.perf_counter() - started)
        ms = sorted(s * 1000 for s in seconds)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(
            f"{scorer.name} {scorer.version}: {len(ms):,} headlines, p50 {statistics.median(ms):.3f} ms, "
            f"p99 {p99:.3f} ms, {len(ms) / sum(seconds):,.0f} headlines/s"
        )


if __name__ == "__main__":
    main()
