"""The command line's conventions: results on stdout, ``--json`` on every list/show/status, exit codes 0/1/2.

The commands that need a broker or a database are run in
tests/integration/test_cli_json.py; these need neither.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from aitrader.cli import app
from inference.registry import MODELS_DIR, ModelRegistry

LISTING = ("list", "show", "status")


def listing_commands(group: typer.Typer = app) -> dict[str, Any]:
    """Every ``list``/``show``/``status`` command of the app, by its path (``"topics list"``)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "list_commands"):  # a group (typer builds its own click classes; ours load lazily)
            context = typer.Context(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), (*path, name))
        elif path[-1] in LISTING:
            found[" ".join(path)] = command

    walk(typer.main.get_command(group), ())
    return found


def test_every_list_show_and_status_command_has_a_json_option() -> None:
    commands = listing_commands()
    assert {"topics list", "model show", "stack status", "projections status"} <= set(commands)  # the walk reaches sub-apps
    without = [path for path, command in commands.items() if not any("--json" in p.opts for p in command.params)]
    assert not without, f"no --json: {without}"


def _card() -> str:
    card = ModelRegistry(MODELS_DIR).list()[0]
    return f"{card.name}@{card.version}"


def test_listings_that_need_no_broker_print_one_json_document_on_stdout() -> None:
    for args in (["schemas", "list"], ["model", "list"], ["model", "show", _card()]):
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, (args, result.output)
        document = json.loads(result.stdout)
        assert document, args
    schemas = json.loads(CliRunner().invoke(app, ["schemas", "list", "--json"]).stdout)
    assert {"Tick", "OrderFilled"} <= {s["schema"].rsplit(".", 1)[-1] for s in schemas}


def test_a_table_goes_to_stdout_so_it_pipes() -> None:
    result = CliRunner().invoke(app, ["schemas", "list"])
    assert result.exit_code == 0, result.output
    assert "OrderFilled" in result.stdout and "OrderFilled" not in result.stderr
    assert "..." not in result.stdout and "…" not in result.stdout  # piped, no cell is cut to a terminal's width


def test_usage_errors_exit_2_and_failures_exit_1(tmp_path: Path) -> None:
    usage = {
        "unknown option": ["schemas", "list", "--nope"],
        "not NAME@VERSION": ["model", "show", "gbm-bars"],
        "no such file": ["ingest", str(tmp_path / "missing.csv"), "--namespace", "nowhere."],
        "a bad setting": ["run", "processors", "-s", "risk.max_order_qty=lots"],
        "a bundle without a key to judge it by": ["audit", "verify", "--bundle", str(tmp_path)],
        "a settings change the kernel would refuse": ["control", "set", "risk.max_order_qty=lots", "--reason", "test"],
    }
    for why, args in usage.items():
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (why, result.output)
    failures = {
        "a model the registry does not hold": ["model", "show", "gbm-bars@9.9.9"],
        "a released schema the current one cannot read": ["schemas", "check", "--dir", str(_incompatible(tmp_path))],
    }
    for why, args in failures.items():
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, (why, result.output)
        assert "error" in result.stderr or "refused" in result.stdout, (why, result.output)


def _incompatible(tmp_path: Path) -> Path:
    """A schemas directory whose current Tick dropped a field default the released version has: refused."""
    directory = tmp_path / "schemas"
    (directory / "events").mkdir(parents=True)
    released = directory / "released" / "Demo"
    released.mkdir(parents=True)
    v1 = {"type": "record", "name": "Demo", "namespace": "aitrader.test", "fields": [{"name": "a", "type": "long"}]}
    v2 = {**v1, "fields": [*v1["fields"], {"name": "b", "type": "long"}]}  # a new field without a default
    (released / "v1.avsc").write_text(json.dumps(v1))
    (directory / "events" / "Demo.avsc").write_text(json.dumps(v2))
    return directory
