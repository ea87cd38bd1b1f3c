"""``aitrader db``, ``aitrader projections``, ``aitrader users`` and the ``projector`` / ``api`` run commands.

The lead wires ``db_app``, ``projections_app`` and ``users_app`` as sub-apps and
``projector`` / ``api`` as ``aitrader run projector`` / ``aitrader run api``.
"""

from __future__ import annotations

import logging
import os
import time
from zoneinfo import ZoneInfo

import psycopg
import typer
from confluent_kafka import KafkaException
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from aitrader.commands.common import (
    METRICS_PORT_OPTION,
    RETRY_AFTER_OPTION,
    USAGE,
    RetryWait,
    console,
    fail,
    format_time_ms,
    serve_metrics,
    stop_flag,
    wait_unless_stopped,
)
from aitrader.commands.logs import configure as configure_logs
from aitrader.output import JsonOption, emit_json, out
from aitrader.stack.endpoints import endpoints
from aitrader.stack.paths import stack_home
from contract.topics import OPS_DECISIONS, Namespace
from eventlog import faults
from eventlog.consumer import LogReader
from eventlog.envsecret import CredentialsError, secret
from eventlog.kafka_security import control_login
from eventlog.producer import DeliveryError
from projections.db import DEFAULT_SCHEMA, auth_schema, checked_schema, connect
from projections.decisions import SkipRefused, record_skip
from projections.migrate import current_revisions, upgrade
from projections.models import ROLES
from projections.projector import (
    DEFAULT_BATCH,
    BatchReport,
    ProjectionStopped,
    Projector,
)
from projections.rebuild import rebuild, records_to_read
from projections.registry import PROJECTIONS, Projection, by_names
from projections.roles import ServiceRoles, ensure_login, grant
from projections.status import lags

LOG_EVERY_S = 5.0
UTC = ZoneInfo("UTC")
RECHECK_S = 5.0  # how often a projector stopped at a refused record looks for the decision that lets it pass

db_app = typer.Typer(help="The projection database (PostgreSQL).", no_args_is_help=True)
projections_app = typer.Typer(help="Read models projected from the log.", no_args_is_help=True)
users_app = typer.Typer(help="API users and their keys.", no_args_is_help=True)

SCHEMA_OPTION = typer.Option(DEFAULT_SCHEMA, "--schema", help="PostgreSQL schema of the read models.")
NAMESPACE_OPTION = typer.Option("", "--namespace", help="Topic name prefix of the log to project.")


