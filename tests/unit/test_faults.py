"""The fault-injection points (``eventlog/faults.py``): parsing, arming, holding, killing."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from eventlog.faults import (
    AFTER_APPLY,
    BEFORE_APPLY,
    BEFORE_COMMIT,
    BEFORE_SEAL,
    ENVIRONMENT,
    MID_FOLD,
    Fault,
    from_environment,
    parse,
)

ROOT = Path(__file__).resolve().parents[2]


def test_no_variable_means_no_fault() -> None:
    assert from_environment({}) is None
    assert from_environment({ENVIRONMENT: ""}) is None


def test_the_text_names_action_point_count_and_gate() -> None:
    assert parse("kill-after-apply:25000") == Fault("kill", AFTER_APPLY, 25_000)
    assert from_environment({ENVIRONMENT: "hold-before-apply:0:/tmp/gate"}) == Fault("hold", BEFORE_APPLY, 0, Path("/tmp/gate"))
    # The projector's, the notary's and the account monitor's points read the same way.
    assert parse("kill-before-commit:1200") == Fault("kill", BEFORE_COMMIT, 1_200)
    assert parse("kill-before-seal:7") == Fault("kill", BEFORE_SEAL, 7)
    assert parse("hold-mid-fold:3:/tmp/gate") == Fault("hold", MID_FOLD, 3, Path("/tmp/gate"))


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("kill-before-flush:1", "POINT one of"),
        ("pause-after-apply:1", "ACTION-POINT"),
        ("kill-after-apply", "whole number"),
        ("kill-after-apply:-3", "whole number"),
        ("hold-before-apply:10", "gate file"),
        ("kill-after-apply:10:/tmp/gate", "a kill takes none"),
    ],
)
def test_a_malformed_fault_is_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse(text)


def test_a_hold_waits_while_its_gate_exists_and_only_once_armed(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    fault = parse(f"hold-after-apply:100:{gate}")
    fault.at(AFTER_APPLY, 99, lambda: "")  # not armed yet: returns at once
    fault.at(BEFORE_APPLY, 500, lambda: "")  # another point: returns at once

    done = threading.Event()
    held = threading.Thread(target=lambda: (fault.at(AFTER_APPLY, 100, lambda: "partition 0 offsets 0-99"), done.set()))
    held.start()
    assert not done.wait(0.3), "the batch went on although the gate was closed"
    gate.unlink()
    assert done.wait(5), "the batch did not go on once the gate opened"
    held.join()
    fault.at(AFTER_APPLY, 200, lambda: "")  # the gate is open: later batches pass


def test_a_hold_does_its_waiting_through_the_given_wait(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    fault = parse(f"hold-before-apply:0:{gate}")
    waits: list[float] = []

    def serve(seconds: float) -> None:  # the live worker serves its consumer group here
        waits.append(seconds)
        if len(waits) == 10:
            gate.unlink()

    fault.at(BEFORE_APPLY, 0, lambda: "", serve)
    assert len(waits) == 10, "the hold did not wait through the given wait until the gate opened"


def test_a_kill_sigkills_the_process_at_its_point_once_armed() -> None:
    program = (
        "from eventlog.faults import AFTER_APPLY, parse\n"
        "fault = parse('kill-after-apply:5000')\n"
        "fault.at(AFTER_APPLY, 4999, lambda: '')\n"
        "print('survived 4999', flush=True)\n"
        "fault.at(AFTER_APPLY, 5000, lambda: 'partition 1 offsets 0-4999')\n"
        "print('survived 5000', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == "survived 4999\n"
    assert "fault kill-after-apply: SIGKILL after 5000 inputs applied; batch partition 1 offsets 0-4999" in done.stderr


def test_a_kill_names_the_work_its_process_counts() -> None:
    program = (
        "from eventlog.faults import BEFORE_COMMIT, parse\n"
        "parse('kill-before-commit:500').at(BEFORE_COMMIT, 500, lambda: 'inputs partition 2 offsets 0-499')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert "fault kill-before-commit: SIGKILL after 500 records projected; batch inputs partition 2 offsets 0-499" in done.stderr
