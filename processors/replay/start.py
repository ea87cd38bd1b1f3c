"""The kernel each partition's replay starts with: live's snapshot, with the replay's own rules on top.

The restore itself is recovery's (``kernel.restore.restore_kernel``); what
is a replay's alone:

* the snapshot is the one right before the range (``window.py`` finds it), and
  it scores with the model it recorded (kernel state), unless ``--model``
  replaces that model for a what-if;
* ``--flat`` starts empty instead, with the snapshot's settings (or the
  defaults when there is no snapshot);
* a range that starts after offset 0 with no snapshot right before it is
  refused: an empty kernel there would not be the state live had;
* ``--set`` overrides are applied the way a ``ConfigChanged`` input would apply
  them at that point of the log, so pattern, strategy and risk settings all
  take effect exactly as a live change would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contract.derivation import Derivation
from contract.events import ConfigApplied, ConfigChanged, DeadLettered, Envelope
from contract.ids import id_from_parts
from inference.baseline import NAME as BASELINE_NAME
from inference.baseline import VERSION as BASELINE_VERSION
from inference.models import ScorerSpec, load_scorer
from inference.scorer import Scorer
from kernel.engine import PRODUCER, TradingKernel, canonical_json, snapshot_origin
from kernel.model import ActiveModel
from kernel.restore import restore_kernel, snapshot_state
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars
from processors.replay.errors import ReplayRefused
from processors.replay.window import PartitionPlan


@dataclass(frozen=True, slots=True)
class StartState:
    """A partition's kernel at the start of the replay, and where that state came from."""

    kernel: TradingKernel
    source: str
    recorded_by: str | None = None  # code version of the snapshot it came from

    @property
    def settings(self) -> dict[str, str]:
        return dict(self.kernel.settings.values)


def start_kernel(
    plan: PartitionPlan,
    overrides: Mapping[str, str],
    flat: bool = False,
    calendars: VenueCalendars | None = None,
    model: ScorerSpec | None = None,
) -> StartState:
    """The kernel a partition's replay starts with.

    ``ReplayRefused`` for a range with no snapshot before it or a what-if the
    kernel refuses; ``ValueError`` from the restore, the settings or the
    model for a snapshot of another format, a recorded model or a ``model``
    this host cannot provide, or a setting that does not parse.
    """
    found = plan.snapshot
    state = snapshot_state(found.event) if found is not None else None
    scorer = starting_scorer(model)
    if found is not None and state is not None and not flat:
        kernel = restore_kernel(plan.partition, state, scorer, calendars)
        if model is not None:
            apply_model_what_if(kernel, scorer)
        if overrides:
            apply_what_if(kernel, overrides, found.event.event_time_ms, plan.start)
        source = f"snapshot at {found.offset} ({found.event.reason}, after input {found.event.input_offset})"
        return StartState(kernel, source, snapshot_origin(state)[1])
    if state is None and not flat and plan.start > 0:
        raise ReplayRefused(
            f"partition {plan.partition}: no kernel snapshot right before input offset {plan.start}; "
            "start at a snapshot (aitrader log read --topic snapshots shows their input_offset) or replay --flat"
        )
    recorded = KernelSettings.parse() if state is None else KernelSettings.from_state(state)
    settings = recorded.changed(overrides, None) if overrides else recorded
    why = "--flat" if flat else "the log's start"
    origin = "settings of the snapshot" if state is not None else "default settings"
    return StartState(restore_kernel(plan.partition, None, scorer, calendars, settings), f"empty ({why}; {origin})")


def starting_scorer(model: ScorerSpec | None) -> Scorer:
    """The model a kernel that starts empty scores with: ``model`` for a what-if, else the baseline, as live."""
    return load_scorer(model if model is not None else ScorerSpec(BASELINE_NAME, BASELINE_VERSION))


def apply_model_what_if(kernel: TradingKernel, scorer: Scorer) -> None:
    """Replaces the model a restored kernel holds with ``scorer`` (``--model``), as if activated right before the range.

    Shared by both replay modes, like ``apply_what_if``. Nothing is emitted: a
    what-if is not on the input log, so neither is an announcement of it.
    """
    kernel.model = ActiveModel.of(scorer)


def apply_what_if(kernel: TradingKernel, overrides: Mapping[str, str], event_time_ms: int, start: int) -> None:
    """Applies what-if settings through the kernel's own config path (as a ConfigChanged right before ``start``).

    Shared by both replay modes: fast mode calls it on the kernel it restores,
    pipeline mode on the kernel the worker's recovery rebuilt.
    """
    event_id = id_from_parts("replay-what-if", kernel.partition, start, canonical_json(dict(overrides)))
    change = ConfigChanged(
        envelope=Envelope(event_id, event_time_ms, PRODUCER, None, event_id),
        symbol=None,
        settings=dict(overrides),
        reason="replay what-if",
        actor="aitrader replay --set",
    )
    derived = kernel.on_config(change, Derivation("replay-what-if", kernel.partition, start - 1, PRODUCER))
    refused = [e for e in derived if isinstance(e, DeadLettered)]
    if refused:
        raise ReplayRefused(f"--set refused by the kernel: {refused[0].reason}")
    # The kernel announces what it applied; a what-if is not on the input log, so neither is its announcement.
    unexpected = [e for e in derived if not isinstance(e, ConfigApplied)]
    if unexpected:
        raise ReplayRefused(f"--set made the kernel emit {len(unexpected)} events before the first input; refusing")
