"""The run manifest records the scoring provider in use; a manifest from before that field reads as None."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from fastavro import schemaless_writer

from contract.events import RunManifestRecorded
from contract.schema_registry import default_registry
from contract.serde import MAGIC, EventCodec
from inference.baseline import BaselineScorer
from inference.onnx_scorer import OnnxScorer
from inference.onnx_session import CPU, CUDA, available_providers
from inference.scorer import PURE_PYTHON
from processors.live.manifest import build_manifest
from tests.onnx_models import mlp_model

CODEC = EventCodec()


def test_the_manifest_of_an_onnx_run_records_the_provider_the_session_runs_on(tmp_path: Path) -> None:
    built = mlp_model(tmp_path)
    scorer = OnnxScorer(built.path, name="m", version="1", sha256=built.sha256, native_tensorrt=False)
    manifest = build_manifest({}, scorer, 1378200000000)
    assert manifest.scoring_provider == scorer.provider
    if CUDA not in available_providers():
        assert manifest.scoring_provider == CPU
    assert (manifest.model_name, manifest.model_sha256) == ("m", built.sha256)
    assert CODEC.decode(CODEC.encode(manifest)) == manifest


def test_a_formula_scorer_records_python_and_the_same_run_the_same_manifest() -> None:
    manifest = build_manifest({}, BaselineScorer(), 1378200000000)
    assert manifest.scoring_provider == PURE_PYTHON
    assert manifest == build_manifest({}, BaselineScorer(), 1378200000000)


def test_a_manifest_recorded_before_the_field_reads_with_no_provider() -> None:
    manifest = build_manifest({}, BaselineScorer(), 1378200000000)
    (v1, *_) = default_registry().released["aitrader.events.RunManifestRecorded"]
    record = {k: v for k, v in CODEC.to_record(manifest).items() if k != "scoring_provider"}
    body = io.BytesIO()
    schemaless_writer(body, v1.parsed, record)
    old = CODEC.decode(MAGIC + v1.fingerprint + body.getvalue())
    assert isinstance(old, RunManifestRecorded)
    assert old.scoring_provider is None
    assert old == replace(manifest, scoring_provider=None)
