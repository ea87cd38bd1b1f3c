"""The notary: extends each partition's hash chain from the log and seals signed checkpoints.

Its only state is on the log: at start it reads ``audit.checkpoints`` and
resumes every chain from its latest checkpoint whose signature verifies with
the notary's own key (a checkpoint it cannot verify stops it: continuing from
a forged head would vouch for a forgery). So a crash loses nothing, and a
restart re-seals at most what was not yet sealed.

A checkpoint is sealed every ``every`` records of a partition, and for the rest
of a partition once the notary has caught up with it (at once with ``once``,
else after ``seal_after_s`` of wall time, which only decides when, never what:
a checkpoint's content is a function of the log). Its record timestamp is the
sealed record's timestamp, never the wall clock (DESIGN §3).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kernel.audit.chain import Chain
from kernel.audit.events import Checkpoint
from kernel.audit.sign import NotaryKey
from kernel.audit.verify import EVENT_TOPICS, Anchor, chain_record, log_reader, read_checkpoints, signed_checkpoints
from kernel.producer import EventProducer
from kernel.topics import AUDIT_CHECKPOINTS, Namespace, TopicSpec

SEAL_EVERY = 10_000
SEAL_AFTER_S = 5.0
POLL_S = 1.0


class NotaryError(RuntimeError):
    """The notary cannot go on without vouching for something it cannot check."""


@dataclass
class PassStats:
    records: int = 0
    sealed: list[Checkpoint] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Notary:
    def __init__(
        self,
        bootstrap: str,
        namespace: Namespace,
        key: NotaryKey,
        every: int = SEAL_EVERY,
        specs: tuple[TopicSpec, ...] = EVENT_TOPICS,
    ) -> None:
        if every < 1:
            raise ValueError("a checkpoint must seal at least one record")
        self.namespace = namespace
        self.key = key
        self.every = every
        self.specs = specs
        self.reader = log_reader(bootstrap)
        self.producer = EventProducer(bootstrap, namespace)
        self.chains: dict[tuple[str, int], Chain] = {}
        self.sealed_at: dict[tuple[str, int], int] = {}
        self._last_seal = time.monotonic()

    def close(self) -> None:
        self.producer.flush()
        self.reader.close()

    def resume(self) -> int:
        """Restores every chain from its latest checkpoint; returns how many chains resumed."""
        checkpoints, unreadable = read_checkpoints(self.reader, self.namespace)
        if unreadable:
            raise NotaryError(f"{len(unreadable)} records on audit.checkpoints are not checkpoints, first: {unreadable[0]}")
        valid, forged = signed_checkpoints(checkpoints, self.key.public)
        if forged:
            raise NotaryError(f"{len(forged)} checkpoints do not verify with this notary's key, first: {forged[0]}")
        for checkpoint in valid:  # sorted by offset: the last one of each partition wins
            anchor = Anchor.at(checkpoint)
            chain = Chain(checkpoint.topic, checkpoint.partition, anchor.head, anchor.last_offset, anchor.records,
                          checkpoint.last_timestamp_ms)
            self.chains[(checkpoint.topic, checkpoint.partition)] = chain
            self.sealed_at[(checkpoint.topic, checkpoint.partition)] = checkpoint.last_offset
        return len(self.chains)

    def run_pass(self, seal_tail: bool) -> PassStats:
        """Chains every partition up to its end offset now; seals every ``every`` and, if asked, the rest."""
        stats = PassStats()
        for spec in self.specs:
            topic = self.namespace.topic(spec)
            for partition, (low, high) in sorted(self.reader.watermarks(topic).items()):
                chain = self.chains.get((spec.name, partition))
                if chain is None:
                    if low > 0:
                        stats.skipped.append(f"{topic}[{partition}]: offsets below {low} are gone; no chain from genesis")
                        continue
                    chain = self.chains[(spec.name, partition)] = Chain.start(spec.name, partition)
                if chain.last_offset + 1 < high:
                    stats.records += self._extend(topic, chain, high, stats)
                if seal_tail and chain.last_offset > self.sealed_at.get((spec.name, partition), -1):
                    stats.sealed.append(self._seal(chain))
        self.producer.flush()  # sealed checkpoints are durable before the pass counts as done
        if stats.sealed:
            self._last_seal = time.monotonic()
        return stats

    def _extend(self, topic: str, chain: Chain, high: int, stats: PassStats) -> int:
        count = 0
        for batch in self.reader.read(topic, {chain.partition: (chain.last_offset + 1, high)}):
            for record in batch:
                chain.extend(chain_record(record))
                count += 1
                if chain.last_offset - self.sealed_at.get((chain.topic, chain.partition), -1) >= self.every:
                    stats.sealed.append(self._seal(chain))
        return count

    def _seal(self, chain: Chain) -> Checkpoint:
        unsigned = Checkpoint(
            chain.topic, chain.partition, chain.last_offset, chain.records, chain.head.hex(),
            chain.last_timestamp_ms, self.key.public.key_id,
        )
        sealed = dataclasses.replace(unsigned, signature=self.key.sign(unsigned.signed_payload()))
        self.producer.send_raw(
            self.namespace.topic(AUDIT_CHECKPOINTS),
            sealed.key,
            self.producer.codec.encode(sealed.to_event()),
            sealed.last_timestamp_ms,
        )
        self.sealed_at[(chain.topic, chain.partition)] = chain.last_offset
        return sealed

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
