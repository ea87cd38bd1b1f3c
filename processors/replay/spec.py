"""What a replay is asked to do, typed and checked: the one input of ``run_replay``.

The CLI builds a ``ReplaySpec`` from its flags, the API from its request body,
and a background job reads one back from its job file (``to_json`` /
``from_json``). Whatever can be refused without reading the log is refused
here, as ``ReplaySpecError``: a mode that does not exist, ``--flat`` in
pipeline mode, a name that cannot name topics, a time zone that does not
exist. What only the log can refuse is found by ``run_replay``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.topics import Namespace
from inference.models import ScorerSpec
from processors.replay.errors import ReplaySpecError
from processors.replay.fast import READ_BATCH
from processors.replay.names import (
    BadReplayName,
    check_name,
    default_name,
    replay_namespace,
)
from processors.replay.window import DayWindow, OffsetWindow, Window

FAST, PIPELINE = "fast", "pipeline"
MODES = (FAST, PIPELINE)
DEFAULT_ZONE = "America/Chicago"  # the sample day's venue (CME): report times read as its traders read them


@dataclass(frozen=True)
class ReplaySpec:
    """A replay request: which inputs, how to run them, where the outputs and the report go.

    ``live`` is the namespace of the live topics read; outputs go to
    ``target`` (``replay.NAME.`` beside them). ``overrides`` and ``model``
    make a what-if run: ``model`` replaces the model active at the start
    (``ModelActivated`` inputs later in the range still switch it, as
    ``ConfigChanged`` inputs still apply after ``--set``). The comparison with
    live is made unless the run is a what-if or ``flat``, or always with
    ``compare``; a ``model`` what-if compared is a what-if report (the
    difference in intents, fills and P&L), never a divergence. ``report`` is a directory for
    report.json, fills.csv, equity.csv and equity.png; ``tz`` the zone of their
    times. ``batch`` is input records per read (fast) or per worker batch (pipeline).
    """

    window: Window
    live: Namespace = field(default_factory=Namespace)
    symbols: tuple[str, ...] = ()
    mode: str = FAST
    into: str | None = None
    flat: bool = False
    overrides: Mapping[str, str] = field(default_factory=dict)
    compare: bool = False
    report: Path | None = None
    tz: str = DEFAULT_ZONE
    batch: int = READ_BATCH
    model: ScorerSpec | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ReplaySpecError(f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == PIPELINE and self.flat:
            raise ReplaySpecError("--flat is for --mode fast: the pipeline starts where live's recovery does, from a snapshot")
        try:
            check_name(self.name)
        except BadReplayName as exc:
            raise ReplaySpecError(f"--into {exc}") from None
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReplaySpecError(f"unknown time zone {self.tz!r} (use an IANA name such as America/Chicago)") from None
        if self.batch < 1:
            raise ReplaySpecError(f"--batch must be at least 1, not {self.batch}")

    @property
    def day(self) -> date | None:
        return self.window.day if isinstance(self.window, DayWindow) else None

    @property
    def name(self) -> str:
        return self.into or default_name(self.day)

    @property
    def target(self) -> Namespace:
        return replay_namespace(self.live, self.name)

    @property
    def compared(self) -> bool:
        """Whether the replay is compared with live: a what-if or flat run differs from it by design."""
        return self.compare or not (self.flat or self.what_if)

    @property
    def what_if(self) -> bool:
        return bool(self.overrides) or self.model is not None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON values (partitions as string keys); ``from_json`` reads it back."""
        window: dict[str, Any]
        if isinstance(self.window, DayWindow):
            window = {"day": self.window.day.isoformat()}
        else:
            window = {"from_offsets": _offsets_json(self.window.starts),
                      "to_offsets": None if self.window.ends is None else _offsets_json(self.window.ends)}
        return {
            "window": window,
            "live": self.live.prefix,
            "symbols": list(self.symbols),
            "mode": self.mode,
            "into": self.into,
            "flat": self.flat,
            "overrides": dict(sorted(self.overrides.items())),
            "compare": self.compare,
            "report": None if self.report is None else str(self.report),
            "tz": self.tz,
            "batch": self.batch,
            "model": None if self.model is None else str(self.model),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReplaySpec:
        found = data["window"]
        window: Window
        if "day" in found:
            window = DayWindow(date.fromisoformat(found["day"]))
        else:
            ends = found.get("to_offsets")
            window = OffsetWindow(_offsets(found["from_offsets"]), None if ends is None else _offsets(ends))
        return cls(
            window,
            Namespace(data["live"]),
            tuple(data["symbols"]),
            data["mode"],
            data["into"],
            data["flat"],
            dict(data["overrides"]),
            data["compare"],
            None if data["report"] is None else Path(data["report"]),
            data["tz"],
            data["batch"],
            None if data.get("model") is None else ScorerSpec.parse(data["model"]),  # absent in older job files
        )


def _offsets_json(offsets: Mapping[int, int]) -> dict[str, int]:
    return {str(p): o for p, o in sorted(offsets.items())}


def _offsets(found: Mapping[str, int]) -> dict[int, int]:
    return {int(p): int(o) for p, o in found.items()}
