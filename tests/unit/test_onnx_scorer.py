"""The ONNX scorer on this host's CPU: contract, quantization against an oracle, batch equality, determinism, fallback."""

from __future__ import annotations

import hashlib
import logging
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from inference.onnx_scorer import OnnxScorer, chain_after
from inference.onnx_session import (
    CHAIN,
    CPU,
    CUDA,
    TENSORRT,
    SessionThreads,
    available_providers,
)
from inference.scorer import FEATURE_NAMES, SCORE_QUANTUM, Scorer, check_score
from inference.tensorrt_engine import NATIVE_TENSORRT, unavailable_reason
from tests.onnx_models import (
    BuiltModel,
    feature_rows,
    mlp_model,
    mlp_weights,
    rows_as_features,
    tree_model,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltModel, object, BuiltModel]:
    directory = tmp_path_factory.mktemp("models")
    trees, fitted = tree_model(directory, trees=20)
    return trees, fitted, mlp_model(directory)


@pytest.fixture(scope="module")
def trees(models: tuple[BuiltModel, object, BuiltModel]) -> BuiltModel:
    return models[0]


@pytest.fixture(scope="module")
def mlp(models: tuple[BuiltModel, object, BuiltModel]) -> BuiltModel:
    return models[2]


def scorer(built: BuiltModel, **options: object) -> OnnxScorer:
    return OnnxScorer(built.path, name="test-model", version="1", sha256=built.sha256, **options)  # type: ignore[arg-type]


def boundary_rows(fitted: object) -> np.ndarray:
    """Rows whose features sit exactly on, and one float32 step either side of, the trees' split thresholds."""
    base = feature_rows(1, seed=99)[0]
    rows = []
    for estimator in fitted.estimators_[:, 0]:  # type: ignore[attr-defined]
        tree = estimator.tree_
        for feature, threshold in zip(tree.feature, tree.threshold):
            if feature < 0:  # a leaf
                continue
            at = np.float32(threshold)
            for value in (at, np.nextafter(at, np.float32(-np.inf)), np.nextafter(at, np.float32(np.inf))):
                row = base.copy()
                row[feature] = float(value)
                rows.append(row)
    return np.array(rows)


def extreme_rows() -> np.ndarray:
    """Zeros, a signal at +-1, tiny and large magnitudes, a vanishing and a huge volume ratio."""
    values = [0.0, 1.0, -1.0, 1e-30, -1e-30, 1e-6, -1e-6, 5.0, -5.0, 1e4, -1e4]
    rows = [[v, v, v, v, abs(v)] for v in values]
    rows += [[1.0, 0.0, 0.0, 0.0, r] for r in (1e-9, 1.0, 1e9)]
    return np.array(rows, dtype=np.float64)


def test_it_is_a_scorer_named_by_its_card_on_this_hosts_cpu(trees: BuiltModel) -> None:
    model = scorer(trees)
    assert isinstance(model, Scorer)
    assert (model.name, model.version, model.sha256) == ("test-model", "1", trees.sha256)
    if CUDA not in available_providers():
        assert model.provider == CPU
    assert model.healthy and model.fallbacks == ()


def test_a_model_file_whose_sha256_differs_from_the_card_is_refused(trees: BuiltModel) -> None:
    with pytest.raises(ValueError, match="has SHA-256"):
        OnnxScorer(trees.path, name="test-model", version="1", sha256="0" * 64)


def test_a_model_outside_the_input_contract_is_refused(tmp_path: Path) -> None:
    narrow = mlp_model(tmp_path, width=len(FEATURE_NAMES) - 1)
    with pytest.raises(ValueError, match=r"\[N, 5\]"):
        scorer(narrow, native_tensorrt=False)


def test_scores_are_2p_minus_1_of_an_independent_float64_oracle_quantized(mlp: BuiltModel) -> None:
    rows = feature_rows(500, seed=21)
    scores = scorer(mlp).score_batch(rows_as_features(rows))
    oracle = 2.0 * mlp_weights().probabilities(rows.astype(np.float32).astype(np.float64))[:, 1] - 1.0
    for score, expected in zip(scores, oracle):
        assert check_score(score) == score
        # float32 arithmetic against float64: within a float32 rounding plus half a quantum.
        assert abs(float(score) - expected) <= 1e-6
    assert len(set(scores)) > 400  # not a constant


def test_tree_scores_follow_scikit_learns_probabilities(models: tuple[BuiltModel, object, BuiltModel]) -> None:
    built, fitted, _ = models
    rows = feature_rows(300, seed=22).astype(np.float32).astype(np.float64)
    scores = scorer(built).score_batch(rows_as_features(rows))
    expected = 2.0 * fitted.predict_proba(rows)[:, 1] - 1.0  # type: ignore[attr-defined]
    assert max(abs(float(s) - e) for s, e in zip(scores, expected)) <= 1e-5
    assert all(s.quantize(SCORE_QUANTUM) == s and -1 <= s <= 1 for s in scores)