def _schema(name: str) -> str:
    try:
        return checked_schema(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _chosen(names: list[str] | None) -> tuple[Projection, ...]:
    try:
        return by_names(names)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _stopped(exc: ProjectionStopped, after: str = "") -> typer.Exit:
    """Exit 1 with the refused record and how to skip it: restarting would only meet the same record again."""
    return fail(escape(f"{exc}{after}"), code=1)


@db_app.command("upgrade")
def db_upgrade(schema: str = SCHEMA_OPTION) -> None:
    """Create or migrate the read-model tables (and the API key table) to the latest revision."""
    schema = _schema(schema)
    url = endpoints()[1]
    upgrade(url, schema)
    console.print(
        f"[green]schema {schema}[/] at {', '.join(current_revisions(url, schema))}; "
        f"[green]{auth_schema(schema)}[/] at {', '.join(current_revisions(url, auth_schema(schema)))}"
    )


ROLE_PASSWORDS = {"projector": "AITRADER_PG_PROJECTOR_PASSWORD", "api": "AITRADER_PG_API_PASSWORD"}


@db_app.command("roles")
def db_roles(schema: str = SCHEMA_OPTION) -> None:
    """Create or update the projector's and the API's login roles and grant them their share of SCHEMA.

    Run as the owner of the tables (with CREATEROLE). Passwords come from AITRADER_PG_PROJECTOR_PASSWORD
    and AITRADER_PG_API_PASSWORD, or their *_FILE secrets; run again after rotating one.
    """
    schema = _schema(schema)
    roles = ServiceRoles()
    try:
        passwords = {service: secret(name) for service, name in ROLE_PASSWORDS.items()}
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    missing = [ROLE_PASSWORDS[service] for service, password in passwords.items() if not password]
    if missing:
        raise fail(f"set {' and '.join(missing)} (or their _FILE form)")
    with connect(endpoints()[1], schema) as conn:
        ensure_login(conn, roles.projector, str(passwords["projector"]))
        ensure_login(conn, roles.api, str(passwords["api"]))
        grant(conn, schema, roles)
    console.print(f"[green]{roles.projector}[/] writes {schema}; [green]{roles.api}[/] reads {schema} and {auth_schema(schema)}")


@projections_app.command("rebuild")
def rebuild_command(
    name: list[str] = typer.Option(None, "--name", help=f"Projection to rebuild (repeatable); all when omitted: {', '.join(p.name for p in PROJECTIONS)}."),
    schema: str = SCHEMA_OPTION,
    namespace: str = NAMESPACE_OPTION,
    batch_size: int = typer.Option(DEFAULT_BATCH, "--batch-size", min=1, max=100_000),
    fresh: bool = typer.Option(False, "--fresh", help="Discard an interrupted build instead of resuming it."),
) -> None:
    """Project the whole log from offset 0 into a new schema, then swap it in atomically."""
    schema = _schema(schema)
    chosen = _chosen(name)
    bootstrap, url = endpoints()
    space = Namespace(namespace)
    total = records_to_read(bootstrap, space, chosen)
    stop = stop_flag()
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"rebuilding {', '.join(p.name for p in chosen)}", total=total, rate="")

        def advance(report: BatchReport) -> None:
            done = progress.tasks[0].completed + report.records
            rate = done / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=report.records, rate=f"{rate:,.0f} records/s")

        try:
            result = rebuild(bootstrap, url, schema, space, name or None, batch_size=batch_size, fresh=fresh, on_batch=advance, should_stop=stop)
        except ProjectionStopped as exc:
            raise _stopped(exc, "\nThe build is kept: `aitrader projections rebuild` resumes it from there.") from None
    t = result.totals
    rate = t.records / t.seconds if t.seconds else 0.0
    if not result.swapped:
        raise fail(f"stopped after {t.records:,} records; `aitrader projections rebuild` resumes {result.build_schema}", code=130)
    console.print(
        f"[green]rebuilt[/] {', '.join(result.projections)} in {schema}: {t.records:,} records in {t.seconds:.1f}s "
        f"({rate:,.0f}/s), {t.dead} dead-lettered; swapped in atomically"
    )


@projections_app.command("status")
def status_command(schema: str = SCHEMA_OPTION, namespace: str = NAMESPACE_OPTION, as_json: bool = JsonOption) -> None:
    """Each projection's offsets against the log's end offsets: lag and latest event time."""
    schema = _schema(schema)
    bootstrap, url = endpoints()
    with connect(url, schema) as conn, LogReader(bootstrap) as ends:
        rows = lags(conn, ends, Namespace(namespace))
    total = sum(r.lag or 0 for r in rows)
    if as_json:
        emit_json({"total_lag": total, "partitions": [
            {"projection": r.projection, "topic": r.topic, "partition": r.partition, "next_offset": r.next_offset,
             "end_offset": r.end_offset, "lag": r.lag, "last_event_time_ms": r.last_event_time_ms} for r in rows
        ]})
        return
    table = Table("projection", "topic", "partition", "next offset", "end offset", "lag", "latest event time (UTC)")
    for row in rows:
        table.add_row(
            row.projection, row.topic, str(row.partition), str(row.next_offset),
            "-" if row.end_offset is None else str(row.end_offset), "-" if row.lag is None else str(row.lag),
            "-" if row.last_event_time_ms is None else format_time_ms(row.last_event_time_ms, UTC),
        )
    out.print(table)
    out.print(f"total lag: {total:,} records" + (" (caught up)" if total == 0 else ""))


