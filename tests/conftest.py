"""Shared test helpers: fixtures for the app live below, the engine fixtures in tests/docker/."""

import os

import pytest
from hypothesis import settings

# Tests never assert timings (bench/ measures them): on a loaded two-core CI machine a slow
# example must not fail a property test.
settings.register_profile("driftwood", deadline=None)
settings.load_profile("driftwood")


def require(available: bool, reason: str) -> None:
    """Skip a test whose prerequisite is missing on a laptop, but fail it in CI.

    A skipped suite must not look green in CI (CI=true), where every prerequisite is
    installed by .ci/run.
    """
    if available:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


# A settings mapping that passes validation; unit tests never open the database, so the
# URL only has to parse.
TEST_SETTINGS = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "DATABASE_URL": "postgresql+psycopg://driftwood@127.0.0.1:9/driftwood",
}


@pytest.fixture
def app():
    from driftwood import create_app

    return create_app(dict(TEST_SETTINGS))


@pytest.fixture
def client(app):
    return app.test_client()
