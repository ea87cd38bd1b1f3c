"""The active model is kernel state: ModelActivated switches it at its offset, snapshots keep it, a bad one fails closed."""

from __future__ import annotations

import json

import pytest

from bench.common import sample_ticks
from contract.derivation import Derivation
from contract.events import (
    Envelope,
    Event,
    KernelSnapshotTaken,
    ModelActivated,
    ModelApplied,
    OrderIntent,
    Signal,
    Tick,
)
from contract.serde import EventCodec
from inference.baseline import BaselineScorer
from inference.models import ScorerSpec, load_scorer
from inference.scorer import Scorer
from kernel.engine import PRODUCER, TradingKernel
from kernel.settings import KernelSettings
from tests.signal_only_scorer import SignalOnlyScorer, resolve

CODEC = EventCodec()
SWITCH_AT = 9_000  # after the baseline's first intents (the first at tick 3,512), before many more


@pytest.fixture(scope="module")
def ticks() -> list[Tick]:
    return sample_ticks(30_000)


def _activation(model: Scorer | ScorerSpec, time_ms: int, sha256: str | None = None) -> ModelActivated:
    name, version = model.name, model.version
    digest = sha256 if sha256 is not None else str(model.sha256)
    envelope = Envelope(f"activate-{name}-{version}-{time_ms}", time_ms, "control/test", None, "activate")
    return ModelActivated(envelope, name, version, digest, "test", "tester")


def _kernel(scorer: Scorer | None = None) -> TradingKernel:
    return TradingKernel(1, KernelSettings.parse(), scorer or BaselineScorer(), resolve=resolve)


def _run(kernel: TradingKernel, inputs: list[Event], start: int = 0) -> list[tuple[int, Event]]:
    return [(offset, e) for offset in range(start, len(inputs)) for e in kernel.apply(inputs[offset], offset)]


def _with_activation(ticks: list[Tick], activation: ModelActivated, at: int = SWITCH_AT) -> list[Event]:
    return [*ticks[:at], activation, *ticks[at:]]


def _intents(derived: list[tuple[int, Event]]) -> list[tuple[int, OrderIntent]]:
    return [(o, e) for o, e in derived if isinstance(e, OrderIntent)]


def test_two_models_derive_different_intents_from_the_same_ticks_each_naming_its_build(ticks: list[Tick]) -> None:
    base = _intents(_run(_kernel(BaselineScorer()), list(ticks)))
    other = _intents(_run(_kernel(SignalOnlyScorer()), list(ticks)))
    assert base and other
    assert [(o, i.side, i.quantity, i.score) for o, i in base] != [(o, i.side, i.quantity, i.score) for o, i in other]
    for intents, scorer in ((base, BaselineScorer()), (other, SignalOnlyScorer())):
        assert {(i.model_name, i.model_version, i.model_sha256) for _, i in intents} == {
            (scorer.name, scorer.version, scorer.sha256)
        }


def test_an_activation_mid_day_switches_scoring_at_its_offset(ticks: list[Tick]) -> None:
    activation = _activation(SignalOnlyScorer(), ticks[SWITCH_AT].event_time_ms)
    inputs = _with_activation(ticks, activation)
    switched = _run(_kernel(), inputs)
    baseline_only = _run(_kernel(), list(ticks))
    # Up to the activation, exactly the baseline's day; the activation is announced by itself.
    before = [e for o, e in switched if o < SWITCH_AT]
    assert [CODEC.encode(e) for e in before] == [CODEC.encode(e) for o, e in baseline_only if o < SWITCH_AT]
    (applied,) = [e for o, e in switched if o == SWITCH_AT]
    assert isinstance(applied, ModelApplied) and applied.refusal is None and applied.name == "signal-only"
    assert applied.envelope.causation_id == activation.event_id
    # From the next input on every intent is the other model's.
    models = {(o > SWITCH_AT, i.model_name) for o, i in _intents(switched)}
    assert models == {(False, "baseline"), (True, "signal-only")}


