"""``aitrader replay``: re-run the kernel over a day (or offset range) of inputs and prove it is deterministic.

Two drivers over the same plan, start states and comparison: ``--mode fast``
runs the kernel in this process; ``--mode pipeline`` runs the live Faust
worker over the live input records (``processors/replay/pipeline.py``).

Exit codes: 0 replayed (and identical to live when compared), 1 the replay
diverged from live, 2 the replay could not be run as asked.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from confluent_kafka import KafkaException

from aitrader.commands.common import console, fail, format_time_ms, setting_pairs, zone
from aitrader.stack.endpoints import endpoints
from kernel import __version__
from kernel.admin import TopicAdmin
from kernel.calendar import VenueCalendars
from kernel.consumer import LogReader, OffsetRanges
from kernel.digest import Divergence, LoggedEvent
from kernel.partitioner import partition_for
from kernel.producer import DeliveryError, EventProducer
from kernel.records import UndecodableRecord
from kernel.serde import EventCodec
from kernel.topics import DEAD_LETTER, DERIVED, INPUTS, SNAPSHOTS, Namespace, TopicSpec
from processors.replay.compare import Comparison, compare_topics
from processors.replay.fast import READ_BATCH, run_fast
from processors.replay.pipeline import PipelineReplayError, run_pipeline
from processors.replay.observe import RunObserver
from processors.replay.report import run_manifest, summary, write_report
from processors.replay.start import StartState, start_kernel
from processors.replay.tally import ReplayRun
from processors.replay.window import ReplayPlan, ReplayPlanError, parse_offsets, plan_day, plan_offsets

# What the kernel writes, so what a replay namespace needs.
REPLAY_TOPICS: tuple[TopicSpec, ...] = (*DERIVED, SNAPSHOTS, DEAD_LETTER)
REPLAY_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$")
MODES = ("fast", "pipeline")
DIVERGED = 1


def replay(
    day: str | None = typer.Option(None, "--day", help="Trading day YYYY-MM-DD: each partition's day, from its session-start snapshot to its next day's (CME 2013-09-03 opens 2013-09-02 17:00 CT)."),
    from_offsets: str | None = typer.Option(None, "--from-offsets", help="First input offsets, P:O[,P:O...]; each must follow a snapshot."),
    to_offsets: str | None = typer.Option(None, "--to-offsets", help="End input offsets (exclusive), P:O[,...]; default the log's end."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated symbols: replay only the partitions holding them."),
    mode: str = typer.Option("fast", "--mode", help="fast: in one process. pipeline: through the live Faust kernel worker."),
    into: str | None = typer.Option(None, "--into", help="Replay name: outputs go to the replay.NAME.* topics (default: the day, or 'offsets')."),
    flat: bool = typer.Option(False, "--flat", help="Start from an empty kernel instead of the snapshot; skips the comparison."),
    overrides: list[str] = typer.Option([], "--set", help="What-if setting key=value (repeatable); skips the comparison unless --compare."),
    compare: bool = typer.Option(False, "--compare", help="Compare with live even for a --set or --flat run."),
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
    started = time.perf_counter()
    timezone = zone(tz)
    if mode not in MODES:
        raise typer.BadParameter(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "pipeline" and flat:
        raise typer.BadParameter("--flat is for --mode fast: the pipeline starts where live's recovery does, from a snapshot")
    if (day is None) == (from_offsets is None):
        raise typer.BadParameter("give exactly one of --day or --from-offsets")
    if to_offsets is not None and from_offsets is None:
        raise typer.BadParameter("--to-offsets needs --from-offsets")
    settings = setting_pairs(overrides, "--set")
    name = into or (day if day is not None else "offsets")
    if not REPLAY_NAME.match(name):
        raise typer.BadParameter(f"--into {name!r}: use letters, digits, '.', '_' and '-'")
    live = Namespace(namespace)
    target = Namespace(f"{namespace}replay.{name}.")
    compared = compare or not (flat or settings)
    bootstrap = endpoints()[0]
    codec = EventCodec()
    try:
        with LogReader(bootstrap) as reader:
            plan = _plan(reader, live, codec, day, from_offsets, to_offsets, symbols)
            starts = _starts(plan, settings, flat)
            _print_plan(plan, starts, live, target, timezone)
            if plan.inputs == 0:
                raise fail("no inputs in that range: nothing to replay")
            kernels = {p: s.kernel for p, s in starts.items()}
            manifest = run_manifest(kernels, settings, mode)
            before = _ends_before(reader, bootstrap, target)
            observer = RunObserver() if report is not None else None
            if mode == "fast":
                run = run_fast(reader, EventProducer(bootstrap, target, codec), live, plan, kernels, observer, batch)
                how = "in this process"
            else:
                marks = reader.watermarks(live.topic(INPUTS))
                piped = run_pipeline(bootstrap, live, target, plan, marks, starts, settings, observer, batch)
                run = piped.run
                how = f"through the Faust worker, group {piped.group}, {piped.wall_seconds:.1f}s from start to stop"
            written = _written(reader, target, before, set(run.by_topic))
            console.print(
                f"replayed {run.inputs:,} inputs -> {run.outputs:,} events in {run.seconds:.1f}s {how}: "
                f"{run.rate:,.0f} inputs/s ({_counts(run)})",
                highlight=False,
            )
            _print_written(written, target)
            comparison = compare_topics(reader, codec, live, target, run.spans, written, compared)
    except (KafkaException, DeliveryError, UndecodableRecord, PipelineReplayError) as exc:
        # The log (or the broker) is not as a replay needs it: say where, without a traceback.
        raise fail(str(exc)) from None
    _print_comparison(comparison, flat, bool(settings), timezone, starts)
    if report is not None and observer is not None:
        title = f"replay {plan.label} into {target.prefix}" + (f" with {settings}" if settings else "")
        described = {p: s.source for p, s in starts.items()}
        content = summary(title, plan, described, run, comparison, written, manifest, time.perf_counter() - started)
        files = write_report(report, content, observer, timezone)
        console.print(f"report: {', '.join(str(f) for f in files)}", highlight=False)
    if compared and not comparison.identical:
        raise typer.Exit(DIVERGED)


def _shown(value: object) -> str:
    return json.dumps(value, default=str)


def _plan(
    reader: LogReader,
    live: Namespace,
    codec: EventCodec,
    day: str | None,
    from_offsets: str | None,
    to_offsets: str | None,
    symbols: str | None,
) -> ReplayPlan:
    wanted = None
    if symbols:
        count = len(reader.partitions(live.topic(INPUTS)))
        wanted = {partition_for(s.strip(), count) for s in symbols.split(",") if s.strip()}
    try:
        if day is not None:
            try:
                parsed = date.fromisoformat(day)
            except ValueError:
                raise typer.BadParameter(f"--day {day!r} is not YYYY-MM-DD") from None
            return plan_day(reader, live, parsed, wanted, codec)
        try:
            starts = parse_offsets(from_offsets or "")
            ends = parse_offsets(to_offsets) if to_offsets is not None else None
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        plan = plan_offsets(reader, live, starts, ends, codec)
    except ReplayPlanError as exc:
        raise fail(str(exc)) from None
    if wanted is not None:
        plan = ReplayPlan(plan.label, tuple(p for p in plan.partitions if p.partition in wanted), plan.day)
    return plan


def _starts(plan: ReplayPlan, settings: dict[str, str], flat: bool) -> dict[int, StartState]:
    calendars = VenueCalendars()
    try:
        return {p.partition: start_kernel(p, settings, flat, calendars) for p in plan.partitions if p.inputs}
    except ValueError as exc:
        raise fail(str(exc)) from None


def _ends_before(reader: LogReader, bootstrap: str, target: Namespace) -> dict[str, dict[int, int]]:
    """Creates the replay topics that are missing; per topic and partition, the end offset before this run."""
    created = set(TopicAdmin(bootstrap, target).create(REPLAY_TOPICS))
    # A topic just created is empty; asking the broker about it this early only waits for metadata.
    return {
        spec.name: {p: 0 for p in range(spec.partitions)}
        if target.topic(spec) in created
        else {p: high for p, (_, high) in reader.watermarks(target.topic(spec)).items()}
        for spec in REPLAY_TOPICS
    }


def _written(reader: LogReader, target: Namespace, before: dict[str, dict[int, int]], topics: set[str]) -> dict[str, OffsetRanges]:
    """Per replay topic this run wrote to, the offsets it appended."""
    written: dict[str, OffsetRanges] = {}
    for name in sorted(topics):
        marks = reader.watermarks(target.topic(name))
        written[name] = {p: (before[name].get(p, 0), high) for p, (_, high) in marks.items() if high > before[name].get(p, 0)}
    return written


def _print_written(written: dict[str, OffsetRanges], target: Namespace) -> None:
    for name, ranges in sorted(written.items()):
        shown = ", ".join(f"[{p}] [{start:,}, {end:,})" for p, (start, end) in sorted(ranges.items()))
        console.print(f"  {target.topic(name)} offsets {shown}", highlight=False)


def _counts(run: ReplayRun) -> str:
    return ", ".join(f"{count:,} {kind}" for kind, count in sorted(run.by_type.items())) or "none"


def _print_plan(plan: ReplayPlan, starts: dict[int, StartState], live: Namespace, target: Namespace, tz: ZoneInfo) -> None:
    where = f"live topics {live.prefix + '*' if live.prefix else '(no prefix)'} -> {target.prefix}*"
    console.print(f"replay {plan.label}; {where}", highlight=False)
    for part in plan.partitions:
        state = starts.get(part.partition)
        begin = state.source if state is not None else "nothing to replay"
        console.print(
            f"  {live.topic(INPUTS)}[{part.partition}] offsets [{part.start:,}, {part.end:,}): {part.inputs:,} inputs; "
            f"start: {begin}",
            highlight=False,
        )


def _print_comparison(comparison: Comparison, flat: bool, what_if: bool, tz: ZoneInfo, starts: dict[int, StartState]) -> None:
    for topic in comparison.topics:
        replayed = f"replay {topic.replay.sha256[:16]} ({topic.replay.events:,} events)"
        if topic.live is None:
            console.print(f"  {topic.topic:<8} {replayed}", highlight=False)
            continue
        verdict = "[green]identical[/]" if topic.identical else "[bold red]DIFFERENT[/]"
        console.print(f"  {topic.topic:<8} live {topic.live.sha256[:16]} ({topic.live.events:,} events)  {replayed}  {verdict}")
    if not comparison.compared:
        why = "--flat" if flat else "a what-if run (--set)" if what_if else "not asked"
        console.print(f"comparison with live skipped: {why}; add --compare to compare anyway", highlight=False)
        return
    if comparison.identical:
        total = sum(t.replay.events for t in comparison.topics)
        console.print(f"[green]deterministic[/]: the replay derived the same {total:,} events as live, byte for byte")
        return
    for partition, start in sorted(starts.items()):
        if start.recorded_by is not None and start.recorded_by != __version__:
            # Said first: other code deriving other events is expected, not a determinism failure.
            console.print(
                f"[bold yellow]code version differs[/]: partition {partition}'s day was recorded by kernel/{start.recorded_by}, "
                f"this replay runs kernel/{__version__}"
            )
    first = comparison.first_divergence
    console.print("[bold red]DIVERGED[/] from live")
    if first is not None:
        for line in describe_divergence(first, tz):
            console.print(line, highlight=False, markup=False)


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
