"""The model registry: ``models/<name>/<version>/`` holding ``model.onnx``, ``card.json`` and ``CARD.md``.

``card.json`` is the contract between whoever trains a model and whoever serves
it: the SHA-256 of ``model.onnx``, the features in ``FEATURE_NAMES`` order, the
ONNX input (float32 [N, len(features)]) and output (float32 [N, 2], column 1 =
P(label positive)) names, and how a score is made of it (``"2p-1"``: the score
before ``quantize_score`` is 2 * p1 - 1). Training details and metrics sit under
``training`` and ``metrics``. A published version is immutable: ``resolve``
refuses a file whose SHA-256 is not the card's, and ``publish`` refuses to
replace a version with other bytes, so a name, version and SHA-256 on an intent
always mean one model.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.scorer import FEATURE_NAMES

# The registry shipped with the repository (the demo's default model lives there).
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"
CARD_MARKDOWN = "CARD.md"
SCORE_2P_MINUS_1 = "2p-1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")


class ModelIntegrityError(ValueError):
    """A model file that is not the one its card describes."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ModelCard:
    name: str
    version: str
    sha256: str
    features: tuple[str, ...] = FEATURE_NAMES
    input: str = "features"
    output: str = "probabilities"
    score: str = SCORE_2P_MINUS_1
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what in ("name", "version"):
            if not _NAME.match(getattr(self, what)):
                raise ValueError(f"model {what} {getattr(self, what)!r}: 1-64 of a-z, 0-9, '.', '_', '-'")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"model sha256 {self.sha256!r} is not 64 lowercase hex digits")
        if tuple(self.features) != FEATURE_NAMES:
            raise ValueError(f"model features {list(self.features)} are not this build's {list(FEATURE_NAMES)}")
        if self.score != SCORE_2P_MINUS_1:
            raise ValueError(f"unknown score rule {self.score!r}; this build knows {SCORE_2P_MINUS_1!r}")

    def to_json(self) -> str:
        body = {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "features": list(self.features),
            "input": self.input,
            "output": self.output,
            "score": self.score,
            "training": self.training,
            "metrics": self.metrics,
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        body = json.loads(text)
        return cls(
            name=body["name"],
            version=body["version"],
            sha256=body["sha256"],
            features=tuple(body["features"]),
            input=body["input"],
            output=body["output"],
            score=body["score"],
            training=body.get("training", {}),
            metrics=body.get("metrics", {}),
        )


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model whose file was checked against its card."""

    card: ModelCard
    path: Path  # of model.onnx


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def list(self) -> list[ModelCard]:
        """Every published card, by name then version (as text)."""
        return [ModelCard.from_json(p.read_text()) for p in sorted(self.root.glob(f"*/*/{CARD_FILE}"))]

    def resolve(self, name: str, version: str) -> ResolvedModel:
        """The model ``name`` ``version``; ``LookupError`` when absent, ``ModelIntegrityError`` when its file is not the card's."""
        folder = self.root / name / version
        if not (folder / CARD_FILE).is_file():
            known = [f"{c.name}@{c.version}" for c in self.list()]
            raise LookupError(f"no model {name}@{version} in {self.root}; published: {known}")
        card = ModelCard.from_json((folder / CARD_FILE).read_text())
        if (card.name, card.version) != (name, version):
            raise ModelIntegrityError(f"{folder / CARD_FILE} describes {card.name}@{card.version}, not {name}@{version}")
        path = folder / MODEL_FILE
        actual = sha256_hex(path.read_bytes())
        if actual != card.sha256:
            raise ModelIntegrityError(f"{path} has SHA-256 {actual}; its card says {card.sha256}: refusing to serve it")
        return ResolvedModel(card, path)

    def publish(self, card: ModelCard, model: bytes, card_markdown: str) -> Path:
        """Writes the version's folder; refuses bytes that are not the card's, or another model under a published version."""
        if sha256_hex(model) != card.sha256:
            raise ModelIntegrityError(f"model bytes have SHA-256 {sha256_hex(model)}, the card says {card.sha256}")
        folder = self.root / card.name / card.version
        existing = folder / CARD_FILE
        if existing.is_file() and ModelCard.from_json(existing.read_text()).sha256 != card.sha256:
            raise ModelIntegrityError(
                f"{card.name}@{card.version} is already published with another model; publish a new version"
            )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_bytes(model)
        (folder / CARD_FILE).write_text(card.to_json())
        (folder / CARD_MARKDOWN).write_text(card_markdown)
        return folder
