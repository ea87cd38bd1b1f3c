"""`aitrader model train` on the sample day: the features are the live strategy's, and retraining gives the shipped model.

One read of the sample file and one training run serve every test here (about a minute).
"""

from __future__ import annotations

import numpy as np
import pytest

from contract.events import Signal, Tick
from eventlog.ingest import read_ticks
from inference.baseline import BaselineScorer
from inference.registry import MODELS_DIR, ModelRegistry
from inference.scorer import FEATURE_NAMES, feature_vector
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from kernel.strategy import SIGNAL_SCORE_FEATURE
from training import evaluate
from training.features import NO_SIGNAL_SCORE
from training.pipeline import DEFAULT_NAME, DEFAULT_VERSION, TrainingRun, train

pytestmark = pytest.mark.slow
metrics = pytest.importorskip("sklearn.metrics", reason="training needs the `train` extra")


@pytest.fixture(scope="module")
def ticks() -> list[Tick]:
    return list(read_ticks())


@pytest.fixture(scope="module")
def run(ticks: list[Tick]) -> TrainingRun:
    return train(ticks=ticks)


@pytest.fixture(scope="module")
def shipped() -> tuple[bytes, object]:
    resolved = ModelRegistry(MODELS_DIR).resolve(DEFAULT_NAME, DEFAULT_VERSION)
    return resolved.path.read_bytes(), resolved.card


def test_retraining_reproduces_the_shipped_model(run: TrainingRun, shipped: tuple[bytes, object]) -> None:
    model, card = shipped
    held_out = [run.rows[i].features for i in run.split.held_out]
    # Identical predictions on the held-out bars whatever the converter versions ...
    assert np.array_equal(evaluate.up_probabilities(run.model, held_out), evaluate.up_probabilities(model, held_out))
    assert run.card.metrics == card.metrics
    assert run.card.training["data"] == card.training["data"]
    # ... and the very bytes when they are the versions the shipped model was converted with.
    if run.card.training["converters"] != card.training["converters"]:
        pytest.skip(f"converters {run.card.training['converters']} differ from the card's {card.training['converters']}")
    assert run.card.sha256 == card.sha256


def test_features_at_a_bar_close_are_what_the_live_strategy_scores_at_a_signal(run: TrainingRun, ticks: list[Tick]) -> None:
    kernel = TradingKernel(1, KernelSettings.parse(), BaselineScorer())
    signals = [e for offset, tick in enumerate(ticks) for e in kernel.apply(tick, offset) if isinstance(e, Signal)]
    rows = {row.closed_at_ms: row for row in run.rows}
    first_of_bar = {}
    for signal in signals:
        first_of_bar.setdefault(signal.event_time_ms, signal)
    assert len(first_of_bar) > 150  # the sample day's signals, a few sharing a bar
    for time_ms, signal in first_of_bar.items():
        row = rows[time_ms]
        live = feature_vector({**signal.features, SIGNAL_SCORE_FEATURE: float(signal.score)})
        assert (row.pattern, row.features) == (signal.pattern, live)
    quiet = [row for row in run.rows if row.closed_at_ms not in first_of_bar]
    assert quiet and all(row.pattern is None for row in quiet)
    assert {row.features[FEATURE_NAMES.index(SIGNAL_SCORE_FEATURE)] for row in quiet} == {NO_SIGNAL_SCORE}


def test_the_split_on_the_sample_day_is_walk_forward(run: TrainingRun) -> None:
    split, rows, labels = run.split, run.rows, run.labels
    assert split.train_sessions == ("2013-09-02",) and split.held_out_session == "2013-09-03"
    first_held_out = rows[split.held_out[0]].closed_at_ms
    assert all(rows[labels[i].exit_index].closed_at_ms < first_held_out for i in split.train)
    assert list(split.train) == sorted(split.train) and list(split.held_out) == sorted(split.held_out)


def test_the_cards_held_out_auc_matches_sklearn(run: TrainingRun) -> None:
    held = [run.rows[i].features for i in run.split.held_out]
    truth = [run.labels[i].value for i in run.split.held_out]
    model_scores = [float(s) for s in evaluate.model_scores(run.model, held)]
    baseline_scores = [float(s) for s in evaluate.baseline_scores(held)]
    assert run.card.metrics["held_out"]["auc"] == pytest.approx(metrics.roc_auc_score(truth, model_scores), abs=1e-12)
    assert run.card.metrics["baseline_held_out"]["auc"] == pytest.approx(
        metrics.roc_auc_score(truth, baseline_scores), abs=1e-12
    )
