"""The schemas in the repository are the registry of record.

``schemas/events/<Name>.avsc`` holds the current (reader) schema of each event;
``schemas/released/<Name>/v<N>.avsc`` keeps every released version, so any event
ever written still decodes: its writer schema is found by fingerprint and
resolved to the current reader schema.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMAS_DIR_ENV = "AITRADER_SCHEMAS_DIR"


def default_schemas_dir() -> Path:
    override = os.environ.get(SCHEMAS_DIR_ENV)
    return Path(override) if override else Path(__file__).resolve().parent.parent / "schemas"


@dataclass(frozen=True)
class SchemaVersion:
    """One schema text with its identity on the wire."""

    full_name: str
    version: int | None  # None: the current schema when it is not released yet
    schema_json: dict[str, Any]
    parsed: Any
    fingerprint: bytes  # 8 bytes, CRC-64-AVRO of the Parsing Canonical Form, little-endian
    path: Path

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


def load_schema_file(path: Path, version: int | None = None) -> SchemaVersion:
    schema_json = json.loads(path.read_text())
    parsed = parse_schema(schema_json)  # the parsed hint spares fastavro a re-parse on every read and write
    canonical = to_parsing_canonical_form(parsed)
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    full_name = f"{schema_json['namespace']}.{schema_json['name']}"
    return SchemaVersion(full_name, version, schema_json, parsed, fp, path)


class SchemaRegistry:
    """Current and released schemas, by name and by fingerprint."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.current: dict[str, SchemaVersion] = {}
        self.released: dict[str, list[SchemaVersion]] = {}
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        for path in sorted((root / "events").glob("*.avsc")):
            schema = load_schema_file(path)
            self.current[schema.full_name] = schema
        for name_dir in sorted((root / "released").glob("*")):
            versions = sorted(name_dir.glob("v*.avsc"), key=lambda p: int(p.stem[1:]))
            for path in versions:
                schema = load_schema_file(path, int(path.stem[1:]))
                self.released.setdefault(schema.full_name, []).append(schema)
                self.by_fingerprint.setdefault(schema.fingerprint, schema)
        for schema in self.current.values():
            self.by_fingerprint.setdefault(schema.fingerprint, schema)

    def reader(self, full_name: str) -> SchemaVersion:
        try:
            return self.current[full_name]
        except KeyError:
            raise KeyError(f"no schema {full_name} under {self.root / 'events'}") from None

    def writer(self, fp: bytes) -> SchemaVersion | None:
        return self.by_fingerprint.get(fp)

    def fingerprints(self) -> dict[str, str]:
        """Current fingerprint per event name, for run manifests."""
        return {name: s.fingerprint_hex for name, s in sorted(self.current.items())}


@cache
def default_registry() -> SchemaRegistry:
    return SchemaRegistry(default_schemas_dir())
