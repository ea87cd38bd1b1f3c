"""The deterministic baseline scorer: a fixed squash of a weighted sum of features.

It is the reference every learned model must beat, and the scorer the kernel
runs when no model artifact is configured. No randomness, no numpy and no libm:
only + - * / and comparisons, which IEEE 754 rounds identically on every
platform (``tanh`` and ``log`` may differ in the last bit between C
libraries), then quantization to 1e-6.

    x     = BIAS + sum(WEIGHTS[term] * term_value)
    score = quantize(x / (1 + |x|))          the same squash as the pattern engine

Terms (each feature clipped to [-FEATURE_CLIP, FEATURE_CLIP] first, so one
outlier cannot saturate the score on its own; the signal score to [-1, 1]):

    term                 weight  value                                  why
    signal_score           1.50  signal_score                           the pattern's own view leads
    zscore                -0.10  zscore                                 a one-bar shock partly reverts
    vwap_distance         -0.10  vwap_distance                          far from VWAP, price tends back
    ema_spread_sigmas      0.25  ema_spread_sigmas                      trend agreement adds conviction
    volume_confirmation    0.50  signal_score * (r - 1) / (r + 1),      heavy volume confirms the signal,
                                 r = volume_ratio                       thin volume weakens it

``(r - 1) / (r + 1)`` is ``tanh(ln(r) / 2)`` without libm: 0 at normal volume,
towards +1 for heavy and -1 for thin volume; a ratio at or below zero counts as -1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from inference.scorer import Scorer, feature_vector, quantize_score

BIAS = 0.0
FEATURE_CLIP = 5.0
WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "signal_score": 1.50,
        "zscore": -0.10,
        "vwap_distance": -0.10,
        "ema_spread_sigmas": 0.25,
        "volume_confirmation": 0.50,
    }
)
NAME = "baseline"
VERSION = "1.0.0"  # bump with any change to the table above or to FEATURE_NAMES


def _clip(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def _volume_confirmation(ratio: float) -> float:
    return -1.0 if ratio <= 0.0 else (ratio - 1.0) / (ratio + 1.0)


def _parameters_sha256(name: str, version: str) -> str:
    # Canonical JSON (sorted keys, no spaces): the same parameters always hash alike.
    canonical = json.dumps(
        {"name": name, "version": version, "bias": BIAS, "feature_clip": FEATURE_CLIP, "weights": dict(WEIGHTS)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class BaselineScorer(Scorer):
    """Stateless; every instance scores alike."""

    __slots__ = ()
    name: str = NAME
    version: str = VERSION
    sha256: str = _parameters_sha256(NAME, VERSION)

    def score(self, features: Mapping[str, float]) -> Decimal:
        # Unpacked in FEATURE_NAMES order.
        signal, zscore, vwap_distance, ema_spread, volume_ratio = feature_vector(features)
        signal = _clip(signal, 1.0)
        x = (
            BIAS
            + WEIGHTS["signal_score"] * signal
            + WEIGHTS["zscore"] * _clip(zscore, FEATURE_CLIP)
            + WEIGHTS["vwap_distance"] * _clip(vwap_distance, FEATURE_CLIP)
            + WEIGHTS["ema_spread_sigmas"] * _clip(ema_spread, FEATURE_CLIP)
            + WEIGHTS["volume_confirmation"] * signal * _volume_confirmation(volume_ratio)
        )
        return quantize_score(x / (1.0 + abs(x)))
