"""``bench/api_load.py`` in its quick form on the real stack: the ladder runs, every request is accounted for,
and the projector wrote into the schema while the clients read it.

Speed is not asserted (bench/ is for figures). A long form: about a minute on a quiet 2-core machine;
run it by hand with `python -m pytest -m long tests/integration/test_bench_api_load.py`.
"""

from __future__ import annotations

import pytest

from bench import api_load

pytestmark = [pytest.mark.infra, pytest.mark.long]


def test_a_quick_ladder_answers_every_request_while_the_projector_writes(
    kafka_bootstrap: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = api_load.measure(rows=20_000, rates=(5, 10), step_s=4, writer_rows=60_000)

    steps = result["steps"]
    assert [s["rate"] for s in steps] == [5, 10][: len(steps)] and steps
    assert all(s["sustained"] for s in steps[:-1])  # climbing stops only at a step not sustained
    for step in steps:
        assert step["answered"] + sum(step["errors"].values()) == int(step["rate"] * 4)  # every request accounted for
        assert step["errors"] == {}
        assert 0 < step["p50_ms"] <= step["p95_ms"] <= step["p99_ms"]
        assert step["held"] == (step["sustained"] and step["p99_ms"] <= 25)
        assert step["server_cpu_ms_per_request"] > 0  # the server's own process, measured from /proc
    assert sum(s["projector_records"] for s in steps) > 0  # the projector wrote into the schema during the steps
    rates = {f["what"]: f["value"] for f in result["figures"]}
    assert {f"{s['rate']:,.0f} req/s: p{p}" for s in steps for p in (50, 95, 99)} <= rates.keys()
