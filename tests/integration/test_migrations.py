"""Migrations against the models: every way up to head must build the models' tables, and no other.

A revision that runs ``metadata.create_all`` over today's models builds
whatever the models say, and comparing its result with the models cannot fail.
These tests compare two ways and show that each comparison does report a
difference:

- Alembic's autogenerate (``compare_metadata``, with types and server
  defaults): tables, columns, types, nullability, defaults, indexes, unique
  constraints and foreign keys;
- reflection against tables that ``create_all`` makes from the models: what
  autogenerate does not look at (check constraints, constraint names, column
  order).

The models carry no schema and neither do the revisions: a connection's
search_path makes the migrated schema the default one, which is the one both
comparisons inspect, with Alembic's own version table in it left aside.
Revisions are walked per branch (read models, API keys), from an empty schema
and from each revision to head, and the newest one down and up again. And a
revision is frozen DDL: it reads neither the models nor any other project code.
"""

from __future__ import annotations

import ast
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from projections.db import auth_schema, checked_schema, connect, drop_schema, engine
from projections.migrate import MIGRATIONS, current_revisions, downgrade_to, upgrade_to
from projections.models import AUTH, READ_MODELS
from tests.scratch import drop_with_companions, fresh_schema

ROOT = Path(__file__).resolve().parents[2]
BRANCHES = {"readmodels": READ_MODELS, "auth": AUTH}
VERSION_TABLE = "alembic_version"
COMPARE = {"compare_type": True, "compare_server_default": True}


def revisions(branch: str) -> list[str]:
    """The branch's revisions oldest first, behind ``base`` (an empty schema)."""
    newest_first = ScriptDirectory(str(MIGRATIONS)).walk_revisions("base", f"{branch}@head")
    return ["base", *reversed([r.revision for r in newest_first])]


def differences(database_url: str, schema: str, metadata: sa.MetaData) -> list[tuple]:
    """What autogenerate would write to bring ``schema`` to ``metadata``, one tuple a change."""
    with engine(database_url, schema, poolclass=NullPool).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts=COMPARE), metadata)
    # Changes to one column come as a list of modify_* tuples.
    return [d for diff in diffs for d in (diff if isinstance(diff, list) else [diff])]


def shape(database_url: str, schema: str) -> dict[str, dict[str, object]]:
    """All that reflection sees of the schema's tables, Alembic's version table aside."""
    with engine(database_url, schema, poolclass=NullPool).connect() as conn:
        inspector = sa.inspect(conn)
        return {t: _table_shape(inspector, t) for t in inspector.get_table_names() if t != VERSION_TABLE}


def _table_shape(inspector: sa.Inspector, table: str) -> dict[str, object]:
    by_name = lambda items: sorted(items, key=lambda item: str(item["name"]))  # noqa: E731
    return {
        "columns": [(c["name"], repr(c["type"]), c["nullable"], c["default"]) for c in inspector.get_columns(table)],
        "primary key": inspector.get_pk_constraint(table),
        "unique": by_name(inspector.get_unique_constraints(table)),
        "indexes": by_name(inspector.get_indexes(table)),
        "foreign keys": by_name(inspector.get_foreign_keys(table)),
        "checks": by_name(inspector.get_check_constraints(table)),
    }


def altered(metadata: sa.MetaData, change: Callable[[sa.MetaData], None]) -> sa.MetaData:
    """A copy of ``metadata`` with one change: the comparisons must notice it."""
    copy = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(copy)
    change(copy)
    return copy


def empty_schema(database_url: str) -> str:
    """A new schema with nothing in it (``upgrade_to`` would create it, but ``base`` runs no upgrade)."""
    name = checked_schema(f"test_{secrets.token_hex(4)}")
    with connect(database_url, name) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return name


def _create_all(database_url: str, schema: str, metadata: sa.MetaData) -> None:
    with engine(database_url, schema, poolclass=NullPool).begin() as conn:
        metadata.create_all(conn)


# --- fixtures -----------------------------------------------------------------


