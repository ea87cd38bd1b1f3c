"""A command imports only its own module: each ``aitrader run ...`` process starts without the others' code."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from aitrader.cli import COMMANDS, MODEL, RUN, app

# What each long-running process must not pay for unless it runs it: the live worker's faust, the API's
# web stack, the projector, the audit chain, the replay.
HEAVY = ("faust", "fastapi", "uvicorn", "projections.projector", "eventlog.audit.notary", "processors.replay.run")

PROBE = """
import sys
from typer.testing import CliRunner
from aitrader.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
print(" ".join(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


def _imported_by(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        (("run", "monitor", "--help"), set()),
        (("run", "processors", "--help"), {"faust"}),
        (("run", "projector", "--help"), {"projections.projector"}),
        (("topics", "--help"), set()),
    ],
)
def test_a_command_imports_its_own_module_and_not_the_others(args: tuple[str, ...], needs: set[str]) -> None:
    assert _imported_by(*args) == needs


def test_the_help_lists_every_command_in_its_order() -> None:
    for args, group in (([], COMMANDS), (["run"], RUN), (["model"], MODEL)):
        output = CliRunner().invoke(app, [*args, "--help"]).output
        places = [output.find(f"│ {name} ") for name in group]
        assert -1 not in places and places == sorted(places), (args, places)


def test_every_lazy_command_names_an_attribute_that_is_there() -> None:
    for group in (COMMANDS, RUN, MODEL):
        for name, lazy in group.items():
            assert lazy.load(name).name == name
