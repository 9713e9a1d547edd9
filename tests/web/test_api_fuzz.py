"""The whole API fuzzed from its own OpenAPI description (schemathesis), positive and negative data.

Every operation, with a real client token over a base holding a submitted demande and its
shared documents: no answer is a 5xx, every status, content type and body matches the
description, and data the description refuses is refused.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from tests.factories import make_service
from tests.web.agent.test_demande import submitted_case
from tests.web.api.conftest import bearer, make_client, token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def api_token(app: Flask, client: FlaskClient, db_session: Session, clock: FrozenClock) -> str:
    service = make_service(db_session, code="petite-enfance")
    submitted_case(app, db_session, clock)
    return token_for(client, make_client(db_session, clock, service))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_described(
    app: Flask, api_token: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11  # every operation the API has, writes included

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=20, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def answers_as_described(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer(api_token), checks=CHECKS)

        answers_as_described()
