"""Scores of the trained model and of the baseline formula on the same rows, as decisions would see them.

The model is scored from its ONNX bytes with ONNX Runtime on the CPU, one thread,
which is what the registry serves; ``2 * P(up) - 1`` is quantized by ``quantize_score``
like any score before a decision. The baseline is ``inference/baseline.py`` on the
same feature rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from inference.baseline import BaselineScorer
from inference.onnx_session import CPU, open_session
from inference.scorer import FEATURE_NAMES, quantize_score
from training.fit import INPUT_NAME, OUTPUT_NAME, feature_matrix


def cpu_session(model: bytes):
    """The one ONNX Runtime session training opens: CPU only, one thread each way, so figures reproduce."""
    return open_session(model, [CPU]).session


def up_probabilities(model: bytes, rows: Sequence[Sequence[float]]) -> np.ndarray:
    """P(up) per row (column 1 of the contract's output), float32."""
    (probabilities,) = cpu_session(model).run([OUTPUT_NAME], {INPUT_NAME: feature_matrix(rows)})
    return probabilities[:, 1]


def model_scores(model: bytes, rows: Sequence[Sequence[float]]) -> list[Decimal]:
    return [quantize_score(2.0 * float(p) - 1.0) for p in up_probabilities(model, rows)]


def baseline_scores(rows: Sequence[Sequence[float]]) -> list[Decimal]:
    scorer = BaselineScorer()
    return [scorer.score(dict(zip(FEATURE_NAMES, row))) for row in rows]
