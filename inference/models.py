"""The scorers this build can run, found by the name and version a run manifest records."""

from __future__ import annotations

from dataclasses import dataclass

from inference.baseline import BaselineScorer
from inference.scorer import Scorer


@dataclass(frozen=True, slots=True)
class ScorerSpec:
    """Which model to run, as recorded in the run manifest."""

    name: str
    version: str


def load_scorer(spec: ScorerSpec) -> Scorer:
    """The scorer named by ``spec``; ``ValueError`` for an unknown name or a version we cannot provide.

    Only the deterministic baseline exists so far; artifact-backed scorers
    (ONNX Runtime with its execution-provider choice) will register here.
    """
    if spec.name != BaselineScorer.name:
        raise ValueError(f"unknown scorer {spec.name!r}; known scorers: [{BaselineScorer.name!r}]")
    if spec.version != BaselineScorer.version:
        available = BaselineScorer.version
        raise ValueError(f"scorer {spec.name!r} version {spec.version!r} is not available (this build: {available!r})")
    return BaselineScorer()
