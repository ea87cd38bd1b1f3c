"""A checkpoint: a signed head of one partition's chain.

On the log it travels as the Avro event ``AuditCheckpointSealed`` on
``audit.checkpoints`` (``to_event`` / ``from_event``); in an offline bundle as a
line of canonical JSON (``to_json`` / ``from_json``, ``format`` =
``aitrader.audit.checkpoint.v1``), readable without Avro.

A checkpoint is not a derived event: it attests the log, it does not change
any state, and its identity is its content (Ed25519 signatures are
deterministic), so a notary that seals the same point twice writes the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from kernel import __version__
from kernel.events import AuditCheckpointSealed, Envelope
from kernel.ids import id_from_parts

CHECKPOINT_FORMAT = "aitrader.audit.checkpoint.v1"
PRODUCER = f"notary/{__version__}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain of ``topic[partition]`` covers ``records`` records up to ``last_offset`` and has head ``head``."""

    topic: str  # logical name
    partition: int
    last_offset: int
    records: int
    head: str  # hex SHA-256
    last_timestamp_ms: int  # the covered record's timestamp: the checkpoint's own record timestamp too
    key_id: str  # the signing key's fingerprint
    signature: str = ""  # hex Ed25519 over signed_payload()

    @property
    def checkpoint_id(self) -> str:
        return id_from_parts("audit-checkpoint", self.topic, self.partition, self.last_offset, self.head)

    @property
    def key(self) -> bytes:
        """The record key on ``audit.checkpoints``."""
        return f"{self.topic}/{self.partition}".encode()

    def signed_payload(self) -> bytes:
        """What the signature covers: every field but the signature, canonical JSON, with the format tag."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "signature"}
        return json.dumps({"format": CHECKPOINT_FORMAT, **fields}, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> bytes:
        fields = dataclasses.asdict(self)
        return json.dumps({"format": CHECKPOINT_FORMAT, **fields}, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Checkpoint:
        """Parses a checkpoint; ``ValueError`` for anything that is not one."""
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None
        if not isinstance(raw, dict) or raw.pop("format", None) != CHECKPOINT_FORMAT:
            raise ValueError(f"not a {CHECKPOINT_FORMAT} record")
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        if set(raw) != set(names):
            raise ValueError(f"checkpoint fields {sorted(raw)} != {sorted(names)}")
        for name in ("partition", "last_offset", "records", "last_timestamp_ms"):
            if not isinstance(raw[name], int) or isinstance(raw[name], bool):
                raise ValueError(f"checkpoint field {name} must be an integer")
        for name in ("topic", "head", "key_id", "signature"):
            if not isinstance(raw[name], str):
                raise ValueError(f"checkpoint field {name} must be a string")
        return cls(**raw)

    def to_event(self) -> AuditCheckpointSealed:
        envelope = Envelope(self.checkpoint_id, self.last_timestamp_ms, PRODUCER, None, self.checkpoint_id)
        return AuditCheckpointSealed(
            envelope, self.topic, self.partition, self.last_offset, self.records, self.head, self.key_id, self.signature
        )

    @classmethod
    def from_event(cls, event: AuditCheckpointSealed) -> Checkpoint:
        return cls(
            event.topic,
            event.partition,
            event.last_offset,
            event.records,
            event.head,
            event.event_time_ms,
            event.key_id,
            event.signature,
        )
