"""The registry client against a tiny local HTTP server standing in for the registry API."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ops import registry

DIGEST = "sha256:" + "c" * 64


class FakeRegistry(BaseHTTPRequestHandler):
    accepts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/" else 404)
        self.end_headers()

    def do_HEAD(self) -> None:
        FakeRegistry.accepts.append(self.headers.get("Accept", ""))
        if self.path == "/v2/library/python/manifests/3.13-slim-trixie":
            self.send_response(200)
            self.send_header("Docker-Content-Digest", DIGEST)
        else:
            self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def address() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_answering(address: str) -> None:
    assert registry.answering(address)


def test_not_answering_when_nothing_listens() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    port = server.server_address[1]
    server.server_close()
    assert not registry.answering(f"127.0.0.1:{port}", timeout=0.5)


def test_manifest_digest_asks_for_indexes_first(address: str) -> None:
    assert registry.manifest_digest("library/python", "3.13-slim-trixie", address) == DIGEST
    assert FakeRegistry.accepts[-1].startswith("application/vnd.oci.image.index.v1+json")
    assert registry.manifest_digest("library/python", "missing", address) is None


def test_a_refusal_keeps_its_status_and_an_absent_registry_says_how_to_start_one(
    address: str,
) -> None:
    with pytest.raises(registry.RegistryError) as refused:
        registry.call(address, "library/python/manifests/missing")
    assert refused.value.status == 404
    assert "GET /v2/library/python/manifests/missing answered 404" in str(refused.value)
    assert registry.delete_image("library/python", "missing", address) == []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    port = server.server_address[1]
    server.server_close()
    with pytest.raises(registry.RegistryError, match="`invoke setup` starts the local one"):
        registry.call(f"127.0.0.1:{port}", "", timeout=0.5)
