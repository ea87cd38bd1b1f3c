"""``aitrader audit``: verify the log's hash chains, export and check offline bundles, trace an order.

``notary`` (wired as ``aitrader run notary``) extends the chains and seals
signed checkpoints. Exit codes: 0 verified, 1 a problem was found, 2 the
command could not run as asked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from confluent_kafka import KafkaException

from aitrader.commands.common import console, fail, format_time_ms, parse_time_ms, zone
from aitrader.stack.endpoints import endpoints
from aitrader.stack.paths import stack_home
from kernel.admin import TopicAdmin
from kernel.audit.bundle import BundleError, export, load_manifest, verify_bundle
from kernel.audit.events import Checkpoint
from kernel.audit.notary import POLL_S, SEAL_AFTER_S, SEAL_EVERY, Notary, NotaryError, PassStats
from kernel.audit.sign import PUBLIC_FILE, PublicKey, load_or_create
from kernel.audit.trace import trace_order
from kernel.audit.verify import EVENT_TOPICS, PartitionReport, log_reader, read_checkpoints, signed_checkpoints, verify_log
from kernel.consumer import LogReader
from kernel.jsonview import record_view
from kernel.records import RawRecord, UndecodableRecord, decode
from kernel.schema_registry import SchemaRegistry
from kernel.serde import EventCodec
from kernel.topics import Namespace, TopicSpec, by_name

FOUND_PROBLEMS = 1

audit_app = typer.Typer(help="Verify the tamper-evident audit trail, export offline bundles, trace orders.", no_args_is_help=True)

NamespaceOption = typer.Option("", "--namespace", help="Topic name prefix (tests, experiments); live uses none.")
KeyDirOption = typer.Option(None, "--key-dir", file_okay=False, help="Notary key directory (default: $AITRADER_HOME/audit).")
PublicKeyOption = typer.Option(None, "--public-key", exists=True, dir_okay=False, help="The notary public key you trust (PEM).")
TzOption = typer.Option("America/Chicago", help="Zone for times without one, and for printed times.")


@contextmanager
def _reader() -> Iterator[LogReader]:
    """A reader on the broker; broker errors and undecodable records end the command with where they happened."""
    try:
        with log_reader(endpoints()[0]) as reader:
            yield reader
    except (KafkaException, UndecodableRecord) as exc:
        raise fail(str(exc)) from None


def _key_dir(given: Path | None) -> Path:
    return given if given is not None else stack_home() / "audit"


def _trusted_key(public_key: Path | None, key_dir: Path | None) -> PublicKey:
    path = public_key if public_key is not None else _key_dir(key_dir) / PUBLIC_FILE
    if not path.exists():
        raise fail(f"no notary public key at {path}: run the notary first or pass --public-key")
    try:
        return PublicKey.load(path)
    except ValueError as exc:
        raise fail(f"{path}: {exc}") from None


def _event_topic(name: str) -> TopicSpec:
    try:
        spec = by_name(name)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from None
    if spec not in EVENT_TOPICS:
        raise typer.BadParameter(f"{name} is not a chained event topic")
    return spec


def _ranges(reader: LogReader, topic: str, from_time: str | None, to_time: str | None, tz: str) -> dict[int, tuple[int, int]]:
    """Per partition, the offsets stamped [from, to) (the whole partition without bounds)."""
    timezone = zone(tz)
    marks = reader.watermarks(topic)
    start = reader.offsets_at(topic, parse_time_ms(from_time, timezone)) if from_time else {p: m[0] for p, m in marks.items()}
    end = reader.offsets_at(topic, parse_time_ms(to_time, timezone)) if to_time else {p: m[1] for p, m in marks.items()}
    return {p: (start[p], end[p]) for p in marks}


def _print_reports(reports: list[PartitionReport] | tuple[PartitionReport, ...]) -> bool:
    for report in reports:
        span = "no records" if report.first_offset is None else f"offsets {report.first_offset}..{report.last_offset}"
        verdict = "[green]ok[/]" if report.ok else f"[bold red]{len(report.problems)} problem(s)[/]"
        console.print(
            f"{report.topic}[{report.partition}] {span}: {report.records:,} records from {report.anchor}, "
            f"{report.checkpoints_matched} checkpoints matched, {report.unsealed:,} not sealed yet: {verdict}",
            highlight=False,
        )
        for problem in report.problems:
            console.print(f"  - {problem}", highlight=False, markup=False)
    return all(r.ok for r in reports)


# --- the notary ------------------------------------------------------------------------


def notary(
    namespace: str = NamespaceOption,
    every: int = typer.Option(SEAL_EVERY, min=1, help="Seal a checkpoint every N records of a partition."),
    once: bool = typer.Option(False, "--once", help="Chain and seal everything there is now, then exit."),
    key_dir: Path | None = KeyDirOption,
    poll: float = typer.Option(POLL_S, min=0.05, help="Seconds to wait when there is nothing new."),
    seal_after: float = typer.Option(SEAL_AFTER_S, min=0.0, help="Seconds after which a caught-up partition's tail is sealed."),
) -> None:
    """Extend the hash chain of every event topic partition and seal signed checkpoints on audit.checkpoints."""
    directory = _key_dir(key_dir)
    key, created = load_or_create(directory)
    console.print(
        f"notary key {key.public.key_id} ({'created' if created else 'loaded'}; public key {directory / PUBLIC_FILE})",
        highlight=False,
    )
    bootstrap = endpoints()[0]
    space = Namespace(namespace)
    TopicAdmin(bootstrap, space).create()
    worker = Notary(bootstrap, space, key, every)
    try:
        resumed = worker.resume()
        console.print(f"resumed {resumed} chains from their latest checkpoints", highlight=False)

        def report(stats: PassStats) -> None:
            if stats.records or stats.sealed:
                console.print(f"chained {stats.records:,} records, sealed {len(stats.sealed)} checkpoints", highlight=False)
            for skipped in stats.skipped:
                console.print(f"[yellow]skipped[/] {skipped}", highlight=False)

        worker.run(once, poll, seal_after, report)
    except (NotaryError, KafkaException) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        console.print("stopped; the next start resumes from the sealed checkpoints")
    finally:
        worker.close()


# --- verify, export, read ---------------------------------------------------------------


@audit_app.command("verify")
def verify(
    topic: str | None = typer.Option(None, "--topic", help="Verify this topic on the log."),
    from_time: str | None = typer.Option(None, "--from", help="Start time, ISO 8601 or epoch ms (with --topic)."),
    to_time: str | None = typer.Option(None, "--to", help="End time, exclusive (with --topic)."),
    bundle: Path | None = typer.Option(None, "--bundle", exists=True, file_okay=False, help="Verify an exported bundle, offline."),
    public_key: Path | None = PublicKeyOption,
    key_dir: Path | None = KeyDirOption,
    namespace: str = NamespaceOption,
    tz: str = TzOption,
) -> None:
    """Recompute hash chains and check them against the signed checkpoints (exit 1 on any problem)."""
    if (topic is None) == (bundle is None):
        raise typer.BadParameter("give exactly one of --topic or --bundle")
    if bundle is not None:
        try:
            verdict = verify_bundle(bundle, PublicKey.load(public_key) if public_key is not None else None)
        except (BundleError, ValueError) as exc:
            raise fail(f"{bundle}: {exc}") from None
        if verdict.key_from_bundle:
            console.print(
                f"[yellow]trusting the key shipped in the bundle[/] ({verdict.key_id}); "
                "pass --public-key to check against a key you hold",
                highlight=False,
            )
        for problem in verdict.problems:
            console.print(f"  - {problem}", highlight=False, markup=False)
        ok = _print_reports(verdict.reports) and not verdict.problems
    else:
        spec = _event_topic(topic or "")
        key = _trusted_key(public_key, key_dir)
        with _reader() as reader:
            ranges = _ranges(reader, Namespace(namespace).topic(spec), from_time, to_time, tz)
            ok = _print_reports(verify_log(reader, Namespace(namespace), spec, key, ranges))
    console.print("[green]verified[/]" if ok else "[bold red]verification FAILED[/]")
    if not ok:
        raise typer.Exit(FOUND_PROBLEMS)


@audit_app.command("export")
def export_bundle(
    out: Path = typer.Argument(..., file_okay=False, help="Bundle directory to create (must be empty or absent)."),
    topic: str = typer.Option(..., "--topic", help="Topic to export."),
    from_time: str | None = typer.Option(None, "--from", help="Start time, ISO 8601 or epoch ms."),
    to_time: str | None = typer.Option(None, "--to", help="End time, exclusive."),
    public_key: Path | None = PublicKeyOption,
    key_dir: Path | None = KeyDirOption,
    namespace: str = NamespaceOption,
    tz: str = TzOption,
) -> None:
    """Export a time range of a topic as an offline bundle that verifies on its own, then verify it."""
    spec = _event_topic(topic)
    key = _trusted_key(public_key, key_dir)
    space = Namespace(namespace)
    with _reader() as reader:
        ranges = _ranges(reader, space.topic(spec), from_time, to_time, tz)
        try:
            manifest = export(reader, space, spec, key, {p: r for p, r in ranges.items() if r[1] > r[0]}, out)
        except BundleError as exc:
            raise fail(str(exc)) from None
    for partition, described in manifest["partitions"].items():
        console.print(
            f"{spec.name}[{partition}] requested {described['requested']}, exported {described['records']} "
            f"(from {described['anchor']})",
            highlight=False,
        )
    verdict = verify_bundle(out, key)
    if not _print_reports(verdict.reports) or verdict.problems:
        raise fail(f"the exported bundle {out} does not verify", FOUND_PROBLEMS)
    console.print(f"[green]bundle written and verified[/]: {out}", highlight=False)


@audit_app.command("read")
def read(
    bundle: Path | None = typer.Option(None, "--bundle", exists=True, file_okay=False, help="Read a bundle instead of the log."),
    records: bool = typer.Option(False, "--records", help="With --bundle: print its records, decoded with the bundle's own schemas."),
    topic: str | None = typer.Option(None, "--topic", help="Only checkpoints of this topic."),
    public_key: Path | None = PublicKeyOption,
    key_dir: Path | None = KeyDirOption,
    namespace: str = NamespaceOption,
) -> None:
    """List the signed checkpoints (with their signature check), or a bundle's decoded records (JSON lines)."""
    if records:
        if bundle is None:
            raise typer.BadParameter("--records reads a bundle: give --bundle")
        _print_bundle_records(bundle)
        return
    if bundle is not None:
        load_manifest(bundle)
        key = PublicKey.load(public_key or bundle / PUBLIC_FILE)
        checkpoints = [Checkpoint.from_json(line) for line in (bundle / "checkpoints.jsonl").read_text().splitlines()]
    else:
        key = _trusted_key(public_key, key_dir)
        with _reader() as reader:
            checkpoints, unreadable = read_checkpoints(reader, Namespace(namespace))
        for problem in unreadable:
            console.print(f"[red]not a checkpoint[/] {problem}", highlight=False)
    valid, _ = signed_checkpoints(checkpoints, key)
    good = {(c.topic, c.partition, c.last_offset, c.head) for c in valid}
    for checkpoint in checkpoints:
        if topic is not None and checkpoint.topic != topic:
            continue
        signed = (checkpoint.topic, checkpoint.partition, checkpoint.last_offset, checkpoint.head) in good
        line = {**json.loads(checkpoint.to_json()), "signature_ok": signed}
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def _print_bundle_records(bundle: Path) -> None:
    from kernel.audit.bundle import RECORDS, SCHEMAS, parse_record_line

    manifest = load_manifest(bundle)
    codec = EventCodec(SchemaRegistry(bundle / SCHEMAS))
    with (bundle / RECORDS).open() as lines:
        for line in lines:
            partition, chained, _ = parse_record_line(line)
            record = RawRecord(manifest["topic"], partition, chained.offset, chained.timestamp_ms, chained.key,
                               chained.value, tuple((n, v or b"") for n, v in chained.headers))
            try:
                view = record_view(codec, record, decode(codec, record))
            except UndecodableRecord as exc:
                view = {"partition": partition, "offset": chained.offset, "undecodable": exc.reason}
            sys.stdout.write(json.dumps(view, separators=(",", ":")) + "\n")


