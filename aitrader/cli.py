"""The single entry point: ``aitrader --help``.

Each command is named here with the module and attribute that hold it, and its
module is imported only when the command runs (``aitrader/commands/lazy.py``).
"""

from __future__ import annotations

import os

import typer

from aitrader.commands.lazy import Lazy, lazy_group
from aitrader.commands.logs import LOG_FORMAT_ENV, LogFormat

RUN = {
    "processors": Lazy("aitrader.commands.run", "processors"),
    "projector": Lazy("aitrader.commands.projections", "projector"),
    "api": Lazy("aitrader.commands.projections", "api"),
    "notary": Lazy("aitrader.commands.audit", "notary"),
    "monitor": Lazy("aitrader.commands.monitor", "monitor"),
}
run_app = typer.Typer(cls=lazy_group(RUN), no_args_is_help=True, pretty_exceptions_enable=False)


@run_app.callback()
def _run() -> None:
    """Run AITrader's stream processors."""


MODEL = {
    "train": Lazy("aitrader.commands.model", "train"),
    "list": Lazy("aitrader.commands.model", "list_models"),
    "show": Lazy("aitrader.commands.model", "show"),
    "export-sentiment": Lazy("aitrader.commands.sentiment", "export_sentiment"),
    "activate": Lazy("aitrader.commands.model_activate", "activate"),
}
model_app = typer.Typer(cls=lazy_group(MODEL), no_args_is_help=True)


@model_app.callback()
def _model() -> None:
    """Trained models: train one from a tick file, list and show the registry (models/NAME/VERSION/)."""


# In the order `aitrader --help` lists them. A group's help is its Typer's, unless given here.
COMMANDS = {
    "stack": Lazy("aitrader.stack.cli", "stack_app", "Install, start, stop and inspect the local Kafka + PostgreSQL stack."),
    "topics": Lazy("aitrader.commands.topics", "topics_app"),
    "schemas": Lazy("aitrader.commands.schemas", "schemas_app"),
    "log": Lazy("aitrader.commands.log", "log_app"),
    "ingest": Lazy("aitrader.commands.ingest", "ingest"),
    "data": Lazy("aitrader.commands.data", "data_app"),
    "ingest-news": Lazy("aitrader.commands.sentiment", "ingest_news"),
    "sentiment": Lazy("aitrader.commands.sentiment", "sentiment_app"),
    "control": Lazy("aitrader.commands.control", "control_app"),
    "replay": Lazy("aitrader.commands.replay", "replay"),
    "model": Lazy(__name__, "model_app"),
    "audit": Lazy("aitrader.commands.audit", "audit_app"),
    "db": Lazy("aitrader.commands.projections", "db_app"),
    "projections": Lazy("aitrader.commands.projections", "projections_app"),
    "users": Lazy("aitrader.commands.projections", "users_app"),
    "run": Lazy(__name__, "run_app"),
    "demo": Lazy("aitrader.commands.demo", "demo"),
    "bench": Lazy("aitrader.commands.bench", "bench"),
}

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    help="AITrader: an event-sourced trading kernel on a Kafka-protocol log.\n\n"
    "Start with `aitrader stack up`, then `aitrader demo` runs the sample day end to end.\n\n"
    "Results go to stdout (every list, show and status command also has --json: one JSON document); "
    "progress and diagnostics to stderr. Exit codes: 0 ok, 1 failure (or a problem found), 2 usage error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    log_format: LogFormat = typer.Option(
        LogFormat.text, "--log-format", envvar=LOG_FORMAT_ENV, case_sensitive=False,
        help="Logs of the long-running processes (aitrader run ...) on stderr: text, or json (one object a line, "
        "with event_id, topic, partition and offset when a line is about one record).",
    ),
) -> None:
    os.environ[LOG_FORMAT_ENV] = log_format.value  # read where each process configures its logs, and by its children
