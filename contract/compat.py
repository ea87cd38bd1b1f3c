"""Schema evolution rules: what ``aitrader schemas check`` refuses.

Backward compatibility is Avro schema resolution seen from the reader: the
current schema must read every released version. Beyond that, a change that
keeps the fingerprint while changing the schema is refused, because the
fingerprint is what tells a reader which schema wrote the bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contract.schema_registry import SchemaRegistry, SchemaVersion

PRIMITIVE_PROMOTIONS = {
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
}
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _named_types(schema: Any, found: dict[str, Any], namespace: str = "") -> None:
    """Collects named types by full name so references can be followed."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found, namespace)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            space = schema.get("namespace", namespace)
            full = schema["name"] if "." in schema["name"] else f"{space}.{schema['name']}"
            found[full] = schema
            for f in schema.get("fields", []):
                _named_types(f["type"], found, space)
        elif kind == "array":
            _named_types(schema["items"], found, namespace)
        elif kind == "map":
            _named_types(schema["values"], found, namespace)
        elif isinstance(kind, (dict, list)):
            _named_types(kind, found, namespace)


class _Resolver:
    def __init__(self, writer_root: Any, reader_root: Any) -> None:
        self.writer_types: dict[str, Any] = {}
        self.reader_types: dict[str, Any] = {}
        _named_types(writer_root, self.writer_types)
        _named_types(reader_root, self.reader_types)
        self._seen: set[tuple[str, str]] = set()

    def _deref(self, schema: Any, types: dict[str, Any]) -> Any:
        if isinstance(schema, str) and schema not in PRIMITIVES:
            for full, named in types.items():
                if full == schema or full.rsplit(".", 1)[-1] == schema:
                    return named
        if isinstance(schema, dict) and schema.get("type") in PRIMITIVES:
            return schema["type"]  # logical types do not take part in resolution
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            return schema["type"]
        return schema

    def problems(self, writer: Any, reader: Any, path: str) -> list[str]:
        writer = self._deref(writer, self.writer_types)
        reader = self._deref(reader, self.reader_types)
        if isinstance(writer, list):
            # Every branch the writer may have used must resolve.
            found = []
            for branch in writer:
                found += self.problems(branch, reader, path)
            return found
        if isinstance(reader, list):
            if any(not self.problems(writer, branch, path) for branch in reader):
                return []
            return [f"{path}: writer type {_describe(writer)} matches no branch of reader union {_describe(reader)}"]
        if isinstance(writer, str) or isinstance(reader, str):
            if writer == reader or (writer, reader) in PRIMITIVE_PROMOTIONS:
                return []
            return [f"{path}: {_describe(writer)} cannot be read as {_describe(reader)}"]
        kind = writer["type"]
        if kind != reader["type"]:
            return [f"{path}: {kind} cannot be read as {reader['type']}"]
        if kind == "record":
            return self._records(writer, reader, path)
        if kind == "enum":
            missing = set(writer["symbols"]) - set(reader["symbols"])
            if missing and "default" not in reader:
                return [f"{path}: enum symbols {sorted(missing)} removed without a reader default"]
            return []
        if kind == "array":
            return self.problems(writer["items"], reader["items"], f"{path}[]")
        if kind == "map":
            return self.problems(writer["values"], reader["values"], f"{path}{{}}")
        if kind == "fixed" and writer["size"] != reader["size"]:
            return [f"{path}: fixed size {writer['size']} cannot be read as {reader['size']}"]
        return []

    def _records(self, writer: dict[str, Any], reader: dict[str, Any], path: str) -> list[str]:
        key = (writer["name"], reader["name"])
        if key in self._seen:  # recursive types: already being checked higher up
            return []
        self._seen.add(key)
        writer_fields = {f["name"]: f for f in writer["fields"]}
        for f in writer["fields"]:
            for alias in f.get("aliases", []):
                writer_fields.setdefault(alias, f)
        found = []
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            source = next((writer_fields[n] for n in names if n in writer_fields), None)
            if source is None:
                if "default" not in field:
                    found.append(f"{path}.{field['name']}: new field without a default")
                continue
            found += self.problems(source["type"], field["type"], f"{path}.{field['name']}")
        return found


def _describe(schema: Any) -> str:
    if isinstance(schema, dict):
        return schema.get("name", schema.get("type", "?"))
    if isinstance(schema, list):
        return "[" + ", ".join(_describe(s) for s in schema) + "]"
    return str(schema)


def read_problems(writer: SchemaVersion, reader: SchemaVersion) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer`` (empty: it can)."""
    return _Resolver(writer.schema_json, reader.schema_json).problems(writer.schema_json, reader.schema_json, writer.full_name)


def without_docs(schema: Any) -> Any:
    """A schema as readers see it: docs dropped (defaults, aliases and logical types kept)."""
    if isinstance(schema, dict):
        return {k: without_docs(v) for k, v in schema.items() if k != "doc"}
    if isinstance(schema, list):
        return [without_docs(v) for v in schema]
    return schema


@dataclass(frozen=True)
class CheckResult:
    full_name: str
    status: str  # "released", "new", "changed" (compatible, to release), or "refused"
    problems: tuple[str, ...]


def check(registry: SchemaRegistry) -> list[CheckResult]:
    results = []
    for name, current in sorted(registry.current.items()):
        released = registry.released.get(name, [])
        problems: list[str] = []
        for old in released:
            problems += [f"v{old.version}: {p}" for p in read_problems(old, current)]
            same_fp = old.fingerprint == current.fingerprint
            if same_fp and without_docs(old.schema_json) != without_docs(current.schema_json):
                problems.append(
                    f"v{old.version}: same fingerprint {old.fingerprint_hex} but a different schema "
                    "(defaults, logical types, decimal scale or precision changed): readers could not tell the "
                    "versions apart; rename or retype the field instead"
                )
        if problems:
            results.append(CheckResult(name, "refused", tuple(problems)))
        elif not released:
            results.append(CheckResult(name, "new", ()))
        elif released[-1].fingerprint != current.fingerprint:
            results.append(CheckResult(name, "changed", ()))
        else:
            results.append(CheckResult(name, "released", ()))
    return results


def release(registry: SchemaRegistry) -> list[str]:
    """Freezes every new or changed (and compatible) schema as its next version; returns the files written."""
    results = check(registry)
    refused = [r for r in results if r.status == "refused"]
    if refused:
        raise ValueError(f"refusing to release: {refused[0].full_name}: {refused[0].problems[0]}")
    written = []
    for result in results:
        if result.status not in ("new", "changed"):
            continue
        current = registry.current[result.full_name]
        versions = registry.released.get(result.full_name, [])
        number = (versions[-1].version or 0) + 1 if versions else 1
        target = registry.root / "released" / result.full_name / f"v{number}.avsc"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(current.schema_json, indent=2) + "\n")
        written.append(str(target.relative_to(registry.root)))
    return written
