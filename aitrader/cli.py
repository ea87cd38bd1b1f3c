"""The single entry point: ``aitrader --help``."""

from __future__ import annotations

import os

import typer

from aitrader.commands.audit import audit_app, notary
from aitrader.commands.bench import bench
from aitrader.commands.control import control_app
from aitrader.commands.data import data_app
from aitrader.commands.demo import demo
from aitrader.commands.ingest import ingest
from aitrader.commands.log import log_app
from aitrader.commands.logs import LOG_FORMAT_ENV, LogFormat
from aitrader.commands.model import model_app
from aitrader.commands.model_activate import activate
from aitrader.commands.monitor import monitor
from aitrader.commands.projections import api, db_app, projections_app, projector, users_app
from aitrader.commands.replay import replay
from aitrader.commands.run import run_app
from aitrader.commands.schemas import schemas_app
from aitrader.commands.sentiment import export_sentiment, ingest_news, sentiment_app
from aitrader.commands.topics import topics_app
from aitrader.stack.cli import stack_app

app = typer.Typer(
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
app.add_typer(stack_app, name="stack", help="Install, start, stop and inspect the local Kafka + PostgreSQL stack.")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(log_app, name="log")
app.command("ingest")(ingest)
app.add_typer(data_app, name="data")
app.command("ingest-news")(ingest_news)
app.add_typer(sentiment_app, name="sentiment")
app.add_typer(control_app, name="control")
app.command("replay")(replay)
model_app.command("export-sentiment")(export_sentiment)
model_app.command("activate")(activate)
app.add_typer(model_app, name="model")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(projections_app, name="projections")
app.add_typer(users_app, name="users")
app.add_typer(run_app, name="run")
run_app.command("projector")(projector)
run_app.command("api")(api)
run_app.command("notary")(notary)
run_app.command("monitor")(monitor)
app.command("demo")(demo)
app.command("bench")(bench)
