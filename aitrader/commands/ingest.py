"""``aitrader ingest``: put trade files on the log as Avro ``Tick`` events, each trade once, in time order."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from aitrader.commands.common import USAGE, console, fail, format_time_ms, parse_settings
from aitrader.commands.news import MODELS_HELP, SCORER_HELP, news_to_write
from aitrader.stack.endpoints import endpoints
from contract.events import NewsScored
from contract.partitioner import partition_for
from contract.sequencing import DEFAULT_LATE_TOLERANCE_MS, SequenceGate
from contract.topics import INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader
from eventlog.ingest import (
    BadInputError,
    IngestRefused,
    IngestReport,
    LateStart,
    Published,
    SymbolPlan,
    TickFile,
    check,
    late_starts,
    plan,
    publish_merged,
)
from eventlog.logtail import read_tails
from eventlog.producer import EventProducer
from inference.sentiment.lexicon import NAME as LEXICON_NAME
from inference.sentiment.load import DEFAULT_MODELS_ROOT
from marketdata.calendar import venue_zone
from marketdata.tickfile import TickFileError
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS, SYMBOL, instrument

COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"--speed takes a positive number or 'max', not {text!r}") from None
    if value <= 0:
        raise typer.BadParameter("--speed must be positive")
    return value


def tick_file(argument: str, default_symbol: str, settings: dict[str, str]) -> TickFile:
    """``SYMBOL=FILE`` or ``FILE`` (then ``default_symbol``); venue and local zone come from the symbol's instrument.

    Write ``./a=b.csv`` for a file whose name holds '=': ``.`` cannot start a symbol.
    """
    head, sep, tail = argument.partition("=")
    symbol, name = (head, tail) if sep and tail and SYMBOL.match(head) else (default_symbol, argument)
    path = Path(name)
    if not path.is_file():
        raise fail(f"{name}: no such file", USAGE)
    try:
        venue = instrument(symbol, settings).venue
    except ValueError as exc:
        raise fail(f"{exc} (in a --settings FILE, or with -s key=value); nothing was written", USAGE) from None
    return TickFile(path, symbol, venue, venue_zone(venue))


def ingest(
    paths: list[str] = typer.Argument(
        ..., metavar="[SYMBOL=]FILE...", help="CSVs of trades: DateTime,Price,Volume (plain or .gz), local time of the symbol's venue."
    ),
    symbol: str = typer.Option("ES", help="Symbol of the FILE arguments given without SYMBOL=."),
    settings_file: Path | None = typer.Option(
        None, "--settings", exists=True, dir_okay=False, readable=True,
        help="Settings with the instrument.<SYMBOL>.* definitions (key=value lines or JSON), as `aitrader run processors` reads; ES is built in.",
    ),
    overrides: list[str] = typer.Option([], "-s", "--set", help="One setting, key=value (repeatable); wins over --settings."),
    speed: str = typer.Option("max", help="'max' for full speed, or N to pace at N times event time (live simulation)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count bad rows instead of stopping at the first."),
    news: Path | None = typer.Option(
        None, "--news", exists=True, dir_okay=False, readable=True,
        help="A news file (as `aitrader ingest-news` reads) to score and merge in among the ticks by event time.",
    ),
    scorer_name: str = typer.Option(LEXICON_NAME, "--scorer", help=SCORER_HELP + " For --news."),
    models: Path = typer.Option(DEFAULT_MODELS_ROOT, "--models", help=MODELS_HELP),
    namespace: str = typer.Option("", help="Topic name prefix (tests, experiments)."),
) -> None:
    """Publish trade files as Tick events on the kernel's input topic.

    Each file is checked whole first: a bad row stops the load with its line
    number and nothing is written, unless --skip-bad. The files' ticks then go
    in merged by event time. Only ticks after the last one of their symbol
    already on the log are written, so loading a file again writes nothing.
    The venue and time zone of a file are its symbol's instrument's: an unknown
    symbol is an error, never ES's. Files of symbols that share a partition must
    be loaded together: a tick older than its partition's latest record is late
    for the kernel, and the load is refused before anything is written. With
    --news, a news file's items are scored and go in among the ticks by event
    time, under the rules of `aitrader ingest-news`.
    """
    pace = _speed(speed)
    settings = {**BUILTIN_INSTRUMENT_SETTINGS, **parse_settings(settings_file, overrides)}
    files = [tick_file(argument, symbol, settings) for argument in paths]
    bootstrap = endpoints()[0]
    space = Namespace(namespace)
    TopicAdmin(bootstrap, space).create()
    with Progress(*COLUMNS, console=console, transient=False) as progress:
        reports = [_checked(progress, file, skip_bad) for file in files]
    topic = space.topic(INPUTS)
    with LogReader(bootstrap) as reader:
        partitions = len(reader.partitions(topic))
        wanted: dict[int, set[tuple[str, str]]] = {}
        for file in files:
            wanted.setdefault(partition_for(file.symbol, partitions), set()).add(file.key)
        tails = read_tails(reader, topic, wanted)
        scored: list[NewsScored] = [] if news is None else news_to_write(news, settings, reader, topic, scorer_name, models, skip_bad)
    try:
        plans = plan(reports, tails, partitions)
    except IngestRefused as exc:
        raise fail(f"{exc}; nothing was written") from None
    late = late_starts(plans, tails)
    if late:
        raise fail(" ".join(_late_message(start) for start in late) + _TOGETHER)
    for symbol_plan in plans.values():
        console.print(_plan_message(symbol_plan), highlight=False)
    skipped_bad = sum(r.bad_rows for r in reports)
    to_write = sum(p.to_write for p in plans.values())
    if to_write == 0 and not scored:
        console.print(f"published 0 ticks ({skipped_bad:,} bad rows skipped): every tick is already on the log; nothing to write")
        return
    with Progress(*COLUMNS, console=console, transient=False) as progress:
        sending = progress.add_task(f"publishing {', '.join(p.symbol for p in plans.values())}", total=to_write + len(scored))
        gate = SequenceGate({key: p.on_log.sequence for key, p in plans.items() if p.on_log is not None})
        sent = publish_merged(files, EventProducer(bootstrap, space), gate, pace, lambda n: progress.advance(sending, n), scored)
        progress.update(sending, total=sent.total + sent.news, completed=sent.total + sent.news)
    _print_results(reports, plans, sent)


def _checked(progress: Progress, file: TickFile, skip_bad: bool) -> IngestReport:
    task = progress.add_task(f"checking {file.symbol} {file.path.name}", total=None)
    try:
        report = check(file, skip_bad, lambda n: progress.advance(task, n))
    except (BadInputError, TickFileError) as exc:
        raise fail(f"{file.path}: {exc}; nothing was written (use --skip-bad to skip bad rows)") from None
    progress.update(task, total=report.rows, completed=report.rows)
    return report


_TOGETHER = (
    " Files for symbols sharing a partition must be ingested together, with one `aitrader ingest` given all of "
    "them, so their ticks go in merged by time; nothing was written."
)


def _late_message(start: LateStart) -> str:
    zone = venue_zone(start.first.key[0])
    first_ms = start.first.first_to_write_ms or 0
    return (
        f"{start.first.symbol}'s first tick to write ({format_time_ms(first_ms, zone)}) is "
        f"{_duration(start.latest_ms - first_ms)} older than the latest record on {INPUTS.name}[{start.partition}] "
        f"({format_time_ms(start.latest_ms, zone)}): the kernel would refuse those ticks as late (it takes a tick at most "
        f"{DEFAULT_LATE_TOLERANCE_MS:,} ms behind its partition). This load's symbols on that partition: "
        f"{', '.join(start.symbols)}."
    )


def _duration(ms: int) -> str:
    minutes, seconds = divmod(ms / 1000, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}h{minutes:02d}m{seconds:06.3f}s" if hours else f"{minutes}m{seconds:06.3f}s" if minutes else f"{seconds:.3f}s"


def _plan_message(symbol_plan: SymbolPlan) -> str:
    name, last = symbol_plan.symbol, symbol_plan.on_log
    if symbol_plan.ticks == 0:
        return f"{name}: no ticks in its file(s); nothing to write"
    if last is None:
        return f"{name}: {symbol_plan.to_write:,} ticks to write (none on the log yet)"
    if symbol_plan.to_write == 0:
        return f"{name}: all {symbol_plan.ticks:,} ticks already on the log; nothing to write"
    when = format_time_ms(last.event_time_ms, venue_zone(last.venue))
    return (
        f"{name}: resuming after sequence {last.sequence} ({when}), the last {name} tick on the log; "
        f"{symbol_plan.to_write:,} of {symbol_plan.ticks:,} ticks to write"
    )


def _print_results(reports: list[IngestReport], plans: dict[tuple[str, str], SymbolPlan], sent: Published) -> None:
    for report in reports:
        for bad in report.first_bad:
            console.print(f"[yellow]skipped[/] {report.path.name} {bad}")
    for key, symbol_plan in plans.items():
        console.print(f"{symbol_plan.symbol}: published {sent.counts[key]:,} ticks", highlight=False)
    if sent.news:
        console.print(f"published {sent.news:,} news events among the ticks", highlight=False)
    ticks = sum(p.ticks for p in plans.values())
    console.print(
        f"published {sent.total:,} ticks ({sum(r.bad_rows for r in reports):,} bad rows skipped) "
        f"in {sent.seconds:.1f}s: {sent.rate:,.0f} ticks/s; {ticks - sent.total:,} already on the log"
    )
