"""How a replay that ran ended: replayed, and identical to live or not, with the report that says so.

``diverged`` (exit code 1) is a finding, not a failure: the run completed and
its comparison shows where replay and live part. A ``--model`` what-if is
never diverged: it runs another model on purpose, and its comparison is the
what-if report (``whatif.py``). When the day was recorded
by other code, each such partition gets a ``CodeVersionDiffers`` note, said
before the divergence: other code deriving other events is expected, not a
determinism failure. Likewise a ``ProviderDiffers`` note when the day was
scored on another provider (``providers.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import __version__
from processors.replay.compare import Comparison
from processors.replay.progress import Planned, Replayed
from processors.replay.providers import ProviderDiffers
from processors.replay.spec import ReplaySpec
from processors.replay.start import StartState
from processors.replay.whatif import WhatIfDifference

SUCCEEDED, DIVERGED = "succeeded", "diverged"
DIVERGED_EXIT = 1


@dataclass(frozen=True, slots=True)
class CodeVersionDiffers:
    partition: int
    recorded_by: str  # the code version of the snapshot the partition's replay started from
    replayed_by: str = __version__


def code_versions_differing(comparison: Comparison, starts: Mapping[int, StartState]) -> tuple[CodeVersionDiffers, ...]:
    """The partitions recorded by other code, when that can explain a divergence (none otherwise)."""
    if not comparison.compared or comparison.identical:
        return ()
    return tuple(
        CodeVersionDiffers(partition, start.recorded_by)
        for partition, start in sorted(starts.items())
        if start.recorded_by is not None and start.recorded_by != __version__
    )


@dataclass(frozen=True)
class ReplayOutcome:
    spec: ReplaySpec
    planned: Planned
    replayed: Replayed
    comparison: Comparison
    code_versions: tuple[CodeVersionDiffers, ...]
    report: Mapping[str, Any]  # what report.json says (``report.summary``), written or not
    files: tuple[Path, ...]  # the report files written (none without ``spec.report``)
    what_if: WhatIfDifference | None = None  # a what-if compared with live: its difference in intents, fills, P&L
    scoring_provider: ProviderDiffers | None = None

    @property
    def diverged(self) -> bool:
        return self.comparison.compared and not self.comparison.identical and self.spec.model is None

    @property
    def state(self) -> str:
        return DIVERGED if self.diverged else SUCCEEDED

    @property
    def exit_code(self) -> int:
        return DIVERGED_EXIT if self.diverged else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "exit_code": self.exit_code,
            "error": None,
            "code_versions": [
                {"partition": c.partition, "recorded_by": c.recorded_by, "replayed_by": c.replayed_by}
                for c in self.code_versions
            ],
            "scoring_provider": None if self.scoring_provider is None else {
                "recorded": list(self.scoring_provider.recorded), "replayed": list(self.scoring_provider.replayed)
            },
            "report": dict(self.report),
            "files": [f.name for f in self.files],
        }
