"""``aitrader model``: the models the kernel scores with."""

from __future__ import annotations

import typer

model_app = typer.Typer(help="Models the kernel scores with: activate one on the log.", no_args_is_help=True)
