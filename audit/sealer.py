"""The notary's bookkeeping without the log: the chains, when a seal is due, and what each seal says.

A topic's partitions are chained together, merged by record timestamp
(``by_time``), and every seal carries ``topic_offsets``, how far *all* partitions
were chained when it was made: the topic as of about one event time. That is what
lets a bundle prove it holds the whole topic up to a seal
(``audit.verify.complete_as_of``) while holding the other partitions only
up to about the time its range ends. Seals are numbered in the order made
(``sequence``), the number that picks the key in force (``audit.trust``).

Pure: no I/O; ``eventlog.audit.notary`` reads the log and writes the seals.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable, Iterator

from audit.chain import Chain, ChainRecord
from audit.events import Checkpoint
from audit.sign import SigningKey


def by_time(feeds: dict[int, Iterable[ChainRecord]]) -> Iterator[tuple[int, ChainRecord]]:
    """(partition, record) from every feed, each in its own order, interleaved by timestamp (then partition)."""
    tagged = [_tag(partition, feed) for partition, feed in feeds.items()]
    for _, partition, record in heapq.merge(*tagged, key=lambda item: item[:2]):
        yield partition, record


def _tag(partition: int, feed: Iterable[ChainRecord]) -> Iterator[tuple[int, int, ChainRecord]]:
    return ((record.timestamp_ms, partition, record) for record in feed)


class Sealer:
    def __init__(self, namespace: str, key: SigningKey, every: int, sequence: int = 0) -> None:
        self.namespace = namespace
        self.key = key
        self.every = every
        self.sequence = sequence
        self.chains: dict[tuple[str, int], Chain] = {}
        self.sealed_at: dict[tuple[str, int], int] = {}

    def resume_from(self, checkpoint: Checkpoint) -> None:
        place = (checkpoint.topic, checkpoint.partition)
        self.chains[place] = Chain(checkpoint.topic, checkpoint.partition, bytes.fromhex(checkpoint.head),
                                   checkpoint.last_offset, checkpoint.records, checkpoint.last_timestamp_ms)
        self.sealed_at[place] = checkpoint.last_offset

    def chain(self, topic: str, partition: int, low: int = 0) -> Chain | None:
        """The partition's chain, started at genesis on first sight; None when its first offsets are gone (``low``)."""
        chain = self.chains.get((topic, partition))
        if chain is None and low == 0:
            chain = self.chains[(topic, partition)] = Chain.start(topic, partition)
        return chain

    def add(self, topic: str, partitions: int, partition: int, record: ChainRecord) -> Checkpoint | None:
        """Chains one record; the seal it completes (every ``every`` records of its partition), if any."""
        chain = self.chains[(topic, partition)]
        chain.extend(record)
        if chain.last_offset - self.sealed_at.get((topic, partition), -1) >= self.every:
            return self._seal(chain, partitions)
        return None

    def tails(self, topic: str, partitions: int) -> list[Checkpoint]:
        """Seals every partition of ``topic`` chained past its last seal."""
        due = [c for p in range(partitions) if (c := self.chains.get((topic, p))) is not None
               and c.last_offset > self.sealed_at.get((topic, p), -1)]
        return [self._seal(chain, partitions) for chain in due]

    def _seal(self, chain: Chain, partitions: int) -> Checkpoint:
        offsets = tuple(c.last_offset if (c := self.chains.get((chain.topic, p))) is not None else -1 for p in range(partitions))
        unsigned = Checkpoint(
            chain.topic, chain.partition, chain.last_offset, chain.records, chain.head.hex(), chain.last_timestamp_ms,
            self.key.public.key_id, "", self.namespace, offsets, self.sequence,
        )
        self.sequence += 1
        self.sealed_at[(chain.topic, chain.partition)] = chain.last_offset
        return dataclasses.replace(unsigned, signature=self.key.sign(unsigned.signed_payload()))
