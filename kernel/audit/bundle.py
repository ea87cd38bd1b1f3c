"""Offline audit bundles: a range of a topic with everything needed to verify and read it elsewhere.

Layout of a bundle directory:

    bundle.json        what it holds: topic, ranges per partition, key id, SHA-256 of each file
    records.jsonl      one record a line: partition, offset, timestamp_ms, key, value, headers
                       (bytes in base64), and the record's chain link (hex)
    checkpoints.jsonl  the signed checkpoints: the one anchoring each range (unless it starts
                       at offset 0), every one inside it, and the one sealing its end
    notary.pub         the notary's public key (PEM)
    schemas/           the Avro schemas (current and released) that decode the values

A range is widened to checkpoints on export: from the last checkpoint before it
to the first at or after its end, so that every record is proven by a
signature. Verification trusts only signatures, never ``bundle.json``; it uses
the key given by the auditor, or else the bundle's own (and says so).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.audit.chain import Chain, ChainRecord
from kernel.audit.events import Checkpoint
from kernel.audit.sign import PUBLIC_FILE, PublicKey
from kernel.audit.verify import (
    Anchor,
    PartitionReport,
    Selection,
    chain_record,
    read_checkpoints,
    select,
    signed_checkpoints,
    verify_partition,
)
from kernel.consumer import LogReader
from kernel.schema_registry import default_schemas_dir
from kernel.topics import Namespace, TopicSpec

BUNDLE_FORMAT = "aitrader-audit-bundle/1"
MANIFEST = "bundle.json"
RECORDS = "records.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
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


def export(
    reader: LogReader,
    namespace: Namespace,
    spec: TopicSpec,
    key: PublicKey,
    offsets: dict[int, tuple[int, int]],
    out: Path,
) -> dict[str, Any]:
    """Writes the bundle of ``offsets`` (partition -> [start, end)) of ``spec``; returns its manifest.

    Refuses a range whose end no checkpoint seals yet (run the notary first) and a
    directory that is not empty.
    """
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty")
    topic = namespace.topic(spec)
    checkpoints, unreadable = read_checkpoints(reader, namespace)
    if unreadable:
        raise BundleError(f"audit.checkpoints holds records that are not checkpoints, first: {unreadable[0]}")
    marks = reader.watermarks(topic)
    chosen: list[tuple[Selection, tuple[int, int]]] = []
    for partition, wanted in sorted(offsets.items()):
        if partition not in marks:
            raise BundleError(f"{topic} has no partition {partition}")
        selection = select(spec, partition, marks[partition], wanted, checkpoints, key)
        if selection.problems:
            raise BundleError(f"{topic}[{partition}]: {selection.problems[0]}")
        if wanted[1] > wanted[0] and not selection.sealed:
            raise BundleError(
                f"{topic}[{partition}]: offsets up to {wanted[1] - 1} are not sealed by a checkpoint yet; "
                "run the notary (aitrader run notary --once) first"
            )
        chosen.append((selection, wanted))
    out.mkdir(parents=True, exist_ok=True)
    partitions: dict[str, Any] = {}
    sealing: list[Checkpoint] = []
    with (out / RECORDS).open("w") as lines:
        for selection, wanted in chosen:
            chain = Chain(spec.name, selection.partition, selection.anchor.head, selection.anchor.last_offset)
            for batch in reader.read(topic, {selection.partition: (selection.read_from, selection.read_to)}):
                for raw in batch:
                    record = chain_record(raw)
                    lines.write(record_line(selection.partition, record, chain.extend(record)) + "\n")
            if selection.anchor_checkpoint is not None:
                sealing.append(selection.anchor_checkpoint)
            sealing += selection.checkpoints
            partitions[str(selection.partition)] = {
                "requested": list(wanted),
                "records": [selection.read_from, selection.read_to],
                "anchor": selection.anchor.source,
            }
    (out / CHECKPOINTS).write_text("".join(c.to_json().decode() + "\n" for c in sealing))
    (out / PUBLIC_FILE).write_bytes(key.pem())
    shutil.copytree(default_schemas_dir(), out / SCHEMAS, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = {
        "format": BUNDLE_FORMAT,
        "topic": spec.name,
        "broker_topic": topic,
        "partitions": partitions,
        "key_id": key.key_id,
        "files": {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in (RECORDS, CHECKPOINTS, PUBLIC_FILE)},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


@dataclass(frozen=True)
class BundleVerdict:
    topic: str
    key_id: str
    key_from_bundle: bool
    reports: tuple[PartitionReport, ...]
    problems: tuple[str, ...]  # about the bundle as a whole

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.reports)


def load_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{directory / MANIFEST}: {exc}") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{directory} is not an {BUNDLE_FORMAT} bundle")
    return manifest


def verify_bundle(directory: Path, trusted: PublicKey | None = None) -> BundleVerdict:
    """Recomputes the bundle's chains from its signed checkpoints, offline."""
    manifest = load_manifest(directory)
    topic = str(manifest["topic"])
    key = trusted if trusted is not None else PublicKey.load(directory / PUBLIC_FILE)
    problems: list[str] = []
    checkpoints = []
    for number, line in enumerate((directory / CHECKPOINTS).read_text().splitlines(), start=1):
        try:
            checkpoints.append(Checkpoint.from_json(line))
        except ValueError as exc:
            problems.append(f"{CHECKPOINTS}:{number}: {exc}")
    by_partition: dict[int, list[tuple[ChainRecord, bytes]]] = defaultdict(list)
    with (directory / RECORDS).open() as lines:
        for line in lines:
            partition, record, link = parse_record_line(line)
            by_partition[partition].append((record, link))
    declared = {int(p): tuple(v["records"]) for p, v in manifest["partitions"].items()}
    reports = []
    for partition in sorted(set(declared) | set(by_partition)):
        records = by_partition.get(partition, [])
        mine = [c for c in checkpoints if c.topic == topic and c.partition == partition]
        valid, forged = signed_checkpoints(mine, key)
        report = PartitionReport(topic, partition, problems=list(forged))
        first = min((r.offset for r, _ in records), default=0)
        before = [c for c in valid if c.last_offset < first]
        anchor = Anchor.at(before[-1]) if before else Anchor.at_genesis(topic, partition)
        verify_partition(report, anchor, records, valid)
        if report.unsealed:
            report.problems.append(f"{report.unsealed} records after the last checkpoint: not proven")
        start, end = declared.get(partition, (None, None))
        if (report.first_offset, (report.last_offset or 0) + 1) != (start, end) and records:
            report.problems.append(f"records cover offsets {report.first_offset}..{report.last_offset}, "
                                   f"{MANIFEST} declares [{start}, {end})")
        reports.append(report)
    return BundleVerdict(topic, key.key_id, trusted is None, tuple(reports), tuple(problems))
