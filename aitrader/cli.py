"""The single entry point: ``aitrader --help``."""

from __future__ import annotations

import typer

from aitrader.commands.audit import audit_app
from aitrader.commands.control import control_app
from aitrader.commands.ingest import ingest
from aitrader.commands.log import log_app
from aitrader.commands.replay import replay
from aitrader.commands.schemas import schemas_app
from aitrader.commands.topics import topics_app
from aitrader.stack.cli import stack_app

app = typer.Typer(
    help="AITrader: an event-sourced trading kernel on a Kafka-protocol log.\n\n"
    "Start with `aitrader stack up`, then `aitrader demo` runs the sample day end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack", help="Install, start, stop and inspect the local Kafka + PostgreSQL stack.")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(log_app, name="log")
app.command("ingest")(ingest)
app.add_typer(control_app, name="control")
app.command("replay")(replay)
app.add_typer(audit_app, name="audit")
