"""Where a command's results go: stdout, as a table that pipes whole or as one JSON document (``--json``).

Shared by the commands (``aitrader.commands``) and the local stack's commands
(``aitrader.stack.cli``); progress and diagnostics go to stderr instead
(``aitrader.commands.common.console``).
"""

from __future__ import annotations

import json

import typer
from rich.console import Console, ConsoleDimensions

PIPED_WIDTH = 10_000

JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout (stable keys) instead of the table.")


class _Results(Console):
    """stdout: on a terminal as wide as the terminal; piped, as wide as a row needs (a cut cell would lose data)."""

    @property
    def size(self) -> ConsoleDimensions:
        real = Console.size.fget(self)  # type: ignore[attr-defined]
        return real if self.is_terminal else ConsoleDimensions(PIPED_WIDTH, real.height)


out = _Results(soft_wrap=True)


def emit_json(document: object) -> None:
    """A command's result as one JSON document on stdout, keys sorted so the output is stable."""
    typer.echo(json.dumps(document, indent=2, sort_keys=True, default=str))
