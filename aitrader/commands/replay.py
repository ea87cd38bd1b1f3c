"""``aitrader replay``: the replay use case (``processors/replay/run.py``) from the command line.

This command parses the flags into a ``ReplaySpec``, runs ``run_replay`` and
prints what it is told: the plan before the run, what the run derived and
where it wrote it, the comparison with live, the report's files. Two modes
run over the same plan, start states and comparison: ``--mode fast`` runs the
kernel in this process; ``--mode pipeline`` runs the live Faust worker over
the live input records.

Exit codes: 0 replayed (and identical to live when compared, or a ``--model``
what-if report), 1 the replay diverged from live, 2 the replay could not be
run as asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from aitrader.commands.common import console, fail, format_time_ms, setting_pairs, zone
from aitrader.stack.endpoints import endpoints
from contract.digest import Divergence, LoggedEvent
from contract.topics import INPUTS, Namespace
from eventlog.consumer import OffsetRanges
from inference.models import ScorerSpec
from processors.replay.errors import ReplayRefused, ReplaySpecError
from processors.replay.fast import READ_BATCH
from processors.replay.outcome import ReplayOutcome
from processors.replay.progress import Planned, Replayed, ReplayProgress
from processors.replay.run import run_replay
from processors.replay.spec import FAST, ReplaySpec
from processors.replay.tally import ReplayRun
from processors.replay.whatif import WhatIfDifference, money
from processors.replay.window import DayWindow, OffsetWindow, Window, parse_offsets


def replay(
    day: str | None = typer.Option(None, "--day", help="Trading day YYYY-MM-DD: each partition's day, from its session-start snapshot to its next day's (CME 2013-09-03 opens 2013-09-02 17:00 CT)."),
    from_offsets: str | None = typer.Option(None, "--from-offsets", help="First input offsets, P:O[,P:O...]; each must follow a snapshot."),
    to_offsets: str | None = typer.Option(None, "--to-offsets", help="End input offsets (exclusive), P:O[,...]; default the log's end."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated symbols: replay only the partitions holding them."),
    mode: str = typer.Option(FAST, "--mode", help="fast: in one process. pipeline: through the live Faust kernel worker."),
    into: str | None = typer.Option(None, "--into", help="Replay name: outputs go to the replay.NAME.* topics (default: the day, or 'offsets')."),
    flat: bool = typer.Option(False, "--flat", help="Start from an empty kernel instead of the snapshot; skips the comparison."),
    overrides: list[str] = typer.Option([], "--set", help="What-if setting key=value (repeatable); skips the comparison unless --compare."),
    model: str | None = typer.Option(
        None, "--model", help="What-if model NAME@VERSION: replaces the model active at the start (later ModelActivated "
        "inputs still switch it); skips the comparison unless --compare, which reports the difference in intents, fills and P&L.",
    ),
    compare: bool = typer.Option(False, "--compare", help="Compare with live even for a --set, --model or --flat run."),
    report: Path | None = typer.Option(None, "--report", file_okay=False, help="Write report.json, fills.csv, equity.csv and equity.png here."),
    namespace: str = typer.Option("", "--namespace", help="Prefix of the live topics (tests, experiments); live uses none."),
    tz: str = typer.Option("America/Chicago", help="Zone of printed times."),
    batch: int = typer.Option(READ_BATCH, min=1, help="Input records per read (fast) or per worker batch (pipeline)."),
) -> None:
    """Re-run the kernel over a trading day or an offset range of the input topic and compare with live.

    The derived events go to replay.NAME.* topics, never to live ones. Each
    partition starts from the kernel snapshot live took right before the range,
    with the settings in force then. Digests (SHA-256 over each derived topic's
    events, deduplicated by id, in log order) are compared with live; on a
    difference the first differing event and fields are printed and the exit
    code is 1.
    """
    timezone = zone(tz)
    window = _window(day, from_offsets, to_offsets)
    wanted = tuple(s.strip() for s in (symbols or "").split(",") if s.strip())
    settings = setting_pairs(overrides, "--set")
    try:
        what_if_model = None if model is None else ScorerSpec.parse(model)
        spec = ReplaySpec(
            window, Namespace(namespace), wanted, mode, into, flat, settings, compare, report, tz, batch, what_if_model
        )
    except (ReplaySpecError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        outcome = run_replay(spec, endpoints()[0], lambda progress: _print_progress(progress, spec.target))
    except ReplayRefused as exc:
        raise fail(str(exc), exc.exit_code) from None  # processors/replay/errors.py: a refused replay exits 2
    _print_comparison(outcome, timezone)
    if outcome.what_if is not None:
        _print_what_if(outcome.what_if)
    if outcome.files:
        console.print(f"report: {', '.join(str(f) for f in outcome.files)}", highlight=False)
    if outcome.diverged:
        raise typer.Exit(outcome.exit_code)


def _window(day: str | None, from_offsets: str | None, to_offsets: str | None) -> Window:
    if (day is None) == (from_offsets is None):
        raise typer.BadParameter("give exactly one of --day or --from-offsets")
    if to_offsets is not None and from_offsets is None:
        raise typer.BadParameter("--to-offsets needs --from-offsets")
    if day is not None:
        try:
            return DayWindow(date.fromisoformat(day))
        except ValueError:
            raise typer.BadParameter(f"--day {day!r} is not YYYY-MM-DD") from None
    try:
        return OffsetWindow(parse_offsets(from_offsets or ""), parse_offsets(to_offsets) if to_offsets is not None else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _shown(value: object) -> str:
    return json.dumps(value, default=str)


def _print_progress(progress: ReplayProgress, target: Namespace) -> None:
    """The plan before the run, and what it derived and wrote once it is done; the rest is for jobs."""
    if progress.planned is not None:
        _print_plan(progress.planned)
    if progress.replayed is not None:
        _print_replayed(progress.replayed, target)


def _print_plan(planned: Planned) -> None:
    live, target = planned.live, planned.target
    where = f"live topics {live.prefix + '*' if live.prefix else '(no prefix)'} -> {target.prefix}*"
    console.print(f"replay {planned.plan.label}; {where}", highlight=False)
    for part in planned.plan.partitions:
        begin = planned.sources.get(part.partition, "nothing to replay")
        console.print(
            f"  {live.topic(INPUTS)}[{part.partition}] offsets [{part.start:,}, {part.end:,}): {part.inputs:,} inputs; "
            f"start: {begin}",
            highlight=False,
        )


def _print_replayed(replayed: Replayed, target: Namespace) -> None:
    run, piped = replayed.run, replayed.pipeline
    how = (
        "in this process"
        if piped is None
        else f"through the Faust worker, group {piped.group}, {piped.wall_seconds:.1f}s from start to stop"
    )
    console.print(
        f"replayed {run.inputs:,} inputs -> {run.outputs:,} events in {run.seconds:.1f}s {how}: "
        f"{run.rate:,.0f} inputs/s ({_counts(run)})",
        highlight=False,
    )
    _print_written(replayed.written, target)


def _print_written(written: Mapping[str, OffsetRanges], target: Namespace) -> None:
    for name, ranges in sorted(written.items()):
        shown = ", ".join(f"[{p}] [{start:,}, {end:,})" for p, (start, end) in sorted(ranges.items()))
        console.print(f"  {target.topic(name)} offsets {shown}", highlight=False)


def _counts(run: ReplayRun) -> str:
    return ", ".join(f"{count:,} {kind}" for kind, count in sorted(run.by_type.items())) or "none"


def _print_comparison(outcome: ReplayOutcome, tz: ZoneInfo) -> None:
    comparison, spec = outcome.comparison, outcome.spec
    for topic in comparison.topics:
        replayed = f"replay {topic.replay.sha256[:16]} ({topic.replay.events:,} events)"
        if topic.live is None:
            console.print(f"  {topic.topic:<8} {replayed}", highlight=False)
            continue
        verdict = "[green]identical[/]" if topic.identical else "[bold red]DIFFERENT[/]"
        console.print(f"  {topic.topic:<8} live {topic.live.sha256[:16]} ({topic.live.events:,} events)  {replayed}  {verdict}")
    if not comparison.compared:
        why = "--flat" if spec.flat else "a what-if run (--set, --model)" if spec.what_if else "not asked"
        console.print(f"comparison with live skipped: {why}; add --compare to compare anyway", highlight=False)
        return
    if comparison.identical:
        total = sum(t.replay.events for t in comparison.topics)
        console.print(f"[green]deterministic[/]: the replay derived the same {total:,} events as live, byte for byte")
        return
    if spec.model is not None:
        console.print(f"what-if with model {spec.model}: differs from the recorded day by design (not a divergence)")
        return
    for note in outcome.code_versions:
        # Said first: other code deriving other events is expected, not a determinism failure.
        console.print(
            f"[bold yellow]code version differs[/]: partition {note.partition}'s day was recorded by kernel/{note.recorded_by}, "
            f"this replay runs kernel/{note.replayed_by}"
        )
    if outcome.scoring_provider is not None:
        # Also said first: another provider may round a score across a 1e-6 boundary (docs/design.md, "Determinism").
        console.print(
            f"[bold yellow]scoring provider differs[/] (recorded {', '.join(outcome.scoring_provider.recorded)}, "
            f"now {', '.join(outcome.scoring_provider.replayed)})",
            highlight=False,
        )
    first = comparison.first_divergence
    console.print("[bold red]DIVERGED[/] from live")
    if first is not None:
        for line in describe_divergence(first, tz):
            console.print(line, highlight=False, markup=False)


def _print_what_if(difference: WhatIfDifference) -> None:
    live, replay = difference.live, difference.replay
    console.print("what-if against the recorded day (replay - live):", highlight=False)
    console.print(f"  intents  live {live.intents:,}  replay {replay.intents:,}  difference {replay.intents - live.intents:+,}",
                  highlight=False)
    console.print(f"  fills    live {live.fills:,}  replay {replay.fills:,}  difference {replay.fills - live.fills:+,}",
                  highlight=False)
    for symbol in difference.symbols:
        console.print(
            f"  P&L {symbol}  live {money(live.pnl.get(symbol, Decimal(0)))}  "
            f"replay {money(replay.pnl.get(symbol, Decimal(0)))}  difference {money(difference.pnl_difference(symbol))}",
            highlight=False,
        )
    if difference.none:
        console.print("  no difference in intents, fills or P&L", highlight=False)


def describe_divergence(divergence: Divergence, tz: ZoneInfo) -> list[str]:
    """The first differing event for people: where it is on both logs and which fields differ."""

    def where(side: str, event: LoggedEvent | None) -> str:
        if event is None:
            return f"{side}: no event (it has {divergence.index} events in this partition)"
        when = format_time_ms(event.timestamp_ms, tz)
        return f"{side}: offset {event.offset}, {when}, {type(event.event).__name__} {event.event.event_id}"

    lines = [
        f"first difference: {divergence.topic}[{divergence.partition}], event #{divergence.index} after deduplication",
        "  " + where("live  ", divergence.live),
        "  " + where("replay", divergence.replay),
    ]
    for number, field in enumerate(divergence.fields):
        mark = "field" if number == 0 else "also "
        lines.append(f"  {mark} {field.path}: live {_shown(field.live)} != replay {_shown(field.replay)}")
    return lines
