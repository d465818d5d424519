"""schemathesis against the native API's OpenAPI document: generated requests to the real
app with a real PostgreSQL and a valid token; no 5xx, and every answer as documented."""

from importlib import resources

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from driftwood import library
from driftwood.api.tokens import create_token
from driftwood.models import Visibility

schema = schemathesis.openapi.from_path(str(resources.files("driftwood") / "openapi.yaml"))


@pytest.fixture
def token(session, alice) -> str:
    # Something to list, fetch, change and delete, of each visibility.
    for n, visibility in enumerate(Visibility):
        library.create_bookmark(
            session,
            alice,
            url=f"https://e.example/{n}",
            title=f"t{n}",
            visibility=visibility,
            tags=[f"tag{n}"],
        )
    _, key = create_token(session, alice, "schemathesis")
    session.commit()
    return key


# The API is as lenient as linkding's (a negative offset counts from 0, `null` leaves a
# field as it is), so requests outside the document are not required to fail.
LENIENT = [schemathesis.checks.negative_data_rejection]


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_does_what_its_document_says(case, app, token) -> None:
    # This test's app (inside its database transaction), also for the checks' own probes.
    case.operation.schema.app = app
    case.call_and_validate(
        app=app,
        base_url="http://localhost",
        headers={"Authorization": f"Token {token}"},
        excluded_checks=LENIENT,
    )
