"""Offline audit bundles: a range of a topic that proves, without the cluster, what it holds and how complete it is.

Layout of a bundle directory:

    bundle.json        what it holds: namespace, topic, ranges per partition, the signed point it is
                       complete as of (its head), and the SHA-256 of every other file
    records.jsonl      one record a line: partition, offset, timestamp_ms, key, value, headers
                       (bytes in base64), and the record's chain link (hex)
    checkpoints.jsonl  the notary's signed checkpoints: for every partition the one anchoring
                       its range, every one inside it, and the one sealing its end
    keys.jsonl         the root key's statements about notary keys (certificates, retirements,
                       revocations) found on audit.checkpoints at export
    root.pub           the root key the exporter trusted (notary.pub: the one notary key, without a root)
    schemas/           the Avro schemas (current and released) that decode the values

Exporting needs no private key: the bundle carries seals the notary already
made. Each partition is widened to checkpoints, and its end to the head: the
first good checkpoint whose ``topic_offsets`` reach the requested end in every
partition, so that the records hold the whole topic up to a signed point.

Verification believes nothing because ``bundle.json`` says it: the records are
bound to the checkpoints by their chain, the checkpoints and key statements by
signatures the auditor's pinned key decides (``audit.trust``), released
schemas by the verifier's own copies, and the head is recomputed from the seals
(``audit.verify.complete_as_of``). ``bundle.json`` only has to agree;
its file hashes catch a damaged copy. What a bundle cannot prove is that the
log did not go on after its head, nor that its head is the latest: the auditor
demands a point (``expect``) and the head is printed. The bundle's own
``root.pub`` is trusted only when asked for (``own_key``), and then said loudly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.chain import Chain, ChainRecord
from audit.events import Checkpoint
from audit.sign import PUBLIC_FILE, ROOT_PUBLIC_FILE, PublicKey
from audit.trust import KeyStatement, Standing, Trust, describe_namespace
from audit.verify import (
    Expectation,
    Head,
    Judged,
    PartitionReport,
    anchor_before,
    best_head,
    complete_as_of,
    judge,
    partition_count,
    verify_partition,
)
from contract.compat import without_docs
from contract.schema_registry import SchemaRegistry, default_schemas_dir
from contract.topics import Namespace, TopicSpec
from eventlog.audit.onlog import AuditLog, Selection, chain_record, select
from eventlog.consumer import LogReader

BUNDLE_FORMAT = "aitrader-audit-bundle/2"
MANIFEST = "bundle.json"
RECORDS = "records.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
KEYS = "keys.jsonl"
SCHEMAS = "schemas"


class BundleError(ValueError):
    """The bundle cannot be made or read; the message says why."""


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)


def record_line(partition: int, record: ChainRecord, link: bytes) -> str:
    return json.dumps(
        {
            "partition": partition,
            "offset": record.offset,
            "timestamp_ms": record.timestamp_ms,
            "key": _b64(record.key),
            "value": _b64(record.value),
            "headers": [[name, _b64(value)] for name, value in record.headers],
            "link": link.hex(),
        },
        separators=(",", ":"),
    )


def parse_record_line(line: str) -> tuple[int, ChainRecord, bytes]:
    try:
        raw = json.loads(line)
        record = ChainRecord(
            int(raw["offset"]), int(raw["timestamp_ms"]), _unb64(raw["key"]), _unb64(raw["value"]),
            tuple((str(name), _unb64(value)) for name, value in raw["headers"]),
        )
        return int(raw["partition"]), record, bytes.fromhex(raw["link"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"malformed record line: {exc}") from None


def file_hashes(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` but the manifest, by relative path."""
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST and "__pycache__" not in path.parts
    }


def head_view(head: Head | None) -> dict[str, Any] | None:
    if head is None:
        return None
    c = head.checkpoint
    return {"sequence": c.sequence, "partition": c.partition, "offset": c.last_offset, "timestamp_ms": c.last_timestamp_ms,
            "offsets": head.offsets()}


