"""Schemathesis against the OpenAPI spec, on a real uvicorn over loopback: no 500, and no 503 while all is up.

Every operation of the spec gets generated requests (valid and invalid by the
spec), each with a key of a role the operation admits, so they reach the
handlers rather than stopping at 401/403; the rate limits are lifted. The run
is bounded by ``EXAMPLES`` per operation (about a minute on our 2 cores).
The database and broker are real and up, so any 503 is a failure too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.settings import ApiSettings
from tests.integration.conftest import World, bearer, served
from tests.integration.test_api_hostile import ACCESS, notary_key

pytestmark = pytest.mark.infra

EXAMPLES = 40


# The spec as the application states it; building the app connects to nothing (that happens on startup).
SCHEMA = schemathesis.openapi.from_dict(create_app(ApiSettings("postgresql+psycopg://spec@127.0.0.1:1/spec", "spec")).openapi())
LABELS = sorted(result.ok().label for result in SCHEMA.get_all_operations())
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def base_url(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_app(world.settings(audit_keys=notary_key(tmp_path_factory.mktemp("notary"))))) as port:
        yield f"http://127.0.0.1:{port}"


@schemathesis.check
def not_unavailable(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """The database and broker are up: a 503 would mean the API gave up on something it should answer."""
    if response.status_code == 503:
        raise AssertionError(f"503 while everything is up: {response.text[:300]}")
    return None


def test_every_operation_is_generated_for() -> None:
    assert {tuple(label.split(" ", 1)) for label in LABELS} == set(ACCESS)


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
@pytest.mark.parametrize("label", LABELS)
def test_no_generated_request_gets_a_5xx(label: str, mode: GenerationMode, base_url: str, world: World) -> None:
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    allowed = ACCESS[(operation.method.upper(), operation.path)]
    headers = {} if allowed is None else bearer(world.keys[sorted(allowed)[0]])  # a role the operation admits

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=[not_a_server_error, not_unavailable])

    try:
        run()
    except Unsatisfiable:
        # Only in negative mode: every parameter is a free string, so nothing breaks the spec (hostile values
        # for those are test_api_hostile's).
        assert mode is GenerationMode.NEGATIVE
        pytest.skip(f"{label}: the spec leaves nothing to violate")
