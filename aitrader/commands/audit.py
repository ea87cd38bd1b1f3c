"""``aitrader audit``: verify the log's hash chains, export and check offline bundles, trace an order.

``notary`` (wired as ``aitrader run notary``) extends the chains and seals
signed checkpoints. Exit codes: 0 verified, 1 a problem was found or the
command failed, 2 it was asked wrongly (e.g. no key to judge a bundle by).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from confluent_kafka import KafkaException

from aitrader.commands.audit_keys import (
    CertificatesOption,
    KeyDirOption,
    NamespaceOption,
    PublicKeyOption,
    RootKeyOption,
    key_dir,
    keys_app,
    load_public,
    log_trust,
    reader,
    statements_file,
)
from aitrader.commands.common import (
    METRICS_PORT_OPTION,
    RETRY_AFTER_OPTION,
    USAGE,
    RetryWait,
    console,
    fail,
    format_time_ms,
    parse_time_ms,
    serve_metrics,
    stop_flag,
    zone,
)
from aitrader.commands.logs import configure as configure_logs
from aitrader.stack.endpoints import endpoints
from audit.events import Checkpoint
from audit.sign import (
    CERTIFICATE_FILE,
    PUBLIC_FILE,
    ROOT_PUBLIC_FILE,
    PublicKey,
    load_or_create,
)
from audit.trust import KeyStatement, Trust, describe_namespace
from audit.verify import Expectation, Head, PartitionReport
from contract.jsonview import record_view
from contract.records import RawRecord, UndecodableRecord, decode
from contract.schema_registry import SchemaRegistry
from contract.serde import EventCodec
from contract.topics import Namespace, TopicSpec, by_name
from eventlog.admin import TopicAdmin
from eventlog.audit.bundle import (
    CHECKPOINTS,
    KEYS,
    RECORDS,
    SCHEMAS,
    BundleError,
    bundle_key,
    export,
    load_manifest,
    parse_record_line,
    verify_bundle,
)
from eventlog.audit.notary import (
    POLL_S,
    SEAL_AFTER_S,
    SEAL_EVERY,
    Notary,
    NotaryError,
    PassStats,
)
from eventlog.audit.onlog import EVENT_TOPICS, read_audit_log, verify_log
from eventlog.audit.trace import trace_order
from eventlog.consumer import LogReader
from eventlog.producer import DeliveryError

FOUND_PROBLEMS = 1

audit_app = typer.Typer(help="Verify the tamper-evident audit trail, export offline bundles, trace orders.", no_args_is_help=True)
audit_app.add_typer(keys_app, name="keys")

TzOption = typer.Option("America/Chicago", help="Zone for times without one, and for printed times.")


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
        proven = {None: "nothing proven", -1: "no records to prove"}.get(
            report.proven_through, f"proven through offset {report.proven_through}")
        verdict = "[green]ok[/]" if report.ok else f"[bold red]{len(report.problems)} problem(s)[/]"
        console.print(
            f"{report.topic}[{report.partition}] {span}: {report.records:,} records from {report.anchor}, "
            f"{report.checkpoints_matched} checkpoints matched, {proven}, {report.unsealed:,} not sealed yet: {verdict}",
            highlight=False,
        )
        for note in report.notes:
            console.print(f"  note: {note}", highlight=False, markup=False)
        for problem in report.problems:
            console.print(f"  - {problem}", highlight=False, markup=False)
    return all(r.ok for r in reports)


def _print_head(head: Head | None, tz: str) -> None:
    if head is None:
        console.print("[bold red]complete as of no signed checkpoint[/]")
        return
    c = head.checkpoint
    console.print(
        f"complete as of checkpoint sequence {c.sequence} ({c.where}, sealed record time "
        f"{format_time_ms(head.through_ms, zone(tz))}): "
        f"every partition through offsets {head.offsets()}",
        highlight=False,
    )


def _expectations(texts: list[str], tz: str) -> list[Expectation]:
    found = []
    for text in texts:
        parsed = Expectation.parse_offset(text)
        found.append(parsed if parsed is not None else Expectation(time_ms=parse_time_ms(text, zone(tz)), text=text))
    return found


# --- the notary ------------------------------------------------------------------------


def _notary_trust(directory: Path) -> tuple[PublicKey | None, KeyStatement | None]:
    """The root key and this key's certificate from the key directory; neither: the pinned-key form."""
    root, certificate = directory / ROOT_PUBLIC_FILE, directory / CERTIFICATE_FILE
    if not root.exists() and not certificate.exists():
        return None, None
    if not root.exists() or not certificate.exists():
        raise fail(f"{directory} needs both {ROOT_PUBLIC_FILE} and {CERTIFICATE_FILE} (`aitrader audit keys certify`)")
    found = statements_file(certificate)
    if len(found) != 1 or found[0].kind != "certificate":
        raise fail(f"{certificate} must hold one certificate")
    return load_public(root), found[0]


