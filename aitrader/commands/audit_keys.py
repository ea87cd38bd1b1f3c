"""``aitrader audit keys``: the operator's root key and the notary keys it certifies, retires and revokes.

The root key is the trust anchor auditors pin (``--root-key root.pub``); it is
used only here, ideally on a machine that is not the notary's. Statements are
written as JSON files and put on the log with ``publish`` (the notary publishes
its own certificate when it starts), so the machine holding the root needs no
broker. Rotation: ``keys new`` on the notary's machine, ``certify`` the new key
from the next sequence (``keys list`` prints it), ``retire`` the old one from the
same sequence (``revoke`` instead if it may have been stolen), ``publish``,
restart the notary with the new key directory.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from confluent_kafka import KafkaException

from aitrader.commands.common import USAGE, console, fail
from aitrader.output import JsonOption, emit_json, out
from aitrader.stack.endpoints import endpoints
from aitrader.stack.paths import stack_home
from audit.sign import (
    CERTIFICATE_FILE,
    PRIVATE_FILE,
    PUBLIC_FILE,
    ROOT_PRIVATE_FILE,
    ROOT_PUBLIC_FILE,
    PublicKey,
    SigningKey,
)
from audit.trust import KeyStatement, Trust, describe_namespace
from contract.records import UndecodableRecord
from contract.topics import AUDIT_CHECKPOINTS, Namespace
from eventlog.audit.bundle import BundleError, read_statements
from eventlog.audit.onlog import AuditLog, log_reader, read_audit_log
from eventlog.consumer import LogReader
from eventlog.producer import EventProducer

keys_app = typer.Typer(help="The root key and the notary keys it certifies: rotation and revocation.", no_args_is_help=True)

NamespaceOption = typer.Option("", "--namespace", help="Topic name prefix (tests, experiments); live uses none.")
KeyDirOption = typer.Option(None, "--key-dir", file_okay=False, help="Notary key directory (default: $AITRADER_HOME/audit).")
RootDirOption = typer.Option(None, "--root-dir", file_okay=False, help="Root key directory (default: $AITRADER_HOME/audit/root).")
RootKeyOption = typer.Option(None, "--root-key", exists=True, dir_okay=False, help="The root public key you trust (PEM).")
PublicKeyOption = typer.Option(
    None, "--public-key", exists=True, dir_okay=False, help="Trust this one notary key (PEM) for every sequence instead of a root."
)
CertificatesOption = typer.Option(
    None, "--certificates", exists=True, dir_okay=False,
    help="Key statements you hold (JSON lines, e.g. a revocation); they must verify with the root key.",
)


def key_dir(given: Path | None) -> Path:
    return given if given is not None else stack_home() / "audit"


def root_dir(given: Path | None) -> Path:
    return given if given is not None else stack_home() / "audit" / "root"


@contextmanager
def reader() -> Iterator[LogReader]:
    """A reader on the broker; broker errors and undecodable records end the command with where they happened."""
    try:
        with log_reader(endpoints()[0]) as opened:
            yield opened
    except (KafkaException, UndecodableRecord) as exc:
        raise fail(str(exc)) from None


def load_public(path: Path) -> PublicKey:
    try:
        return PublicKey.load(path)
    except ValueError as exc:
        raise fail(f"{path}: {exc}") from None


def statements_file(path: Path | None) -> list[KeyStatement]:
    if path is None:
        return []
    try:
        return read_statements(path)
    except BundleError as exc:
        raise fail(str(exc)) from None


def log_trust(
    namespace: Namespace, audit: AuditLog, root_key: Path | None, public_key: Path | None, given_key_dir: Path | None,
    certificates: Path | None = None,
) -> Trust:
    """The trust for the log: ``--root-key`` or ``--public-key``, else the root or notary key in the key directory."""
    if root_key is not None and public_key is not None:
        raise typer.BadParameter("give --root-key or --public-key, not both")
    if public_key is not None:
        return Trust.pinned(namespace.prefix, load_public(public_key))
    directory = key_dir(given_key_dir)
    root = root_key if root_key is not None else directory / ROOT_PUBLIC_FILE
    if root.exists():
        extra = statements_file(certificates)
        return Trust.rooted(namespace.prefix, load_public(root), [*audit.statements, *extra])
    if (directory / PUBLIC_FILE).exists():
        return Trust.pinned(namespace.prefix, load_public(directory / PUBLIC_FILE))
    raise fail(f"no key to trust: pass --root-key (or --public-key), or keep {ROOT_PUBLIC_FILE} in {directory}", USAGE)


def _root(directory: Path) -> SigningKey:
    path = directory / ROOT_PRIVATE_FILE
    if not path.exists():
        raise fail(f"no root key at {path}: `aitrader audit keys init-root` makes one")
    return SigningKey.load(path)


def _sign(statement: KeyStatement, root: SigningKey) -> KeyStatement:
    unsigned = dataclasses.replace(statement, root_key_id=root.public.key_id, signature="")
    return dataclasses.replace(unsigned, signature=root.sign(unsigned.signed_payload()))


def _write(statement: KeyStatement, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(statement.to_json().decode() + "\n")
    console.print(f"wrote {statement.summary()} to {out}", highlight=False)


def _new_pair(directory: Path, private_file: str, public_file: str, what: str) -> SigningKey:
    if (directory / private_file).exists():
        raise fail(f"{directory / private_file} exists: a key is never overwritten")
    key = SigningKey.generate()
    key.save(directory, private_file, public_file)
    console.print(f"{what} key {key.public.key_id}: private {directory / private_file}, public {directory / public_file}",
                  highlight=False)
    return key


@keys_app.command("init-root")
def init_root(root: Path | None = RootDirOption) -> None:
    """Make the operator's root key pair; give root.pub to auditors and keep root.key off the notary's machine."""
    _new_pair(root_dir(root), ROOT_PRIVATE_FILE, ROOT_PUBLIC_FILE, "root")


@keys_app.command("new")
def new_notary_key(directory: Path | None = KeyDirOption) -> None:
    """Make a notary key pair (to certify before the notary may use it)."""
    _new_pair(key_dir(directory), PRIVATE_FILE, PUBLIC_FILE, "notary")


@keys_app.command("certify")
def certify(
    public: Path = typer.Argument(..., exists=True, dir_okay=False, help="The notary public key (notary.pub)."),
    valid_from: int = typer.Option(..., "--valid-from", min=0, help="First checkpoint sequence it may sign (`keys list` prints the next)."),
    out: Path | None = typer.Option(None, "--out", dir_okay=False, help=f"Certificate file (default: {CERTIFICATE_FILE} beside the key)."),
    namespace: str = NamespaceOption,
    root: Path | None = RootDirOption,
) -> None:
    """Certify a notary key with the root key; beside the key, also copy root.pub so the notary checks its peers."""
    signer = _root(root_dir(root))
    key = load_public(public)
    statement = _sign(KeyStatement(namespace, key.key_id, key.raw.hex(), valid_from, None, False, ""), signer)
    _write(statement, out if out is not None else public.parent / CERTIFICATE_FILE)
    if out is None:
        shutil.copyfile(root_dir(root) / ROOT_PUBLIC_FILE, public.parent / ROOT_PUBLIC_FILE)


def _end(key_id: str, sequence: int, compromised: bool, out: Path, namespace: str, root: Path | None) -> None:
    signer = _root(root_dir(root))
    _write(_sign(KeyStatement(namespace, key_id, "", 0, sequence, compromised, ""), signer), out)


@keys_app.command("retire")
def retire(
    key_id: str = typer.Argument(..., help="The notary key id to retire."),
    sequence: int = typer.Option(..., "--from", min=0, help="First sequence it may no longer sign (the new key's first)."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Statement file to write (then `keys publish` it)."),
    namespace: str = NamespaceOption,
    root: Path | None = RootDirOption,
) -> None:
    """End a notary key at a sequence (a rotation): what it sealed before stands."""
    _end(key_id, sequence, False, out, namespace, root)


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The notary key id that may have been stolen."),
    sequence: int = typer.Option(..., "--from", min=0, help="First sequence it may no longer sign: the earliest it may have been stolen."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Statement file to write (then `keys publish` it, and give it to auditors)."),
    namespace: str = NamespaceOption,
    root: Path | None = RootDirOption,
) -> None:
    """End a compromised notary key: what it sealed before counts only where a good key's later seal confirms it."""
    _end(key_id, sequence, True, out, namespace, root)


