"""The GPU paths on a GPU host: CUDA and TensorRT providers, the native TensorRT engine and its cache.

Marked ``gpu``; each test skips with the reason on a host without the path it
needs (the project's machines have no GPU), and runs unchanged on one with the
``gpu`` extra installed (README, "Scoring on a GPU").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.onnx_scorer import OnnxScorer
from inference.onnx_session import CPU, CUDA, TENSORRT, available_providers
from inference.scorer import SCORE_QUANTUM
from inference.tensorrt_engine import (
    NATIVE_TENSORRT,
    engine_path,
    gpu_model,
    unavailable_reason,
)
from tests.onnx_models import (
    BuiltModel,
    feature_rows,
    mlp_model,
    rows_as_features,
    tree_model,
)

pytestmark = pytest.mark.gpu

_NATIVE_REASON = unavailable_reason()
needs_native_tensorrt = pytest.mark.skipif(_NATIVE_REASON is not None, reason=f"native TensorRT: {_NATIVE_REASON}")


def needs_provider(provider: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        provider not in available_providers(),
        reason=f"{provider} is not in this host's ONNX Runtime build {list(available_providers())}",
    )


def scorer(built: BuiltModel, **options: object) -> OnnxScorer:
    return OnnxScorer(built.path, name="test-model", version="1", sha256=built.sha256, **options)  # type: ignore[arg-type]


def within_one_quantum(gpu: list, cpu: list) -> None:
    """After quantization a GPU score is the CPU's, or one quantum away when the two straddle a rounding boundary."""
    assert max(abs(g - c) for g, c in zip(gpu, cpu)) <= SCORE_QUANTUM


@pytest.mark.parametrize("provider", [pytest.param(CUDA, marks=needs_provider(CUDA)),
                                      pytest.param(TENSORRT, marks=needs_provider(TENSORRT))])
def test_an_onnx_runtime_gpu_provider_runs_and_agrees_with_cpu(tmp_path: Path, provider: str) -> None:
    built = mlp_model(tmp_path)
    features = rows_as_features(feature_rows(1000, seed=31))
    gpu = scorer(built, providers=(provider, CPU), native_tensorrt=False)
    assert gpu.provider == provider and gpu.healthy, gpu.fallbacks
    within_one_quantum(gpu.score_batch(features), scorer(built, providers=(CPU,)).score_batch(features))


@needs_native_tensorrt
def test_the_native_engine_is_built_once_and_cached_per_gpu_model_and_tensorrt_version(tmp_path: Path) -> None:
    import tensorrt

    built, cache = mlp_model(tmp_path), tmp_path / "engines"
    features = rows_as_features(feature_rows(1000, seed=32))
    first = scorer(built, engine_cache=cache)
    assert first.provider == NATIVE_TENSORRT and first.healthy
    cached = engine_path(cache, built.sha256, gpu_model(), tensorrt.__version__)
    assert cached.exists() and tensorrt.__version__ in cached.name
    built_at = cached.stat().st_mtime_ns
    again = scorer(built, engine_cache=cache)
    assert cached.stat().st_mtime_ns == built_at  # loaded, not rebuilt
    scores = first.score_batch(features)
    assert again.score_batch(features) == scores
    within_one_quantum(scores, scorer(built, providers=(CPU,), native_tensorrt=False).score_batch(features))


@needs_native_tensorrt
def test_a_model_tensorrt_cannot_build_falls_back_to_onnx_runtime_with_the_reason(tmp_path: Path) -> None:
    built, _ = tree_model(tmp_path, trees=5)  # ONNX-ML tree operators are not TensorRT layers
    model = scorer(built, engine_cache=tmp_path / "engines")
    assert model.provider != NATIVE_TENSORRT and not model.healthy
    assert any(NATIVE_TENSORRT in reason for reason in model.fallbacks)
    rows = rows_as_features(feature_rows(10, seed=33))
    assert model.score_batch(rows) == [model.score(row) for row in rows]
    assert np.isfinite([float(s) for s in model.score_batch(rows)]).all()
