"""Which notary key may sign which checkpoint: the root of trust, certificates, rotation and revocation.

A notary key is trusted because a key the verifier pins says so, never because
it says so itself: whoever stole a notary key could otherwise "rotate" to a key
of their own. The verifier pins one of

* the operator's **root key** (``Trust.rooted``): the root signs
  ``KeyStatement``s about notary keys, per namespace, in terms of the notary's
  seal ``sequence`` (``audit.events``): a *certificate* (this public key
  may sign from sequence F), a *retirement* (it may no longer sign from U: a
  rotation), a *revocation* (it may no longer sign from U and may have been
  stolen before: its earlier checkpoints are ``UNCONFIRMED``, they count only as
  links of a chain that a key in good standing sealed later, so a thief's
  back-dated forgery never proves anything);
* one **notary key** (``Trust.pinned``) valid for every sequence: the simple
  form, with no rotation.

Statements only ever add a key or shorten its window: a key's window starts at
the earliest certificate and ends at the earliest end any statement gives it.
Dropping a retirement or revocation from a bundle therefore hides it, which is
why the verifier also takes the statements the auditor holds.

Sequences, not times: event times are the market's (2013 trades sealed in
2026), and the notary numbers its seals in the order it makes them.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audit.events import Checkpoint, canonical
from audit.sign import PublicKey
from contract.events import Envelope, NotaryKeyCertified
from contract.ids import id_from_parts

STATEMENT_FORMAT = "aitrader.audit.key-statement.v1"
PRODUCER = "audit-keys"


def describe_namespace(namespace: str) -> str:
    return f"namespace {namespace!r}" if namespace else "live (no namespace)"


@dataclass(frozen=True, slots=True)
class KeyStatement:
    """What the root key says about one notary key in one namespace (see the module doc for the three kinds)."""

    namespace: str
    key_id: str
    public_key: str  # hex raw Ed25519; "" in a statement that only ends a key
    valid_from: int
    valid_until: int | None
    compromised: bool
    root_key_id: str
    signature: str = ""

    @property
    def kind(self) -> str:
        if self.public_key:
            return "certificate"
        return "revocation" if self.compromised else "retirement"

    @property
    def statement_id(self) -> str:
        return id_from_parts("audit-key-statement", self.signed_payload().decode())

    def summary(self) -> str:
        window = f"[{self.valid_from}, {'open' if self.valid_until is None else self.valid_until})"
        if self.kind == "certificate":
            return f"certificate of key {self.key_id} for sequences {window} in {describe_namespace(self.namespace)}"
        return f"{self.kind} of key {self.key_id} from sequence {self.valid_until} in {describe_namespace(self.namespace)}"

    def problem(self) -> str | None:
        """Why this is not a well-formed statement (signature aside), or None."""
        if self.public_key:
            try:
                key_id = PublicKey.from_raw(bytes.fromhex(self.public_key)).key_id
            except ValueError as exc:
                return f"statement about key {self.key_id}: bad public key: {exc}"
            if key_id != self.key_id:
                return f"statement names key {self.key_id} but carries the public key of {key_id}"
        elif self.valid_until is None:
            return f"statement about key {self.key_id} neither certifies nor ends it"
        if self.compromised and self.valid_until is None:
            return f"revocation of key {self.key_id} says no sequence it starts at"
        return None

    def _fields(self) -> dict[str, Any]:
        return {
            "format": STATEMENT_FORMAT,
            "namespace": self.namespace,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "compromised": self.compromised,
            "root_key_id": self.root_key_id,
        }

    def signed_payload(self) -> bytes:
        return canonical(self._fields())

    def to_json(self) -> bytes:
        return canonical({**self._fields(), "signature": self.signature})

    @classmethod
    def from_json(cls, data: bytes | str) -> KeyStatement:
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a key statement: {exc}") from None
        if not isinstance(raw, dict) or raw.pop("format", None) != STATEMENT_FORMAT:
            raise ValueError(f"not a {STATEMENT_FORMAT} record")
        names = {"namespace", "key_id", "public_key", "valid_from", "valid_until", "compromised", "root_key_id", "signature"}
        if set(raw) != names:
            raise ValueError(f"key statement fields {sorted(raw)} != {sorted(names)}")
        if not isinstance(raw["valid_from"], int) or not (raw["valid_until"] is None or isinstance(raw["valid_until"], int)):
            raise ValueError("key statement sequences must be integers")
        if not isinstance(raw["compromised"], bool):
            raise ValueError("key statement field compromised must be true or false")
        return cls(**raw)

    def to_event(self, event_time_ms: int) -> NotaryKeyCertified:
        """As an event; its time is borrowed from the log it joins (a statement has no market time of its own)."""
        envelope = Envelope(self.statement_id, event_time_ms, PRODUCER, None, self.statement_id)
        return NotaryKeyCertified(
            envelope, self.namespace, self.key_id, self.public_key, self.valid_from, self.valid_until,
            self.compromised, self.root_key_id, self.signature,
        )

    @classmethod
    def from_event(cls, event: NotaryKeyCertified) -> KeyStatement:
        return cls(
            event.namespace, event.key_id, event.public_key, event.valid_from, event.valid_until,
            event.compromised, event.root_key_id, event.signature,
        )

    @property
    def key(self) -> bytes:
        """The record key on ``audit.checkpoints``."""
        return f"key/{self.key_id}".encode()


class Standing(enum.Enum):
    GOOD = "good"  # proves what it seals
    UNCONFIRMED = "unconfirmed"  # a compromised key's, before its revocation: only a link until a good seal confirms it


@dataclass(frozen=True, slots=True)
class Verdict:
    """A checkpoint judged: its standing, or why not (``void``: no forgery, just no proof: after its key's window, or legacy)."""

    standing: Standing | None
    problem: str = ""
    void: bool = False


@dataclass(frozen=True, slots=True)
class KeyWindow:
    key: PublicKey
    valid_from: int
    valid_until: int | None
    compromised: bool

    def describe(self) -> str:
        end = "open" if self.valid_until is None else str(self.valid_until)
        return f"[{self.valid_from}, {end}){' (compromised)' if self.compromised else ''}"


@dataclass(frozen=True)
class Trust:
    """The keys in force per sequence for one namespace's checkpoints, and what that rests on."""

    namespace: str
    windows: dict[str, KeyWindow]
    source: str  # what the trust rests on, for people: "root key ...", "pinned notary key ..."
    anchor: PublicKey  # the key pinned: the root, or the one notary key
    rooted: bool = False
    problems: tuple[str, ...] = ()  # statements refused
    statements: tuple[KeyStatement, ...] = field(default=())  # the ones accepted

    @classmethod
    def pinned(cls, namespace: str, key: PublicKey, source: str = "") -> Trust:
        return cls(namespace, {key.key_id: KeyWindow(key, 0, None, False)}, source or f"pinned notary key {key.key_id}", key)

    def rebuilt(self, statements: Iterable[KeyStatement]) -> Trust:
        """The same pinned key judging other statements (a pinned notary key ignores them)."""
        if not self.rooted:
            return self
        return Trust.rooted(self.namespace, self.anchor, statements, self.source)

    @classmethod
    def rooted(cls, namespace: str, root: PublicKey, statements: Iterable[KeyStatement], source: str = "") -> Trust:
        """The windows the root's statements about ``namespace`` give; other namespaces' statements are ignored."""
        problems: list[str] = []
        accepted: dict[str, KeyStatement] = {}
        for statement in statements:
            if statement.namespace != namespace:
                continue
            malformed = statement.problem()
            if malformed is not None:
                problems.append(malformed)
            elif statement.root_key_id != root.key_id or not root.verifies(statement.signature, statement.signed_payload()):
                problems.append(f"{statement.summary()}: not signed by the pinned root key {root.key_id}")
            else:
                accepted.setdefault(statement.statement_id, statement)
        windows: dict[str, KeyWindow] = {}
        good = sorted(accepted.values(), key=lambda s: (s.kind != "certificate", s.valid_from))
        for statement in good:
            known = windows.get(statement.key_id)
            if statement.kind == "certificate":
                key = PublicKey.from_raw(bytes.fromhex(statement.public_key))
                start = statement.valid_from if known is None else min(known.valid_from, statement.valid_from)
                until = _earliest(known.valid_until if known else None, statement.valid_until)
                windows[statement.key_id] = KeyWindow(key, start, until, bool(known and known.compromised))
            elif known is not None:
                windows[statement.key_id] = KeyWindow(
                    known.key, known.valid_from, _earliest(known.valid_until, statement.valid_until),
                    known.compromised or statement.compromised,
                )
        return cls(namespace, windows, source or f"root key {root.key_id}", root, True, tuple(problems), tuple(accepted.values()))

    def window(self, key_id: str) -> KeyWindow | None:
        return self.windows.get(key_id)

    def judge(self, checkpoint: Checkpoint) -> Verdict:
        where = checkpoint.where
        if checkpoint.legacy:
            return Verdict(None, f"legacy checkpoint {where} ({checkpoint.format}) passed over: it binds no "
                                 "namespace or sequence; the notary's later seals cover its records", void=True)
        if checkpoint.namespace != self.namespace:
            return Verdict(None, f"checkpoint {where} was sealed for {describe_namespace(checkpoint.namespace)}, "
                                 f"not {describe_namespace(self.namespace)}")
        window = self.windows.get(checkpoint.key_id)
        if window is None or not window.key.verifies(checkpoint.signature, checkpoint.signed_payload()):
            reason = "no key it trusts has that id" if window is None else "the signature does not verify"
            return Verdict(None, f"forged or corrupted checkpoint {where}: signed by key {checkpoint.key_id}, "
                                 f"{reason} ({self.source})")
        if checkpoint.sequence < window.valid_from:
            return Verdict(None, f"checkpoint {where} has sequence {checkpoint.sequence}, before key "
                                 f"{checkpoint.key_id} was certified ({window.describe()})")
        if window.valid_until is not None and checkpoint.sequence >= window.valid_until:
            ended = "revoked" if window.compromised else "retired"
            return Verdict(None, f"checkpoint {where} has sequence {checkpoint.sequence}, after key "
                                 f"{checkpoint.key_id} was {ended} ({window.describe()}): void", void=True)
        return Verdict(Standing.UNCONFIRMED if window.compromised else Standing.GOOD)

    def in_force(self, sequence: int) -> list[str]:
        """Key ids that may sign a checkpoint numbered ``sequence`` with good standing."""
        return sorted(
            key_id for key_id, w in self.windows.items()
            if not w.compromised and w.valid_from <= sequence and (w.valid_until is None or sequence < w.valid_until)
        )


def _earliest(one: int | None, other: int | None) -> int | None:
    if one is None:
        return other
    return one if other is None else min(one, other)
