"""Bundles against the attacks of issue 9, and the key trust they rest on, without a broker.

A synthetic ``inputs`` topic (three partitions: 0 empty, 1 busy, 2 quiet) is
sealed by the notary's own ``Sealer`` and exported by the real ``export``
through an in-memory reader; each attack then edits the bundle the way a forger
would (recomputing the hashes in ``bundle.json`` where that helps the forger)
and ``verify_bundle`` must refuse it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from audit.chain import ChainRecord, genesis, link
from audit.events import LEGACY_FORMAT, Checkpoint, canonical
from audit.sealer import Sealer, by_time
from audit.sign import ROOT_PUBLIC_FILE, SigningKey
from audit.trust import KeyStatement, Standing, Trust
from audit.verify import Expectation, Head
from contract.records import RawRecord
from contract.topics import INPUTS, Namespace
from eventlog.audit.bundle import (
    CHECKPOINTS,
    KEYS,
    MANIFEST,
    RECORDS,
    BundleVerdict,
    export,
    file_hashes,
    head_view,
    verify_bundle,
)
from eventlog.audit.onlog import AuditLog

ROOT = SigningKey.generate()
K1 = SigningKey.generate()
K2 = SigningKey.generate()
T0 = 1378159200000
EVERY = 10


def statement(
    key: SigningKey | str, valid_from: int = 0, until: int | None = None, compromised: bool = False,
    namespace: str = "", root: SigningKey = ROOT,
) -> KeyStatement:
    """A root-signed certificate (given a key) or end of a key (given its id)."""
    key_id, public = (key, "") if isinstance(key, str) else (key.public.key_id, key.public.raw.hex())
    unsigned = KeyStatement(namespace, key_id, public, valid_from, until, compromised, root.public.key_id)
    return dataclasses.replace(unsigned, signature=root.sign(unsigned.signed_payload()))


class Log:
    """One topic of three partitions, appended to in time order and sealed pass by pass like the notary does."""

    def __init__(self, namespace: str = "", key: SigningKey = K1) -> None:
        self.namespace = namespace
        self.records: dict[int, list[ChainRecord]] = {0: [], 1: [], 2: []}
        self.checkpoints: list[Checkpoint] = []
        self.statements: list[KeyStatement] = [statement(key, namespace=namespace)]
        self.sealer = Sealer(namespace, key, EVERY)
        self.clock = T0

    def append(self, partition: int, count: int) -> None:
        for _ in range(count):
            self.clock += 1000
            offset = len(self.records[partition])
            self.records[partition].append(ChainRecord(offset, self.clock, b"ES", f"tick-{partition}-{offset}".encode()))

    def seal(self) -> list[Checkpoint]:
        """One notary pass over what is new, then the tails."""
        feeds = {}
        for partition, records in self.records.items():
            chain = self.sealer.chain("inputs", partition)
            assert chain is not None
            feeds[partition] = records[chain.last_offset + 1:]
        sealed = [c for p, r in by_time(feeds) if (c := self.sealer.add("inputs", 3, p, r)) is not None]
        sealed += self.sealer.tails("inputs", 3)
        self.checkpoints += sealed
        return sealed

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        assert topic == Namespace(self.namespace).topic(INPUTS)
        return {p: (0, len(r)) for p, r in self.records.items()}

    def read(self, topic: str, ranges: dict[int, tuple[int, int]]) -> Iterator[list[RawRecord]]:
        for partition, (start, end) in sorted(ranges.items()):
            yield [RawRecord(topic, partition, r.offset, r.timestamp_ms, r.key, r.value, ()) for r in self.records[partition][start:end]]

    def time_of(self, partition: int, offset: int) -> int:
        return self.records[partition][offset].timestamp_ms


def _trust_for(namespace: str, root: SigningKey = ROOT):  # type: ignore[no-untyped-def]
    return lambda statements: Trust.rooted(namespace, root.public, statements)


def _export(log: Log, out: Path, offsets: dict[int, tuple[int, int]] | None = None) -> Path:
    trust = Trust.rooted(log.namespace, ROOT.public, log.statements)
    wanted = offsets if offsets is not None else {p: (0, len(r)) for p, r in log.records.items()}
    audit = AuditLog(list(log.checkpoints), list(log.statements))
    export(log, Namespace(log.namespace), INPUTS, trust, audit, wanted, out)  # type: ignore[arg-type]
    return out


def _verify(bundle: Path, namespace: str = "", extra: Sequence[KeyStatement] = (), expect: Sequence[Expectation] = (),
            root: SigningKey = ROOT) -> BundleVerdict:
    return verify_bundle(bundle, _trust_for(namespace, root), namespace, extra, expect)


def _problems(verdict: BundleVerdict) -> str:
    return " | ".join([*verdict.problems, *(p for r in verdict.reports for p in r.problems)])


@pytest.fixture
def log() -> Log:
    """Partition 1 busy (60 records, 6 checkpoints), 2 quiet (8 records), 0 empty; one pass of the notary."""
    made = Log()
    for _ in range(2):
        made.append(1, 30)
        made.append(2, 4)
    made.seal()
    return made


@pytest.fixture
def bundle(log: Log, tmp_path: Path) -> Path:
    return _export(log, tmp_path / "bundle")


# --- the bundle as exported -----------------------------------------------------------------


def test_a_sealer_merges_partitions_by_time_so_each_seal_is_the_topic_as_of_its_time(log: Log) -> None:
    assert [(c.partition, c.last_offset, c.sequence, c.topic_offsets) for c in log.checkpoints] == [
        (1, 9, 0, (-1, 9, -1)), (1, 19, 1, (-1, 19, -1)), (1, 29, 2, (-1, 29, -1)),  # before partition 2's first record
        (1, 39, 3, (-1, 39, 3)), (1, 49, 4, (-1, 49, 3)), (1, 59, 5, (-1, 59, 3)),
        (2, 7, 6, (-1, 59, 7)),  # the tail
    ]


def test_an_exported_bundle_verifies_and_says_how_complete_it_is(bundle: Path, log: Log) -> None:
    verdict = _verify(bundle)
    assert verdict.ok, _problems(verdict)
    assert verdict.head is not None and verdict.head.offsets() == [-1, 59, 7]
    assert verdict.head.through_ms == log.time_of(2, 7)  # the latest sealed record, partition 2's last
    assert [r.proven_through for r in verdict.reports] == [-1, 59, 7]
    expect = [Expectation(1, 59), Expectation(time_ms=log.time_of(1, 59), text="the last record")]
    assert _verify(bundle, expect=expect).ok
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert set(manifest["files"]) >= {RECORDS, CHECKPOINTS, KEYS, ROOT_PUBLIC_FILE, "schemas/events/Tick.avsc"}


def test_a_range_is_widened_to_the_seal_that_covers_every_partition(log: Log, tmp_path: Path) -> None:
    bundle = _export(log, tmp_path / "range", {1: (12, 25), 2: (0, 1)})
    manifest = json.loads((bundle / MANIFEST).read_text())
    # Partition 2's first record came after partition 1's offset 29: the first seal that covers it is 1@39.
    assert manifest["partitions"]["1"]["records"] == [10, 40] and manifest["partitions"]["2"]["records"] == [0, 8]
    verdict = _verify(bundle)
    assert verdict.ok, _problems(verdict)
    assert verdict.head is not None and (verdict.head.checkpoint.partition, verdict.head.checkpoint.last_offset) == (1, 39)


# --- the attacks ------------------------------------------------------------------------------


def _lines(bundle: Path, name: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (bundle / name).read_text().splitlines()]


def _write(bundle: Path, name: str, rows: list[dict]) -> None:  # type: ignore[type-arg]
    (bundle / name).write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows))


def _rehash(bundle: Path, **changes: object) -> None:
    """What a forger does last: make bundle.json agree with the doctored files."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest.update(changes)
    manifest["files"] = file_hashes(bundle)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2))


