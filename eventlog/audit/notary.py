"""The notary: extends each partition's hash chain from the log and seals signed checkpoints.

Its only state is on the log: at start it reads ``audit.checkpoints`` and
resumes every chain from its latest checkpoint in good standing under the same
trust an auditor uses (``audit.trust``): with a root key, any notary key
the root certified, so a notary with a newly certified key resumes where the
retired one stopped; without one, only its own key. A checkpoint it cannot
accept stops it (continuing from a forged head would vouch for a forgery); one
signed after its key was retired or revoked is passed over, and a compromised
key's are never resumed from: the chain is recomputed from the last good seal,
so the new key confirms, or contradicts, what the stolen one signed.

A checkpoint is sealed every ``every`` records of a partition, and for the rest
of a partition once the notary has caught up with it (at once with ``once``,
else after ``seal_after_s`` of wall time, which only decides when, never what).
A topic's partitions are chained merged by record time, so a seal's
``topic_offsets`` is the topic as of about its own time (``audit.sealer``).
Its record timestamp is the sealed record's timestamp, never the wall clock
(DESIGN §3). Seals are numbered (``sequence``) in the order made; the number
picks the key in force.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from audit.chain import ChainRecord
from audit.events import Checkpoint
from audit.sealer import Sealer, by_time
from audit.sign import PublicKey, SigningKey
from audit.trust import KeyStatement, Standing, Trust, describe_namespace
from audit.verify import judge
from contract.topics import AUDIT_CHECKPOINTS, Namespace, TopicSpec
from eventlog import faults
from eventlog.audit.onlog import (
    EVENT_TOPICS,
    AuditLog,
    chain_record,
    log_reader,
    read_audit_log,
)
from eventlog.metrics import ProcessMetrics
from eventlog.producer import EventProducer

SEAL_EVERY = 10_000
SEAL_AFTER_S = 5.0
POLL_S = 1.0
FEED_CHUNK = 10_000  # records of one partition held at a time while partitions are merged by time


class NotaryError(RuntimeError):
    """The notary cannot go on without vouching for something it cannot check."""


@dataclass
class PassStats:
    records: int = 0
    sealed: list[Checkpoint] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class Resumed:
    chains: int = 0
    next_sequence: int = 0
    published: KeyStatement | None = None
    notes: list[str] = field(default_factory=list)


class Notary:
    def __init__(
        self,
        bootstrap: str,
        namespace: Namespace,
        key: SigningKey,
        every: int = SEAL_EVERY,
        specs: tuple[TopicSpec, ...] = EVENT_TOPICS,
        root: PublicKey | None = None,
        certificate: KeyStatement | None = None,
        metrics: ProcessMetrics | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("a checkpoint must seal at least one record")
        if (root is None) != (certificate is None):
            raise ValueError("a root key and this key's certificate go together")
        self.namespace = namespace
        self.key = key
        self.every = every
        self.specs = specs
        self.root = root
        self.certificate = certificate
        self.metrics = metrics
        self.reader = log_reader(bootstrap)
        self.producer = EventProducer(bootstrap, namespace)
        self.sealer = Sealer(namespace.prefix, key, every)
        self._last_seal = time.monotonic()
        self._fault = faults.from_environment()  # tests only (eventlog/faults.py)
        self._produced = 0  # checkpoints produced since start, what the fault counts

    def close(self) -> None:
        self.producer.flush()
        self.reader.close()

    def _trust(self, audit: AuditLog) -> Trust:
        if self.root is None or self.certificate is None:
            return Trust.pinned(self.namespace.prefix, self.key.public)
        return Trust.rooted(self.namespace.prefix, self.root, [*audit.statements, self.certificate])

    def resume(self) -> Resumed:
        """Restores every chain from its latest good checkpoint and checks this key may sign the next seal."""
        audit = read_audit_log(self.reader, self.namespace)
        if audit.problems:
            raise NotaryError(f"{len(audit.problems)} records on audit.checkpoints are not checkpoints, first: {audit.problems[0]}")
        trust = self._trust(audit)
        done = Resumed(next_sequence=audit.next_sequence)
        self.sealer.sequence = audit.next_sequence
        me = self.key.public.key_id
        if me not in trust.in_force(audit.next_sequence):
            window = trust.window(me)
            raise NotaryError(
                f"key {me} may not sign sequence {audit.next_sequence} in {describe_namespace(self.namespace.prefix)} "
                f"({trust.source}; its window: {window.describe() if window else 'none'}); certify it from "
                f"sequence {audit.next_sequence} with `aitrader audit keys certify`"
            )
        judged = judge([c for c in audit.checkpoints if not c.legacy], trust)
        if judged.refused:
            raise NotaryError(f"{len(judged.refused)} checkpoints are not accepted ({trust.source}), first: {judged.refused[0][1]}")
        done.notes += [*trust.problems, *(why for _, why in judged.void)]
        anchors = [c for c, standing in judged.accepted if standing is Standing.GOOD]
        unconfirmed = sum(standing is Standing.UNCONFIRMED for _, standing in judged.accepted)
        if unconfirmed:
            done.notes.append(f"{unconfirmed} checkpoints of a compromised key: re-chaining from the last good seal to confirm them")
        anchors += self._legacy_anchors(audit, done)
        for checkpoint in sorted(anchors, key=lambda c: (c.last_offset, not c.legacy)):
            self.sealer.resume_from(checkpoint)
        done.chains = len(self.sealer.chains)
        if self.certificate is not None and self.certificate not in audit.statements:
            self._publish(self.certificate, audit.last_timestamp_ms)
            done.published = self.certificate
        return done

    def _legacy_anchors(self, audit: AuditLog, done: Resumed) -> list[Checkpoint]:
        """Format v1 seals this key made (they bind no namespace: only the notary that made them may resume from them)."""
        legacy = [c for c in audit.checkpoints if c.legacy]
        own = [c for c in legacy if c.key_id == self.key.public.key_id and self.key.public.verifies(c.signature, c.signed_payload())]
        if len(own) < len(legacy):
            if self.root is None:
                first = next(c for c in legacy if c not in own)
                raise NotaryError(f"{len(legacy) - len(own)} legacy checkpoints do not verify with this notary's key "
                                  f"{self.key.public.key_id}, first: {first.where} (key {first.key_id})")
            done.notes.append(f"{len(legacy) - len(own)} legacy checkpoints of other keys passed over: re-chaining")
        return own

    def _publish(self, statement: KeyStatement, event_time_ms: int) -> None:
        """Puts a key statement on audit.checkpoints, stamped with the log's latest time (it has no market time)."""
        stamp = max(event_time_ms, 1)
        self.producer.send_raw(self.namespace.topic(AUDIT_CHECKPOINTS), statement.key,
                               self.producer.codec.encode(statement.to_event(stamp)), stamp)
        self.producer.flush()

    def run_pass(self, seal_tail: bool) -> PassStats:
        """Chains every partition up to its end offset now, a topic's partitions merged by time; seals every
        ``every`` records and, if asked, the rest."""
        stats = PassStats()
        started = time.perf_counter()
        for spec in self.specs:
            topic = self.namespace.topic(spec)
            marks = sorted(self.reader.watermarks(topic).items())
            feeds = {}
            lags = {}
            for partition, (low, high) in marks:
                chain = self.sealer.chain(spec.name, partition, low)
                if chain is None:
                    stats.skipped.append(f"{topic}[{partition}]: offsets below {low} are gone; no chain from genesis")
                else:
                    lags[partition] = high - (chain.last_offset + 1)
                    if lags[partition] > 0:
                        feeds[partition] = self._feed(topic, partition, chain.last_offset + 1, high)
            sealed = []
            chained = dict.fromkeys(lags, 0)
            for partition, record in by_time(feeds):
                stats.records += 1
                chained[partition] += 1
                sealed += filter(None, [self.sealer.add(spec.name, len(marks), partition, record)])
            if seal_tail:
                sealed += self.sealer.tails(spec.name, len(marks))
            for checkpoint in sealed:
                if self._fault is not None:
                    self._fault.at(faults.BEFORE_SEAL, self._produced, lambda: f"checkpoint {checkpoint.where}")
                self._send(checkpoint)
                self._produced += 1
            stats.sealed += sealed
            if self.metrics is not None:
                self.metrics.set_lag(topic, lags)  # what this pass found to chain: 0 once the notary keeps up
                for partition, records in chained.items():
                    self.metrics.count_inputs(topic, partition, records)
        self.producer.flush()  # sealed checkpoints are durable before the pass counts as done
        if self.metrics is not None:
            self.metrics.count_outputs(self.producer.take_acked())
            self.metrics.observe_batch(time.perf_counter() - started)
        if stats.sealed:
            self._last_seal = time.monotonic()
        return stats

    def _feed(self, topic: str, partition: int, start: int, end: int) -> Iterator[ChainRecord]:
        """One partition's records [start, end), read a chunk at a time (whole chunks: the reader serves one range at once)."""
        for first in range(start, end, FEED_CHUNK):
            chunk = [r for batch in self.reader.read(topic, {partition: (first, min(first + FEED_CHUNK, end))}) for r in batch]
            yield from (chain_record(r) for r in chunk)

    def _send(self, checkpoint: Checkpoint) -> None:
        self.producer.send_raw(self.namespace.topic(AUDIT_CHECKPOINTS), checkpoint.key,
                               self.producer.codec.encode(checkpoint.to_event()), checkpoint.last_timestamp_ms)

    def run(
        self,
        once: bool,
        poll_s: float = POLL_S,
        seal_after_s: float = SEAL_AFTER_S,
        report: Callable[[PassStats], None] = lambda _: None,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """``once``: one pass, everything sealed. Otherwise passes until ``stop()``, sealing tails every ``seal_after_s``."""
        while True:
            due = once or time.monotonic() - self._last_seal >= seal_after_s
            stats = self.run_pass(seal_tail=due)
            report(stats)
            if once or stop():
                return
            if not stats.records:
                time.sleep(poll_s)
