"""A news file made ready for the log: checked, planned against what is there, scored (``ingest-news``, ``ingest --news``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.markup import escape

from aitrader.commands.common import console, fail, format_time_ms
from contract.events import NewsScored
from contract.partitioner import partition_for
from contract.sequencing import DEFAULT_LATE_TOLERANCE_MS
from contract.topics import INPUTS
from eventlog.consumer import LogReader
from eventlog.logtail import NEWS, read_tails
from eventlog.news import LateNews, NewsFile, late_news, plan_news, read_news_file, scored_events
from inference.sentiment.lexicon import NAME as LEXICON_NAME
from inference.sentiment.load import SentimentModelUnavailable, load_sentiment_scorer
from inference.sentiment.scorer import SentimentScorer
from marketdata.news import NewsFileError
from oms.instruments import instruments_from_settings

_UTC = ZoneInfo("UTC")
SCORER_HELP = (
    f"Sentiment scorer: {LEXICON_NAME!r} (lexicon, offline), a FinBERT checkpoint name exported under --models "
    "(ProsusAI/finbert, yiyanghkust/finbert-tone), or the directory of an exported model."
)
MODELS_HELP = "Where exported sentiment models are looked for by name (NAME is a subdirectory)."


def sentiment_scorer(name: str, models: Path) -> SentimentScorer:
    try:
        return load_sentiment_scorer(name, models)
    except (SentimentModelUnavailable, ValueError) as exc:
        raise fail(escape(str(exc))) from None


def news_to_write(
    path: Path, settings: Mapping[str, str], reader: LogReader, topic: str, scorer_name: str, models: Path, skip_bad: bool
) -> list[NewsScored]:
    """The file's news after what is on the log, scored, in event-time order; a clear failure when it cannot be written."""
    try:
        instruments = instruments_from_settings(settings)
        checked = read_news_file(path, instruments.__contains__)
    except (ValueError, NewsFileError) as exc:
        raise fail(escape(f"{path}: {exc}; nothing was written")) from None
    _report_bad(checked, skip_bad)
    partitions = len(reader.partitions(topic))
    wanted: dict[int, set[str]] = {}
    for symbol in sorted({s for item in checked.items for s in item.symbols}):
        wanted.setdefault(partition_for(symbol, partitions), set()).add(symbol)
    tails = read_tails(reader, topic, wanted, lookup=NEWS)
    plans = plan_news(checked.items, tails, partitions)
    late = late_news(plans, tails)
    if late:
        raise fail(escape(" ".join(_late_message(start) for start in late) + " Nothing was written."))
    for plan in plans.values():
        already = plan.given - len(plan.to_write)
        console.print(f"{plan.symbol}: {len(plan.to_write):,} news to write, {already:,} already on the log", highlight=False)
    console.print(f"{path.name}: {len(checked.items):,} items, {len(checked.bad):,} bad lines skipped, {checked.repeated:,} repeated lines",
                  highlight=False)
    if not any(plan.to_write for plan in plans.values()):
        return []
    scorer = sentiment_scorer(scorer_name, models)
    console.print(f"scoring with {scorer.name} {scorer.version} (sha256 {scorer.sha256[:12]})", highlight=False)
    return scored_events(plans, scorer)


def _report_bad(checked: NewsFile, skip_bad: bool) -> None:
    for bad in checked.bad:
        console.print(f"[yellow]{'skipped' if skip_bad else 'bad'}[/] {escape(f'{checked.path.name} {bad}')}", highlight=False)
    if checked.bad and not skip_bad:
        raise fail(f"{checked.path}: {len(checked.bad):,} bad line(s); nothing was written (use --skip-bad to write the good ones)")


def _late_message(start: LateNews) -> str:
    return (
        f"the first news to write on {INPUTS.name}[{start.partition}] ({format_time_ms(start.first_ms, _UTC)}) is older than "
        f"its latest record ({format_time_ms(start.latest_ms, _UTC)}) by more than {DEFAULT_LATE_TOLERANCE_MS:,} ms: the kernel "
        f"would refuse it as late (symbols {', '.join(start.symbols)})."
    )
