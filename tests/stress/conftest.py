"""The app-level half of the stress suite (issue 8): isolation, hostile input, schemathesis.

The PostgreSQL server, the app and the alice/bob users are the integration suite's
fixtures, imported rather than copied so both suites build them one way. Every test here
is marked `stress`; those that use the database are also marked `integration`.
"""

from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401 - fixtures, which pytest finds by name
    alice,
    app,
    bob,
    connection,
    database_url,
    engine,
    login,
    make_user,
    session,
    sessions,
)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.stress)
            if "database_url" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.integration)
