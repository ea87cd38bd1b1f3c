"""``aitrader topics``: create the catalog's topics and compare the broker with it."""

from __future__ import annotations

import typer
from rich.table import Table

from aitrader.commands.common import console
from aitrader.output import JsonOption, emit_json, out
from aitrader.stack.endpoints import endpoints
from contract.topics import Namespace
from eventlog.admin import TopicAdmin

topics_app = typer.Typer(help="Create and inspect the topics of the catalog (contract/topics.py).", no_args_is_help=True)

NamespaceOption = typer.Option("", "--namespace", help="Topic name prefix, e.g. 'replay.day1.' (default: live topics).")


@topics_app.command("create")
def create(namespace: str = NamespaceOption) -> None:
    """Create missing catalog topics (idempotent) and report drift of existing ones."""
    admin = TopicAdmin(endpoints()[0], Namespace(namespace))
    created = admin.create()
    for name in created:
        console.print(f"created [bold]{name}[/]")
    drifted = [s for s in admin.state() if s.drift]
    for state in drifted:
        console.print(f"[yellow]drift[/] {state.broker_name}: {'; '.join(state.drift)}")
    if not created and not drifted:
        console.print("all catalog topics exist as specified")
    if drifted:
        raise typer.Exit(1)


@topics_app.command("list")
def list_topics(namespace: str = NamespaceOption, as_json: bool = JsonOption) -> None:
    """Show each catalog topic with its state on the broker: partitions, end offsets, drift."""
    states = TopicAdmin(endpoints()[0], Namespace(namespace)).state()
    if as_json:
        emit_json([
            {"topic": s.broker_name, "exists": s.exists, "partitions": s.partitions if s.exists else None,
             "end_offsets": list(s.end_offsets), "records": s.records, "drift": list(s.drift)}
            for s in states
        ])
        return
    table = Table("topic", "partitions", "end offsets", "records", "state")
    for state in states:
        table.add_row(
            state.broker_name,
            str(state.partitions) if state.exists else "-",
            ",".join(map(str, state.end_offsets)) or "-",
            str(state.records),
            "ok" if not state.drift else "; ".join(state.drift),
        )
    out.print(table)
