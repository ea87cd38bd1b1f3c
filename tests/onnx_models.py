"""Small ONNX models in the registry's contract, built by the tests (and the inference benchmark) themselves.

Both take ``features`` float32 [N, len(FEATURE_NAMES)] and give ``probabilities``
float32 [N, 2]:

* ``tree_model``: scikit-learn gradient-boosted trees converted by skl2onnx,
  the kind of model ``aitrader model train`` ships (ONNX-ML operators);
* ``mlp_model``: a two-layer perceptron written with ``onnx.helper``, plain
  ONNX operators only (what TensorRT can build an engine from), whose weights
  the tests also use as an independent numpy oracle.

Training data and weights come from a seeded generator: the same bytes every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.scorer import FEATURE_NAMES

WIDTH = len(FEATURE_NAMES)
HIDDEN = 16


@dataclass(frozen=True)
class BuiltModel:
    path: Path
    sha256: str


def _written(path: Path, data: bytes) -> BuiltModel:
    path.write_bytes(data)
    return BuiltModel(path, hashlib.sha256(data).hexdigest())


def feature_rows(count: int, seed: int = 7) -> np.ndarray:
    """Feature rows like the pattern engine's: a signal score in [-1, 1], z-scores and distances, a volume ratio > 0."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(0.0, 1.5, size=(count, WIDTH))
    rows[:, 0] = np.clip(rng.normal(0.0, 0.5, count), -1.0, 1.0)
    rows[:, 4] = rng.lognormal(0.0, 0.5, count)
    return rows


def tree_model(directory: Path, trees: int = 40) -> tuple[BuiltModel, object]:
    """Gradient-boosted trees on a synthetic label; returns the ONNX file and the fitted scikit-learn model."""
    from onnx import helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import GradientBoostingClassifier

    rows = feature_rows(2000, seed=11)
    noise = np.random.default_rng(12).normal(0.0, 1.0, len(rows))
    label = (1.5 * rows[:, 0] - 0.2 * rows[:, 1] + 0.3 * rows[:, 3] + noise > 0).astype(int)
    fitted = GradientBoostingClassifier(n_estimators=trees, max_depth=3, random_state=0).fit(rows, label)
    onnx_model = convert_sklearn(
        fitted,
        name="trees",  # without a name skl2onnx names the graph with a random UUID: other bytes every build
        initial_types=[("features", FloatTensorType([None, WIDTH]))],
        options={id(fitted): {"zipmap": False}},  # probabilities as a float tensor, not a list of maps
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    assert [o.name for o in onnx_model.graph.output] == ["label", "probabilities"]
    # skl2onnx lists the opsets in set order, which string hashing varies between processes: sorted, same bytes.
    opsets = sorted((o.domain, o.version) for o in onnx_model.opset_import)
    del onnx_model.opset_import[:]
    onnx_model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in opsets)
    return _written(directory / "trees.onnx", onnx_model.SerializeToString()), fitted


@dataclass(frozen=True)
class MlpWeights:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """The oracle: the same network in float64 numpy."""
        hidden = np.maximum(rows @ self.w1.astype(np.float64) + self.b1, 0.0)
        logits = hidden @ self.w2.astype(np.float64) + self.b2
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


def mlp_weights(seed: int = 3) -> MlpWeights:
    rng = np.random.default_rng(seed)
    return MlpWeights(
        rng.normal(0.0, 0.6, (WIDTH, HIDDEN)).astype(np.float32),
        rng.normal(0.0, 0.1, HIDDEN).astype(np.float32),
        rng.normal(0.0, 0.6, (HIDDEN, 2)).astype(np.float32),
        rng.normal(0.0, 0.1, 2).astype(np.float32),
    )


def mlp_model(directory: Path, weights: MlpWeights | None = None, width: int = WIDTH) -> BuiltModel:
    """features -> MatMul+Add -> Relu -> MatMul+Add -> Softmax -> probabilities."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = weights or mlp_weights()
    w1 = w.w1 if width == WIDTH else np.zeros((width, HIDDEN), np.float32)
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
        helper.make_node("Add", ["l0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (w.b1, "b1"), (w.w2, "w2"), (w.b2, "b2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="aitrader-tests")
    model.ir_version = 8  # readable by every ONNX Runtime and TensorRT this project supports
    onnx.checker.check_model(model)
    return _written(directory / f"mlp{width}.onnx", model.SerializeToString())


def rows_as_features(rows: np.ndarray) -> list[dict[str, float]]:
    return [dict(zip(FEATURE_NAMES, map(float, row))) for row in rows]