# --- export ------------------------------------------------------------------------------


def _head_for(spec: TopicSpec, judged: Judged, wanted: dict[int, tuple[int, int]]) -> Checkpoint | None:
    """The earliest good seal whose snapshot reaches every requested end."""
    fits = [
        c for c, s in judged.accepted
        if c.topic == spec.name and s is Standing.GOOD
        and all(c.snapshot(p) >= end - 1 for p, (start, end) in wanted.items() if end > start)
    ]
    return min(fits, key=lambda c: c.sequence, default=None)


def export(
    reader: LogReader,
    namespace: Namespace,
    spec: TopicSpec,
    trust: Trust,
    audit: AuditLog,
    offsets: dict[int, tuple[int, int]],
    out: Path,
) -> dict[str, Any]:
    """Writes the bundle of ``offsets`` (partition -> [start, end)) of ``spec``; returns its manifest.

    The key ``trust`` rests on is shipped for reference. Refuses a range no good
    checkpoint covers yet (run the notary first) and a directory that is not empty.
    """
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty")
    if audit.problems:
        raise BundleError(f"audit.checkpoints holds records that are not checkpoints, first: {audit.problems[0]}")
    topic = namespace.topic(spec)
    judged = judge([c for c in audit.checkpoints if not c.legacy], trust)
    marks = reader.watermarks(topic)
    unknown = sorted(set(offsets) - set(marks))
    if unknown:
        raise BundleError(f"{topic} has no partition {unknown[0]}")
    wanted = {p: offsets.get(p, (high, high)) for p, (_, high) in marks.items()}
    if all(end <= start for start, end in wanted.values()):
        raise BundleError(f"{topic}: nothing to export in the range asked for")
    head = _head_for(spec, judged, wanted)
    if head is None:
        raise BundleError(f"{topic}: no good checkpoint covers the requested range in every partition yet; "
                          "run the notary (aitrader run notary --once) first")
    chosen: list[Selection] = []
    for partition in sorted(marks):
        selection = select(spec, partition, marks[partition], wanted[partition], judged.accepted, head.snapshot(partition))
        if selection.problems:
            raise BundleError(f"{topic}[{partition}]: {selection.problems[0]}")
        if not selection.sealed:
            raise BundleError(f"{topic}[{partition}]: offsets up to {head.snapshot(partition)} are not sealed by a good "
                              "checkpoint yet; run the notary (aitrader run notary --once) first")
        chosen.append(selection)
    out.mkdir(parents=True, exist_ok=True)
    partitions: dict[str, Any] = {}
    sealing: dict[str, Checkpoint] = {head.checkpoint_id: head}
    with (out / RECORDS).open("w") as lines:
        for selection in chosen:
            chain = Chain(spec.name, selection.partition, selection.anchor.head, selection.anchor.last_offset)
            for batch in reader.read(topic, {selection.partition: (selection.read_from, selection.read_to)}):
                for raw in batch:
                    record = chain_record(raw)
                    lines.write(record_line(selection.partition, record, chain.extend(record)) + "\n")
            good = (c for c, standing in selection.checkpoints if standing is Standing.GOOD)  # the rest prove nothing
            for checkpoint in [selection.anchor_checkpoint, *good]:
                if checkpoint is not None:
                    sealing.setdefault(checkpoint.checkpoint_id, checkpoint)
            partitions[str(selection.partition)] = {
                "requested": list(wanted[selection.partition]),
                "records": [selection.read_from, selection.read_to],
                "anchor": selection.anchor.source,
            }
    ordered = sorted(sealing.values(), key=lambda c: (c.partition, c.last_offset, c.sequence))
    standing = {c.checkpoint_id: s for c, s in judged.accepted}
    proven = {s.partition: s.read_to - 1 for s in chosen}
    shown = best_head(proven, [(c, standing[c.checkpoint_id]) for c in ordered])  # what the verifier will find
    (out / CHECKPOINTS).write_text("".join(c.to_json().decode() + "\n" for c in ordered))
    (out / KEYS).write_text("".join(s.to_json().decode() + "\n" for s in trust.statements))
    (out / (ROOT_PUBLIC_FILE if trust.rooted else PUBLIC_FILE)).write_bytes(trust.anchor.pem())
    shutil.copytree(default_schemas_dir(), out / SCHEMAS, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = {
        "format": BUNDLE_FORMAT,
        "namespace": namespace.prefix,
        "topic": spec.name,
        "broker_topic": topic,
        "partitions": partitions,
        "head": head_view(shown),
        "trust": trust.source,
        "files": file_hashes(out),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# --- verification -----------------------------------------------------------------------


@dataclass(frozen=True)
class BundleVerdict:
    topic: str
    namespace: str
    trust: str  # what the verdict rests on
    own_key: bool  # the bundle's own key was trusted: nothing independent vouches for it
    reports: tuple[PartitionReport, ...]
    head: Head | None
    problems: tuple[str, ...]  # about the bundle as a whole
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.reports)


def load_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{directory / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BundleError(f"{directory} is not an {BUNDLE_FORMAT} bundle (format {found!r}); export it again")
    return manifest


def bundle_key(directory: Path) -> tuple[PublicKey, bool]:
    """The key a bundle ships: (key, is a root key). Only for ``--trust-bundle-key``."""
    for name, is_root in ((ROOT_PUBLIC_FILE, True), (PUBLIC_FILE, False)):
        if (directory / name).exists():
            return PublicKey.load(directory / name), is_root
    raise BundleError(f"{directory} ships no {ROOT_PUBLIC_FILE} or {PUBLIC_FILE}")


def read_statements(path: Path) -> list[KeyStatement]:
    """Key statements, one JSON line each (a bundle's ``keys.jsonl``, or the auditor's own file)."""
    statements = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                statements.append(KeyStatement.from_json(line))
            except ValueError as exc:
                raise BundleError(f"{path}:{number}: {exc}") from None
    return statements


def _lines(path: Path) -> list[str]:
    """A file's lines; none when it is missing (``_check_files`` says so)."""
    return path.read_text().splitlines() if path.exists() else []


def _check_files(directory: Path, declared: dict[str, str]) -> list[str]:
    found = file_hashes(directory)
    problems = [f"{name}: listed in {MANIFEST} but missing" for name in sorted(set(declared) - set(found))]
    problems += [f"{name}: not listed in {MANIFEST}" for name in sorted(set(found) - set(declared))]
    problems += [f"{name}: its SHA-256 is not the one {MANIFEST} lists (damaged or edited)"
                 for name in sorted(set(found) & set(declared)) if found[name] != declared[name]]
    return problems


def _check_schemas(root: Path) -> tuple[list[str], list[str]]:
    """(problems, notes): released schemas must equal this verifier's copies; current ones one of the bundle's released."""
    try:
        bundled = SchemaRegistry(root)
    except Exception as exc:  # json and fastavro raise many types on a damaged schema; all mean "unreadable"
        return [f"{SCHEMAS}: unreadable: {exc}"], []
    own = SchemaRegistry(default_schemas_dir())
    problems, unpinned = [], []
    for name, versions in bundled.released.items():
        mine = {v.version: v for v in own.released.get(name, [])}
        for version in versions:
            if version.version not in mine:
                unpinned.append(f"{name} v{version.version}")
            elif without_docs(mine[version.version].schema_json) != without_docs(version.schema_json):
                problems.append(f"{SCHEMAS}: released {name} v{version.version} differs from the released version this "
                                "verifier holds: values would decode as something they are not")
    for name, current in bundled.current.items():
        if all(without_docs(v.schema_json) != without_docs(current.schema_json) for v in bundled.released.get(name, [])):
            problems.append(f"{SCHEMAS}: the reader schema of {name} is none of its released versions")
    notes = [f"schemas this verifier's code does not know, so cannot pin: {', '.join(unpinned)}"] if unpinned else []
    return problems, notes


def verify_bundle(
    directory: Path,
    trust_for: Callable[[Sequence[KeyStatement]], Trust],
    namespace: str,
    extra_statements: Sequence[KeyStatement] = (),
    expect: Sequence[Expectation] = (),
    own_key: bool = False,
) -> BundleVerdict:
    """Recomputes the bundle's chains and head from its signed checkpoints, offline.

    ``trust_for(statements) -> Trust`` builds the auditor's trust for
    ``namespace`` from the key statements (the bundle's and ``extra_statements``);
    ``own_key`` marks that it rests on the bundle's own key.
    """
    manifest = load_manifest(directory)
    topic = str(manifest.get("topic"))
    problems = _check_files(directory, dict(manifest.get("files") or {}))
    schema_problems, notes = _check_schemas(directory / SCHEMAS)
    problems += schema_problems
    statements = [*(read_statements(directory / KEYS) if (directory / KEYS).exists() else []), *extra_statements]
    trust: Trust = trust_for(statements)
    problems += list(trust.problems)
    checkpoints = []
    for number, line in enumerate(_lines(directory / CHECKPOINTS), start=1):
        try:
            checkpoints.append(Checkpoint.from_json(line))
        except ValueError as exc:
            problems.append(f"{CHECKPOINTS}:{number}: {exc}")
    strays = [c.where for c in checkpoints if c.topic != topic]
    if strays:
        problems.append(f"{CHECKPOINTS} holds checkpoints of other topics than {topic}, first: {strays[0]}")
    judged = judge(checkpoints, trust)
    problems += [why for _, why in judged.refused] + [why for _, why in judged.void]
    by_partition: dict[int, list[tuple[ChainRecord, bytes | None]]] = defaultdict(list)
    for number, line in enumerate(_lines(directory / RECORDS), start=1):
        try:
            partition, record, link = parse_record_line(line)
        except BundleError as exc:
            problems.append(f"{RECORDS}:{number}: {exc}")
            continue
        by_partition[partition].append((record, link))
    accepted = [(c, s) for c, s in judged.accepted if c.topic == topic]
    count = partition_count(accepted)
    declared = {int(p): v for p, v in dict(manifest.get("partitions") or {}).items()}
    reports = []
    for partition in sorted(set(range(count)) | set(by_partition) | set(declared)):
        records = by_partition.get(partition, [])
        mine = [(c, s) for c, s in accepted if c.partition == partition]
        first = records[0][0].offset if records else max((c.last_offset for c, _ in mine), default=-1) + 1
        anchor, _ = anchor_before(topic, partition, first, mine)
        report = verify_partition(PartitionReport(topic, partition), anchor, records, mine)
        if report.unsealed:
            report.problems.append(f"{report.unsealed} records after the last good checkpoint: not proven")
        if partition >= count and count:
            report.problems.append(f"the notary's checkpoints say {topic} has {count} partitions, not {partition + 1}")
        span = [anchor.last_offset + 1, (anchor.last_offset if report.last_offset is None else report.last_offset) + 1]
        stated = declared.get(partition, {}).get("records")
        if stated != span and (records or stated is not None):
            report.problems.append(f"records cover offsets [{span[0]}, {span[1]}), {MANIFEST} declares {stated}")
        reports.append(report)
    head = complete_as_of(reports, accepted)
    if head is None:
        problems.append("the records hold the whole topic as of no signed checkpoint: a partition is cut short or missing")
    elif manifest.get("head") != head_view(head):
        problems.append(f"{MANIFEST} declares head {manifest.get('head')}, the checkpoints prove {head_view(head)}")
    if manifest.get("namespace") != namespace:
        problems.append(f"{MANIFEST} says {describe_namespace(str(manifest.get('namespace')))}; "
                        f"verified as {describe_namespace(namespace)}")
    problems += [why for e in expect if (why := e.unmet(reports, head)) is not None]
    return BundleVerdict(topic, namespace, trust.source, own_key, tuple(reports), head, tuple(problems), tuple(notes))
