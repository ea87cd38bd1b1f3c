"""The schemas are the contract: dataclasses match them, evolution resolves, breaking changes are refused."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from typer.testing import CliRunner

from aitrader.cli import app
from contract.compat import check, release
from contract.events import (
    ALL_EVENT_TYPES,
    Envelope,
    Event,
    OrderDenied,
    OrderRejected,
    Tick,
)
from contract.scaled import SCALED_SUFFIX
from contract.schema_registry import (
    SchemaRegistry,
    default_schemas_dir,
    load_schema_file,
)
from contract.serde import MAGIC, EventCodec
from tests.refusals import OLD_RISK_REJECTION

REPO_SCHEMAS = default_schemas_dir()


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES, ids=lambda t: t.__name__)
def test_dataclass_fields_match_the_avro_record(event_type: type[Event]) -> None:
    schema = SchemaRegistry(REPO_SCHEMAS).reader(event_type.SCHEMA).schema_json
    hints = typing.get_type_hints(event_type)
    expected = [
        f.name + (SCALED_SUFFIX if Decimal in (hints[f.name], *typing.get_args(hints[f.name])) else "")
        for f in dataclasses.fields(event_type)
    ]
    assert [f["name"] for f in schema["fields"]] == expected


def test_repository_schemas_are_all_released_and_compatible() -> None:
    results = check(SchemaRegistry(REPO_SCHEMAS))
    assert {r.full_name: r.status for r in results if r.status != "released"} == {}


def _copy_schemas(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(REPO_SCHEMAS, root)
    return root


def _edit_tick(root: Path, edit: typing.Callable[[dict[str, Any]], None]) -> None:
    path = root / "events" / "Tick.avsc"
    schema = json.loads(path.read_text())
    edit(schema)
    path.write_text(json.dumps(schema, indent=2))


def _tick_status(root: Path) -> tuple[str, tuple[str, ...]]:
    result = next(r for r in check(SchemaRegistry(root)) if r.full_name == "aitrader.events.Tick")
    return result.status, result.problems


def test_adding_a_field_with_a_default_is_compatible_and_old_events_decode(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    old = load_schema_file(root / "released" / "aitrader.events.Tick" / "v1.avsc", 1)
    _edit_tick(root, lambda s: s["fields"].append({"name": "condition", "type": ["null", "string"], "default": None}))
    assert _tick_status(root) == ("changed", ())
    assert release(SchemaRegistry(root)) == ["released/aitrader.events.Tick/v2.avsc"]
    registry = SchemaRegistry(root)
    assert _tick_status(root) == ("released", ())

    # An event written with v1 (as it sits on an old log) is read through the v2 reader.
    body = io.BytesIO()
    tick = Tick(Envelope("id-1", 1378184425350, "ingest/test", None, "id-1"), "ES", "CME", 7, Decimal("1650.25"), Decimal("3"))
    record = EventCodec(SchemaRegistry(REPO_SCHEMAS)).to_record(tick)
    schemaless_writer(body, old.parsed, record)
    data = MAGIC + old.fingerprint + body.getvalue()
    name, decoded = EventCodec(registry).decode_record(data)
    assert name == "aitrader.events.Tick"
    assert decoded["condition"] is None
    assert decoded["price_e8"] == record["price_e8"]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s["fields"].append({"name": "condition", "type": "string"}), "new field without a default"),
        (lambda s: next(f for f in s["fields"] if f["name"] == "sequence").update(type="int"), "long cannot be read as int"),
        (lambda s: next(f for f in s["fields"] if f["name"] == "price_e8").update(name="price_e4"), "price_e4: new field"),
        (
            lambda s: next(f for f in s["fields"] if f["name"] == "sequence").update(
                type={"type": "long", "logicalType": "timestamp-millis"}
            ),
            "same fingerprint",
        ),
    ],
    ids=["field-without-default", "narrowed-type", "renamed-scale", "default-changed-same-fingerprint"],
)
def test_breaking_changes_are_refused(tmp_path: Path, edit, problem: str) -> None:  # type: ignore[no-untyped-def]
    root = _copy_schemas(tmp_path)
    _edit_tick(root, edit)
    status, problems = _tick_status(root)
    assert status == "refused"
    assert any(problem in p for p in problems), problems
    with pytest.raises(ValueError, match="refusing to release"):
        release(SchemaRegistry(root))
    result = CliRunner().invoke(app, ["schemas", "check", "--dir", str(root)])
    assert result.exit_code == 1


def test_union_reordering_changes_the_fingerprint_and_stays_compatible(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    _edit_tick(root, lambda s: next(f for f in s["fields"] if f["name"] == "ask_size_e8").update(type=["null", "long", "string"]))
    assert _tick_status(root) == ("changed", ())


def test_schemas_check_passes_on_the_repository() -> None:
    result = CliRunner().invoke(app, ["schemas", "check"])
    assert result.exit_code == 0, result.output


def test_an_old_logs_risk_rejection_still_decodes_as_order_rejected() -> None:
    """Logs keep their OrderRejected events; only new refusals are written as OrderDenied."""
    codec = EventCodec()
    old = codec.decode(OLD_RISK_REJECTION)
    assert isinstance(old, OrderRejected)
    assert (old.order_id, old.symbol, old.reason, old.detail) == (
        "9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d", "ES", "MAX_ORDER_QTY", "quantity 12 > 10"
    )
    (v1,) = SchemaRegistry(REPO_SCHEMAS).released["aitrader.events.OrderRejected"]
    assert OLD_RISK_REJECTION[2:10] == v1.fingerprint
    assert codec.encode(old) == OLD_RISK_REJECTION


def test_a_denial_differs_from_the_old_rejection_only_in_its_schema_fingerprint() -> None:
    """What the golden digests rely on: same fields, same body bytes, another fingerprint."""
    codec = EventCodec()
    old = codec.decode(OLD_RISK_REJECTION)
    assert isinstance(old, OrderRejected)
    denied = OrderDenied(old.envelope, old.order_id, old.symbol, old.reason, old.detail)
    data = codec.encode(denied)
    assert data[:2] == OLD_RISK_REJECTION[:2] and data[10:] == OLD_RISK_REJECTION[10:]
    assert data[2:10] != OLD_RISK_REJECTION[2:10]
    assert codec.decode(data) == denied
