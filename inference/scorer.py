"""The scorer interface: what the strategy needs from any model.

A scorer maps a signal's features to a score in [-1, 1] whose sign is the
direction and whose magnitude is the conviction. Scores are quantized to
``SCORE_QUANTUM`` (1e-6) *inside* the scorer, so every decision downstream
compares exact decimals: two runs whose float arithmetic differs below 1e-6
(another CPU, BLAS or execution provider) still make the same decisions, except
for a value that lands exactly on a rounding boundary, which quantization makes
vanishingly rare rather than impossible (docs/design.md, "Determinism"). A scorer that is
not deterministic even at that resolution must have its outputs recorded as
events instead of recomputed on replay.

``name``, ``version`` and ``sha256`` identify the model in the run manifest
(``RunManifestRecorded``) and on every ``OrderIntent``; ``inference.models.load_scorer`` refuses
a spec it cannot honour exactly, so a replay never silently runs another model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol, runtime_checkable

SCORE_QUANTUM = Decimal("1e-6")
PURE_PYTHON = "python"
_MAX_SCORE = Decimal(1)

# The features a model receives, in this order (``feature_vector``). A model
# artifact is trained against this order; changing it is a new model version.
# The names are those of the pattern engine's ``Signal.features``
# (``kernel/patterns.py``), where "sigma" is one bar's price volatility:
#   signal_score       the pattern's own score in [-1, 1] (added by the strategy)
#   zscore             the bar return against the previous bar returns, in standard deviations
#   vwap_distance      (bar close - session VWAP) / sigma
#   ema_spread_sigmas  (fast EMA - slow EMA) / sigma
#   volume_ratio       bar volume / its moving average (1.0 = normal)
FEATURE_NAMES: tuple[str, ...] = ("signal_score", "zscore", "vwap_distance", "ema_spread_sigmas", "volume_ratio")

# An optional feature, passed only when the setting ``strategy.news_sentiment`` is on: the symbol's
# latest news sentiment in [-1, 1] (0.0 before any news), scored at ingest and carried by ``NewsScored``
# inputs. It is not in FEATURE_NAMES, so ``feature_vector``, the baseline and every model trained on
# FEATURE_NAMES ignore it; a model opts in by reading it too (its card listing it after FEATURE_NAMES).
NEWS_SENTIMENT_FEATURE = "news_sentiment"


def feature_vector(features: Mapping[str, float]) -> tuple[float, ...]:
    """The features in ``FEATURE_NAMES`` order; refuses missing or non-finite values.

    Extra keys are ignored (patterns may report more than models use). A
    missing key is an error rather than a silent 0.0 so that a renamed feature
    fails loudly instead of quietly degrading every score.
    """
    missing = [name for name in FEATURE_NAMES if name not in features]
    if missing:
        raise ValueError(f"features missing {missing}; a scorer needs all of {list(FEATURE_NAMES)}")
    values = tuple(float(features[name]) for name in FEATURE_NAMES)
    bad = [name for name, value in zip(FEATURE_NAMES, values) if not math.isfinite(value)]
    if bad:
        raise ValueError(f"features not finite: {bad}")
    return values


def quantize_score(raw: float) -> Decimal:
    """A raw model output as a decision-ready score: clamped to [-1, 1], rounded half-even to 1e-6."""
    if not math.isfinite(raw):
        raise ValueError(f"score is not finite: {raw!r}")
    # Decimal(float) is the exact binary value, so the rounding below is the same everywhere.
    score = Decimal(raw).quantize(SCORE_QUANTUM, rounding=ROUND_HALF_EVEN)
    return max(-_MAX_SCORE, min(_MAX_SCORE, score))


def check_score(score: Decimal) -> Decimal:
    """``score`` unchanged if it honours the contract (in [-1, 1], a multiple of 1e-6), else ``ValueError``."""
    if not score.is_finite() or abs(score) > _MAX_SCORE or score.quantize(SCORE_QUANTUM) != score:
        raise ValueError(f"score {score} is not a value in [-1, 1] quantized to {SCORE_QUANTUM}")
    return score


@runtime_checkable
class Scorer(Protocol):
    """A model: features in, quantized score out.

    Implementations may subclass this protocol to inherit ``score_batch``; a
    batched scorer (ONNX Runtime, TensorRT) overrides it, and must return
    exactly what calling ``score`` row by row would return, so that batch
    composition never changes a decision.
    """

    name: str
    version: str
    sha256: str  # of the model artifact; of the canonical parameters JSON for parameter-only models
    # Where the arithmetic runs: PURE_PYTHON for a formula, else the ONNX Runtime provider (or native
    # engine) in use. Recorded in the run manifest: a replay on another provider says so.
    provider: str = PURE_PYTHON

    def score(self, features: Mapping[str, float]) -> Decimal:
        """A score in [-1, 1], quantized to ``SCORE_QUANTUM``; its sign is the direction."""
        ...

    def score_batch(self, rows: Sequence[Mapping[str, float]]) -> list[Decimal]:
        """One score per row, in row order."""
        return [self.score(row) for row in rows]