def _declare_head(bundle: Path, partition: int, offset: int) -> None:
    """Rewrites bundle.json's head to the bundle's checkpoint at ``partition``/``offset``, as a thorough forger would."""
    sealed = next(c for row in _lines(bundle, CHECKPOINTS) if (c := Checkpoint.from_json(json.dumps(row))).partition == partition
                  and c.last_offset == offset)
    _rehash(bundle, head=head_view(Head(sealed, len(sealed.topic_offsets))))


def _cut(bundle: Path, partition: int, through: int) -> None:
    _write(bundle, RECORDS, [r for r in _lines(bundle, RECORDS) if r["partition"] != partition or r["offset"] <= through])
    _write(bundle, CHECKPOINTS, [c for c in _lines(bundle, CHECKPOINTS) if c["partition"] != partition or c["last_offset"] <= through])


def test_cut_back_to_its_third_checkpoint_with_the_manifest_edited_is_caught_by_the_head_the_auditor_demands(
    bundle: Path, log: Log
) -> None:
    _cut(bundle, 1, 29)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["partitions"]["1"]["records"] = [0, 30]
    _rehash(bundle, partitions=manifest["partitions"])
    lazy = _verify(bundle)  # the forger forgot the head bundle.json declares
    assert "declares head" in _problems(lazy)
    _declare_head(bundle, 1, 29)
    thorough = _verify(bundle)
    assert thorough.ok and thorough.head is not None and thorough.head.checkpoint.last_offset == 29  # printed: through 29
    for demand in (Expectation(1, 59), Expectation(time_ms=log.time_of(1, 59), text="08:00")):
        verdict = _verify(bundle, expect=[demand])
        assert not verdict.ok
        assert "expected" in _problems(verdict)


