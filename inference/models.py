"""The scorers this build can run, found by the name and version a run manifest records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inference.baseline import BaselineScorer
from inference.scorer import Scorer


@dataclass(frozen=True, slots=True)
class ScorerSpec:
    """Which model to run, as recorded in the run manifest.

    ``sha256`` pins one build of ``name``/``version`` (a model activated on the
    log names it); None accepts whichever build this host has.
    """

    name: str
    version: str
    sha256: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def parse(cls, text: str) -> ScorerSpec:
        """``NAME@VERSION`` (as ``aitrader model activate`` and ``replay --model`` take it)."""
        name, at, version = text.partition("@")
        if not (name and at and version):
            raise ValueError(f"model {text!r} is not NAME@VERSION, e.g. baseline@1.0.0")
        return cls(name, version)


def spec_of(scorer: Scorer) -> ScorerSpec:
    """The spec naming exactly ``scorer``'s build."""
    return ScorerSpec(scorer.name, scorer.version, scorer.sha256)


def load_scorer(spec: ScorerSpec) -> Scorer:
    """The scorer named by ``spec``; ``ValueError`` for an unknown name, a version we cannot provide or another SHA-256.

    Only the deterministic baseline exists so far; artifact-backed scorers
    (ONNX Runtime with its execution-provider choice) will register here.
    """
    if spec.name != BaselineScorer.name:
        raise ValueError(f"unknown scorer {spec.name!r}; known scorers: [{BaselineScorer.name!r}]")
    if spec.version != BaselineScorer.version:
        available = BaselineScorer.version
        raise ValueError(f"scorer {spec.name!r} version {spec.version!r} is not available (this build: {available!r})")
    scorer = BaselineScorer()
    if spec.sha256 is not None and spec.sha256 != scorer.sha256:
        raise ValueError(
            f"scorer {spec} here has SHA-256 {scorer.sha256}, not the {spec.sha256} asked for: another build of that model"
        )
    return scorer


# How a kernel turns a model named on the log into a scorer: ``load_scorer`` unless the composition root (or a
# test) gives another. It must raise ``ValueError`` for a model it cannot provide exactly.
ScorerResolver = Callable[[ScorerSpec], Scorer]
