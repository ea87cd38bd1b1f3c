"""Layering and determinism rules, checked on the source (docs/design.md, "Determinism" and "Layers")."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
# The pure packages are the sources of the contract that forbids them I/O.
PURE = next(c for c in CONTRACTS if c["type"] == "forbidden" and "confluent_kafka" in c["forbidden_modules"])

# Calls that read the wall clock or make randomness: derived events would differ between live and replay.
BANNED_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("os", "urandom"),
}
BANNED_MODULES = {"random", "secrets"}


def _pure_files() -> list[Path]:
    files = []
    for module in PURE["source_modules"]:
        path = ROOT / module.replace(".", "/")
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return files


def _violations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in BANNED_CALLS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Import):
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}" for a in node.names if a.name in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in BANNED_MODULES | {"uuid", "time"}:
            names = {a.name for a in node.names}
            if node.module in BANNED_MODULES or names & {"uuid1", "uuid4", "time", "time_ns", "monotonic", "perf_counter"}:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import {', '.join(sorted(names))}")
    return found


def test_the_pure_packages_exist_as_listed() -> None:
    missing = [p for p in _pure_files() if not p.exists()]
    assert missing == []
    assert len(_pure_files()) > 20


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_wall_clock_or_randomness_on_the_deterministic_path(path: Path) -> None:
    assert _violations(path) == []


def test_the_scanner_catches_what_it_bans(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import random\nimport time, uuid\nfrom datetime import datetime\nx = time.time()\ny = uuid.uuid4()\nz = datetime.now()\n")
    lines = [v.split(":", 2)[1] for v in _violations_for_any(sample)]
    assert lines == ["1", "4", "5", "6"]


def _violations_for_any(path: Path) -> list[str]:
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        return sorted(_violations(path), key=lambda v: int(v.split(":")[1]))
    finally:
        ROOT = saved


def test_import_layers_hold() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--config",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