def test_a_dropped_partition_leaves_the_bundle_complete_only_before_that_partition_began(bundle: Path, log: Log) -> None:
    _write(bundle, RECORDS, [r for r in _lines(bundle, RECORDS) if r["partition"] != 2])
    _write(bundle, CHECKPOINTS, [c for c in _lines(bundle, CHECKPOINTS) if c["partition"] != 2])
    manifest = json.loads((bundle / MANIFEST).read_text())
    del manifest["partitions"]["2"]
    _rehash(bundle, partitions=manifest["partitions"])
    assert "declares head" in _problems(_verify(bundle))  # the exporter's head needs partition 2
    _declare_head(bundle, 1, 29)  # the last seal made before partition 2 had a record
    thorough = _verify(bundle)
    assert thorough.ok and thorough.head is not None and thorough.head.offsets() == [-1, 29, -1]  # printed
    verdict = _verify(bundle, expect=[Expectation(time_ms=log.time_of(1, 59), text="the end")])
    assert "expected the topic complete through the end" in _problems(verdict)


def _flip_value(row: dict) -> None:  # type: ignore[type-arg]
    value = bytearray(base64.b64decode(row["value"]))
    value[-1] ^= 0x01
    row["value"] = base64.b64encode(bytes(value)).decode()


def test_an_edited_record_file_fails_its_hash_and_its_chain(bundle: Path) -> None:
    rows = _lines(bundle, RECORDS)
    _flip_value(rows[15])
    _write(bundle, RECORDS, rows)
    problems = _problems(_verify(bundle))
    assert f"{RECORDS}: its SHA-256 is not the one" in problems
    assert "does not match" in problems


def test_reordered_records_fail_even_with_the_manifest_rehashed(bundle: Path) -> None:
    rows = _lines(bundle, RECORDS)
    rows[3], rows[4] = rows[4], rows[3]
    _write(bundle, RECORDS, rows)
    _rehash(bundle)
    assert "records out of order" in _problems(_verify(bundle))