def notary(
    namespace: str = NamespaceOption,
    every: int = typer.Option(SEAL_EVERY, min=1, help="Seal a checkpoint every N records of a partition."),
    once: bool = typer.Option(False, "--once", help="Chain and seal everything there is now, then exit."),
    directory: Path | None = KeyDirOption,
    poll: float = typer.Option(POLL_S, min=0.05, help="Seconds to wait when there is nothing new."),
    seal_after: float = typer.Option(SEAL_AFTER_S, min=0.0, help="Seconds after which a caught-up partition's tail is sealed."),
    metrics_port: int = METRICS_PORT_OPTION,
    retry_after: float = RETRY_AFTER_OPTION,
) -> None:
    """Extend the hash chain of every event topic partition and seal signed checkpoints on audit.checkpoints.

    When the broker fails (a restart, an outage) it starts again from the sealed checkpoints on its own, unless --once.
    """
    configure_logs()
    home = key_dir(directory)
    root, certificate = _notary_trust(home)
    key, created = load_or_create(home)
    if certificate is not None and certificate.key_id != key.public.key_id:
        raise fail(f"{home / CERTIFICATE_FILE} certifies key {certificate.key_id}, not this key {key.public.key_id}")
    console.print(
        f"notary key {key.public.key_id} ({'created' if created else 'loaded'}; public key {home / PUBLIC_FILE}); "
        + (f"certified by root key {root.key_id}" if root is not None else
           "[yellow]no root key: auditors must pin this very key, and it can never rotate[/]"),
        highlight=False,
    )
    bootstrap = endpoints()[0]
    space = Namespace(namespace)
    metrics = serve_metrics("notary", metrics_port)  # one server for the process, across restarts of its notary

    def report(stats: PassStats) -> None:
        if stats.records or stats.sealed:
            console.print(f"chained {stats.records:,} records, sealed {len(stats.sealed)} checkpoints", highlight=False)
        for skipped in stats.skipped:
            console.print(f"[yellow]skipped[/] {skipped}", highlight=False)

    stop = stop_flag()
    waits = RetryWait(stop, retry_after)
    while True:
        worker, retry = Notary(bootstrap, space, key, every, root=root, certificate=certificate, metrics=metrics), False
        try:
            TopicAdmin(bootstrap, space).create()  # in the loop: a notary started during an outage waits for the broker
            _resume(worker)
            worker.run(once, poll, seal_after, report, stop)
            if stop():
                console.print("stopped; the next start resumes from the sealed checkpoints")
        except NotaryError as exc:
            raise fail(str(exc)) from None
        except (KafkaException, DeliveryError) as exc:
            if once:
                raise fail(str(exc)) from None
            # A broker restart or outage: its chains in memory may be ahead of what is sealed on the log, so it
            # starts again from the log, as a restarted notary would.
            retry = True
            cause = str(exc)
        finally:
            if retry:
                _close_after_failure(worker)
            else:
                worker.close()
        if not retry:
            break
        # Nothing is sealed in between: a stop asked during the failed attempt or the wait ends the notary here.
        if stop() or waits.wait_after(lambda seconds: console.print(
            f"[yellow]broker failed[/] ({cause}); resuming from the sealed checkpoints in {seconds:.0f}s", highlight=False
        )):
            console.print(f"stopped during a broker failure ({cause}); the next start resumes from the sealed checkpoints", highlight=False)
            break


def _resume(worker: Notary) -> None:
    resumed = worker.resume()
    if resumed.published is not None:
        console.print(f"published {resumed.published.summary()}", highlight=False)
    for note in resumed.notes:
        console.print(f"[yellow]note[/] {note}", highlight=False)
    console.print(f"resumed {resumed.chains} chains from their latest checkpoints; next sequence {resumed.next_sequence}",
                  highlight=False)


