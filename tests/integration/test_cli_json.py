"""Every list/show/status command, run on the real broker and database: ``--json`` is one JSON document on stdout.

The walk over the app is tests/unit/test_cli_conventions.py's; a listing added
without arguments here fails the first test, so none goes unchecked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitrader.cli import app
from contract.topics import INPUTS, Namespace
from inference.registry import MODELS_DIR, ModelRegistry
from tests.scratch import drop_with_companions, fresh_schema
from tests.unit.test_cli_conventions import listing_commands
from tests.workers import ROOT

pytestmark = pytest.mark.infra


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = fresh_schema(database_url, "test")
    yield name
    drop_with_companions(database_url, name)


def _arguments(namespace: Namespace, schema: str, key_dir: Path) -> dict[str, list[str]]:
    card = ModelRegistry(MODELS_DIR).list()[0]
    return {
        "topics list": ["--namespace", namespace.prefix],
        "schemas list": [],
        "model list": [],
        "model show": [f"{card.name}@{card.version}"],
        "audit keys list": ["--namespace", namespace.prefix, "--key-dir", str(key_dir)],
        "projections status": ["--schema", schema, "--namespace", namespace.prefix],
        "users list": ["--schema", schema],
        "stack status": [],
    }


def _env(kafka_bootstrap: str, database_url: str) -> dict[str, str]:
    return {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}


def test_every_listing_prints_one_json_document_on_stdout(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema: str, tmp_path: Path
) -> None:
    runner = CliRunner(env=_env(kafka_bootstrap, database_url))
    made = runner.invoke(app, ["audit", "keys", "new", "--key-dir", str(tmp_path / "keys")])
    assert made.exit_code == 0, made.output
    created = runner.invoke(app, ["users", "add", "someone", "--role", "analyst", "--schema", schema])
    assert created.exit_code == 0, created.output

    arguments = _arguments(namespace, schema, tmp_path / "keys")
    assert set(arguments) == set(listing_commands()), "every list/show/status command is run here"
    documents = {}
    for path, args in arguments.items():
        result = runner.invoke(app, [*path.split(), *args, "--json"])
        assert result.exit_code == 0, (path, result.output)
        documents[path] = json.loads(result.stdout)  # the whole of stdout is one document
    topics = {t["topic"]: t for t in documents["topics list"]}
    assert topics[namespace.topic(INPUTS)]["partitions"] == INPUTS.partitions
    assert [u["name"] for u in documents["users list"]] == ["someone"]
    assert documents["projections status"]["total_lag"] == 0
    assert documents["stack status"]["kafka"]["answers"] is True
    assert documents["audit keys list"]["statements"] == []


def test_topics_list_pipes_its_table_and_says_nothing_else_on_stdout(
    kafka_bootstrap: str, database_url: str, namespace: Namespace
) -> None:
    """``aitrader topics list | grep inputs`` finds the topic: the table is a result, on stdout."""
    done = subprocess.run([sys.executable, "-m", "aitrader", "topics", "list", "--namespace", namespace.prefix], cwd=ROOT,
                          env={**os.environ, **_env(kafka_bootstrap, database_url)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if namespace.topic(INPUTS) in line], done.stdout
    assert namespace.topic(INPUTS) not in done.stderr