@keys_app.command("publish")
def publish(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Statement files (JSON lines)."),
    namespace: str = NamespaceOption,
) -> None:
    """Put key statements on audit.checkpoints (ones already there are skipped)."""
    space = Namespace(namespace)
    statements = [s for path in files for s in statements_file(path)]
    wrong = [s for s in statements if s.namespace != space.prefix]
    if wrong:
        raise fail(f"{wrong[0].summary()}: not for {describe_namespace(space.prefix)}", USAGE)
    with reader() as opened:
        audit = read_audit_log(opened, space)
    producer = EventProducer(endpoints()[0], space)
    stamp = max(audit.last_timestamp_ms, 1)  # a statement has no market time: it borrows the log's latest
    for statement in statements:
        if statement in audit.statements:
            console.print(f"already on the log: {statement.summary()}", highlight=False)
            continue
        producer.send_raw(space.topic(AUDIT_CHECKPOINTS), statement.key, producer.codec.encode(statement.to_event(stamp)), stamp)
        console.print(f"published {statement.summary()}", highlight=False)
    producer.flush()


@keys_app.command("list")
def list_keys(
    namespace: str = NamespaceOption,
    root_key: Path | None = RootKeyOption,
    directory: Path | None = KeyDirOption,
    as_json: bool = JsonOption,
) -> None:
    """The key statements on the log, whether the root signed them, the keys in force and the next sequence."""
    space = Namespace(namespace)
    with reader() as opened:
        audit = read_audit_log(opened, space)
    trust = log_trust(space, audit, root_key, None, directory)
    good = set(trust.statements)
    following = audit.next_sequence
    if as_json:
        emit_json({
            "statements": [{**json.loads(s.to_json()), "kind": s.kind, "root_signed": s in good} for s in audit.statements],
            "problems": list(trust.problems), "next_sequence": following,
            "in_force": list(trust.in_force(following)), "trust": trust.source,
        })
        return
    for statement in audit.statements:
        mark = "[green]root-signed[/]" if statement in good else "[red]NOT root-signed[/]"
        out.print(f"{mark} {statement.summary()}", highlight=False)
    for problem in trust.problems:
        out.print(f"  - {problem}", highlight=False, markup=False)
    out.print(f"next checkpoint sequence: {following}; keys in force for it: "
              f"{', '.join(trust.in_force(following)) or 'none'} ({trust.source})", highlight=False)
