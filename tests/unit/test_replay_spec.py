"""The replay's request, checked before any log is read: the name rule in one place, and the spec's JSON form.

The CLI's ``--into``, the API's ``into`` and the topics a job reports all go
through ``processors.replay.names``; these tests hold each of them to it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from aitrader.commands.replay import replay
from api.errors import ApiError
from api.routers.replays import ReplayRequest, _spec
from contract.topics import Namespace
from inference.models import ScorerSpec
from processors.replay.errors import ReplayRefused, ReplaySpecError
from processors.replay.names import (
    MAX_NAME_LENGTH,
    BadReplayName,
    check_name,
    default_name,
    replay_namespace,
)
from processors.replay.spec import PIPELINE, ReplaySpec
from processors.replay.window import DayWindow, OffsetWindow

DAY = date(2013, 9, 3)
GOOD = ["day", "2013-09-03", "what_if-2", "-x", "_", "a" * MAX_NAME_LENGTH, "v1.2"]
BAD = [".hidden", "a b", "../etc", "x/y", "é", "a" * (MAX_NAME_LENGTH + 1), "a,b"]


@pytest.mark.parametrize("name", GOOD)
def test_names_safe_in_topic_and_group_names_are_accepted(name: str) -> None:
    assert check_name(name) == name
    assert ReplaySpec(DayWindow(DAY), into=name).name == name


@pytest.mark.parametrize("name", BAD)
def test_other_names_are_refused_by_the_rule_the_cli_and_the_api_share(name: str) -> None:
    with pytest.raises(BadReplayName) as rule:
        check_name(name)
    with pytest.raises(ReplaySpecError) as spec:
        ReplaySpec(DayWindow(DAY), into=name)
    assert str(spec.value) == f"--into {rule.value}"
    with pytest.raises(ApiError) as api:
        _spec(ReplayRequest(day="2013-09-03", into=name))
    assert (api.value.status, api.value.code, api.value.message) == (400, "bad_into", f"into {rule.value}")


def test_an_empty_name_is_no_name_for_the_spec_but_never_a_valid_one() -> None:
    with pytest.raises(BadReplayName):
        check_name("")
    assert ReplaySpec(DayWindow(DAY), into="").name == "2013-09-03"  # ``--into ''``: the default, as before


def test_the_cli_refuses_a_bad_name_as_a_usage_error_before_reading_the_log() -> None:
    app = typer.Typer()
    app.command()(replay)
    result = CliRunner().invoke(app, ["--day", "2013-09-03", "--into", "a b", "--namespace", "nowhere."])
    assert result.exit_code == 2
    assert "use letters, digits" in result.output and "Invalid value" in result.output


def test_the_default_name_is_the_day_or_offsets_and_the_topics_sit_beside_live() -> None:
    live = Namespace("test.abc.")
    assert default_name(DAY) == "2013-09-03" and default_name(None) == "offsets"
    assert ReplaySpec(DayWindow(DAY), live).target == Namespace("test.abc.replay.2013-09-03.")
    assert ReplaySpec(OffsetWindow({1: 5}), live).target == Namespace("test.abc.replay.offsets.")
    assert ReplaySpec(OffsetWindow({1: 5}), live, into="mine").target == replay_namespace(live, "mine")
    assert replay_namespace(Namespace(), "mine").prefix == "replay.mine."


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "slow"}, "--mode must be one of fast, pipeline, not 'slow'"),
        ({"mode": PIPELINE, "flat": True}, "--flat is for --mode fast"),
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"batch": 0}, "--batch must be at least 1"),
    ],
)
def test_a_spec_that_cannot_run_whatever_the_log_holds_is_refused_with_exit_code_2(changes: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ReplaySpecError, match=message) as refused:
        ReplaySpec(DayWindow(DAY), **changes)
    assert isinstance(refused.value, ReplayRefused) and refused.value.exit_code == 2


def test_a_what_if_or_flat_run_is_compared_only_when_asked() -> None:
    assert ReplaySpec(DayWindow(DAY)).compared
    assert not ReplaySpec(DayWindow(DAY), overrides={"strategy.threshold": "0.5"}).compared
    assert not ReplaySpec(DayWindow(DAY), flat=True).compared
    assert ReplaySpec(DayWindow(DAY), flat=True, compare=True).compared
    assert not ReplaySpec(DayWindow(DAY), model=ScorerSpec("baseline", "1.0.0")).compared
    assert ReplaySpec(DayWindow(DAY), model=ScorerSpec("baseline", "1.0.0"), compare=True).compared


@pytest.mark.parametrize(
    "spec",
    [
        ReplaySpec(DayWindow(DAY), Namespace("test.x."), ("ES", "SYN_NQ"), PIPELINE, "day", False,
                   {"strategy.threshold": "0.5"}, True, Path("/tmp/report"), "Europe/Berlin", 500),
        ReplaySpec(OffsetWindow({0: 10, 2: 7}, {0: 20, 2: 9})),
        ReplaySpec(OffsetWindow({1: 0})),
        ReplaySpec(DayWindow(DAY), compare=True, model=ScorerSpec("baseline", "1.0.0")),
    ],
)
def test_a_spec_reads_back_from_its_json_as_it_was(spec: ReplaySpec) -> None:
    assert ReplaySpec.from_json(spec.to_json()) == spec


def test_a_job_file_written_before_the_model_what_if_reads_back_without_one() -> None:
    older = {k: v for k, v in ReplaySpec(DayWindow(DAY)).to_json().items() if k != "model"}
    assert ReplaySpec.from_json(older).model is None


@pytest.mark.parametrize("text", ["baseline", "baseline@", "@1.0.0", ""])
def test_a_model_not_named_name_at_version_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="NAME@VERSION"):
        ScorerSpec.parse(text)
