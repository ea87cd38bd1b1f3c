"""``aitrader model``: train a model into the registry, list and show what it holds."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from aitrader.commands.common import console, fail
from aitrader.output import JsonOption, emit_json
from eventlog.ingest import SAMPLE_DAY
from inference.registry import CARD_MARKDOWN, MODELS_DIR, ModelIntegrityError, ModelRegistry
from training import card as card_text
from training.fit import MissingTrainingExtra
from training.pipeline import DEFAULT_HORIZON, DEFAULT_NAME, DEFAULT_VERSION, train as train_model

_OUT = typer.Option(MODELS_DIR, "--out", "--registry", file_okay=False, help="Registry root: models/<name>/<version>/.")


def train(
    data: Path = typer.Option(SAMPLE_DAY, "--data", exists=True, dir_okay=False, help="Tick file (the sample day's format)."),
    symbol: str = typer.Option("ES", "--symbol", help="Symbol of the file's ticks (an instrument the kernel knows)."),
    venue: str = typer.Option("CME", "--venue", help="Venue of the file's ticks."),
    horizon: int = typer.Option(DEFAULT_HORIZON, "--horizon", min=1, help="Label horizon in 1-minute bars."),
    name: str = typer.Option(DEFAULT_NAME, "--name", help="Model name in the registry."),
    version: str = typer.Option(DEFAULT_VERSION, "--version", help="Model version; a published version is never replaced by other bytes."),
    out: Path = _OUT,
) -> None:
    """Fit on every session of the file but the last, evaluate on the last, publish model.onnx and its card.

    Deterministic: the same file, settings and converter versions give the same model.onnx bytes.
    Progress goes to stderr; the card's held-out summary to stdout.
    """
    try:
        run = train_model(data, symbol=symbol, venue=venue, horizon=horizon, name=name, version=version)
        folder = ModelRegistry(out).publish(run.card, run.model, card_text.render(run.card))
    except (ValueError, MissingTrainingExtra) as exc:  # ModelIntegrityError is a ValueError
        raise fail(str(exc)) from None
    console.print(f"published {folder}")
    typer.echo(f"{run.card.name} {run.card.version} sha256 {run.card.sha256}")
    typer.echo(card_text.summary_table(run.card))


def list_models(registry: Path = _OUT, as_json: bool = JsonOption) -> None:
    """Every published model: name, version, SHA-256 and held-out AUC (--json: each model's whole card)."""
    cards = ModelRegistry(registry).list()
    if as_json:
        emit_json([json.loads(card.to_json()) for card in cards])
        return
    for card in cards:
        auc = card.metrics.get("held_out", {}).get("auc")
        typer.echo(f"{card.name}\t{card.version}\t{card.sha256}\theld-out AUC {'n/a' if auc is None else f'{auc:.3f}'}")


def show(
    model: str = typer.Argument(..., metavar="NAME@VERSION", help="The model to show, e.g. gbm-bars@1.0.0."),
    registry: Path = _OUT,
    as_json: bool = typer.Option(False, "--json", help="Print card.json (one JSON document) instead of CARD.md."),
) -> None:
    """A model's card, after checking model.onnx against the card's SHA-256."""
    name, sep, version = model.partition("@")
    if not sep:
        raise typer.BadParameter(f"expected NAME@VERSION, got {model!r}")
    try:
        resolved = ModelRegistry(registry).resolve(name, version)
    except (LookupError, ModelIntegrityError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        emit_json(json.loads(resolved.card.to_json()))
    else:
        typer.echo((resolved.path.parent / CARD_MARKDOWN).read_text(), nl=False)
