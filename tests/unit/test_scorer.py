"""The scorer interface and the deterministic baseline."""

from __future__ import annotations

import math
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from inference.baseline import NAME, BaselineScorer, _parameters_sha256
from inference.models import ScorerSpec, load_scorer
from inference.onnx_scorer import OnnxScorer
from inference.registry import MODELS_DIR, ModelRegistry
from inference.scorer import (
    FEATURE_NAMES,
    SCORE_QUANTUM,
    Scorer,
    check_score,
    feature_vector,
    quantize_score,
)

NEUTRAL = {"signal_score": 0.0, "zscore": 0.0, "vwap_distance": 0.0, "ema_spread_sigmas": 0.0, "volume_ratio": 1.0}


def features(**overrides: float) -> dict[str, float]:
    return {**NEUTRAL, **overrides}


def test_baseline_conforms_to_the_interface() -> None:
    scorer = BaselineScorer()
    assert isinstance(scorer, Scorer)
    assert (scorer.name, scorer.version) == ("baseline", "1.0.0")
    assert len(scorer.sha256) == 64 and int(scorer.sha256, 16) >= 0


def test_parameters_hash_is_pinned_and_depends_on_the_version() -> None:
    # A changed weight table changes this hash: bump VERSION with it.
    assert BaselineScorer.sha256 == "c6eeff41a8cd6d7c5c36321d6a36ecfb43b709723e5d109cae4bbf628e951ec9"
    assert _parameters_sha256(NAME, "9.9.9") != BaselineScorer.sha256


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (NEUTRAL, Decimal("0")),
        # x = 0.75 - 0.2 - 0.1 + 0.075 + 0.5 * 0.5 * 0.2 = 0.575; 0.575 / 1.575
        (features(signal_score=0.5, zscore=2, vwap_distance=1, ema_spread_sigmas=0.3, volume_ratio=1.5),
         Decimal("0.365079")),
        (features(signal_score=-0.5), Decimal("-0.428571")),  # -0.75 / 1.75
        # every feature clipped: x = 1.5 + 0.5 + 0.5 + 1.25 + 0.5 * (1e9 - 1) / (1e9 + 1)
        (features(signal_score=1.0, ema_spread_sigmas=100.0, zscore=-100.0, vwap_distance=-100.0, volume_ratio=1e9),
         Decimal("0.809524")),
        (features(signal_score=0.5, volume_ratio=0.0), Decimal("0.333333")),  # thin volume: x = 0.75 - 0.25
        (features(signal_score=0.5, volume_ratio=-3.0), Decimal("0.333333")),
        (features(signal_score=7.0), Decimal("0.6")),  # the signal score is clipped to 1: 1.5 / 2.5
    ],
)
def test_baseline_scores_from_its_table(row: dict[str, float], expected: Decimal) -> None:
    assert BaselineScorer().score(row) == expected


def test_scores_are_deterministic_quantized_and_bounded() -> None:
    rows = [
        features(
            signal_score=s / 10, zscore=z / 3, vwap_distance=-z / 4, ema_spread_sigmas=s / 7, volume_ratio=0.25 + z / 5
        )
        for s in range(-10, 11)
        for z in range(-12, 13)
    ]
    first = [BaselineScorer().score(row) for row in rows]
    assert first == [BaselineScorer().score(row) for row in rows]
    assert BaselineScorer().score_batch(rows) == first
    assert all(s.quantize(SCORE_QUANTUM) == s and -1 <= s <= 1 for s in first)
    assert len(set(first)) > 100  # the quantum does not collapse distinct inputs


def test_score_follows_the_signal_direction() -> None:
    scorer = BaselineScorer()
    scores = [scorer.score(features(signal_score=s / 4)) for s in range(-4, 5)]
    assert scores == sorted(scores) and scores[0] < 0 < scores[-1]


def test_extra_features_are_ignored_and_missing_ones_refused() -> None:
    scorer = BaselineScorer()
    assert scorer.score({**NEUTRAL, "signal_score": 0.4, "volatility": 3.0}) == scorer.score(features(signal_score=0.4))
    row = dict(NEUTRAL)
    del row["ema_spread_sigmas"]
    with pytest.raises(ValueError, match="ema_spread_sigmas"):
        scorer.score(row)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_features_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="zscore"):
        feature_vector(features(zscore=bad))


