"""Stage tests: each chapter's lesson claims, run against the chapter's running stage
(helpers in tests/stages/lessonrun.py)."""

import pytest
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from tests.conftest import require


@pytest.fixture(scope="session")
def docker() -> DockerClient:
    client = DockerClient()
    try:
        client.version()
        running = True
    except DockerException:
        running = False
    require(running, "needs a running Docker engine: invoke setup")
    return client