def test_a_kernel_restored_after_the_switch_keeps_the_activated_model_under_another_default(ticks: list[Tick]) -> None:
    activation = _activation(SignalOnlyScorer(), ticks[SWITCH_AT].event_time_ms)
    inputs = _with_activation(ticks, activation)
    kernel = _kernel()
    cut = SWITCH_AT + 5_000
    _run(kernel, inputs[:cut])
    snapshot = kernel.snapshot(Derivation("inputs", 1, cut - 1, PRODUCER), inputs[cut - 1].event_time_ms, "test")
    state = json.loads(snapshot.state_json)
    assert state["model"] == {"name": "signal-only", "version": "1.0.0", "sha256": SignalOnlyScorer.sha256, "refusal": None}
    # A worker started with the baseline as its default (--model) restores the snapshot's model, not its own.
    restored = TradingKernel.from_state(state, BaselineScorer(), resolve=resolve)
    assert restored.model.scorer is not None and restored.model.scorer.name == "signal-only"
    rest = _run(restored, inputs, cut)
    uninterrupted = _run(kernel, inputs, cut)
    assert _intents(rest) and [CODEC.encode(e) for _, e in rest] == [CODEC.encode(e) for _, e in uninterrupted]


def test_a_model_the_kernel_cannot_provide_fails_closed_until_a_valid_activation(ticks: list[Tick]) -> None:
    unknown = _activation(ScorerSpec("gbm-onnx", "9.9.9", "ab" * 32), ticks[SWITCH_AT].event_time_ms)
    back = _activation(BaselineScorer(), ticks[20_000].event_time_ms)
    inputs: list[Event] = [*ticks[:SWITCH_AT], unknown, *ticks[SWITCH_AT:20_000], back, *ticks[20_000:]]
    derived = _run(_kernel(), inputs)
    (refused,) = [e for o, e in derived if o == SWITCH_AT]
    assert isinstance(refused, ModelApplied) and "unknown scorer 'gbm-onnx'" in (refused.refusal or "")
    closed = range(SWITCH_AT + 1, 20_000 + 1)
    # Signals go on (they are the patterns' facts); no intent, and so no order, while no model is active.
    assert any(isinstance(e, Signal) for o, e in derived if o in closed)
    assert not [e for o, e in derived if o in closed and not isinstance(e, (Signal, KernelSnapshotTaken, ModelApplied))]
    (resumed,) = [e for o, e in derived if o == 20_001]
    assert isinstance(resumed, ModelApplied) and resumed.refusal is None
    assert any(o > 20_001 for o, _ in _intents(derived))
    # The refusal is state: a kernel restored while closed stays closed, even on a host with that model.
    kernel = _kernel()
    _run(kernel, inputs[: SWITCH_AT + 10])
    restored = TradingKernel.from_state(kernel.to_state(), BaselineScorer(), resolve=resolve)
    assert restored.model.scorer is None and restored.model.refusal == kernel.model.refusal


@pytest.mark.parametrize("scorer", [BaselineScorer(), SignalOnlyScorer()])
def test_an_activation_naming_another_build_is_refused(ticks: list[Tick], scorer: Scorer) -> None:
    # The baseline's resolver (load_scorer) checks the SHA-256 itself; the test resolver ignores it and the kernel
    # catches the build it was handed.
    kernel = _kernel()
    _run(kernel, list(ticks[:10]))
    (applied,) = kernel.apply(_activation(scorer, ticks[10].event_time_ms, sha256="0" * 64), 10)
    assert isinstance(applied, ModelApplied) and applied.refusal is not None
    assert "0" * 64 in applied.refusal and scorer.sha256 in applied.refusal
    assert kernel.model.scorer is None


def test_a_restore_refuses_a_recorded_model_this_host_cannot_provide(ticks: list[Tick]) -> None:
    kernel = _kernel(SignalOnlyScorer())
    _run(kernel, list(ticks[:10]))
    with pytest.raises(ValueError, match="scored with model signal-only@1.0.0, which cannot be provided here"):
        TradingKernel.from_state(kernel.to_state(), BaselineScorer(), resolve=load_scorer)


def test_a_format_2_snapshot_restores_with_the_model_it_names(ticks: list[Tick]) -> None:
    kernel = _kernel()
    _run(kernel, list(ticks[:10]))
    state = kernel.to_state()
    model = state.pop("model")
    old = {**state, "format": 2, "scorer": {"name": model["name"], "version": model["version"]}}
    restored = TradingKernel.from_state(old, BaselineScorer())
    assert restored.to_state() == kernel.to_state()