@pytest.fixture
def new_schema(database_url: str) -> Iterator[Callable[[], str]]:
    """Makes empty schemas, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(empty_schema(database_url))
        return made[-1]

    yield make
    for name in made:
        drop_schema(database_url, name)


@pytest.fixture(scope="module")
def migrated(database_url: str) -> Iterator[dict[str, str]]:
    """One schema migrated as the services migrate it: each branch's schema, by branch."""
    name = fresh_schema(database_url, "test")
    yield {"readmodels": name, "auth": auth_schema(name)}
    drop_with_companions(database_url, name)


@pytest.fixture(scope="module")
def modelled(database_url: str) -> dict[str, dict[str, object]]:
    """The shape ``create_all`` gives each branch's models, by branch."""
    shapes = {}
    for branch, metadata in BRANCHES.items():
        name = empty_schema(database_url)
        try:
            _create_all(database_url, name, metadata)
            shapes[branch] = shape(database_url, name)
        finally:
            drop_schema(database_url, name)
    return shapes


def _migrated_to(database_url: str, make: Callable[[], str], revision: str) -> str:
    name = make()
    if revision != "base":
        upgrade_to(database_url, name, revision)
    return name


# --- the migrated schema is the models' ---------------------------------------


@pytest.mark.infra
@pytest.mark.parametrize("branch", BRANCHES)
def test_the_migrated_schema_matches_the_models(
    database_url: str, migrated: dict[str, str], modelled: dict[str, dict[str, object]], branch: str
) -> None:
    assert differences(database_url, migrated[branch], BRANCHES[branch]) == []
    assert shape(database_url, migrated[branch]) == modelled[branch]


def _drop_index(name: str) -> Callable[[sa.MetaData], None]:
    def change(metadata: sa.MetaData) -> None:
        table = next(t for t in metadata.tables.values() if any(i.name == name for i in t.indexes))
        table.indexes.remove(next(i for i in table.indexes if i.name == name))

    return change


def _drop_unique(table: str, name: str) -> Callable[[sa.MetaData], None]:
    def change(metadata: sa.MetaData) -> None:
        t = metadata.tables[table]
        t.constraints.remove(next(c for c in t.constraints if c.name == name))

    return change


def _set(table: str, column: str, **attributes: object) -> Callable[[sa.MetaData], None]:
    def change(metadata: sa.MetaData) -> None:
        for key, value in attributes.items():
            setattr(metadata.tables[table].c[column], key, value)

    return change