def test_feature_vector_follows_feature_names() -> None:
    row = {name: float(i) for i, name in enumerate(reversed(FEATURE_NAMES))}
    assert feature_vector(row) == tuple(row[name] for name in FEATURE_NAMES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.5, Decimal("0.5")),
        (-0.25, Decimal("-0.25")),
        (2.0**-21, Decimal("0")),  # 4.77e-7 rounds down
        (3 * 2.0**-21, Decimal("0.000001")),  # 1.43e-6
        (1.0, Decimal("1")),
        (1.5, Decimal("1")),
        (-7.0, Decimal("-1")),
    ],
)
def test_quantize_score(raw: float, expected: Decimal) -> None:
    score = quantize_score(raw)
    assert score == expected and score.quantize(SCORE_QUANTUM) == score


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf])
def test_quantize_refuses_non_finite(raw: float) -> None:
    with pytest.raises(ValueError, match="not finite"):
        quantize_score(raw)


@pytest.mark.parametrize(
    ("score", "ok"),
    [
        (Decimal("0.5"), True),
        (Decimal("-1"), True),
        (Decimal("0.000001"), True),
        (Decimal("1.000001"), False),
        (Decimal("0.1234567"), False),
        (Decimal("NaN"), False),
    ],
)
def test_check_score(score: Decimal, ok: bool) -> None:
    if ok:
        assert check_score(score) is score
    else:
        with pytest.raises(ValueError, match="quantized"):
            check_score(score)


def test_registry_loads_the_baseline() -> None:
    scorer = load_scorer(ScorerSpec("baseline", "1.0.0"))
    assert isinstance(scorer, BaselineScorer)
    # Pinned to its own SHA-256 it loads too: a spec taken from the log names the build it was recorded with.
    assert load_scorer(ScorerSpec("baseline", "1.0.0", BaselineScorer.sha256)).sha256 == BaselineScorer.sha256


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ScorerSpec("gbm-onnx", "1.0.0"), "unknown scorer 'gbm-onnx'"),
        (ScorerSpec("baseline", "2.0.0"), "version '2.0.0' is not available"),
        (ScorerSpec("baseline", "1.0.0", "0" * 64), "another build of that model"),
    ],
)
def test_registry_refuses_what_it_cannot_provide(spec: ScorerSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_scorer(spec)


def test_a_published_model_is_served_by_onnx_runtime_as_its_card_says() -> None:
    published = ModelRegistry(MODELS_DIR).resolve("gbm-bars", "1.0.0")
    scorer = load_scorer(ScorerSpec("gbm-bars", "1.0.0", published.card.sha256))
    assert isinstance(scorer, OnnxScorer)
    assert (scorer.name, scorer.version, scorer.sha256) == ("gbm-bars", "1.0.0", published.card.sha256)
    # The same bytes opened by hand (ONNX Runtime's own session, no project code) give the same probabilities.
    session = onnxruntime.InferenceSession(str(published.path), providers=["CPUExecutionProvider"])
    rows = [{"signal_score": 0.4, "zscore": z, "vwap_distance": 0.5, "ema_spread_sigmas": -0.2, "volume_ratio": 1.3} for z in (-2.0, 0.0, 2.5)]
    matrix = np.array([feature_vector(r) for r in rows], dtype=np.float32)
    p_up = session.run(["probabilities"], {"features": matrix})[0][:, 1]
    assert [scorer.score(r) for r in rows] == [quantize_score(2 * float(p) - 1) for p in p_up]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ScorerSpec("gbm-bars", "9.9.9"), r"version '9.9.9' is not available \(published: \['1.0.0'\]\)"),
        (ScorerSpec("gbm-bars", "1.0.0", "0" * 64), "another build of that model"),
    ],
)
def test_a_published_model_is_refused_at_another_version_or_build(spec: ScorerSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_scorer(spec)


def test_a_model_whose_file_is_not_its_cards_is_refused(tmp_path: Path) -> None:
    published = ModelRegistry(MODELS_DIR).resolve("gbm-bars", "1.0.0")
    copy = tmp_path / "gbm-bars" / "1.0.0"
    shutil.copytree(published.path.parent, copy)
    (copy / "model.onnx").write_bytes(published.path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="refusing to serve it"):
        load_scorer(ScorerSpec("gbm-bars", "1.0.0"), ModelRegistry(tmp_path))
