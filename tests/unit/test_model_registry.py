"""The model registry (inference/registry.py): cards round-trip, a file that is not its card's is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from inference.registry import MODELS_DIR, ModelCard, ModelIntegrityError, ModelRegistry
from inference.scorer import FEATURE_NAMES

MODEL = b"not really onnx, but bytes with a digest"


def _card(model: bytes = MODEL, version: str = "1.0.0") -> ModelCard:
    return ModelCard(name="toy", version=version, sha256=hashlib.sha256(model).hexdigest(),
                     training={"horizon": 5}, metrics={"held_out": {"auc": 0.5}})


def test_a_card_round_trips_through_json() -> None:
    card = _card()
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert again.features == FEATURE_NAMES and again.input == "features" and again.output == "probabilities"


def test_a_card_refuses_other_features_or_score_rule() -> None:
    with pytest.raises(ValueError, match="features"):
        ModelCard(name="toy", version="1", sha256="0" * 64, features=tuple(reversed(FEATURE_NAMES)))
    with pytest.raises(ValueError, match="score rule"):
        ModelCard(name="toy", version="1", sha256="0" * 64, score="p")


def test_publish_then_resolve(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    folder = registry.publish(_card(), MODEL, "# toy\n")
    assert sorted(p.name for p in folder.iterdir()) == ["CARD.md", "card.json", "model.onnx"]
    resolved = registry.resolve("toy", "1.0.0")
    assert resolved.card == _card() and resolved.path.read_bytes() == MODEL
    assert [(c.name, c.version) for c in registry.list()] == [("toy", "1.0.0")]


def test_resolve_refuses_a_model_file_whose_sha256_is_not_the_cards(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    folder = registry.publish(_card(), MODEL, "# toy\n")
    (folder / "model.onnx").write_bytes(MODEL + b"!")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        registry.resolve("toy", "1.0.0")


def test_publish_refuses_bytes_that_are_not_the_cards_or_a_published_version_replaced(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(ModelIntegrityError):
        registry.publish(_card(), MODEL + b"!", "# toy\n")
    registry.publish(_card(), MODEL, "# toy\n")
    registry.publish(_card(), MODEL, "# toy\n")  # the same model again: nothing changes
    other = MODEL + b" v2"
    with pytest.raises(ModelIntegrityError, match="already published"):
        registry.publish(_card(other), other, "# toy\n")
    registry.publish(_card(other, "1.0.1"), other, "# toy\n")  # a new version is how a model changes


def test_resolve_names_what_is_published_when_asked_for_something_else(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    registry.publish(_card(), MODEL, "# toy\n")
    with pytest.raises(LookupError, match=r"toy@1\.0\.0"):
        registry.resolve("toy", "9.9.9")


def test_the_shipped_model_resolves_with_the_contract() -> None:
    cards = ModelRegistry(MODELS_DIR).list()
    assert cards, "the repository ships a trained model"
    for card in cards:
        resolved = ModelRegistry(MODELS_DIR).resolve(card.name, card.version)
        assert resolved.card.features == FEATURE_NAMES
        assert {"held_out", "baseline_held_out"} <= set(resolved.card.metrics)
