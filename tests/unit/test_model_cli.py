"""`aitrader model list | show` read the registry, and show refuses a model that is not its card's."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from aitrader.cli import model_app
from inference.registry import MODELS_DIR, ModelRegistry
from training.card import summary_table


def test_list_and_show_the_shipped_model() -> None:
    card = ModelRegistry(MODELS_DIR).list()[0]
    listed = CliRunner().invoke(model_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert f"{card.name}\t{card.version}\t{card.sha256}" in listed.stdout
    shown = CliRunner().invoke(model_app, ["show", f"{card.name}@{card.version}"])
    assert shown.exit_code == 0, shown.output
    assert card.sha256 in shown.stdout and "Held-out figures" in shown.stdout


def test_show_refuses_a_tampered_model(tmp_path: Path) -> None:
    card = ModelRegistry(MODELS_DIR).list()[0]
    copy = tmp_path / card.name / card.version
    shutil.copytree(MODELS_DIR / card.name / card.version, copy)
    model = copy / "model.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"\0")
    result = CliRunner().invoke(model_app, ["show", f"{card.name}@{card.version}", "--registry", str(tmp_path)])
    assert result.exit_code == 1
    assert "refusing to serve it" in result.output


def test_the_readme_shows_the_shipped_cards_figures() -> None:
    card = ModelRegistry(MODELS_DIR).list()[0]
    readme = (MODELS_DIR.parent / "README.md").read_text()
    assert summary_table(card) in readme
