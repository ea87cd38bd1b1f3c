"""The model: small gradient-boosted trees (scikit-learn), exported to ONNX with the registry's I/O contract.

Contract (``inference/registry.py``): input ``features``, float32 [N, len(FEATURE_NAMES)];
output ``probabilities``, float32 [N, 2], column 1 = P(up). The hyperparameters
are fixed here, chosen before any held-out figure was seen and never tuned on the
held-out session; the fit is deterministic (fixed seed, no subsampling, one thread).
The ONNX graph and opsets are pinned so the same fit gives the same bytes with the
same converter versions (``CONVERTERS`` are recorded in the card).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

import numpy as np

from inference.scorer import FEATURE_NAMES

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
SEED = 20130903
HYPERPARAMETERS = {
    "n_estimators": 60,
    "max_depth": 2,
    "learning_rate": 0.05,
    "min_samples_leaf": 40,
    "subsample": 1.0,
}
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
CONVERTERS = ("scikit-learn", "skl2onnx", "onnx", "numpy")


class MissingTrainingExtra(RuntimeError):
    """scikit-learn or skl2onnx is not installed."""


def feature_matrix(rows: Sequence[Sequence[float]]) -> np.ndarray:
    """Rows in ``FEATURE_NAMES`` order as the model's float32 input."""
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURE_NAMES))
    return np.ascontiguousarray(matrix)


def fit_onnx(features: np.ndarray, labels: Sequence[int]) -> bytes:
    """The ONNX bytes of the model fitted on ``features`` (float32 rows) and 0/1 ``labels``."""
    # Imported here: training needs the `train` extra, the runtime does not.
    try:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType
        from sklearn.ensemble import GradientBoostingClassifier
    except ImportError as exc:
        raise MissingTrainingExtra(f"training needs the `train` extra (pip install -e '.[train]'): {exc}") from None

    model = GradientBoostingClassifier(random_state=SEED, **HYPERPARAMETERS)
    model.fit(features, np.asarray(labels, dtype=np.int64))
    onnx_model = to_onnx(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(FEATURE_NAMES)]))],
        options={id(model): {"zipmap": False}},
        target_opset=dict(TARGET_OPSET),
    )
    outputs = [output.name for output in onnx_model.graph.output]
    if OUTPUT_NAME not in outputs:  # skl2onnx's name for it; a converter that renamed it would break the contract
        raise RuntimeError(f"the converted model has outputs {outputs}, not {OUTPUT_NAME!r}")
    # skl2onnx lists the opsets in set order, which string hashing randomizes per process: sort them for stable bytes.
    opsets = sorted(((o.domain, o.version) for o in onnx_model.opset_import))
    del onnx_model.opset_import[:]
    for domain, opset in opsets:
        onnx_model.opset_import.add(domain=domain, version=opset)
    onnx_model.doc_string = "AITrader bar-close direction model (models/<name>/<version>/CARD.md)"
    return onnx_model.SerializeToString()


def converter_versions() -> dict[str, str]:
    return {package: version(package) for package in CONVERTERS}
