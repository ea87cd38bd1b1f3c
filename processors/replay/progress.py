"""What a running replay tells its caller, phase by phase: typed for the CLI, JSON for a job's progress file.

Phases, in order: ``planning`` (reading the log for the inputs and the start
snapshots), ``planned`` (once, with the plan: what the CLI prints before the
run), ``replaying`` (again every ``tally.PROGRESS_EVERY`` inputs, with inputs
done of the total), ``comparing`` (once, with what was replayed and written)
and, when a report is asked for, ``reporting``. A refusal can end the run
after any of them; the outcome or the error is the caller's to report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contract.topics import Namespace
from eventlog.consumer import OffsetRanges
from processors.replay.pipeline import PipelineRun
from processors.replay.tally import ReplayRun
from processors.replay.window import ReplayPlan


class Phase(StrEnum):
    PLANNING = "planning"
    PLANNED = "planned"
    REPLAYING = "replaying"
    COMPARING = "comparing"
    REPORTING = "reporting"


@dataclass(frozen=True)
class Planned:
    """What the replay will run: each partition's inputs and start, the topics it reads and the ones it writes."""

    plan: ReplayPlan
    sources: Mapping[int, str]  # partition -> where its start state comes from
    live: Namespace
    target: Namespace


@dataclass(frozen=True)
class Replayed:
    """What the run applied and derived, and the offsets it appended to each replay topic."""

    run: ReplayRun
    pipeline: PipelineRun | None  # the worker's run, in pipeline mode
    written: Mapping[str, OffsetRanges]


@dataclass(frozen=True)
class ReplayProgress:
    phase: Phase
    inputs_done: int = 0
    inputs_total: int = 0
    planned: Planned | None = None  # with ``planned`` only
    replayed: Replayed | None = None  # with ``comparing`` only

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase.value, "inputs_done": self.inputs_done, "inputs_total": self.inputs_total}


ProgressSink = Callable[[ReplayProgress], None]
