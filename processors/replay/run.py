"""The replay use case: ``run_replay(spec, bootstrap, progress)`` plans, starts, runs, compares and reports.

Every caller runs a replay through here: ``aitrader replay`` prints what it is
told, and the API's background jobs (``job.py``) write it to files. Steps:

1. plan the inputs on the live log (a day or offsets, some symbols' partitions);
2. build each partition's start state (live's snapshot, what-if, ``--flat``);
3. create the replay topics if missing and note their end offsets;
4. run the kernel, in this process (fast) or through the live Faust worker
   (pipeline, which stops its worker with a signal to its own process: run
   it in a process of its own, never inside a server);
5. find the offsets the run appended and compare their digests with live's
   (and for a what-if compared with live, the difference in intents, fills and
   P&L, ``whatif.py``);
6. build the report (and write its files when a directory was given).

``ReplayRefused`` (exit 2) when it cannot run as asked; otherwise a
``ReplayOutcome``, diverged (exit 1) or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from confluent_kafka import KafkaException

from contract.records import UndecodableRecord
from contract.serde import EventCodec
from contract.topics import INPUTS
from eventlog.consumer import LogReader
from eventlog.producer import DeliveryError, EventProducer
from marketdata.calendar import VenueCalendars
from processors.replay.compare import compare_topics
from processors.replay.errors import ReplayRefused
from processors.replay.fast import run_fast
from processors.replay.observe import RunObserver
from processors.replay.outcome import ReplayOutcome, code_versions_differing
from processors.replay.pipeline import PipelineRun, run_pipeline
from processors.replay.progress import (
    Phase,
    Planned,
    ProgressSink,
    Replayed,
    ReplayProgress,
)
from processors.replay.providers import providers_differing, recorded_providers
from processors.replay.report import run_manifest, summary, write_report
from processors.replay.spec import FAST, ReplaySpec
from processors.replay.start import StartState, start_kernel
from processors.replay.tally import ReplayRun
from processors.replay.target import prepare_topics, written_ranges
from processors.replay.whatif import opening_positions, what_if_difference
from processors.replay.window import ReplayPlan, plan_window


def run_replay(spec: ReplaySpec, bootstrap: str, progress: ProgressSink | None = None) -> ReplayOutcome:
    """Replays ``spec`` on the broker at ``bootstrap``; ``progress`` hears each phase (``progress.py``)."""
    started = time.perf_counter()
    tell = progress or _ignore
    codec = EventCodec()
    try:
        with LogReader(bootstrap) as reader:
            tell(ReplayProgress(Phase.PLANNING))
            plan = plan_window(reader, spec.live, spec.window, spec.symbols, codec)
            starts = _starts(plan, spec)
            planned = Planned(plan, {p: s.source for p, s in starts.items()}, spec.live, spec.target)
            tell(ReplayProgress(Phase.PLANNED, 0, plan.inputs, planned=planned))
            if plan.inputs == 0:
                raise ReplayRefused("no inputs in that range: nothing to replay")
            manifest = run_manifest({p: s.kernel for p, s in starts.items()}, spec.overrides, spec.mode)
            opening = opening_positions({p: s.kernel for p, s in starts.items()})  # the run moves the kernels
            before = prepare_topics(reader, bootstrap, spec.target)
            observer = RunObserver() if spec.report is not None else None
            tell(ReplayProgress(Phase.REPLAYING, 0, plan.inputs))
            run, piped = _run(reader, codec, bootstrap, spec, plan, starts, observer,
                              lambda done: tell(ReplayProgress(Phase.REPLAYING, done, plan.inputs)))
            replayed = Replayed(run, piped, written_ranges(reader, spec.target, before, run.by_topic))
            tell(ReplayProgress(Phase.COMPARING, run.inputs, plan.inputs, replayed=replayed))
            comparison = compare_topics(reader, codec, spec.live, spec.target, run.spans, replayed.written, spec.compared)
            what_if = (
                what_if_difference(reader, codec, spec.live, spec.target, run.spans, replayed.written, run.kernels, opening)
                if spec.what_if and spec.compared
                else None
            )
            recorded = recorded_providers(reader, codec, spec.live)
    except (KafkaException, DeliveryError, UndecodableRecord) as exc:
        # The log (or the broker) is not as a replay needs it: the message says where.
        raise ReplayRefused(str(exc)) from exc
    title = f"replay {plan.label} into {spec.target.prefix}" + (f" with {dict(spec.overrides)}" if spec.overrides else "")
    title += f" with model {spec.model}" if spec.model is not None else ""
    content = summary(title, plan, planned.sources, run, comparison, replayed.written, manifest, time.perf_counter() - started)
    if what_if is not None:
        content["what_if"] = what_if.to_json()
    files: tuple[Path, ...] = ()
    if spec.report is not None and observer is not None:
        tell(ReplayProgress(Phase.REPORTING, run.inputs, plan.inputs))
        files = tuple(write_report(spec.report, content, observer, spec.zone))
    providers = (p for s in starts.values() if (p := s.kernel.model.provider) is not None)  # a closed one: none
    scoring = providers_differing(comparison, recorded, providers)
    return ReplayOutcome(
        spec, planned, replayed, comparison, code_versions_differing(comparison, starts), content, files, what_if, scoring
    )


def _ignore(progress: ReplayProgress) -> None:
    pass


def _starts(plan: ReplayPlan, spec: ReplaySpec) -> dict[int, StartState]:
    calendars = VenueCalendars()
    try:
        return {p.partition: start_kernel(p, spec.overrides, spec.flat, calendars, spec.model)
                for p in plan.partitions if p.inputs}
    except ReplayRefused:
        raise
    except ValueError as exc:  # a snapshot of another format, a model this host lacks, a what-if the kernel refuses
        raise ReplayRefused(str(exc)) from exc


def _run(
    reader: LogReader,
    codec: EventCodec,
    bootstrap: str,
    spec: ReplaySpec,
    plan: ReplayPlan,
    starts: Mapping[int, StartState],
    observer: RunObserver | None,
    progress: Callable[[int], None],
) -> tuple[ReplayRun, PipelineRun | None]:
    if spec.mode == FAST:
        producer = EventProducer(bootstrap, spec.target, codec)
        kernels = {p: s.kernel for p, s in starts.items()}
        return run_fast(reader, producer, spec.live, plan, kernels, observer, spec.batch, progress), None
    marks = reader.watermarks(spec.live.topic(INPUTS))
    piped = run_pipeline(bootstrap, spec.live, spec.target, plan, marks, starts, spec.overrides, observer, spec.batch,
                         progress=progress, model=spec.model)
    return piped.run, piped
