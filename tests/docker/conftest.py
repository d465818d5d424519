"""Engine fixtures for the tests that need a running Docker engine (marked `docker`).

On a laptop without an engine these tests skip; in CI (CI=true) they fail, because
`.ci/run` runs `invoke setup` first and a skipped suite must not look green.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from ops import engine
from ops import registry as local_registry
from ops.errors import NO_ENGINE
from ops.version import SourceVersion, source_version
from tests.conftest import require


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker() -> Iterator[DockerClient]:
    """A client for the running engine (whatever the docker context points at)."""
    client = DockerClient()
    try:
        facts = engine.probe(client)
    except DockerException:
        facts = engine.EngineFacts()
    require(facts.answering, NO_ENGINE)
    require(
        engine.version_tuple(facts.server_version) >= engine.MIN_ENGINE,
        f"Docker Engine {facts.server_version} is too old; Driftwood needs 26 or newer",
    )
    yield client


@pytest.fixture(scope="session")
def registry(docker: DockerClient) -> str:
    """The local registry, "127.0.0.1:5000", once it answers."""
    require(
        local_registry.answering(),
        f"the local registry on {local_registry.ADDRESS} does not answer (run invoke setup)",
    )
    return local_registry.ADDRESS


@pytest.fixture(scope="session")
def source() -> SourceVersion:
    """The version stamps of this checkout, as the build and push tasks compute them."""
    return source_version(Path(__file__).resolve().parents[2])
