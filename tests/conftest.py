"""Shared test helpers: fixtures for the app live below, the engine fixtures in tests/docker/."""

import os

import pytest


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