# --- trace ---------------------------------------------------------------------------------


@audit_app.command("trace")
def trace(
    order_id: str = typer.Argument(..., help="The order id (OrderInitialized.order_id)."),
    output: str = typer.Option("text", "--format", help="text, or jsonl (one record view a line)."),
    namespace: str = NamespaceOption,
    tz: str = TzOption,
) -> None:
    """Print an order's causal chain from the log alone: tick -> signal -> intent -> order events -> fills."""
    if output not in ("text", "jsonl"):
        raise typer.BadParameter("--format must be text or jsonl")
    timezone = zone(tz)
    codec = EventCodec()
    with _reader() as reader:
        found = trace_order(reader, codec, Namespace(namespace), order_id)
    for step in found.steps:
        if output == "jsonl":
            sys.stdout.write(json.dumps({"role": step.role, **record_view(codec, step.record, step.event)}, default=str) + "\n")
            continue
        where = f"{step.record.topic}[{step.record.partition}]@{step.record.offset}"
        when = format_time_ms(step.record.timestamp_ms, timezone)
        sys.stdout.write(f"{step.role:<7} {where:<28} {when}  {type(step.event).__name__:<17} {_summary(step.event)}\n")
    for problem in found.problems:
        console.print(f"[red]{problem}[/]", highlight=False)
    if found.problems:
        raise typer.Exit(FOUND_PROBLEMS)


def _summary(event: object) -> str:
    """The fields people look at first, per event type."""
    picks = {
        "Tick": ("symbol", "price", "size"),
        "Signal": ("pattern", "score"),
        "OrderIntent": ("side", "quantity", "order_type", "score", "model_name", "model_version"),
        "OrderInitialized": ("side", "quantity", "order_type", "limit_price", "time_in_force"),
        "OrderDenied": ("reason", "detail"),
        "OrderRejected": ("reason", "detail"),
        "OrderCanceled": ("reason",),
        "OrderFilled": ("side", "last_qty", "last_price", "fee", "liquidity"),
    }.get(type(event).__name__, ())
    shown = " ".join(f"{name}={_plain(getattr(event, name))}" for name in picks)
    return f"{shown} id={getattr(event, 'event_id')}".strip()


def _plain(value: object) -> str:
    return str(getattr(value, "value", value))
