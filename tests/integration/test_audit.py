"""The audit trail on a real broker: notary, verify, export/verify bundles, doctored bundles, key rotation, trace.

The log is the replay tests' ES slice (2013-09-02 00:00 to 2013-09-03 03:00
Chicago) with live derived events produced in-process, plus 40 of its ticks
copied to a second input partition so bundles span two; the notary seals a
checkpoint every 5,000 records of each partition, with a key the operator's root
key (both made in temporary directories) certified. The attacks of issue 9 on
the exported bundle are here as the auditor runs them (the CLI); their finer
variants are unit tests (``tests/unit/test_audit_bundles.py``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aitrader.commands.audit import audit_app, notary
from audit.chain import ChainRecord, genesis, link
from audit.events import Checkpoint
from audit.sign import PublicKey, SigningKey
from audit.verify import Head
from contract.events import AuditCheckpointSealed, OrderFilled, OrderInitialized
from contract.records import decode
from contract.serde import EventCodec
from contract.topics import AUDIT_CHECKPOINTS, CATALOG, FILLS, INPUTS, ORDERS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.audit.bundle import file_hashes, head_view
from eventlog.consumer import LogReader
from eventlog.producer import EventProducer
from tests.integration.test_replay import (
    ES_PARTITION,
    chicago_ms,
    invoke,
    publish_and_run_live,
    sample_ticks,
)
from tests.refusals import publish_refusals

pytestmark = pytest.mark.infra

EVERY = 5_000
QUIET = (ES_PARTITION + 1) % 3  # the second input partition: 40 ticks copied from ES at 06:30


@dataclass(frozen=True)
class AuditedLog:
    namespace: Namespace
    root_dir: Path  # the operator's root key
    key_dir: Path  # the notary's key, its certificate and root.pub
    bundle: Path  # inputs of 2013-09-02 06:00..08:00, exported once and verified

    @property
    def root_pub(self) -> str:
        return str(self.root_dir / "root.pub")

    def scope(self) -> tuple[str, ...]:
        return ("--namespace", self.namespace.prefix)


def _cli(*args: str) -> tuple[int, str]:
    return invoke(audit_app, *args)


def _run_notary(*args: str) -> tuple[int, str]:
    return invoke(notary, *args)


def _copy_inputs(bootstrap: str, space: Namespace, from_ms: int, count: int, partition: int) -> None:
    """Writes ``count`` ES ticks stamped from ``from_ms`` on, byte for byte, to another input partition."""
    topic = space.topic(INPUTS)
    with LogReader(bootstrap) as reader:
        start = reader.offsets_at(topic, from_ms)[ES_PARTITION]
        copied = [r for b in reader.read(topic, {ES_PARTITION: (start, start + count)}) for r in b]
    producer = EventProducer(bootstrap, space)
    for record in copied:
        producer.send_raw(topic, record.key, record.value, record.timestamp_ms, partition=partition)
    producer.flush()


def _certified_key(root_dir: Path, key_dir: Path, space: Namespace, valid_from: int) -> str:
    """Makes a notary key in ``key_dir`` and certifies it with the root from ``valid_from``; returns its key id."""
    code, out = _cli("keys", "new", "--key-dir", str(key_dir))
    assert code == 0, out
    code, out = _cli("keys", "certify", str(key_dir / "notary.pub"), "--valid-from", str(valid_from),
                     "--namespace", space.prefix, "--root-dir", str(root_dir))
    assert code == 0, out
    return " ".join(out.split()).split("certificate of key ")[1].split()[0]


@pytest.fixture(scope="module")
def audited(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedLog]:
    space = Namespace(f"test.audit.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        publish_and_run_live(kafka_bootstrap, space, sample_ticks(chicago_ms("2013-09-02T00:00"), chicago_ms("2013-09-03T03:00")))
        _copy_inputs(kafka_bootstrap, space, chicago_ms("2013-09-02T06:30"), 40, QUIET)
        root_dir, key_dir = tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("notary")
        code, out = _cli("keys", "init-root", "--root-dir", str(root_dir))
        assert code == 0, out
        _certified_key(root_dir, key_dir, space, 0)
        code, out = _run_notary("--namespace", space.prefix, "--key-dir", str(key_dir), "--once", "--every", str(EVERY))
        assert code == 0, out
        assert "published certificate of key" in out
        bundle = tmp_path_factory.mktemp("bundles") / "inputs"
        code, out = _cli("export", str(bundle), "--topic", "inputs", "--from", "2013-09-02T06:00", "--to", "2013-09-02T08:00",
                         "--namespace", space.prefix, "--key-dir", str(key_dir))
        assert code == 0, out
        yield AuditedLog(space, root_dir, key_dir, bundle)
    finally:
        admin.delete(CATALOG)


def test_the_untouched_log_verifies_topic_by_topic(audited: AuditedLog) -> None:
    for topic in ("inputs", "signals", "intents", "orders", "fills", "snapshots"):
        code, out = _cli("verify", "--topic", topic, "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
        assert code == 0, out
        assert "verified" in out and "FAILED" not in out
    code, out = _cli("verify", "--topic", "inputs", "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert (f"inputs[{ES_PARTITION}] offsets 0..65838: 65,839 records from genesis, 14 checkpoints matched, "
            "proven through offset 65838, 0 not sealed") in out


def test_a_time_range_verifies_from_the_checkpoint_before_it(audited: AuditedLog) -> None:
    code, out = _cli("verify", "--topic", "inputs", "--from", "2013-09-02T06:00", "--to", "2013-09-02T08:00",
                     "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert code == 0, out
    assert "from checkpoint at offset" in out


def test_the_exported_bundle_verifies_offline_and_reads_with_its_own_schemas(audited: AuditedLog) -> None:
    manifest = json.loads((audited.bundle / "bundle.json").read_text())
    start, end = manifest["partitions"][str(ES_PARTITION)]["records"]
    assert start % EVERY == 0 and end % EVERY == 0  # widened to the checkpoints around the range
    assert manifest["partitions"][str(QUIET)]["records"] == [0, 40]
    assert (audited.bundle / "schemas" / "events" / "Tick.avsc").exists()
    code, out = _cli("verify", "--bundle", str(audited.bundle), "--root-key", audited.root_pub, *audited.scope(),
                     "--expect-through", "2013-09-02T08:00", "--expect-through", f"{QUIET}:39")
    assert code == 0, out
    assert f"complete as of checkpoint sequence {manifest['head']['sequence']} (inputs[{ES_PARTITION}] at offset {end - 1}" in out
    code, out = _cli("read", "--bundle", str(audited.bundle), "--records")
    views = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    busy = [v for v in views if v["partition"] == ES_PARTITION]
    assert len(busy) == end - start and len(views) == end - start + 40
    assert busy[0]["type"] == "Tick" and busy[0]["offset"] == start


def test_a_bundle_is_refused_without_a_key_the_auditor_holds_unless_told_loudly(audited: AuditedLog) -> None:
    code, out = _cli("verify", "--bundle", str(audited.bundle), *audited.scope())
    assert code == 2 and "a bundle proves nothing against a key it brings itself" in " ".join(out.split())
    code, out = _cli("verify", "--bundle", str(audited.bundle), "--trust-bundle-key", *audited.scope())
    assert code == 0 and "WARNING: trusting the bundle's OWN root key" in " ".join(out.split())


def test_a_bundle_of_another_namespace_does_not_verify_as_live(audited: AuditedLog) -> None:
    code, out = _cli("verify", "--bundle", str(audited.bundle), "--root-key", audited.root_pub)  # no --namespace: live
    flat = " ".join(out.split())
    assert code == 1 and f"was sealed for namespace '{audited.namespace.prefix}', not live (no namespace)" in flat


Lines = list[str]
Change = Callable[[Lines, Lines], tuple[Lines, Lines]]


def _doctored(audited: AuditedLog, tmp_path: Path, change: Change, **manifest: object) -> Path:
    """A copy of the bundle with ``change`` applied to its records and checkpoints; with ``manifest`` changes,
    bundle.json is made to agree (those keys replaced, every file hash recomputed), as a thorough forger would."""
    copy = tmp_path / "doctored"
    shutil.copytree(audited.bundle, copy)
    lines = (copy / "records.jsonl").read_text().splitlines()
    checkpoints = (copy / "checkpoints.jsonl").read_text().splitlines()
    lines, checkpoints = change(lines, checkpoints)
    (copy / "records.jsonl").write_text("".join(line + "\n" for line in lines))
    (copy / "checkpoints.jsonl").write_text("".join(line + "\n" for line in checkpoints))
    if manifest:
        declared = json.loads((copy / "bundle.json").read_text())
        declared.update(manifest, files=file_hashes(copy))
        (copy / "bundle.json").write_text(json.dumps(declared, indent=2))
    return copy


def _modify(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
    record = json.loads(lines[1234])
    value = bytearray(base64.b64decode(record["value"]))
    value[-1] ^= 0x01  # one bit of the last field
    record["value"] = base64.b64encode(bytes(value)).decode()
    return [*lines[:1234], json.dumps(record), *lines[1235:]], checkpoints


def _remove(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
    return lines[:100] + lines[101:], checkpoints


def _reorder(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
    return [*lines[:200], lines[201], lines[200], *lines[202:]], checkpoints


def _forge_checkpoint(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
    forged = json.loads(checkpoints[1])
    forged["head"] = "00" * 32
    return lines, [checkpoints[0], json.dumps(forged), *checkpoints[2:]]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_modify, ["departs from the stored links at offset", "does not match"]),
        (_remove, ["missing before offset", "does not match"]),
        (_reorder, ["records out of order", "does not match"]),
        (_forge_checkpoint, ["forged or corrupted checkpoint inputs[1]"]),
    ],
    ids=["modified", "removed", "reordered", "forged-checkpoint"],
)
def test_a_doctored_bundle_is_caught(audited: AuditedLog, tmp_path: Path, change: Change, expected: list[str]) -> None:
    doctored = _doctored(audited, tmp_path, change)
    code, out = _cli("verify", "--bundle", str(doctored), "--root-key", audited.root_pub, *audited.scope())
    assert code == 1, out
    flat = " ".join(out.split())
    for message in expected:
        assert message in flat
    assert "verification FAILED" in flat


def test_a_bundle_resealed_with_another_key_fails_against_the_pinned_root(audited: AuditedLog, tmp_path: Path) -> None:
    forger = SigningKey.generate()

    def reseal(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
        """The whole forgery: an edited tick, every link and head recomputed, every checkpoint re-signed."""
        lines, _ = _modify(lines, checkpoints)
        anchors = {c.partition: c for c in map(Checkpoint.from_json, checkpoints)}  # the first of each partition
        heads: dict[tuple[int, int], str] = {}
        relinked = []
        for line in lines:
            row = json.loads(line)
            partition = row["partition"]
            previous = heads.get((partition, row["offset"] - 1)) or (
                anchors[partition].head if partition in anchors and anchors[partition].last_offset == row["offset"] - 1
                else genesis("inputs", partition).hex())
            value = base64.b64decode(row["value"])
            record = ChainRecord(row["offset"], row["timestamp_ms"], base64.b64decode(row["key"]), value, ())
            heads[(partition, row["offset"])] = row["link"] = link(bytes.fromhex(previous), record).hex()
            relinked.append(json.dumps(row))
        resealed = []
        for line in checkpoints:
            checkpoint = Checkpoint.from_json(line)
            head = heads.get((checkpoint.partition, checkpoint.last_offset), checkpoint.head)
            unsigned = dataclasses.replace(checkpoint, head=head, key_id=forger.public.key_id, signature="")
            resealed.append(dataclasses.replace(unsigned, signature=forger.sign(unsigned.signed_payload())).to_json().decode())
        return relinked, resealed

    doctored = _doctored(audited, tmp_path, reseal, trust="")
    code, out = _cli("verify", "--bundle", str(doctored), "--root-key", audited.root_pub, *audited.scope())
    assert code == 1 and "no key it trusts has that id" in " ".join(out.split())
    code, out = _cli("verify", "--bundle", str(doctored), "--trust-bundle-key", *audited.scope())  # its root: not the forger's
    assert code == 1 and "no key it trusts has that id" in " ".join(out.split())


def _third_checkpoint(checkpoints: list[str]) -> Checkpoint:
    return [c for c in map(Checkpoint.from_json, checkpoints) if c.partition == ES_PARTITION][2]


def _cut(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
    """Issue 9: everything of the busy partition after the bundle's third checkpoint deleted."""
    through = _third_checkpoint(checkpoints).last_offset

    def keep(row: dict[str, int]) -> bool:
        return row["partition"] != ES_PARTITION or row.get("offset", row.get("last_offset", 0)) <= through

    return [r for r in lines if keep(json.loads(r))], [c for c in checkpoints if keep(json.loads(c))]


