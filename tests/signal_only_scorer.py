"""A second real scorer for tests of model switching: the pattern's own score, no other feature.

Deterministic and honest (it is what the strategy would trade with no model at
all), and different enough from the baseline that the same ticks derive other
intents. Tests hand it to the kernel through its resolver, beside
``load_scorer``, until artifact-backed models are registered there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal

from inference.models import ScorerSpec, load_scorer
from inference.scorer import Scorer, feature_vector, quantize_score

NAME = "signal-only"
VERSION = "1.0.0"


class SignalOnlyScorer(Scorer):
    __slots__ = ()
    name: str = NAME
    version: str = VERSION
    sha256: str = hashlib.sha256(f"{NAME}@{VERSION}: score = signal_score".encode()).hexdigest()

    def score(self, features: Mapping[str, float]) -> Decimal:
        signal_score = feature_vector(features)[0]  # FEATURE_NAMES starts with it
        return quantize_score(signal_score)


def resolve(spec: ScorerSpec) -> Scorer:
    """``load_scorer`` plus this scorer."""
    if (spec.name, spec.version) == (NAME, VERSION):
        return SignalOnlyScorer()
    return load_scorer(spec)
