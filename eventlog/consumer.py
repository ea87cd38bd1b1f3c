"""Reads raw records back: explicit offsets, batches, and offset ranges found by time."""

from __future__ import annotations

from collections.abc import Iterator

from confluent_kafka import (
    OFFSET_END,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from contract.records import RawRecord, UndecodableRecord, decode
from eventlog.kafka_security import KafkaSecurity, client_config
from eventlog.retry import retry_transient

__all__ = ["LogReader", "OffsetRanges", "RawRecord", "UndecodableRecord", "decode", "raw_record"]

METADATA_TIMEOUT_S = 30.0
POLL_TIMEOUT_S = 1.0


OffsetRanges = dict[int, tuple[int, int]]
"""partition -> [start, end) offsets."""


def raw_record(message: Message) -> RawRecord:
    """A fetched record as the kernel's ``RawRecord`` (its timestamp in ms, as the log stores it)."""
    return RawRecord(
        message.topic(),
        message.partition(),
        message.offset(),
        message.timestamp()[1],
        message.key(),
        message.value(),
        tuple(message.headers() or ()),
    )


class LogReader:
    """A group-less consumer for reading exact offset ranges (people, replay, audit)."""

    def __init__(self, bootstrap_servers: str, security: KafkaSecurity | None = None, **overrides: object) -> None:
        config: dict[str, object] = {
            **client_config(bootstrap_servers, security),
            "group.id": "aitrader-reader",  # required by librdkafka; never committed to
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 52428800,
            "queued.max.messages.kbytes": 262144,
            # Range reads end exactly at known offsets; a long fetch wait only stalls the next lookup.
            "fetch.wait.max.ms": 10,
        }
        config.update(overrides)
        self._consumer = Consumer(config)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def partitions(self, topic: str) -> list[int]:
        metadata = self._consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            raise KafkaException(f"topic {topic!r} does not exist on the broker")
        return sorted(described.partitions)

    def watermarks(self, topic: str) -> OffsetRanges:
        return {
            p: retry_transient(lambda p=p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=METADATA_TIMEOUT_S))
            for p in self.partitions(topic)
        }

    def offsets_at(self, topic: str, timestamp_ms: int) -> dict[int, int]:
        """Per partition, the first offset whose timestamp is >= ``timestamp_ms`` (the end offset if none)."""
        marks = self.watermarks(topic)
        asked = [TopicPartition(topic, p, timestamp_ms) for p in marks]
        found = retry_transient(lambda: self._consumer.offsets_for_times(asked, timeout=METADATA_TIMEOUT_S))
        return {tp.partition: (marks[tp.partition][1] if tp.offset < 0 or tp.offset == OFFSET_END else tp.offset) for tp in found}

    def window(self, topic: str, from_ms: int, to_ms: int) -> OffsetRanges:
        """Offsets of the records with from_ms <= timestamp < to_ms, per partition.

        Exact when each partition's timestamps do not decrease, which holds for
        the kernel's input topic (the sequencer stamps with the partition's time).
        """
        if to_ms < from_ms:
            raise ValueError(f"inverted window: {to_ms} < {from_ms}")
        start = self.offsets_at(topic, from_ms)
        end = self.offsets_at(topic, to_ms)
        return {p: (start[p], end[p]) for p in start}

    def read(self, topic: str, ranges: OffsetRanges, batch_size: int = 10000) -> Iterator[list[RawRecord]]:
        """Batches of records in offset order, partition after partition, each range [start, end)."""
        for partition, (start, end) in sorted(ranges.items()):
            if end <= start:
                continue
            self._consumer.assign([TopicPartition(topic, partition, start)])
            position = start
            while position < end:
                messages = self._consumer.consume(min(batch_size, end - position), timeout=POLL_TIMEOUT_S)
                batch = []
                for message in messages:
                    if message.error() is not None:
                        raise KafkaException(message.error())
                    if message.offset() >= end:
                        break
                    batch.append(raw_record(message))
                if batch:
                    position = batch[-1].offset + 1
                    yield batch
            self._consumer.unassign()