def test_a_bundle_cut_back_to_its_third_checkpoint_fails_the_point_the_auditor_demands(audited: AuditedLog, tmp_path: Path) -> None:
    manifest = json.loads((audited.bundle / "bundle.json").read_text())
    third = _third_checkpoint((audited.bundle / "checkpoints.jsonl").read_text().splitlines())
    partitions = manifest["partitions"]
    partitions[str(ES_PARTITION)]["records"][1] = third.last_offset + 1
    lazy = _doctored(audited, tmp_path / "lazy", _cut, partitions=partitions)
    code, out = _cli("verify", "--bundle", str(lazy), "--root-key", audited.root_pub, *audited.scope())
    assert code == 1 and "bundle.json declares head" in out

    head = head_view(Head(third, len(third.topic_offsets)))
    thorough = _doctored(audited, tmp_path / "thorough", _cut, partitions=partitions, head=head)
    code, out = _cli("verify", "--bundle", str(thorough), "--root-key", audited.root_pub, *audited.scope())
    assert code == 0 and f"complete as of checkpoint sequence {third.sequence} (inputs[{ES_PARTITION}] at offset {third.last_offset}" in out
    for demand in ("2013-09-02T08:00", f"{ES_PARTITION}:32098"):
        code, out = _cli("verify", "--bundle", str(thorough), "--root-key", audited.root_pub, *audited.scope(),
                         "--expect-through", demand)
        assert code == 1 and "expected" in out, out


