"""Rebuilding a partition's kernel from a snapshot's state, or from nothing: one way, for recovery and for replay.

Live recovery (``processors/live/recovery.py``) and a replay's start state
(``processors/replay/start.py``) both start a kernel where a
``KernelSnapshotTaken`` left it, or empty where there is none. Doing it in one
place keeps the two from drifting apart: a replay proves determinism only if it
starts from the state recovery rebuilds (the pipeline replay checks exactly
that). Each caller layers its own rules on top: recovery, which snapshot to
pick and the warning about settings; replay, the what-if overrides,
``--flat`` and refusing a range with no snapshot before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from contract.events import KernelSnapshotTaken
from inference.models import ScorerResolver, load_scorer
from inference.scorer import Scorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars


def snapshot_state(snapshot: KernelSnapshotTaken) -> dict[str, Any]:
    """The kernel state a snapshot carries."""
    state: dict[str, Any] = json.loads(snapshot.state_json)
    return state


def restore_kernel(
    partition: int,
    state: Mapping[str, Any] | None,
    scorer: Scorer,
    calendars: VenueCalendars | None = None,
    settings: KernelSettings | None = None,
    resolve: ScorerResolver = load_scorer,
) -> TradingKernel:
    """The kernel ``state`` holds, or with no state an empty kernel of ``partition`` seeded with ``settings`` and ``scorer``.

    ``settings`` (default: the default settings) seed an empty kernel only: a
    snapshot carries the settings in force on the log when it was taken
    (config changes included), and those win; so does the model it recorded
    (``resolve`` provides it when it is not ``scorer``). Raises
    ``SnapshotFormatError`` for a state of another format and ``ValueError``
    for one whose model this host cannot provide.
    """
    if state is None:
        seeded = settings if settings is not None else KernelSettings.parse()
        return TradingKernel(partition, seeded, scorer, calendars, resolve=resolve)
    return TradingKernel.from_state(state, scorer, calendars, resolve)
