"""Ed25519 keys: the notary's, which seals checkpoints, and the operator's root, which certifies notary keys.

A key pair lives in one directory, chosen by the command: ``notary.key``
(PKCS#8 PEM, mode 0600) and ``notary.pub`` (SubjectPublicKeyInfo PEM) for the
notary (default ``$AITRADER_HOME/audit``), ``root.key`` and ``root.pub`` for the
root (default ``$AITRADER_HOME/audit/root``, best kept off the notary's machine).
Auditors pin ``root.pub``. A key id is the first 16 hex digits of SHA-256 over
the raw public key, printed wherever a signature is checked so people can
compare it with the key they trust.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PRIVATE_FILE = "notary.key"
PUBLIC_FILE = "notary.pub"
ROOT_PRIVATE_FILE = "root.key"
ROOT_PUBLIC_FILE = "root.pub"
CERTIFICATE_FILE = "notary.cert"  # the root's certificate of the notary key, beside it (audit.trust)


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verifies(self, signature_hex: str, payload: bytes) -> bool:
        try:
            self.key.verify(bytes.fromhex(signature_hex), payload)
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def from_raw(cls, raw: bytes) -> PublicKey:
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    @classmethod
    def from_pem(cls, data: bytes) -> PublicKey:
        loaded = serialization.load_pem_public_key(data)
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(loaded)

    @classmethod
    def load(cls, path: Path) -> PublicKey:
        return cls.from_pem(path.read_bytes())


@dataclass(frozen=True)
class SigningKey:
    """A private key: the notary's or the root's (the same kind of key, kept in different places)."""

    key: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, payload: bytes) -> str:
        """Hex Ed25519 signature (deterministic: the same payload gives the same signature)."""
        return self.key.sign(payload).hex()

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(loaded)

    def save(self, directory: Path, private_file: str = PRIVATE_FILE, public_file: str = PUBLIC_FILE) -> None:
        """Writes both halves; refuses to overwrite an existing private key."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        handle = os.open(directory / private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(private)
        (directory / public_file).write_bytes(self.public.pem())


def load_or_create(
    directory: Path, private_file: str = PRIVATE_FILE, public_file: str = PUBLIC_FILE
) -> tuple[SigningKey, bool]:
    """The key pair in ``directory``, made on first use; (key, created)."""
    path = directory / private_file
    if path.exists():
        return SigningKey.load(path), False
    key = SigningKey.generate()
    key.save(directory, private_file, public_file)
    return key, True
