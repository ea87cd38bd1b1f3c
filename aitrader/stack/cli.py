"""`aitrader stack install|up|down|status|reset`: the local stack in one command each.

Every command is idempotent, so scripts (and .ci/run) call them without
checking state first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from aitrader.output import JsonOption, emit_json, out
from aitrader.stack import browser, kafka, postgres, promtool
from aitrader.stack.paths import StackError, StackPaths
from eventlog.endpoints import database_from_env, kafka_from_env, redacted

stack_app = typer.Typer(
    name="stack",
    help="Local Kafka broker + PostgreSQL for development and tests.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(highlight=False)
T = TypeVar("T")


@contextmanager
def _fail_clearly() -> Iterator[None]:
    """Turn StackError into a red message and exit code 1 (no traceback)."""
    try:
        yield
    except StackError as exc:
        console.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def _step(title: str, action: Callable[[Callable[[str], None]], T]) -> T:
    """Run one step under a spinner; print how long it took."""
    start = time.monotonic()
    with console.status(title) as spinner:
        result = action(lambda msg: spinner.update(msg))
    console.print(f"[green]✓[/] {title} ({time.monotonic() - start:.1f} s)")
    return result


@stack_app.command()
def install() -> None:
    """Fetch the Kafka jars (Maven) and install PostgreSQL, Chromium and promtool (apt) unless already there."""
    paths = StackPaths.current()
    with _fail_clearly():
        did = _step("Kafka jars", lambda r: kafka.install(paths, r))
        console.print(f"  {'installed into' if did else 'already in'} {paths.libs}")
        did = _step("PostgreSQL server", postgres.install)
        versions = ", ".join(postgres.installed_versions())
        console.print(f"  {'installed' if did else 'already installed'} (versions: {versions})")
        did = _step("Chromium and chromedriver (the console's browser tests)", browser.install)
        console.print(f"  {'installed' if did else 'already installed'}: {browser.CHROMIUM}, {browser.CHROMEDRIVER}")
        did = _step("promtool (checks the alert rules and the scrape config)", promtool.install)
        console.print(f"  {'installed' if did else 'already installed'}: {promtool.path()}")


@stack_app.command()
def up(
    secured: bool = typer.Option(
        False, "--secure", help="Also start a SCRAM-secured broker with the project's ACLs (port 19094), to try the principals."
    ),
) -> None:
    """Start the broker and the database (or check the ones the env vars point at)."""
    with _fail_clearly():
        bootstrap = _step("Kafka", kafka.up)
        database_url = _step("PostgreSQL", postgres.up)
        if secured:
            secured_bootstrap = _step("Kafka, SCRAM-secured", lambda r: kafka.up(r, secured=True))
    if not kafka_from_env():
        console.print("  the local broker is open (PLAINTEXT, no authentication) and listens on 127.0.0.1 only")
    if secured:
        paths = StackPaths.current(secure=True)
        console.print(
            f"  secured broker on {secured_bootstrap}: KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT, KAFKA_SASL_USERNAME=<principal>, "
            f"KAFKA_SASL_PASSWORD_FILE={paths.secrets}/<principal>.password"
        )
    # Plain print: these lines are meant to be copied or eval'ed. The local URL's password is the stack's
    # fixed dev one; a URL from the environment may carry a real one, which is never printed.
    print(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    print(f"DATABASE_URL={redacted(database_url) if database_from_env() else database_url}")


@stack_app.command()
def down() -> None:
    """Stop the broker and the database cluster started by `up`. Data is kept."""
    with _fail_clearly():
        pid = _step("Stop Kafka", kafka.down)
        console.print(f"  {'stopped pid ' + str(pid) if pid else 'was not running'}")
        stopped = _step("Stop PostgreSQL", postgres.down)
        console.print(f"  {'stopped' if stopped else 'nothing started by aitrader was running'}")


@stack_app.command()
def reset(yes: bool = typer.Option(False, "--yes", help="Really delete the data.")) -> None:
    """Delete the Kafka log and drop the project database. Run `up` afterwards."""
    if not yes:
        console.print("[bold red]refusing:[/] this deletes every event and the database; pass --yes")
        raise typer.Exit(2)
    with _fail_clearly():
        _step("Wipe Kafka data", kafka.wipe)
        _step("Drop database", postgres.drop_database)
    console.print("Stack reset; Kafka is stopped. Run `aitrader stack up`.")


@stack_app.command()
def status(as_json: bool = JsonOption) -> None:
    """Show what runs where. Always exits 0: it reports, it does not judge."""
    paths = StackPaths.current()
    with _fail_clearly():
        broker = kafka.status()
        db = postgres.status()
    if as_json:
        cluster = db.cluster
        emit_json({
            "kafka": {"bootstrap": broker.bootstrap, "external": broker.external, "pid": broker.pid,
                      "answers": broker.answers, "topics": broker.topics},
            "postgres": {"url": redacted(db.url) if db.external else db.url, "external": db.external,
                         "reachable": db.reachable, "error": db.error,
                         "cluster": None if cluster is None else {"version": cluster.version, "name": cluster.name,
                                                                  "port": cluster.port, "status": cluster.status}},
            "home": str(paths.home), "kafka_jars": {"installed": kafka.jars_installed(paths), "path": str(paths.libs)},
            "kafka_data": {"formatted": paths.meta_properties.is_file(), "path": str(paths.data)},
            "kafka_config": str(paths.server_properties), "logs": str(paths.logs),
        })
        return

    table = Table(title="aitrader stack", show_lines=False)
    table.add_column("component")
    table.add_column("state")
    table.add_column("details", overflow="fold")

    if broker.external:
        state = "external"
    elif broker.pid:
        state = f"running (pid {broker.pid})"
    else:
        state = "stopped"
    answers = f"answers metadata, {broker.topics} topics" if broker.answers else "does not answer"
    table.add_row("kafka", _colour(state, broker.answers), f"{broker.bootstrap}: {answers}")

    if db.external:
        state = "external"
    elif db.cluster:
        state = f"{db.cluster.status} ({db.cluster.version}/{db.cluster.name}, port {db.cluster.port})"
    else:
        state = "no cluster" if postgres.server_installed() else "not installed"
    reach = "database reachable" if db.reachable else f"unreachable: {db.error}"
    table.add_row("postgres", _colour(state, db.reachable), f"{redacted(db.url) if db.external else db.url}: {reach}")

    table.add_row("home", "", str(paths.home))
    table.add_row("kafka jars", "ok" if kafka.jars_installed(paths) else "missing", str(paths.libs))
    table.add_row("kafka data", "formatted" if paths.meta_properties.is_file() else "empty", str(paths.data))
    table.add_row("kafka config", "", str(paths.server_properties))
    table.add_row("logs", "", str(paths.logs))
    out.print(table)


def _colour(text: str, ok: bool) -> str:
    return f"[green]{text}[/]" if ok else f"[yellow]{text}[/]"
