"""The scorers this build can run, found by the name and version a run manifest or ``ModelActivated`` records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inference.baseline import BaselineScorer
from inference.onnx_scorer import OnnxScorer
from inference.registry import MODELS_DIR, ModelRegistry, ResolvedModel
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


def load_scorer(spec: ScorerSpec, registry: ModelRegistry | None = None) -> Scorer:
    """The scorer named by ``spec``; ``ValueError`` for an unknown name, a version we cannot provide or another SHA-256.

    The baseline formula is built in; every other model comes from the registry
    (``models/NAME/VERSION/``, its file checked against its card) and runs on
    ONNX Runtime over the provider chain the host offers (``OnnxScorer``).
    """
    if spec.name == BaselineScorer.name:
        scorer: Scorer = _baseline(spec)
        _check_build(spec, scorer.sha256)
        return scorer
    model = _registered(spec, registry or ModelRegistry(MODELS_DIR))
    card = model.card
    _check_build(spec, card.sha256)  # before opening a session: a refused build costs nothing
    return OnnxScorer(
        model.path, name=card.name, version=card.version, sha256=card.sha256, input_name=card.input, output_name=card.output
    )


def _baseline(spec: ScorerSpec) -> BaselineScorer:
    if spec.version != BaselineScorer.version:
        available = BaselineScorer.version
        raise ValueError(f"scorer {spec.name!r} version {spec.version!r} is not available (this build: {available!r})")
    return BaselineScorer()


def _registered(spec: ScorerSpec, registry: ModelRegistry) -> ResolvedModel:
    try:
        return registry.resolve(spec.name, spec.version)
    except LookupError:
        published = registry.list()
        if any(card.name == spec.name for card in published):
            versions = sorted(card.version for card in published if card.name == spec.name)
            raise ValueError(f"scorer {spec.name!r} version {spec.version!r} is not available (published: {versions})") from None
        known = [BaselineScorer.name, *sorted({card.name for card in published})]
        raise ValueError(f"unknown scorer {spec.name!r}; known scorers: {known}") from None


def _check_build(spec: ScorerSpec, sha256: str) -> None:
    if spec.sha256 is not None and spec.sha256 != sha256:
        raise ValueError(f"scorer {spec} here has SHA-256 {sha256}, not the {spec.sha256} asked for: another build of that model")


# How a kernel turns a model named on the log into a scorer: ``load_scorer`` unless the composition root (or a
# test) gives another. It must raise ``ValueError`` for a model it cannot provide exactly.
ScorerResolver = Callable[[ScorerSpec], Scorer]