def test_an_edited_reader_schema_fails_its_hash_and_matches_no_released_version(bundle: Path) -> None:
    path = bundle / "schemas" / "events" / "Tick.avsc"
    path.write_text(path.read_text().replace('"price_e8"', '"sizx_e8"'))
    problems = _problems(_verify(bundle))
    assert "schemas/events/Tick.avsc: its SHA-256 is not the one" in problems
    assert "the reader schema of aitrader.events.Tick is none of its released versions" in problems


def test_an_edited_released_schema_is_caught_by_the_verifiers_own_copy_even_rehashed(bundle: Path) -> None:
    for path in [bundle / "schemas" / "events" / "Tick.avsc", bundle / "schemas" / "released" / "aitrader.events.Tick" / "v1.avsc"]:
        path.write_text(path.read_text().replace('"price_e8"', '"sizx_e8"'))
    _rehash(bundle)
    assert "released aitrader.events.Tick v1 differs from the released version this verifier holds" in _problems(_verify(bundle))


def test_a_file_slipped_in_or_left_out_is_named(bundle: Path) -> None:
    (bundle / "extra.jsonl").write_text("{}\n")
    (bundle / ROOT_PUBLIC_FILE).unlink()
    problems = _problems(_verify(bundle))
    assert "extra.jsonl: not listed in bundle.json" in problems
    assert f"{ROOT_PUBLIC_FILE}: listed in bundle.json but missing" in problems


def _reforge(bundle: Path, signer: SigningKey, sequence_shift: int = 0, partition: int = 1, every_partition: bool = False) -> None:
    """Edits one record of ``partition``, recomputes its links and heads and re-signs its checkpoints (or all)."""
    rows = _lines(bundle, RECORDS)
    _flip_value(next(r for r in rows if r["partition"] == partition and r["offset"] == 5))
    head = genesis("inputs", partition)
    heads = {}
    for row in rows:
        if row["partition"] == partition:
            record = ChainRecord(row["offset"], row["timestamp_ms"], base64.b64decode(row["key"]), base64.b64decode(row["value"]))
            head = link(head, record)
            row["link"] = heads[row["offset"]] = head.hex()
    _write(bundle, RECORDS, rows)
    resigned = []
    for row in _lines(bundle, CHECKPOINTS):
        checkpoint = Checkpoint.from_json(json.dumps(row))
        if checkpoint.partition == partition or every_partition:
            checkpoint = dataclasses.replace(checkpoint, head=heads.get(checkpoint.last_offset, checkpoint.head)
                                             if checkpoint.partition == partition else checkpoint.head,
                                             key_id=signer.public.key_id, sequence=checkpoint.sequence + sequence_shift)
            checkpoint = dataclasses.replace(checkpoint, signature=signer.sign(checkpoint.signed_payload()))
        resigned.append(json.loads(checkpoint.to_json()))
    _write(bundle, CHECKPOINTS, resigned)


def test_a_bundle_re_signed_with_another_key_and_root_fails_against_the_pinned_root(bundle: Path) -> None:
    forger, forger_root = SigningKey.generate(), SigningKey.generate()
    _reforge(bundle, forger, every_partition=True)
    _write(bundle, KEYS, [json.loads(statement(forger, root=forger_root).to_json())])
    (bundle / ROOT_PUBLIC_FILE).write_bytes(forger_root.public.pem())
    _rehash(bundle)
    verdict = _verify(bundle)
    assert not verdict.ok
    assert f"not signed by the pinned root key {ROOT.public.key_id}" in _problems(verdict)
    assert f"signed by key {forger.public.key_id}, no key it trusts has that id" in _problems(verdict)
    assert _verify(bundle, root=forger_root).ok  # consistent under its own root: why that takes --trust-bundle-key


def test_a_replays_checkpoints_do_not_stand_for_live_ones(tmp_path: Path) -> None:
    replay = Log(namespace="replay.r1.")
    replay.append(1, 25)
    replay.seal()
    bundle = _export(replay, tmp_path / "replay")
    assert _verify(bundle, namespace="replay.r1.").ok
    _rehash(bundle, namespace="")  # claims to be live
    problems = _problems(_verify(bundle, namespace=""))
    assert "was sealed for namespace 'replay.r1.', not live (no namespace)" in problems


