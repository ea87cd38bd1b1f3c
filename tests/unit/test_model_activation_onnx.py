"""The shipped trained model (models/gbm-bars/1.0.0) activated on the log, served by ONNX Runtime.

The kernels use the default resolver, ``inference.models.load_scorer``, which
opens registry models with ``OnnxScorer``: this is what ``aitrader model
activate gbm-bars@1.0.0`` does to a running kernel.
"""

from __future__ import annotations

import json

import pytest

from bench.common import sample_ticks
from contract.derivation import Derivation
from contract.events import (
    Envelope,
    Event,
    ModelActivated,
    ModelApplied,
    OrderIntent,
    Tick,
)
from contract.serde import EventCodec
from inference.baseline import BaselineScorer
from inference.registry import MODELS_DIR, ModelRegistry
from kernel.engine import PRODUCER, TradingKernel
from kernel.settings import KernelSettings

CODEC = EventCodec()
SWITCH_AT = 9_000
TRAINED = ModelRegistry(MODELS_DIR).resolve("gbm-bars", "1.0.0")


@pytest.fixture(scope="module")
def ticks() -> list[Tick]:
    return sample_ticks(30_000)


def _run(kernel: TradingKernel, inputs: list[Event], start: int = 0) -> list[tuple[int, Event]]:
    return [(offset, e) for offset in range(start, len(inputs)) for e in kernel.apply(inputs[offset], offset)]


def _with_activation(ticks: list[Tick]) -> list[Event]:
    card = TRAINED.card
    time_ms = ticks[SWITCH_AT].event_time_ms
    envelope = Envelope("activate-gbm-bars", time_ms, "control/test", None, "activate-gbm-bars")
    return [*ticks[:SWITCH_AT], ModelActivated(envelope, card.name, card.version, card.sha256, "test", "tester"),
            *ticks[SWITCH_AT:]]


def test_the_trained_model_activated_mid_day_scores_from_its_offset_and_survives_a_restore(ticks: list[Tick]) -> None:
    inputs = _with_activation(ticks)
    kernel = TradingKernel(1, KernelSettings.parse(), BaselineScorer())
    switched = _run(kernel, inputs)
    (applied,) = [e for o, e in switched if o == SWITCH_AT]
    assert isinstance(applied, ModelApplied) and applied.refusal is None and applied.sha256 == TRAINED.card.sha256
    intents = [(o, e) for o, e in switched if isinstance(e, OrderIntent)]
    assert {(o > SWITCH_AT, i.model_name, i.model_sha256) for o, i in intents} == {
        (False, "baseline", BaselineScorer.sha256),
        (True, "gbm-bars", TRAINED.card.sha256),
    }
    baseline_only = _run(TradingKernel(1, KernelSettings.parse(), BaselineScorer()), list(ticks))
    after = [(o, i.side, i.quantity, i.score) for o, i in intents if o > SWITCH_AT]
    assert after != [(o + 1, e.side, e.quantity, e.score) for o, e in baseline_only if isinstance(e, OrderIntent) and o >= SWITCH_AT]

    # A worker restarted with the baseline as its default continues with the trained model, byte for byte.
    replayed = TradingKernel(1, KernelSettings.parse(), BaselineScorer())
    cut = SWITCH_AT + 6_000
    _run(replayed, inputs[:cut])
    state = json.loads(replayed.snapshot(Derivation("inputs", 1, cut - 1, PRODUCER), inputs[cut - 1].event_time_ms, "t").state_json)
    restored = TradingKernel.from_state(state, BaselineScorer())
    assert restored.model.spec.name == "gbm-bars" and restored.model.provider == kernel.model.provider
    rest = _run(restored, inputs, cut)
    assert [CODEC.encode(e) for _, e in rest] == [CODEC.encode(e) for o, e in switched if o >= cut]
