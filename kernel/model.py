"""The model a partition scores with: kernel state that ``ModelActivated`` inputs set (docs/design.md, "Partition state").

Like the kill switch and the settings, the active model is a fact of the log
at each offset, kept in snapshots, so live, a replay and a kernel restored
after a crash score every signal with the same model. The kernel stays pure:
turning a name into a scorer (reading an artifact, opening a runtime) is the
resolver's job, given by the composition root.

A model the resolver cannot provide exactly (unknown name or version, another
build's SHA-256) fails closed: the partition derives no intents until a model
it can provide is activated. That is state too, so a replay of the same log
refuses at the same offset even on a host that has the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.models import ScorerResolver, ScorerSpec, spec_of
from inference.scorer import Scorer


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """``spec`` is the model in force (or asked for, when refused); ``scorer`` None means no intents."""

    spec: ScorerSpec
    scorer: Scorer | None
    refusal: str | None = None

    @property
    def provider(self) -> str | None:
        """Where the active model's arithmetic runs (``Scorer.provider``); None while the partition is closed."""
        return None if self.scorer is None else self.scorer.provider

    @classmethod
    def of(cls, scorer: Scorer) -> ActiveModel:
        return cls(spec_of(scorer), scorer)

    @classmethod
    def activated(cls, spec: ScorerSpec, resolve: ScorerResolver) -> ActiveModel:
        """The model ``spec`` names, or a refusal saying why it cannot be had here."""
        try:
            return cls(spec, _exactly(spec, resolve))
        except ValueError as exc:
            return cls(spec, None, str(exc))

    def to_state(self) -> dict[str, Any]:
        return {"name": self.spec.name, "version": self.spec.version, "sha256": self.spec.sha256, "refusal": self.refusal}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], default: Scorer, resolve: ScorerResolver) -> ActiveModel:
        """The model a snapshot recorded; ``default`` (the worker's starting model) serves if it is that very build.

        ``ValueError`` when the recorded model cannot be provided here: a kernel
        that scored with it cannot be continued by one that cannot.
        """
        spec = ScorerSpec(str(state["name"]), str(state["version"]), state.get("sha256"))
        refusal = state.get("refusal")
        if refusal is not None:
            return cls(spec, None, str(refusal))
        if (spec.name, spec.version) == (default.name, default.version) and spec.sha256 in (None, default.sha256):
            return cls.of(default)
        try:
            return cls.of(_exactly(spec, resolve))
        except ValueError as exc:
            raise ValueError(f"the snapshot was scored with model {spec}, which cannot be provided here: {exc}") from None


def _exactly(spec: ScorerSpec, resolve: ScorerResolver) -> Scorer:
    """``resolve(spec)``, checked: a resolver that hands back another build is refused like an unknown model."""
    scorer = resolve(spec)
    got = spec_of(scorer)
    if (got.name, got.version) != (spec.name, spec.version) or spec.sha256 not in (None, got.sha256):
        raise ValueError(f"asked for model {spec} (SHA-256 {spec.sha256}), got {got} (SHA-256 {got.sha256})")
    return scorer