# (branch, what changes in the models, what autogenerate must report)
ALTERATIONS = {
    "a table more": ("readmodels", lambda m: sa.Table("extra", m, sa.Column("id", sa.Integer, primary_key=True)), "add_table"),
    "a table less": ("readmodels", lambda m: m.remove(m.tables["bar_ticks"]), "remove_table"),
    "a column more": ("readmodels", lambda m: m.tables["positions"].append_column(sa.Column("extra", sa.Text)), "add_column"),
    "another type": ("readmodels", _set("fills", "fee", type=sa.Integer()), "modify_type"),
    "another nullability": ("readmodels", _set("orders", "side", nullable=False), "modify_nullable"),
    "another server default": ("readmodels", _set("orders", "fees", server_default=sa.DefaultClause("1")), "modify_default"),
    "an index more": ("readmodels", lambda m: sa.Index("fills_day", m.tables["fills"].c.trading_day), "add_index"),
    "an index less": ("readmodels", _drop_index("fills_order"), "remove_index"),
    "a unique constraint more": (
        "readmodels", lambda m: m.tables["orders"].append_constraint(sa.UniqueConstraint("intent_id", name="orders_intent")), "add_constraint",
    ),
    "a unique constraint less": ("readmodels", _drop_unique("event_index", "event_index_position"), "remove_constraint"),
    "a foreign key more": (
        "readmodels", lambda m: m.tables["fills"].append_constraint(sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"])), "add_fk",
    ),
    "an API key default less": ("auth", _set("api_keys", "created_at", server_default=None), "modify_default"),
}


@pytest.mark.infra
@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_autogenerate_reports_a_difference_from_altered_models(
    database_url: str, migrated: dict[str, str], alteration: str
) -> None:
    branch, change, expected = ALTERATIONS[alteration]
    found = differences(database_url, migrated[branch], altered(BRANCHES[branch], change))
    assert [d[0] for d in found] == [expected]


def _other_check(metadata: sa.MetaData) -> None:
    table = metadata.tables["api_keys"]
    table.constraints.remove(next(c for c in table.constraints if c.name == "api_keys_role"))
    table.append_constraint(sa.CheckConstraint("role IN ('analyst', 'ops')", name="api_keys_role"))


@pytest.mark.infra
def test_reflection_reports_what_autogenerate_does_not_see(
    database_url: str, migrated: dict[str, str], new_schema: Callable[[], str]
) -> None:
    """A narrower role check: autogenerate is blind to it, the shape comparison is not."""
    changed = altered(AUTH, _other_check)
    reference = new_schema()
    _create_all(database_url, reference, changed)
    assert differences(database_url, migrated["auth"], changed) == []
    assert shape(database_url, migrated["auth"]) != shape(database_url, reference)


# --- every way up, and down -----------------------------------------------------


@pytest.mark.infra
@pytest.mark.parametrize(("branch", "start"), [(b, r) for b in BRANCHES for r in revisions(b)])
def test_upgrading_from_any_revision_gives_the_models(
    database_url: str,
    new_schema: Callable[[], str],
    modelled: dict[str, dict[str, object]],
    branch: str,
    start: str,
) -> None:
    name = _migrated_to(database_url, new_schema, start)
    upgrade_to(database_url, name, f"{branch}@head")
    assert current_revisions(database_url, name) == (revisions(branch)[-1],)
    assert differences(database_url, name, BRANCHES[branch]) == []
    assert shape(database_url, name) == modelled[branch]


@pytest.mark.infra
@pytest.mark.parametrize("branch", BRANCHES)
def test_downgrading_the_newest_revision_undoes_it_and_upgrading_again_redoes_it(
    database_url: str, new_schema: Callable[[], str], modelled: dict[str, dict[str, object]], branch: str
) -> None:
    """Down to the previous revision gives what upgrading to it gives: for a first revision, no table."""
    previous = revisions(branch)[-2]
    name = _migrated_to(database_url, new_schema, f"{branch}@head")
    downgrade_to(database_url, name, f"{branch}@base" if previous == "base" else previous)
    expected = shape(database_url, _migrated_to(database_url, new_schema, previous))
    assert shape(database_url, name) == expected
    assert current_revisions(database_url, name) == (() if previous == "base" else (previous,))
    upgrade_to(database_url, name, f"{branch}@head")
    assert differences(database_url, name, BRANCHES[branch]) == []
    assert shape(database_url, name) == modelled[branch]


def test_every_branch_is_compared_with_its_models() -> None:
    heads = ScriptDirectory(str(MIGRATIONS)).get_revisions("heads")
    assert {label for head in heads for label in head.branch_labels} == set(BRANCHES)


# --- revisions are frozen -------------------------------------------------------

FIRST_PARTY = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
METADATA_DDL = {"create_all", "drop_all", "reflect"}


def _unfrozen(path: Path) -> list[str]:
    """What in a revision would make its DDL follow today's code instead of staying as written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        modules += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        found += [f"{node.lineno}: imports {m}" for m in modules if m.split(".")[0] in FIRST_PARTY]
        if isinstance(node, ast.Attribute) and node.attr in METADATA_DDL:
            found.append(f"{node.lineno}: calls {node.attr}")
    return found


@pytest.mark.parametrize("path", sorted((MIGRATIONS / "versions").glob("*.py")), ids=lambda p: p.name)
def test_a_revision_is_frozen_ddl_that_reads_no_project_code(path: Path) -> None:
    assert _unfrozen(path) == []