def test_a_bundle_with_a_partition_dropped_fails(audited: AuditedLog, tmp_path: Path) -> None:
    def drop(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
        return ([r for r in lines if json.loads(r)["partition"] != QUIET],
                [c for c in checkpoints if json.loads(c)["partition"] != QUIET])

    partitions = json.loads((audited.bundle / "bundle.json").read_text())["partitions"]
    del partitions[str(QUIET)]
    doctored = _doctored(audited, tmp_path, drop, partitions=partitions)
    code, out = _cli("verify", "--bundle", str(doctored), "--root-key", audited.root_pub, *audited.scope())
    assert code == 1 and "bundle.json declares head" in out  # the exporter's head is the topic with that partition
    # A forger who also declares the head the rest still covers gets a bundle complete only before the partition began.
    assert "complete as of checkpoint sequence" in out and "2013-09-02T06:" in out


def _first_filled_order(reader: LogReader, space: Namespace) -> tuple[str, int]:
    codec = EventCodec()
    fills: dict[str, int] = {}
    for batch in reader.read(space.topic(FILLS), reader.watermarks(space.topic(FILLS))):
        for record in batch:
            event = decode(codec, record)
            if isinstance(event, OrderFilled):
                fills[event.order_id] = fills.get(event.order_id, 0) + 1
    for batch in reader.read(space.topic(ORDERS), reader.watermarks(space.topic(ORDERS))):
        for record in batch:
            event = decode(codec, record)
            if isinstance(event, OrderInitialized) and event.order_id in fills:
                return event.order_id, fills[event.order_id]
    raise AssertionError("no filled order on the log")


def test_trace_prints_the_causal_chain_of_an_order_from_the_log(audited: AuditedLog, kafka_bootstrap: str) -> None:
    with LogReader(kafka_bootstrap) as reader:
        order_id, fill_count = _first_filled_order(reader, audited.namespace)
    code, out = _cli("trace", order_id, "--namespace", audited.namespace.prefix)
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0] in {"tick", "signal", "intent", "order", "fill"}]
    roles = [row[0] for row in rows]
    assert roles[:4] == ["tick", "signal", "intent", "order"]
    assert roles.count("fill") == fill_count
    assert [row[3] for row in rows[:5]] == ["Tick", "Signal", "OrderIntent", "OrderInitialized", "OrderAccepted"]
    code, out = _cli("trace", order_id, "--namespace", audited.namespace.prefix, "--format", "jsonl")
    views = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    by_role = {v["role"]: v for v in views}
    assert by_role["signal"]["event"]["envelope"]["causation_id"] == by_role["tick"]["event"]["envelope"]["event_id"]
    assert by_role["intent"]["event"]["signal_id"] == by_role["signal"]["event"]["envelope"]["event_id"]
    assert by_role["order"]["event"]["order_id"] == order_id
    code, out = _cli("trace", "no-such-order", "--namespace", audited.namespace.prefix)
    assert code == 1 and "no OrderInitialized" in out


