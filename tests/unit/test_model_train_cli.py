"""`aitrader model train` end to end on a thinned copy of the sample day: publish, list, show, and no silent overwrite."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitrader.cli import model_app
from eventlog.ingest import SAMPLE_DAY
from inference.registry import ModelRegistry

pytest.importorskip("skl2onnx", reason="training needs the `train` extra")


@pytest.fixture(scope="module")
def thinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 10th trade of both sample sessions: the same bars in time, a tenth of the reading."""
    path = tmp_path_factory.mktemp("data") / "es_every_10th.csv.gz"
    with gzip.open(SAMPLE_DAY, "rt") as source, gzip.open(path, "wt") as out:
        out.write(next(source))
        out.writelines(itertools.islice(source, 0, None, 10))
    return path


def test_train_publishes_a_model_that_list_and_show_read(thinned: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(model_app, ["train", "--data", str(thinned), "--version", "0.1.0", "--out", str(tmp_path)])
    assert trained.exit_code == 0, trained.output
    card = ModelRegistry(tmp_path).resolve("gbm-bars", "0.1.0").card
    assert f"gbm-bars 0.1.0 sha256 {card.sha256}" in trained.stdout
    assert card.training["data"]["file"] == thinned.name and card.training["held_out_session"] == "2013-09-03"
    assert "| baseline formula |" in trained.stdout

    listed = runner.invoke(model_app, ["list", "--registry", str(tmp_path)])
    assert listed.stdout.startswith(f"gbm-bars\t0.1.0\t{card.sha256}")
    shown = runner.invoke(model_app, ["show", "gbm-bars@0.1.0", "--registry", str(tmp_path)])
    assert "## Leak check" in shown.stdout and card.sha256 in shown.stdout

    # Another horizon is another model: it may not take the published version's place.
    again = runner.invoke(
        model_app, ["train", "--data", str(thinned), "--version", "0.1.0", "--horizon", "3", "--out", str(tmp_path)]
    )
    assert again.exit_code == 1 and "already published" in again.output
    assert ModelRegistry(tmp_path).resolve("gbm-bars", "0.1.0").card.sha256 == card.sha256
