"""PostgreSQL roles on a real database: the API's role reads and is refused every write; the projector's writes read models only.

Its own owner role (CREATEROLE, made by the local cluster's superuser) and
database, so the shared stack's roles are left alone. With the owner's
connection (no service roles) every write below succeeds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from aitrader.stack import postgres as local_postgres
from eventlog.endpoints import libpq_url
from projections.db import auth_schema, connect
from projections.migrate import upgrade
from projections.roles import ServiceRoles, ensure_login, grant
from tests.infra import Endpoint

pytestmark = pytest.mark.infra
SCHEMA = "aitrader"


@dataclass(frozen=True)
class Cluster:
    owner_url: str
    roles: ServiceRoles
    passwords: dict[str, str]

    def url_as(self, role: str) -> str:
        owner = self.owner_url.split("//", 1)[1].split("@", 1)[0]
        return self.owner_url.replace(owner, f"{role}:{self.passwords[role]}", 1)


@pytest.fixture(scope="module")
def cluster(database_endpoint: Endpoint) -> Iterator[Cluster]:
    if database_endpoint.source != "local":
        pytest.skip("makes its own roles with the local cluster's superuser; this session's database comes from elsewhere")
    pg = local_postgres.local_cluster()
    assert pg is not None
    tag = secrets.token_hex(4)
    owner, database = f"aitr_owner_{tag}", f"aitr_roles_{tag}"
    roles = ServiceRoles(projector=f"aitr_projector_{tag}", api=f"aitr_api_{tag}")
    owner_password = secrets.token_urlsafe(16)
    local_postgres._psql(pg, f"CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD '{owner_password}'")
    local_postgres._psql(pg, f"CREATE DATABASE {database} OWNER {owner}")
    url = f"postgresql+psycopg://{owner}:{owner_password}@127.0.0.1:{pg.port}/{database}"
    passwords = {roles.projector: secrets.token_urlsafe(16), roles.api: secrets.token_urlsafe(16)}
    try:
        upgrade(url, SCHEMA)
        with connect(url, SCHEMA) as conn:
            for role, password in passwords.items():
                ensure_login(conn, role, password)
            grant(conn, SCHEMA, roles)
        yield Cluster(url, roles, passwords)
    finally:
        local_postgres._psql(pg, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        for role in (roles.projector, roles.api, owner):
            local_postgres._psql(pg, f"DROP ROLE IF EXISTS {role}")


INSERT_MODEL = "INSERT INTO projection_offsets (projection, topic, partition, next_offset) VALUES ('p', 't', 0, 1)"
# Qualified: a role without USAGE on the auth schema would otherwise just not find the table.
INSERT_KEY = f"INSERT INTO {auth_schema(SCHEMA)}.api_keys (key_id, name, role, key_hash) VALUES ('k', 'n', 'ops', 'h')"


def run(url: str, schema: str, statement: str) -> None:
    with psycopg.connect(libpq_url(url), options=f"-csearch_path={schema}") as conn:
        conn.execute(statement)


def test_the_api_reads_but_cannot_write_a_read_model_or_a_key(cluster: Cluster) -> None:
    api = cluster.url_as(cluster.roles.api)
    run(api, SCHEMA, "SELECT count(*) FROM projection_offsets")
    run(api, auth_schema(SCHEMA), "SELECT count(*) FROM api_keys")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(api, SCHEMA, INSERT_MODEL)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(api, auth_schema(SCHEMA), INSERT_KEY)


def test_the_projector_writes_read_models_but_not_keys(cluster: Cluster) -> None:
    projector = cluster.url_as(cluster.roles.projector)
    run(projector, SCHEMA, INSERT_MODEL)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(projector, auth_schema(SCHEMA), INSERT_KEY)


def test_tables_created_later_follow_the_grants(cluster: Cluster) -> None:
    run(cluster.owner_url, SCHEMA, "CREATE TABLE later_model (id int)")
    run(cluster.url_as(cluster.roles.projector), SCHEMA, "INSERT INTO later_model VALUES (1)")
    run(cluster.url_as(cluster.roles.api), SCHEMA, "SELECT * FROM later_model")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(cluster.url_as(cluster.roles.api), SCHEMA, "INSERT INTO later_model VALUES (2)")
