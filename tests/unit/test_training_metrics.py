"""Held-out figures (training/metrics.py) against an independent oracle: scikit-learn's metrics."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from training.metrics import auc, calibration, figures, hit_rate

metrics = pytest.importorskip("sklearn.metrics", reason="the `train` extra (scikit-learn) is the oracle")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auc_matches_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 400).tolist()
    # Scores on a coarse grid, so many ties, loosely related to the labels.
    scores = np.round(rng.normal(size=400) + 0.5 * np.asarray(labels), 1).tolist()
    assert auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)


def test_auc_of_perfect_inverted_and_constant_scores() -> None:
    assert auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auc([0.5] * 4, [0, 1, 0, 1]) == 0.5
    with pytest.raises(ValueError):
        auc([0.1, 0.2], [1, 1])


def test_hit_rate_counts_direction_over_the_threshold() -> None:
    scores = [Decimal("0.5"), Decimal("-0.4"), Decimal("0.1"), Decimal("0"), Decimal("-0.9")]
    labels = [1, 1, 0, 1, 0]
    every = hit_rate(scores, labels, Decimal(0))
    assert (every.bars, every.hits) == (4, 2)  # the zero score takes no side
    traded = hit_rate(scores, labels, Decimal("0.3"))
    assert (traded.bars, traded.hits, traded.rate) == (3, 2, 2 / 3)


def test_calibration_bins_predicted_against_observed() -> None:
    table = calibration([0.05, 0.15, 0.5, 0.55, 0.95, 1.0], [0, 1, 1, 0, 1, 1], bins=5)
    assert [b.bars for b in table] == [2, 0, 2, 0, 2]
    assert table[0].mean_predicted == pytest.approx(0.1) and table[0].observed == 0.5
    assert table[1].mean_predicted is None
    assert table[4].observed == 1.0


def test_figures_use_the_quantized_scores() -> None:
    scores = [Decimal("0.8"), Decimal("-0.6"), Decimal("0.2"), Decimal("-0.1")]
    result = figures(scores, [1, 0, 0, 1], Decimal("0.3"))
    assert result.auc == pytest.approx(metrics.roc_auc_score([1, 0, 0, 1], [float(s) for s in scores]))
    assert result.up_rate == 0.5 and result.hit_rate_traded.hits == 2