def test_trace_of_a_denied_order_ends_at_the_denial_with_its_reason(kafka_bootstrap: str, namespace: Namespace) -> None:
    denied = publish_refusals(kafka_bootstrap, namespace).denied[0]
    code, out = _cli("trace", denied.order_id, "--namespace", namespace.prefix)
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0] in {"tick", "signal", "intent", "order", "fill"}]
    assert [row[3] for row in rows] == ["Tick", "Signal", "OrderIntent", "OrderInitialized", "OrderDenied"]
    assert "reason=MAX_ORDER_QTY" in rows[-1] and f"id={denied.event_id}" in rows[-1]


def test_the_notary_resumes_from_its_checkpoints_and_seals_only_what_is_new(audited: AuditedLog, kafka_bootstrap: str) -> None:
    args = ("--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir), "--once", "--every", str(EVERY))
    code, out = _run_notary(*args)
    assert code == 0, out
    assert "resumed" in out and "sealed" not in out  # nothing new, nothing sealed
    producer = EventProducer(kafka_bootstrap, audited.namespace)
    producer.send_raw(audited.namespace.topic(FILLS), b"ES", b"not an event", 1378159200000, partition=ES_PARTITION)
    producer.flush()
    code, out = _run_notary(*args)
    assert code == 0 and "chained 1 records, sealed 1 checkpoints" in out
    code, out = _cli("verify", "--topic", "fills", "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert code == 0, out


def test_audit_read_lists_signed_checkpoints(audited: AuditedLog) -> None:
    code, out = _cli("read", "--topic", "inputs", "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert code == 0, out
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert rows and all(r["verdict"] == "good" and r["topic"] == "inputs" for r in rows)


def _next_sequence(audited: AuditedLog) -> int:
    code, out = _cli("keys", "list", *audited.scope(), "--key-dir", str(audited.key_dir))
    assert code == 0, out
    return int(" ".join(out.split()).split("next checkpoint sequence: ")[1].split(";")[0])


def _signers(bundle: Path) -> set[str]:
    return {json.loads(line)["key_id"] for line in (bundle / "checkpoints.jsonl").read_text().splitlines()}


def test_the_notary_key_rotates_and_is_revoked_on_the_roots_word(audited: AuditedLog, kafka_bootstrap: str, tmp_path: Path) -> None:
    # Changes the log (a retired key, more records): after the tests that count what is on it.
    scope, root = audited.scope(), ("--root-dir", str(audited.root_dir))
    old = PublicKey.load(audited.key_dir / "notary.pub").key_id
    rotation = _next_sequence(audited)
    rotated = _certified_key(audited.root_dir, tmp_path / "rotated", audited.namespace, rotation)
    code, out = _cli("keys", "retire", old, "--from", str(rotation), "--out", str(tmp_path / "retire.json"), *scope, *root)
    assert code == 0, out
    code, out = _cli("keys", "publish", str(tmp_path / "retire.json"), *scope)
    assert code == 0 and "published retirement" in out, out
    code, out = _run_notary(*scope, "--key-dir", str(audited.key_dir), "--once")
    assert code == 1 and f"key {old} may not sign sequence {rotation}" in " ".join(out.split())

    _copy_inputs(kafka_bootstrap, audited.namespace, chicago_ms("2013-09-03T02:50"), 20, QUIET)
    code, out = _run_notary(*scope, "--key-dir", str(tmp_path / "rotated"), "--once", "--every", str(EVERY))
    assert code == 0 and "chained 20 records, sealed 1 checkpoints" in out, out
    code, out = _cli("verify", "--topic", "inputs", *scope, "--root-key", audited.root_pub)
    assert code == 0, out
    spanning = tmp_path / "spanning"
    code, out = _cli("export", str(spanning), "--topic", "inputs", "--from", "2013-09-03T02:00", *scope, "--root-key", audited.root_pub)
    assert code == 0, out
    assert _signers(spanning) == {old, rotated}
    code, out = _cli("verify", "--bundle", str(spanning), "--root-key", audited.root_pub, *scope)
    assert code == 0 and "verified" in out, out

    # The new key turns out stolen: revoked from its first sequence, its seals prove nothing.
    fresh = _next_sequence(audited)
    code, out = _cli("keys", "revoke", rotated, "--from", str(rotation), "--out", str(tmp_path / "revoke.json"), *scope, *root)
    assert code == 0, out
    code, out = _cli("verify", "--bundle", str(spanning), "--root-key", audited.root_pub, *scope,
                     "--certificates", str(tmp_path / "revoke.json"))
    assert code == 1 and "after key" in out and "was revoked" in " ".join(out.split()), out
    code, out = _cli("keys", "publish", str(tmp_path / "revoke.json"), *scope)
    assert code == 0, out
    replacement = _certified_key(audited.root_dir, tmp_path / "replacement", audited.namespace, fresh)
    code, out = _run_notary(*scope, "--key-dir", str(tmp_path / "replacement"), "--once", "--every", str(EVERY))
    assert code == 0 and "chained 20 records, sealed 1 checkpoints" in out, out  # the stolen key's segment, re-chained
    resealed = tmp_path / "resealed"
    code, out = _cli("export", str(resealed), "--topic", "inputs", "--from", "2013-09-03T02:00", *scope, "--root-key", audited.root_pub)
    assert code == 0, out
    assert _signers(resealed) == {old, replacement}


def test_a_forged_checkpoint_on_the_log_fails_verification_and_stops_the_notary(
    audited: AuditedLog, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Last in this module: the forged record stays on the log.
    codec = EventCodec()
    with LogReader(kafka_bootstrap) as reader:
        topic = audited.namespace.topic(AUDIT_CHECKPOINTS)
        events = [decode(codec, r) for b in reader.read(topic, reader.watermarks(topic)) for r in b]
    last = Checkpoint.from_event([e for e in events if isinstance(e, AuditCheckpointSealed)][-1])
    forged = dataclasses.replace(last, head="11" * 32)
    producer = EventProducer(kafka_bootstrap, audited.namespace)
    producer.send_raw(topic, last.key, producer.codec.encode(forged.to_event()), last.last_timestamp_ms)
    producer.flush()
    code, out = _cli("verify", "--topic", last.topic, "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert code == 1 and "forged or corrupted checkpoint" in out
    _certified_key(audited.root_dir, tmp_path / "next", audited.namespace, _next_sequence(audited))
    code, out = _run_notary("--namespace", audited.namespace.prefix, "--key-dir", str(tmp_path / "next"), "--once")
    assert code == 1 and "checkpoints are not accepted" in " ".join(out.split()) and "forged or corrupted" in out
