"""``aitrader run processors``: the live kernel worker (Faust) over the sequenced input topic."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from aitrader.commands.common import (
    METRICS_PORT_OPTION,
    USAGE,
    console,
    fail,
    parse_settings,
    serve_metrics,
)
from aitrader.commands.logs import configure as configure_logs
from aitrader.stack.endpoints import endpoints
from contract.topics import INPUTS, Namespace
from eventlog.admin import TopicAdmin
from inference.baseline import BaselineScorer
from inference.models import ScorerSpec, load_scorer
from kernel.settings import KernelSettings
from processors.heap import frozen_heap
from processors.live.app import (
    BATCH_MAX,
    BATCH_WITHIN_S,
    LiveWorker,
    PipelineConfig,
    PipelineStats,
    group_id,
)
from processors.live.manifest import record_manifest

LOG_EVERY_S = 5.0

class ProgressView:
    """Consumed input offsets against the end offsets seen at start: a live bar on a terminal, log lines otherwise."""

    def __init__(self, ends: dict[int, int]) -> None:
        self.ends = ends
        self.progress: Progress | None = None
        self.tasks: dict[int, TaskID] = {}
        self._last_line = 0.0

    def __enter__(self) -> ProgressView:
        if console.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            self.progress = Progress(*columns, console=console, transient=False)
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, stats: PipelineStats) -> None:
        if self.progress is not None:
            for partition, end in sorted(self.ends.items()):
                done = stats.next_offsets.get(partition, 0)
                if partition not in self.tasks and (end or done):
                    self.tasks[partition] = self.progress.add_task(f"{INPUTS.name}[{partition}]", total=end)
                if partition in self.tasks:
                    self.progress.update(self.tasks[partition], completed=done, total=max(end, done))
            return
        now = time.monotonic()
        if now - self._last_line >= LOG_EVERY_S:
            self._last_line = now
            parts = ", ".join(f"[{p}] {stats.next_offsets.get(p, 0):,}/{end:,}" for p, end in sorted(self.ends.items()))
            console.print(f"inputs {parts}; {stats.outputs:,} outputs", highlight=False)


def processors(
    namespace: str = typer.Option("", help="Topic name prefix (tests, experiments); live uses none."),
    settings_file: Path | None = typer.Option(
        None, "--settings", exists=True, dir_okay=False, readable=True,
        help="Kernel settings: a JSON object, or key=value lines.",
    ),
    overrides: list[str] = typer.Option([], "-s", "--set", help="One setting, key=value (repeatable); wins over --settings."),
    stop_at_end: bool = typer.Option(
        False, "--stop-at-end", help="Exit once every input partition's end offset at start is processed and committed."
    ),
    model: str = typer.Option(
        BaselineScorer.name,
        help="Starting model's name: scores a partition whose kernel starts empty; a snapshot's model and any "
        "ModelActivated on the log (aitrader model activate) win over it.",
    ),
    model_version: str = typer.Option(BaselineScorer.version, help="Scorer version; refused if this build cannot run exactly it."),
    batch: int = typer.Option(BATCH_MAX, min=1, help="Most inputs applied per produce-flush-commit step."),
    batch_wait_ms: int = typer.Option(
        round(BATCH_WITHIN_S * 1000), min=0, help="Longest a batch waits for more inputs after its first (0: it takes what has been fetched by then)."
    ),
    log_level: str = typer.Option("info", help="Worker log level."),
    metrics_port: int = METRICS_PORT_OPTION,
) -> None:
    """Run the trading kernel on the sequenced input topic, one kernel per partition.

    Outputs go to the signal, intent, order, fill and snapshot topics; an input's
    offset is committed only after the broker acknowledged everything it derived.
    On start each partition's kernel is rebuilt from its latest snapshot and the
    inputs after it (with the model it scored with), and a run manifest is recorded.
    """
    level = "warning" if console.is_terminal else log_level  # over a live progress bar only warnings
    handler = configure_logs(level)
    try:
        settings = KernelSettings.parse(parse_settings(settings_file, overrides))  # refuses bad settings now
        scorer = load_scorer(ScorerSpec(model, model_version))
    except ValueError as exc:
        raise fail(str(exc), USAGE) from None  # bad settings or a model this build cannot run
    bootstrap = endpoints()[0]
    space = Namespace(namespace)
    TopicAdmin(bootstrap, space).create()
    manifest = record_manifest(bootstrap, space, settings.values, scorer)
    console.print(
        f"run manifest {manifest.event_id} (config {manifest.config_hash[:12]}, {scorer.name} {scorer.version}); "
        f"group {group_id(space)}",
        highlight=False,
    )
    config = PipelineConfig(
        bootstrap, space, settings, scorer, stop_at_end=stop_at_end, batch_max=batch, batch_within_s=batch_wait_ms / 1000,
        metrics=serve_metrics("processors", metrics_port),
    )
    worker = LiveWorker(config, loglevel=level, loghandlers=[handler])
    # What start-up made (modules, the calendars, the scorer) lives as long as the worker: frozen, the garbage
    # collector never walks it again. Each batch's records triggered full collections that did (docs/performance.md).
    with frozen_heap(), ProgressView(worker.ends) as view:
        code = worker.run(view)
    stats = worker.pipeline.stats
    for recovery in stats.recoveries:
        console.print(f"recovered {recovery.describe()}", highlight=False)
    rate = stats.inputs / stats.busy_seconds if stats.busy_seconds else 0.0
    fenced = f"; {stats.fenced:,} inputs in hand when their partition was revoked, not applied" if stats.fenced else ""
    console.print(
        f"processed {stats.inputs:,} inputs in {stats.batches:,} batches, {stats.outputs:,} outputs; "
        f"{stats.busy_seconds:.1f}s from first input to last flush: {rate:,.0f} inputs/s{fenced}",
        highlight=False,
    )
    if code:
        raise fail(f"the worker stopped with exit code {code}", code)