def _rotated(log: Log, compromised: bool = False) -> int:
    """K1 sealed so far; K2 is certified from the next sequence and K1 retired (or revoked) there; K2 seals on."""
    at = log.sealer.sequence
    log.statements += [statement(K2, at), statement(K1.public.key_id, until=at, compromised=compromised)]
    if compromised:  # the new notary trusts nothing the stolen key sealed: it re-chains from genesis
        log.sealer = Sealer("", K2, EVERY, at)
    else:
        log.sealer.key = K2
    log.append(1, 15)
    log.append(2, 2)
    log.seal()
    return at


def test_a_bundle_spanning_a_rotation_verifies_each_checkpoint_with_the_key_in_force(log: Log, tmp_path: Path) -> None:
    at = _rotated(log)
    bundle = _export(log, tmp_path / "rotated")
    verdict = _verify(bundle)
    assert verdict.ok, _problems(verdict)
    signers = {c["key_id"] for c in _lines(bundle, CHECKPOINTS)}
    assert signers == {K1.public.key_id, K2.public.key_id}
    assert verdict.head is not None and verdict.head.checkpoint.key_id == K2.public.key_id and verdict.head.checkpoint.sequence >= at


def test_after_a_rotation_the_old_key_cannot_seal_and_the_new_one_cannot_back_date(log: Log, tmp_path: Path) -> None:
    at = _rotated(log)
    bundle = _export(log, tmp_path / "rotated")
    original = (bundle / CHECKPOINTS).read_text()
    _reforge(bundle, K1, sequence_shift=at + 100)  # whoever kept the old key seals a forgery after the rotation
    _rehash(bundle)
    assert f"after key {K1.public.key_id} was retired" in _problems(_verify(bundle))
    (bundle / CHECKPOINTS).write_text(original)
    _reforge(bundle, K2, sequence_shift=-at)  # the new key signs under old sequence numbers
    _rehash(bundle)
    assert f"before key {K2.public.key_id} was certified" in _problems(_verify(bundle))


def test_a_revoked_keys_seals_prove_nothing_unless_a_good_seal_confirms_the_chain(log: Log, tmp_path: Path) -> None:
    at = _rotated(log, compromised=True)
    bundle = _export(log, tmp_path / "revoked", {1: (0, 30), 2: (0, 0), 0: (0, 0)})
    verdict = _verify(bundle)
    assert verdict.ok, _problems(verdict)
    assert {c["key_id"] for c in _lines(bundle, CHECKPOINTS)} == {K2.public.key_id}  # the exporter skipped K1's

    # The thief back-dates: a forged record under K1 checkpoints numbered before the revocation.
    _reforge(bundle, K1, sequence_shift=-at)
    _rehash(bundle)
    verdict = _verify(bundle)
    assert "records after the last good checkpoint: not proven" in _problems(verdict)
    assert verdict.reports[1].proven_through == -1  # nothing after genesis

    # Without the revocation in the bundle the forgery would pass: the auditor's own copy of it decides.
    revocation = next(s for s in log.statements if s.compromised)
    _write(bundle, KEYS, [json.loads(s.to_json()) for s in log.statements if s != revocation])
    _declare_head(bundle, 1, 29)
    assert _verify(bundle).ok
    assert "not proven" in _problems(_verify(bundle, extra=[revocation]))


def test_without_a_root_the_pinned_notary_key_cannot_verify_a_rotated_bundle(log: Log, tmp_path: Path) -> None:
    _rotated(log)
    bundle = _export(log, tmp_path / "rotated")
    verdict = verify_bundle(bundle, lambda _: Trust.pinned("", K1.public), "")
    assert f"signed by key {K2.public.key_id}, no key it trusts has that id" in _problems(verdict)