def _close_after_failure(worker: Notary) -> None:
    """Closes a failed notary once what it sent is acknowledged (before the next one reads the log); a broker still
    away is said, not raised: the next one resumes from whatever the log holds."""
    try:
        worker.close()
    except (KafkaException, DeliveryError) as exc:
        console.print(f"[yellow]closing after a broker failure[/]: {exc}", highlight=False)


# --- verify, export, read ---------------------------------------------------------------


def _bundle_trust(
    bundle: Path, namespace: str, root_key: Path | None, public_key: Path | None, trust_bundle_key: bool
) -> Trust:
    """A bundle is judged by a key the auditor holds; only ``--trust-bundle-key`` takes the bundle's own, loudly.

    The trust returned has no statements yet: the bundle's and the auditor's are judged by it (``Trust.rebuilt``).
    """
    if sum((root_key is not None, public_key is not None, trust_bundle_key)) != 1:
        raise fail(
            "a bundle proves nothing against a key it brings itself: pass --root-key ROOT.pub (the operator's root) "
            "or --public-key NOTARY.pub; --trust-bundle-key takes the bundle's own key and says so", USAGE
        )
    if trust_bundle_key:
        try:
            pinned, is_root = bundle_key(bundle)
        except (BundleError, ValueError) as exc:
            raise fail(str(exc)) from None
        source = f"the bundle's OWN {'root' if is_root else 'notary'} key {pinned.key_id}, which nothing independent vouches for"
        console.print(f"[bold yellow]WARNING: trusting {source}: this shows the bundle is consistent, "
                      "not who made it[/]", highlight=False)
    else:
        is_root = root_key is not None
        pinned = load_public(root_key if root_key is not None else public_key)  # type: ignore[arg-type]
        source = f"the {'root' if is_root else 'notary'} key {pinned.key_id} you pinned"
    return Trust.rooted(namespace, pinned, (), source) if is_root else Trust.pinned(namespace, pinned, source)


@audit_app.command("verify")
def verify(
    topic: str | None = typer.Option(None, "--topic", help="Verify this topic on the log."),
    from_time: str | None = typer.Option(None, "--from", help="Start time, ISO 8601 or epoch ms (with --topic)."),
    to_time: str | None = typer.Option(None, "--to", help="End time, exclusive (with --topic)."),
    bundle: Path | None = typer.Option(None, "--bundle", exists=True, file_okay=False, help="Verify an exported bundle, offline."),
    root_key: Path | None = RootKeyOption,
    public_key: Path | None = PublicKeyOption,
    certificates: Path | None = CertificatesOption,
    trust_bundle_key: bool = typer.Option(
        False, "--trust-bundle-key", help="Trust the key the bundle ships (checks consistency only; said loudly)."
    ),
    expect_through: list[str] = typer.Option(
        [], "--expect-through",
        help="Fail unless the bundle proves this: P:OFFSET (partition P through that offset) or a time (the whole topic). Repeatable.",
    ),
    directory: Path | None = KeyDirOption,
    namespace: str = NamespaceOption,
    tz: str = TzOption,
) -> None:
    """Recompute hash chains and check them against the signed checkpoints (exit 1 on any problem)."""
    if (topic is None) == (bundle is None):
        raise typer.BadParameter("give exactly one of --topic or --bundle")
    if bundle is not None:
        pinned = _bundle_trust(bundle, namespace, root_key, public_key, trust_bundle_key)
        try:
            verdict = verify_bundle(bundle, pinned.rebuilt, namespace, statements_file(certificates),
                                    _expectations(expect_through, tz), own_key=trust_bundle_key)
        except (BundleError, ValueError) as exc:
            raise fail(f"{bundle}: {exc}") from None
        console.print(f"{verdict.topic} of {describe_namespace(verdict.namespace)}, trusting {verdict.trust}", highlight=False)
        for note in verdict.notes:
            console.print(f"  note: {note}", highlight=False, markup=False)
        for problem in verdict.problems:
            console.print(f"  - {problem}", highlight=False, markup=False)
        ok = _print_reports(verdict.reports) and not verdict.problems
        _print_head(verdict.head, tz)
        if verdict.own_key:
            console.print("[bold yellow]WARNING: checked against the bundle's own key only[/]")
    else:
        if expect_through or trust_bundle_key:
            raise typer.BadParameter("--expect-through and --trust-bundle-key go with --bundle")
        spec = _event_topic(topic or "")
        space = Namespace(namespace)
        with reader() as opened:
            audit = read_audit_log(opened, space)
            trust = log_trust(space, audit, root_key, public_key, directory, certificates)
            ranges = _ranges(opened, space.topic(spec), from_time, to_time, tz)
            ok = _print_reports(verify_log(opened, space, spec, trust, audit, ranges))
        for problem in [*audit.problems, *trust.problems]:
            console.print(f"  - {problem}", highlight=False, markup=False)
        ok = ok and not audit.problems and not trust.problems
    console.print("[green]verified[/]" if ok else "[bold red]verification FAILED[/]")
    if not ok:
        raise typer.Exit(FOUND_PROBLEMS)