@pytest.mark.parametrize("which", ["trees", "mlp"])
def test_a_batch_scores_exactly_as_row_by_row(models: tuple[BuiltModel, object, BuiltModel], which: str) -> None:
    built, fitted, mlp_built = models
    built = built if which == "trees" else mlp_built
    rows = np.concatenate([feature_rows(1500, seed=23), boundary_rows(fitted), extreme_rows()])
    features = rows_as_features(rows)
    model = scorer(built)
    one_by_one = [model.score(row) for row in features]
    assert model.score_batch(features) == one_by_one
    # Batch composition never matters: any slicing, any order, gives each row its own score.
    for size in (16, 64, 256):
        sliced = [s for i in range(0, len(features), size) for s in model.score_batch(features[i : i + size])]
        assert sliced == one_by_one
    order = np.random.default_rng(5).permutation(len(features))
    assert model.score_batch([features[i] for i in order]) == [one_by_one[i] for i in order]


def test_an_empty_batch_scores_nothing_and_a_non_finite_feature_is_refused(mlp: BuiltModel) -> None:
    model = scorer(mlp)
    assert model.score_batch([]) == []
    with pytest.raises(ValueError, match="not finite"):
        model.score({**dict.fromkeys(FEATURE_NAMES, 0.0), "zscore": float("nan")})


@pytest.mark.parametrize("which", ["trees", "mlp"])
def test_cpu_scores_are_the_same_across_sessions_and_inter_op_threads(
    models: tuple[BuiltModel, object, BuiltModel], which: str
) -> None:
    built = models[0] if which == "trees" else models[2]
    features = rows_as_features(feature_rows(2000, seed=24))
    first = scorer(built).score_batch(features)
    assert scorer(built).score_batch(features) == first
    assert scorer(built, threads=SessionThreads(intra_op=1, inter_op=2)).score_batch(features) == first
    assert first != scorer(built).score_batch(rows_as_features(feature_rows(2000, seed=25)))


@pytest.mark.parametrize("missing", [CUDA, "TensorrtExecutionProvider"])
def test_a_gpu_provider_that_cannot_load_falls_back_to_cpu_with_a_warning_and_scores_alike(
    mlp: BuiltModel, missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    if missing in available_providers():
        pytest.skip(f"{missing} loads on this host: the fallback needs a host without it")
    features = rows_as_features(feature_rows(200, seed=26))
    with caplog.at_level(logging.WARNING), pytest.warns(UserWarning, match=missing):
        degraded = scorer(mlp, providers=(missing, CPU), native_tensorrt=False)
    assert degraded.provider == CPU and not degraded.healthy
    assert len(degraded.fallbacks) == 1 and missing in degraded.fallbacks[0]
    assert any("falls back" in r.getMessage() for r in caplog.records)
    assert degraded.score_batch(features) == scorer(mlp, providers=(CPU,)).score_batch(features)


def test_the_native_tensorrt_path_is_selected_out_with_its_reason_on_a_host_without_it(mlp: BuiltModel) -> None:
    reason = unavailable_reason()
    if reason is None:
        pytest.skip("TensorRT and a CUDA device are present: the GPU tests cover this host")
    model = scorer(mlp)
    assert f"{NATIVE_TENSORRT}: {reason}" in model.not_available
    # Absent is not failed: a CPU host scoring on CPU is healthy.
    assert model.healthy and model.provider != NATIVE_TENSORRT
    assert isinstance(model.score(rows_as_features(feature_rows(1))[0]), Decimal)


@pytest.mark.parametrize(
    ("chain", "failed", "rest"),
    [
        (CHAIN, NATIVE_TENSORRT, CHAIN),  # the native engine erred: all of ONNX Runtime's chain
        (CHAIN, TENSORRT, (CUDA, CPU)),
        (CHAIN, CUDA, (CPU,)),
        ((CUDA, CPU), CUDA, (CPU,)),
        (CHAIN, CPU, ()),  # nothing after the last: the run error is raised
    ],
)
def test_a_run_error_falls_back_to_the_rest_of_the_chain(chain: tuple[str, ...], failed: str, rest: tuple[str, ...]) -> None:
    assert chain_after(chain, failed) == rest


def _reshape_model(directory: Path) -> BuiltModel:
    """In the contract on paper, but its run fails for an odd batch: 5 features cannot be reshaped into pairs."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["features", "pairs"], ["probabilities"])],
        "reshape",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, len(FEATURE_NAMES)])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(np.array([-1, 2], dtype=np.int64), "pairs")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = model.SerializeToString()
    (directory / "reshape.onnx").write_bytes(data)
    return BuiltModel(directory / "reshape.onnx", hashlib.sha256(data).hexdigest())


def test_a_run_error_on_the_last_path_is_raised_not_turned_into_a_score(tmp_path: Path) -> None:
    model = scorer(_reshape_model(tmp_path), providers=(CPU,), native_tensorrt=False)
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail

    with pytest.raises(Fail, match="cannot be reshaped"):
        model.score(rows_as_features(feature_rows(1))[0])
    assert model.healthy and model.provider == CPU  # nothing to fall back to, nothing fell back
