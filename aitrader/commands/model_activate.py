"""``aitrader model activate NAME@VERSION``: a model switch as an event on the kernel's input.

Every partition's kernel scores with the model from that point of the log on,
so live switches at a defined offset and a replay of the day switches at the
same one. The model is checked here first with ``load_scorer``, the one way
to get a scorer: a model this build cannot provide is refused before anything
is written (a kernel meeting one anyway fails closed, ``kernel/model.py``).
"""

from __future__ import annotations

import typer

from aitrader.commands.common import USAGE, console, fail
from aitrader.stack.endpoints import endpoints
from contract.topics import Namespace
from eventlog.control import publish_model_activation
from inference.models import ScorerSpec, load_scorer


def activate(
    model: str = typer.Argument(..., help="NAME@VERSION, e.g. baseline@1.0.0."),
    sha256: str | None = typer.Option(None, "--sha256", help="Pin the build; default: the build this host provides."),
    reason: str = typer.Option(..., "--reason", help="Why: recorded on the event for auditors."),
    actor: str = typer.Option("ops", "--actor", help="Who asks: recorded on the event."),
    namespace: str = typer.Option("", "--namespace", help="Topic name prefix."),
) -> None:
    """Score with this model from this point of the log on, on every partition (a ModelActivated input).

    Each kernel answers on the control topic with a ModelApplied: the model in
    force, or why it refused it (then no intents until a valid activation).
    """
    try:
        named = ScorerSpec.parse(model)
        scorer = load_scorer(ScorerSpec(named.name, named.version, sha256))
    except ValueError as exc:
        raise fail(f"refused: {exc}", USAGE) from None
    written = publish_model_activation(
        endpoints()[0], Namespace(namespace), scorer.name, scorer.version, scorer.sha256, reason, actor
    )
    for partition, event in written:
        console.print(
            f"{scorer.name}@{scorer.version} (SHA-256 {scorer.sha256}) sent to inputs[{partition}] as {event.event_id}",
            highlight=False,
        )
