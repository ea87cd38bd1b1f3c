"""The audit trail on a real broker: notary, verify, export/verify bundles, doctored bundles, trace.

The log is the replay tests' ES slice (2013-09-02 00:00 to 2013-09-03 03:00
Chicago) with live derived events produced in-process; the notary seals a
checkpoint every 5,000 records of each partition, signed with a key made in a
temporary directory.
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
from kernel.admin import TopicAdmin
from kernel.audit.events import Checkpoint
from kernel.audit.sign import NotaryKey
from kernel.consumer import LogReader
from kernel.events import OrderFilled, OrderInitialized
from kernel.producer import EventProducer
from kernel.records import decode
from kernel.serde import EventCodec
from kernel.topics import AUDIT_CHECKPOINTS, CATALOG, FILLS, ORDERS, Namespace
from tests.integration.test_replay import ES_PARTITION, chicago_ms, invoke, publish_and_run_live, sample_ticks
from tests.refusals import publish_refusals

pytestmark = pytest.mark.infra

EVERY = 5_000


@dataclass(frozen=True)
class AuditedLog:
    namespace: Namespace
    key_dir: Path
    bundle: Path  # inputs of 2013-09-02 06:00..08:00, exported once and verified


def _cli(*args: str) -> tuple[int, str]:
    return invoke(audit_app, *args)


def _run_notary(*args: str) -> tuple[int, str]:
    return invoke(notary, *args)


@pytest.fixture(scope="module")
def audited(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedLog]:
    space = Namespace(f"test.audit.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        publish_and_run_live(kafka_bootstrap, space, sample_ticks(chicago_ms("2013-09-02T00:00"), chicago_ms("2013-09-03T03:00")))
        key_dir = tmp_path_factory.mktemp("notary")
        code, out = _run_notary("--namespace", space.prefix, "--key-dir", str(key_dir), "--once", "--every", str(EVERY))
        assert code == 0, out
        bundle = tmp_path_factory.mktemp("bundles") / "inputs"
        code, out = _cli("export", str(bundle), "--topic", "inputs", "--from", "2013-09-02T06:00", "--to", "2013-09-02T08:00",
                         "--namespace", space.prefix, "--key-dir", str(key_dir))
        assert code == 0, out
        yield AuditedLog(space, key_dir, bundle)
    finally:
        admin.delete(CATALOG)


def _public(audited: AuditedLog) -> str:
    return str(audited.key_dir / "notary.pub")


def test_the_untouched_log_verifies_topic_by_topic(audited: AuditedLog) -> None:
    for topic in ("inputs", "signals", "intents", "orders", "fills", "snapshots"):
        code, out = _cli("verify", "--topic", topic, "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
        assert code == 0, out
        assert "verified" in out and "FAILED" not in out
    code, out = _cli("verify", "--topic", "inputs", "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert f"inputs[{ES_PARTITION}] offsets 0..65838: 65,839 records from genesis, 14 checkpoints matched, 0 not sealed" in out


def test_a_time_range_verifies_from_the_checkpoint_before_it(audited: AuditedLog) -> None:
    code, out = _cli("verify", "--topic", "inputs", "--from", "2013-09-02T06:00", "--to", "2013-09-02T08:00",
                     "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert code == 0, out
    assert "from checkpoint at offset" in out


def test_the_exported_bundle_verifies_offline_and_reads_with_its_own_schemas(audited: AuditedLog) -> None:
    manifest = json.loads((audited.bundle / "bundle.json").read_text())
    start, end = manifest["partitions"][str(ES_PARTITION)]["records"]
    assert start % EVERY == 0 and end % EVERY == 0  # widened to the checkpoints around the range
    assert (audited.bundle / "schemas" / "events" / "Tick.avsc").exists()
    code, out = _cli("verify", "--bundle", str(audited.bundle), "--public-key", _public(audited))
    assert code == 0, out
    code, out = _cli("verify", "--bundle", str(audited.bundle))
    assert code == 0 and "trusting the key shipped in the bundle" in out
    code, out = _cli("read", "--bundle", str(audited.bundle), "--records")
    views = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(views) == end - start
    assert views[0]["type"] == "Tick" and views[0]["offset"] == start


Lines = list[str]
Change = Callable[[Lines, Lines], tuple[Lines, Lines]]


def _doctored(audited: AuditedLog, tmp_path: Path, change: Change) -> Path:
    copy = tmp_path / "doctored"
    shutil.copytree(audited.bundle, copy)
    lines = (copy / "records.jsonl").read_text().splitlines()
    checkpoints = (copy / "checkpoints.jsonl").read_text().splitlines()
    lines, checkpoints = change(lines, checkpoints)
    (copy / "records.jsonl").write_text("".join(line + "\n" for line in lines))
    (copy / "checkpoints.jsonl").write_text("".join(line + "\n" for line in checkpoints))
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
    code, out = _cli("verify", "--bundle", str(doctored), "--public-key", _public(audited))
    assert code == 1, out
    flat = " ".join(out.split())
    for message in expected:
        assert message in flat
    assert "verification FAILED" in flat


def test_a_bundle_resealed_with_another_key_fails_against_the_trusted_key(audited: AuditedLog, tmp_path: Path) -> None:
    forger = NotaryKey.generate()

    def reseal(lines: list[str], checkpoints: list[str]) -> tuple[list[str], list[str]]:
        lines, _ = _modify(lines, checkpoints)
        resealed = []
        for line in checkpoints:
            unsigned = dataclasses.replace(Checkpoint.from_json(line), key_id=forger.public.key_id, signature="")
            resealed.append(dataclasses.replace(unsigned, signature=forger.sign(unsigned.signed_payload())).to_json().decode())
        return lines, resealed

    doctored = _doctored(audited, tmp_path, reseal)
    (doctored / "notary.pub").write_bytes(forger.public.pem())
    code, out = _cli("verify", "--bundle", str(doctored), "--public-key", _public(audited))
    assert code == 1 and "forged or corrupted checkpoint" in out
    code, out = _cli("verify", "--bundle", str(doctored))  # the forger's own key: its signatures hold, the chain does not
    assert code == 1 and "does not match" in " ".join(out.split())


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
    assert rows and all(r["signature_ok"] and r["topic"] == "inputs" for r in rows)


def test_a_forged_checkpoint_on_the_log_fails_verification_and_stops_the_notary(audited: AuditedLog, kafka_bootstrap: str) -> None:
    # Last in this module: the forged record stays on the log.
    with LogReader(kafka_bootstrap) as reader:
        topic = audited.namespace.topic(AUDIT_CHECKPOINTS)
        records = [r for b in reader.read(topic, reader.watermarks(topic)) for r in b]
    last = Checkpoint.from_event(decode(EventCodec(), records[-1]))
    forged = dataclasses.replace(last, head="11" * 32)
    producer = EventProducer(kafka_bootstrap, audited.namespace)
    producer.send_raw(topic, last.key, producer.codec.encode(forged.to_event()), last.last_timestamp_ms)
    producer.flush()
    code, out = _cli("verify", "--topic", last.topic, "--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir))
    assert code == 1 and "forged or corrupted checkpoint" in out
    code, out = _run_notary("--namespace", audited.namespace.prefix, "--key-dir", str(audited.key_dir), "--once")
    assert code == 2 and "do not verify with this notary's key" in " ".join(out.split())
