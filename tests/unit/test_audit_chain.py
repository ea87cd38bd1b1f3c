"""Hash chains, checkpoints and their verification, without a broker."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.chain import Chain, ChainRecord, encode, genesis, link
from audit.events import Checkpoint
from audit.sign import PublicKey, SigningKey, load_or_create
from audit.trust import Standing, Trust
from audit.verify import Anchor, PartitionReport, judge, verify_partition

KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()


def _records(n: int, start: int = 0) -> list[ChainRecord]:
    return [
        ChainRecord(o, 1378159200000 + o, b"ES", f"value-{o}".encode(), (("trace", b"t"),) if o % 2 else ())
        for o in range(start, start + n)
    ]


def _seal(chain: Chain, key: SigningKey = KEY) -> Checkpoint:
    unsigned = Checkpoint(
        chain.topic, chain.partition, chain.last_offset, chain.records, chain.head.hex(), chain.last_timestamp_ms,
        key.public.key_id, sequence=chain.last_offset,
    )
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.signed_payload()))


def _sealed_log(n: int = 30, every: int = 10) -> tuple[list[ChainRecord], list[Checkpoint]]:
    chain = Chain.start("fills", 1)
    records = _records(n)
    checkpoints = []
    for record in records:
        chain.extend(record)
        if (record.offset + 1) % every == 0:
            checkpoints.append(_seal(chain))
    return records, checkpoints


def _verify(records: list[ChainRecord], checkpoints: list[Checkpoint], key: PublicKey = KEY.public,
            stored: list[bytes | None] | None = None) -> PartitionReport:
    judged = judge(checkpoints, Trust.pinned("", key))
    report = PartitionReport("fills", 1, problems=[why for _, why in judged.refused])
    links: list[bytes | None] = stored or [None] * len(records)
    return verify_partition(report, Anchor.at_genesis("fills", 1), zip(records, links), judged.accepted)


# --- links ---------------------------------------------------------------------------


def test_a_link_is_sha256_of_the_previous_link_and_the_encoded_record() -> None:
    record = ChainRecord(5, 42, b"k", b"v", (("h", b"x"),))
    previous = genesis("fills", 1)
    expected = hashlib.sha256(
        previous + (5).to_bytes(8, "big") + b"\x01" + (1).to_bytes(8, "big") + b"k" + b"\x01" + (1).to_bytes(8, "big") + b"v"
        + (1).to_bytes(4, "big") + b"\x01" + (1).to_bytes(8, "big") + b"h" + b"\x01" + (1).to_bytes(8, "big") + b"x"
        + (42).to_bytes(8, "big")
    ).digest()
    assert link(previous, record) == expected


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (ChainRecord(1, 2, None, b"v"), ChainRecord(1, 2, b"", b"v")),  # absent key vs empty key
        (ChainRecord(1, 2, b"ab", b"c"), ChainRecord(1, 2, b"a", b"bc")),  # bytes shifted between fields
        (ChainRecord(1, 2, b"k", b"v", (("ab", b"c"),)), ChainRecord(1, 2, b"k", b"v", (("a", b"bc"),))),
        (ChainRecord(1, 2, b"k", b"v", (("a", b"1"), ("b", b"2"))), ChainRecord(1, 2, b"k", b"v", (("b", b"2"), ("a", b"1")))),
        (ChainRecord(1, 2, b"k", b"v", (("a", None),)), ChainRecord(1, 2, b"k", b"v", (("a", b""),))),
        (ChainRecord(1, 2, b"k", b"v"), ChainRecord(2, 2, b"k", b"v")),  # offset
        (ChainRecord(1, 2, b"k", b"v"), ChainRecord(1, 3, b"k", b"v")),  # timestamp
    ],
)
def test_different_records_never_encode_alike(one: ChainRecord, other: ChainRecord) -> None:
    assert encode(one) != encode(other)
    assert link(genesis("t", 0), one) != link(genesis("t", 0), other)


def test_genesis_binds_the_chain_to_its_topic_and_partition() -> None:
    assert len({genesis("fills", 0), genesis("fills", 1), genesis("orders", 0)}) == 3


def test_a_chain_refuses_offsets_that_do_not_increase_and_stays_as_it_was() -> None:
    chain = Chain.start("fills", 1)
    chain.extend(ChainRecord(3, 1, None, b"a"))
    before = chain.to_state()
    with pytest.raises(ValueError, match="does not follow 3"):
        chain.extend(ChainRecord(3, 1, None, b"b"))
    assert chain.to_state() == before


def test_a_restored_chain_continues_exactly_like_the_original() -> None:
    records = _records(20)
    original = Chain.start("fills", 1)
    original.extend_all(records[:10])
    restored = Chain.from_state(original.to_state())
    assert original.extend_all(records[10:]) == restored.extend_all(records[10:])
    assert original.to_state() == restored.to_state()


# --- checkpoints and keys -------------------------------------------------------------------


def test_checkpoints_round_trip_as_json_and_signatures_are_deterministic() -> None:
    _, checkpoints = _sealed_log()
    first = checkpoints[0]
    assert Checkpoint.from_json(first.to_json()) == first
    resealed = dataclasses.replace(first, signature=KEY.sign(first.signed_payload()))
    assert resealed.to_json() == first.to_json()
    assert KEY.public.verifies(first.signature, first.signed_payload())
    assert not OTHER_KEY.public.verifies(first.signature, first.signed_payload())


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"format": "other"}', '{"format": "aitrader.audit.checkpoint.v1", "topic": "x"}',
     '{"format":"aitrader.audit.checkpoint.v1","topic":"f","partition":"1","last_offset":1,"records":1,'
     '"head":"00","last_timestamp_ms":1,"key_id":"k","signature":"s"}'],
)
def test_anything_else_is_not_a_checkpoint(text: str) -> None:
    with pytest.raises(ValueError):
        Checkpoint.from_json(text)


def test_the_key_pair_is_made_once_and_then_loaded(tmp_path: Path) -> None:
    made, created = load_or_create(tmp_path / "audit")
    loaded, created_again = load_or_create(tmp_path / "audit")
    assert created and not created_again
    assert made.public.key_id == loaded.public.key_id == PublicKey.load(tmp_path / "audit" / "notary.pub").key_id
    assert (tmp_path / "audit" / "notary.key").stat().st_mode & 0o777 == 0o600


# --- verification ---------------------------------------------------------------------------


def test_an_untouched_log_verifies() -> None:
    records, checkpoints = _sealed_log(35)
    report = _verify(records, checkpoints)
    assert report.ok, report.problems
    assert (report.records, report.checkpoints_matched, report.unsealed, report.proven_through) == (35, 3, 5, 29)


def _problems(report: PartitionReport) -> str:
    return " | ".join(report.problems)


def test_a_modified_record_breaks_its_checkpoint_only() -> None:
    records, checkpoints = _sealed_log()
    records[12] = dataclasses.replace(records[12], value=b"value-12-forged")
    report = _verify(records, checkpoints)
    assert not report.ok
    assert "checkpoint at offset 19 does not match" in _problems(report)
    assert "offsets 10..19" in _problems(report)
    assert report.checkpoints_matched == 2  # the segments before and after still verify


def test_a_removed_record_is_a_gap_and_a_broken_checkpoint() -> None:
    records, checkpoints = _sealed_log()
    del records[5]
    problems = _problems(_verify(records, checkpoints))
    assert "offset 5 missing before offset 6" in problems
    assert "checkpoint at offset 9 does not match" in problems


def test_reordered_records_are_caught() -> None:
    records, checkpoints = _sealed_log()
    records[21], records[22] = records[22], records[21]
    problems = _problems(_verify(records, checkpoints))
    assert "offset 21 comes after 22: records out of order" in problems
    assert "checkpoint at offset 29 does not match" in problems


def test_a_removed_sealed_record_is_named() -> None:
    records, checkpoints = _sealed_log()
    del records[19]
    assert "no record at offset 19, which a checkpoint seals" in _problems(_verify(records, checkpoints))


@pytest.mark.parametrize(
    "forge",
    [
        lambda c: dataclasses.replace(c, head=hashlib.sha256(b"x").hexdigest()),  # changed, old signature
        lambda c: _resigned(dataclasses.replace(c, head=hashlib.sha256(b"x").hexdigest()), OTHER_KEY),  # another key
        lambda c: dataclasses.replace(c, last_offset=c.last_offset + 1),
    ],
)
def test_a_forged_checkpoint_is_refused(forge: Callable[[Checkpoint], Checkpoint]) -> None:
    records, checkpoints = _sealed_log()
    checkpoints[1] = forge(checkpoints[1])
    report = _verify(records, checkpoints)
    assert "forged or corrupted checkpoint fills[1]" in _problems(report)
    assert report.checkpoints_matched == 2


def _resigned(checkpoint: Checkpoint, key: SigningKey) -> Checkpoint:
    unsigned = dataclasses.replace(checkpoint, key_id=key.public.key_id, signature="")
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.signed_payload()))


def test_stored_links_pinpoint_the_first_altered_record() -> None:
    records, checkpoints = _sealed_log()
    chain = Chain.start("fills", 1)
    stored: list[bytes | None] = [chain.extend(r) for r in records]
    records[14] = dataclasses.replace(records[14], key=b"NQ")
    report = _verify(records, checkpoints, stored=stored)
    assert report.departs_at == 14


def test_a_compromised_keys_checkpoint_proves_only_once_a_good_one_after_it_matches() -> None:
    records, checkpoints = _sealed_log()
    accepted = [(c, Standing.UNCONFIRMED if c.last_offset < 29 else Standing.GOOD) for c in checkpoints]
    report = verify_partition(PartitionReport("fills", 1), Anchor.at_genesis("fills", 1), ((r, None) for r in records[:20]),
                              accepted[:2])
    assert report.ok and report.checkpoints_matched == 2 and report.proven_through == -1 and report.unsealed == 20
    report = verify_partition(PartitionReport("fills", 1), Anchor.at_genesis("fills", 1), ((r, None) for r in records), accepted)
    assert report.ok and report.proven_through == 29 and report.unsealed == 0