@projections_app.command("skip")
def skip_command(
    projection: str = typer.Option(..., "--projection", help=f"The stopped projection: {', '.join(p.name for p in PROJECTIONS)}."),
    topic: str = typer.Option(..., "--topic", help="Logical topic of the record, without the namespace prefix (e.g. fills)."),
    partition: int = typer.Option(..., "--partition", min=0),
    offset: int = typer.Option(..., "--offset", min=0),
    reason: str = typer.Option(..., "--reason", help="Why the record may be skipped: recorded on the event for auditors."),
    actor: str = typer.Option("ops", "--actor", help="Who decides: recorded on the event."),
    namespace: str = NAMESPACE_OPTION,
) -> None:
    """Record the decision that a projection skips one record its read model refused (where the projector stopped).

    The decision is an event on ops.decisions; the projector then dead-letters the
    record with this reason when the model refuses it, and goes on. A record the
    model accepts is applied whatever was decided.
    """
    try:
        decision = record_skip(endpoints()[0], Namespace(namespace), projection, topic, partition, offset, reason, actor)
    except SkipRefused as exc:
        raise fail(f"refused: {escape(str(exc))}", USAGE) from None  # it names no record a projection refused
    console.print(
        f"[green]recorded[/] on {OPS_DECISIONS.name} as {decision.event_id}: {projection} skips {topic} partition "
        f"{partition} offset {offset} when its model refuses it; restart the projector"
    )


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="Who the key is for."),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLES)}."),
    schema: str = SCHEMA_OPTION,
) -> None:
    """Create an API key; it is printed once (stdout) and stored only as a hash."""
    from api import keys  # the API package is only needed here

    schema = _schema(schema)
    if role not in ROLES:
        raise typer.BadParameter(f"--role must be one of {', '.join(ROLES)}")
    with connect(endpoints()[1], auth_schema(schema)) as conn:
        try:
            key_id, key = keys.create(conn, name, role)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    console.print(f"[green]key {key_id}[/] for {name} ({role}); store it now, it is not shown again:")
    typer.echo(key)


@users_app.command("list")
def users_list(schema: str = SCHEMA_OPTION, as_json: bool = JsonOption) -> None:
    """Keys by id, owner and role (never the keys themselves)."""
    with connect(endpoints()[1], auth_schema(_schema(schema))) as conn:
        rows = conn.execute("SELECT key_id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id").fetchall()
    if as_json:
        emit_json([
            {"key_id": key_id, "name": name, "role": role, "created": created.isoformat(),
             "revoked": None if revoked is None else revoked.isoformat()}
            for key_id, name, role, created, revoked in rows
        ])
        return
    table = Table("key id", "name", "role", "created", "revoked")
    for key_id, name, role, created, revoked in rows:
        table.add_row(key_id, name, role, str(created), "" if revoked is None else str(revoked))
    out.print(table)


@users_app.command("revoke")
def users_revoke(key_id: str = typer.Argument(..., help="The key id (second part of the key)."), schema: str = SCHEMA_OPTION) -> None:
    """Revoke a key; every API process refuses it at once and closes its open WebSockets."""
    from api import keys

    with connect(endpoints()[1], auth_schema(_schema(schema))) as conn:
        if not keys.revoke(conn, key_id):
            raise fail(f"no active key {key_id}")
    console.print(f"[green]revoked[/] {key_id}")


