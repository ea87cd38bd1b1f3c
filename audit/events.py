"""A checkpoint: a signed head of one partition's chain.

On the log it travels as the Avro event ``AuditCheckpointSealed`` on
``audit.checkpoints`` (``to_event`` / ``from_event``); in an offline bundle as a
line of canonical JSON (``to_json`` / ``from_json``), readable without Avro.

Two formats, told apart by ``format``, because the signature covers exactly the
fields of its format:

* ``aitrader.audit.checkpoint.v1`` (legacy, read only): topic, partition,
  offsets, head, key id. It names neither the namespace nor when it was sealed,
  so a replay's checkpoint could stand for live and no key could ever be retired;
  verification refuses it, only the notary resumes from its own.
* ``aitrader.audit.checkpoint.v2``: also the ``namespace``, the ``sequence`` of
  the seal among all of the notary's seals in that namespace (which picks the
  key in force, ``audit.trust``), and ``topic_offsets``, how far the
  notary had chained every partition of the topic when it sealed, so that a
  bundle proves it holds the whole topic up to a signed point
  (``audit.verify.complete_as_of``).

A checkpoint is not a derived event: it attests the log, it does not change any
state. Its id is its content, so the same seal written twice is one event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contract import __version__
from contract.events import AuditCheckpointSealed, Envelope
from contract.ids import id_from_parts

LEGACY_FORMAT = "aitrader.audit.checkpoint.v1"
CHECKPOINT_FORMAT = "aitrader.audit.checkpoint.v2"
PRODUCER = f"notary/{__version__}"

_LEGACY_FIELDS = ("topic", "partition", "last_offset", "records", "head", "last_timestamp_ms", "key_id")
_FIELDS = (*_LEGACY_FIELDS, "namespace", "topic_offsets", "sequence")
_INTEGERS = ("partition", "last_offset", "records", "last_timestamp_ms", "sequence")
_STRINGS = ("topic", "head", "key_id", "signature", "namespace")


def canonical(payload: dict[str, Any]) -> bytes:
    """The one byte form of a JSON statement that a signature covers: sorted keys, no spaces."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain of ``namespace`` ``topic[partition]`` covers ``records`` records up to ``last_offset`` with ``head``."""

    topic: str  # logical name
    partition: int
    last_offset: int
    records: int
    head: str  # hex SHA-256
    last_timestamp_ms: int  # the covered record's timestamp: the checkpoint's own record timestamp too
    key_id: str  # the signing key's fingerprint
    signature: str = ""  # hex Ed25519 over signed_payload()
    namespace: str = ""  # broker prefix of the sealed topic; "" is live
    topic_offsets: tuple[int, ...] = ()  # per partition of the topic, last offset chained at seal time (-1: none)
    sequence: int = -1  # order among the notary's seals in the namespace
    format: str = CHECKPOINT_FORMAT

    @property
    def legacy(self) -> bool:
        return self.format == LEGACY_FORMAT

    @property
    def checkpoint_id(self) -> str:
        if self.legacy:
            return id_from_parts("audit-checkpoint", self.topic, self.partition, self.last_offset, self.head)
        return id_from_parts("audit-checkpoint/2", self.namespace, self.topic, self.partition, self.last_offset,
                             self.head, self.sequence, self.key_id)

    @property
    def key(self) -> bytes:
        """The record key on ``audit.checkpoints``."""
        return f"{self.topic}/{self.partition}".encode()

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}] at offset {self.last_offset}"

    def snapshot(self, partition: int) -> int:
        """How far this seal vouches that ``partition`` of the topic had been chained (its own: ``last_offset``)."""
        if partition == self.partition:
            return self.last_offset
        return self.topic_offsets[partition] if 0 <= partition < len(self.topic_offsets) else -1

    def _fields(self) -> dict[str, Any]:
        names = _LEGACY_FIELDS if self.legacy else _FIELDS
        fields = {name: getattr(self, name) for name in names}
        if not self.legacy:
            fields["topic_offsets"] = list(self.topic_offsets)
        return {"format": self.format, **fields}

    def signed_payload(self) -> bytes:
        """What the signature covers: every field of the format but the signature, canonical JSON."""
        return canonical(self._fields())

    def to_json(self) -> bytes:
        return canonical({**self._fields(), "signature": self.signature})

    @classmethod
    def from_json(cls, data: bytes | str) -> Checkpoint:
        """Parses a checkpoint of either format; ``ValueError`` for anything that is not one."""
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") not in (LEGACY_FORMAT, CHECKPOINT_FORMAT):
            raise ValueError(f"not a {CHECKPOINT_FORMAT} (or {LEGACY_FORMAT}) record")
        expected = {"format", "signature", *(_LEGACY_FIELDS if raw["format"] == LEGACY_FORMAT else _FIELDS)}
        if set(raw) != expected:
            raise ValueError(f"checkpoint fields {sorted(raw)} != {sorted(expected)}")
        for name in _INTEGERS:
            if name in raw and (not isinstance(raw[name], int) or isinstance(raw[name], bool)):
                raise ValueError(f"checkpoint field {name} must be an integer")
        for name in _STRINGS:
            if name in raw and not isinstance(raw[name], str):
                raise ValueError(f"checkpoint field {name} must be a string")
        offsets = raw.pop("topic_offsets", [])
        if not isinstance(offsets, list) or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
            raise ValueError("checkpoint field topic_offsets must be a list of integers")
        return cls(**raw, topic_offsets=tuple(offsets))

    def to_event(self) -> AuditCheckpointSealed:
        envelope = Envelope(self.checkpoint_id, self.last_timestamp_ms, PRODUCER, None, self.checkpoint_id)
        return AuditCheckpointSealed(
            envelope, self.topic, self.partition, self.last_offset, self.records, self.head, self.key_id,
            self.signature, self.format, self.namespace, list(self.topic_offsets), self.sequence,
        )

    @classmethod
    def from_event(cls, event: AuditCheckpointSealed) -> Checkpoint:
        return cls(
            event.topic, event.partition, event.last_offset, event.records, event.head, event.event_time_ms,
            event.key_id, event.signature, event.namespace, tuple(event.topic_offsets), event.sequence, event.format,
        )
