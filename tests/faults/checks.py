"""What every fault test checks once its processes are done: nothing lost, nothing doubled, everything proven.

- the derived topics, deduplicated by event id, are the pure kernel's bytes
  from the inputs on the log;
- every fill the pure kernel derives is on the log and in the read model once,
  and no other;
- every read-model table holds the same rows as a projector that ran the final
  log once, without a fault, into a fresh schema;
- every event topic verifies against the notary's checkpoints.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from contract.events import OrderFilled
from contract.records import decode
from contract.topics import DERIVED, FILLS, INPUTS, Namespace
from eventlog.audit.onlog import EVENT_TOPICS
from kernel.settings import KernelSettings
from projections.db import connect
from projections.projector import Projector
from tests.faults.chaos import Chaos
from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import (
    CODEC,
    as_outputs,
    derived_on_log,
    first_difference,
    pure_kernel,
    read_records,
)


def tables(database_url: str, schema: str) -> dict[str, Counter[str]]:
    """Every table of a read-model schema as a multiset of rows (each row's text: JSON columns are dicts)."""
    with connect(database_url, schema) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'", (schema,))]
        return {name: Counter(repr(row) for row in conn.execute(f'SELECT * FROM "{schema}"."{name}"')) for name in names}


def assert_nothing_lost(
    bootstrap: str, database_url: str, namespace: Namespace, settings: KernelSettings, schema: str, keys: Path, chaos: Chaos
) -> str:
    """Every check of the module docstring; what was checked, for the report."""
    inputs = read_records(bootstrap, namespace, INPUTS)
    derived = pure_kernel(inputs, settings)
    expected = as_outputs(derived)
    got = derived_on_log(bootstrap, namespace, DERIVED)
    assert got == expected, f"the processes and the pure kernel disagree: {first_difference(got, expected)}"

    kernel_fills = Counter(CODEC.decode(d.value).fill_id for d in derived if d.topic == FILLS.name)  # type: ignore[attr-defined]
    assert kernel_fills and set(kernel_fills.values()) == {1}
    on_log = {e.fill_id for e in (decode(CODEC, r) for r in read_records(bootstrap, namespace, FILLS)) if isinstance(e, OrderFilled)}
    assert on_log == set(kernel_fills), f"{len(set(kernel_fills) - on_log)} fills lost, {len(on_log - set(kernel_fills))} foreign"
    with connect(database_url, schema) as conn:
        projected_fills = Counter(row[0] for row in conn.execute("SELECT fill_id FROM fills").fetchall())
    assert projected_fills == kernel_fills, (f"the fills read model lost {len(set(kernel_fills) - set(projected_fills))} "
                                             f"and doubled {sum(n > 1 for n in projected_fills.values())} fills")

    clean = fresh_schema(database_url, "clean")
    try:
        Projector(bootstrap, database_url, clean, namespace).run(stop_at_end=True)
        faulted, calm = tables(database_url, schema), tables(database_url, clean)
    finally:
        drop_with_companions(database_url, clean)
    assert set(faulted) == set(calm)
    differing = {t: (sorted((faulted[t] - calm[t]).elements())[:3], sorted((calm[t] - faulted[t]).elements())[:3])
                 for t in calm if faulted[t] != calm[t]}
    assert differing == {}, f"tables differing from a clean projection (rows only in the faulted run's, only in the clean one's): {differing}"

    for spec in EVENT_TOPICS:
        out = chaos.finish("verify", ("audit", "verify", "--topic", spec.name, "--namespace", namespace.prefix, "--key-dir", str(keys)))
        assert "verified" in out and "FAILED" not in out, out
    return (f"{len(inputs):,} inputs, {sum(len(v) for v in got.values()):,} derived events, {len(kernel_fills):,} fills, "
            f"{sum(sum(c.values()) for c in calm.values()):,} read-model rows, {len(EVENT_TOPICS)} topics verified")