# --- trust ----------------------------------------------------------------------------------


def _sealed(key: SigningKey, sequence: int, namespace: str = "") -> Checkpoint:
    unsigned = Checkpoint("inputs", 1, 9, 10, "00" * 32, T0, key.public.key_id, "", namespace, (-1, 9, -1), sequence)
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.signed_payload()))


def test_statements_only_add_keys_or_end_them_and_must_be_the_roots() -> None:
    trust = Trust.rooted("", ROOT.public, [
        statement(K1, 5), statement(K1, 2),  # two certificates: the earliest start counts
        statement(K1.public.key_id, until=20), statement(K1.public.key_id, until=30),  # the earliest end counts
        statement(K2, namespace="replay.x."),  # another namespace's
        statement(K2, root=SigningKey.generate()),  # not the pinned root's
        dataclasses.replace(statement(K2), public_key=K1.public.raw.hex()),  # a key id that is not its key's
    ])
    window = trust.window(K1.public.key_id)
    assert window is not None and (window.valid_from, window.valid_until, window.compromised) == (2, 20, False)
    assert trust.window(K2.public.key_id) is None
    assert len(trust.problems) == 2
    assert [trust.judge(_sealed(K1, s)).standing for s in (1, 2, 19, 20)] == [None, Standing.GOOD, Standing.GOOD, None]
    assert trust.judge(_sealed(K1, 20)).void and not trust.judge(_sealed(K1, 1)).void
    assert trust.in_force(19) == [K1.public.key_id] and trust.in_force(20) == []


def test_a_revoked_key_is_unconfirmed_before_its_revocation_and_void_after() -> None:
    trust = Trust.rooted("", ROOT.public, [statement(K1), statement(K1.public.key_id, until=7, compromised=True)])
    assert trust.judge(_sealed(K1, 3)).standing is Standing.UNCONFIRMED
    assert trust.judge(_sealed(K1, 7)).void


def test_legacy_checkpoints_keep_their_signed_bytes_but_prove_nothing() -> None:
    legacy = Checkpoint("fills", 1, 9, 10, "ab" * 32, T0, K1.public.key_id, format=LEGACY_FORMAT)
    assert legacy.signed_payload() == canonical({
        "format": LEGACY_FORMAT, "topic": "fills", "partition": 1, "last_offset": 9, "records": 10, "head": "ab" * 32,
        "last_timestamp_ms": T0, "key_id": K1.public.key_id,
    })
    signed = dataclasses.replace(legacy, signature=K1.sign(legacy.signed_payload()))
    assert Checkpoint.from_json(signed.to_json()) == signed
    assert "legacy checkpoint" in Trust.pinned("", K1.public).judge(signed).problem


def test_v2_checkpoints_round_trip_as_json_and_as_events() -> None:
    checkpoint = _sealed(K1, 4, "test.x.")
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint
    assert Checkpoint.from_event(checkpoint.to_event()) == checkpoint
    assert checkpoint.checkpoint_id != _sealed(K2, 4, "test.x.").checkpoint_id
    key_statement = statement(K1, 3, namespace="test.x.")
    assert KeyStatement.from_json(key_statement.to_json()) == key_statement
    assert KeyStatement.from_event(key_statement.to_event(T0)) == key_statement


def test_two_seals_with_one_sequence_are_refused(bundle: Path) -> None:
    rows = _lines(bundle, CHECKPOINTS)
    twin = Checkpoint.from_json(json.dumps(rows[0]))
    twin = dataclasses.replace(twin, sequence=rows[1]["sequence"])
    rows[0] = json.loads(dataclasses.replace(twin, signature=K1.sign(twin.signed_payload())).to_json())
    _write(bundle, CHECKPOINTS, rows)
    _rehash(bundle)
    assert f"two checkpoints carry sequence {rows[1]['sequence']}" in _problems(_verify(bundle))


def test_a_copy_of_the_bundle_verifies_alike(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    assert _verify(copy).ok