def projector(
    namespace: str = NAMESPACE_OPTION,
    schema: str = SCHEMA_OPTION,
    stop_at_end: bool = typer.Option(False, "--stop-at-end", help="Stop once the end offsets seen at start are projected."),
    batch_size: int = typer.Option(DEFAULT_BATCH, "--batch-size", min=1, max=100_000),
    name: list[str] = typer.Option(None, "--name", help="Only these projections (repeatable); all when omitted."),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Upgrade the schema before starting."),
    metrics_port: int = METRICS_PORT_OPTION,
    retry_after: float = RETRY_AFTER_OPTION,
) -> None:
    """Project the log into PostgreSQL, exactly once: rows and consumed offsets commit together."""
    schema = _schema(schema)
    chosen = _chosen(name)
    configure_logs()
    log = logging.getLogger("aitrader.projector")
    bootstrap, url = endpoints()
    if migrate:
        upgrade(url, schema)
    stop = stop_flag()
    retry = RetryWait(stop, retry_after)
    window = {"at": time.perf_counter(), "records": 0, "dead": 0}

    def report(batch: BatchReport) -> None:
        window["records"] += batch.records
        window["dead"] += batch.dead
        now = time.perf_counter()
        if now - window["at"] >= LOG_EVERY_S:
            log.info("projected %d records (%.0f/s), %d dead-lettered", window["records"], window["records"] / (now - window["at"]), window["dead"])
            window.update(at=now, records=0, dead=0)

    log.info("projecting %s into schema %s (namespace %r)", ", ".join(p.name for p in chosen), schema, namespace)
    metrics = serve_metrics("projector", metrics_port)
    runner = Projector(bootstrap, url, schema, Namespace(namespace), chosen, batch_size=batch_size, metrics=metrics)
    waiting_at = ""
    while True:
        try:
            totals = runner.run(stop_at_end=stop_at_end, should_stop=stop, on_batch=report)
            break
        except ProjectionStopped as exc:
            if stop_at_end:
                raise _stopped(exc) from None
            # Staying up keeps the stopped gauge (the alert) visible and lets the decision, once on the log, take
            # effect by itself; exiting would only meet the same record again after a restart.
            if str(exc) != waiting_at:
                waiting_at = str(exc)
                first = exc.refusals[0].item
                where = {"event_id": first.event.event_id, "topic": first.record.topic, "partition": exc.partition, "offset": exc.offset}
                log.error("%s\nWaiting for that decision: the projector goes on by itself once it is on the log.", exc, extra=where)
            if wait_unless_stopped(stop, RECHECK_S):
                log.info("stopped while waiting at a refused record")
                return
        except (psycopg.OperationalError, KafkaException, DeliveryError) as exc:
            if stop_at_end:
                raise
            # Nothing half-done survives a failed batch: restarting from the stored offsets is always safe, and so is
            # stopping, the stop asked during the failed attempt included.
            cause = f"{type(exc).__name__}: {exc}"
            if stop() or retry.wait_after(
                lambda seconds: log.warning("projector failed (%s); restarting from the stored offsets in %.0fs", cause, seconds)
            ):
                log.info("stopped during a failure (%s); the next start resumes from the stored offsets", cause)
                return
    log.info("stopped: %d records in %.1fs, %d dead-lettered", totals.records, totals.seconds, totals.dead)


def api(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    schema: str = SCHEMA_OPTION,
    namespace: str = NAMESPACE_OPTION,
    rate_limit: float = typer.Option(20.0, "--rate-limit", min=0.1, help="Requests per second per key (burst: 5 s worth)."),
    max_lag: int = typer.Option(10_000, "--max-lag", min=0, help="/ready fails when the projections lag more records."),
    monitor_buffer: int = typer.Option(1000, "--monitor-buffer", min=1, help="Events a monitor client may lag before it is dropped."),
    auth_failures: float = typer.Option(
        0.5, "--auth-failures", min=0.01, help="Failed keys per second per client address (burst 20); more is 429."
    ),
) -> None:
    """Serve the REST API (OpenAPI at /docs).

    Cursors are signed with the deployment's key: AITRADER_CURSOR_KEY (hex), or the file named by
    AITRADER_CURSOR_KEY_FILE, or $AITRADER_HOME/secrets/api-cursor.key, made on the first start.
    On a secured broker the API reads as its own principal (KAFKA_SASL_*) and its control endpoints
    write as the one KAFKA_CONTROL_SASL_USERNAME and KAFKA_CONTROL_SASL_PASSWORD(_FILE) name (ops).
    The audit verify and bundle routes trust the notary key directory $AITRADER_HOME/audit (its root.pub,
    else its notary.pub), as `aitrader audit verify` does without --root-key.
    """
    import uvicorn

    from api.app import create_app
    from api.cursor_key import cursor_key
    from api.settings import ApiSettings

    bootstrap, url = endpoints()
    try:
        signing = cursor_key(os.environ, stack_home() / "secrets" / "api-cursor.key")
    except (OSError, ValueError) as exc:
        raise fail(escape(f"no cursor key: {exc}")) from None
    try:
        control = control_login()
    except CredentialsError as exc:
        raise fail(escape(str(exc))) from None
    settings = ApiSettings(
        url, _schema(schema), bootstrap, Namespace(namespace), control_login=control, rate_per_s=rate_limit,
        max_lag=max_lag, monitor_buffer=monitor_buffer, auth_failures_per_s=auth_failures, cursor_key=signing,
        audit_keys=stack_home() / "audit",  # the notary's key directory, as `aitrader audit verify` trusts it
        fault=faults.from_environment(),  # tests only (eventlog/faults.py)
    )
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it found: with this
    # one installed that only notes the stop, a stop that was asked for and done exits 0.
    stop_flag()
    configure_logs()
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", log_config=None)  # uvicorn logs through ours