@audit_app.command("export")
def export_bundle(
    out: Path = typer.Argument(..., file_okay=False, help="Bundle directory to create (must be empty or absent)."),
    topic: str = typer.Option(..., "--topic", help="Topic to export."),
    from_time: str | None = typer.Option(None, "--from", help="Start time, ISO 8601 or epoch ms."),
    to_time: str | None = typer.Option(None, "--to", help="End time, exclusive."),
    root_key: Path | None = RootKeyOption,
    public_key: Path | None = PublicKeyOption,
    directory: Path | None = KeyDirOption,
    namespace: str = NamespaceOption,
    tz: str = TzOption,
) -> None:
    """Export a time range of a topic as an offline bundle that proves what it holds, then verify it (no private key needed)."""
    spec = _event_topic(topic)
    space = Namespace(namespace)
    with reader() as opened:
        audit = read_audit_log(opened, space)
        trust = log_trust(space, audit, root_key, public_key, directory)
        ranges = _ranges(opened, space.topic(spec), from_time, to_time, tz)
        try:
            manifest = export(opened, space, spec, trust, audit, ranges, out)
        except BundleError as exc:
            raise fail(str(exc)) from None
    for partition, described in manifest["partitions"].items():
        console.print(
            f"{spec.name}[{partition}] requested {described['requested']}, exported {described['records']} "
            f"(from {described['anchor']})",
            highlight=False,
        )
    verdict = verify_bundle(out, trust.rebuilt, space.prefix)
    if not _print_reports(verdict.reports) or verdict.problems:
        for problem in verdict.problems:
            console.print(f"  - {problem}", highlight=False, markup=False)
        raise fail(f"the exported bundle {out} does not verify", FOUND_PROBLEMS)
    _print_head(verdict.head, tz)
    console.print(f"[green]bundle written and verified[/]: {out}", highlight=False)


@audit_app.command("read")
def read(
    bundle: Path | None = typer.Option(None, "--bundle", exists=True, file_okay=False, help="Read a bundle instead of the log."),
    records: bool = typer.Option(False, "--records", help="With --bundle: print its records, decoded with the bundle's own schemas."),
    topic: str | None = typer.Option(None, "--topic", help="Only checkpoints of this topic."),
    root_key: Path | None = RootKeyOption,
    public_key: Path | None = PublicKeyOption,
    directory: Path | None = KeyDirOption,
    namespace: str = NamespaceOption,
) -> None:
    """List the checkpoints with the verdict of the trusted key on each, or a bundle's decoded records (JSON lines)."""
    if records:
        if bundle is None:
            raise typer.BadParameter("--records reads a bundle: give --bundle")
        _print_bundle_records(bundle)
        return
    space = Namespace(namespace)
    if bundle is not None:
        load_manifest(bundle)
        checkpoints = [Checkpoint.from_json(line) for line in (bundle / CHECKPOINTS).read_text().splitlines()]
        own = root_key is None and public_key is None
        trust = _bundle_trust(bundle, space.prefix, root_key, public_key, own).rebuilt(statements_file(bundle / KEYS))
    else:
        with reader() as opened:
            audit = read_audit_log(opened, space)
        trust = log_trust(space, audit, root_key, public_key, directory)
        checkpoints = audit.checkpoints
        for problem in audit.problems:
            console.print(f"[red]not a checkpoint[/] {problem}", highlight=False)
    for checkpoint in checkpoints:
        if topic is not None and checkpoint.topic != topic:
            continue
        verdict = trust.judge(checkpoint)
        line = {**json.loads(checkpoint.to_json()), "verdict": verdict.standing.value if verdict.standing else verdict.problem}
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def _print_bundle_records(bundle: Path) -> None:
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
    with reader() as opened:
        found = trace_order(opened, codec, Namespace(namespace), order_id)
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
        "OrderIntent": ("side", "quantity", "order_type", "score", "model_name", "model_version", "model_sha256"),
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
