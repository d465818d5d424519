"""The host CA reaches a build as the BuildKit secret `ca` and never lands in a layer.

The build downloads over HTTPS with apt's own client, trusting only the secret; then every
layer of the saved image is searched for the bundle and for each certificate in it. The
base (the debian:trixie-slim stand-in or the official image) has no CA certificates, so any
certificate found would be a leak.
"""

import gzip
import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerClient

from ops import ca
from ops.baseimages import load_lock, resolve_refs
from tests.conftest import require

DOCKERFILE = """\
ARG DEBIAN_IMAGE=debian:trixie-slim
FROM ${DEBIAN_IMAGE}
# Only this step sees the CA, at /run/secrets/ca; it trusts nothing else. Readable by all
# (mode 0444: a CA bundle is public) because apt downloads as its unprivileged _apt user.
RUN --mount=type=secret,id=ca,required=true,mode=0444 \\
    /usr/lib/apt/apt-helper -o Acquire::https::CAInfo=/run/secrets/ca \\
        download-file https://deb.debian.org/debian/dists/trixie/Release /tmp/Release \\
    && grep -q '^Codename: trixie' /tmp/Release \\
    && rm /tmp/Release \\
    && echo downloaded-over-https > /ca-secret-was-used
"""


def certificates(bundle: bytes) -> list[bytes]:
    """The first base64 line of each certificate: enough to recognise it anywhere."""
    blocks = bundle.split(b"-----BEGIN CERTIFICATE-----")[1:]
    return [block.strip().splitlines()[0] for block in blocks if block.strip()]


def layer_files(saved: Path) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every regular file in every layer of a `docker save` archive."""
    with tarfile.open(saved) as archive:
        for blob in archive.getmembers():
            if not blob.isfile():
                continue
            data = archive.extractfile(blob).read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if not tarfile.is_tarfile(io.BytesIO(data)):
                continue  # a manifest or config, not a layer
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for member in layer.getmembers():
                    if member.isfile():
                        yield member.name, layer.extractfile(member).read()


@pytest.fixture(scope="module")
def built(docker: DockerClient, tmp_path_factory: pytest.TempPathFactory):
    bundle = ca.host_ca_bundle()
    require(bundle is not None, "the host has no CA bundle to pass as a secret")
    context = tmp_path_factory.mktemp("ca-secret")
    (context / "Dockerfile").write_text(DOCKERFILE)
    tag = f"driftwood-test-ca-secret:{uuid.uuid4().hex[:8]}"
    docker.buildx.build(
        context,
        build_args=resolve_refs(docker, {"debian": load_lock()["debian"]}),
        secrets=ca.build_secrets(),
        tags=[tag],
        load=True,
    )
    try:
        yield tag, bundle, context
    finally:
        docker.image.remove(tag, force=True)


def test_the_build_step_downloaded_over_https_with_the_secret(docker: DockerClient, built) -> None:
    tag, _, _ = built
    output = docker.run(tag, ["cat", "/ca-secret-was-used"], remove=True)
    assert output == "downloaded-over-https"


def test_no_layer_contains_the_ca(docker: DockerClient, built) -> None:
    tag, bundle, workdir = built
    saved = workdir / "image.tar"
    docker.image.save(tag, output=saved)
    content = bundle.read_bytes()
    fingerprints = certificates(content)
    assert fingerprints, f"{bundle} holds no PEM certificates"
    files = list(layer_files(saved))
    assert any(name.endswith("ca-secret-was-used") for name, _ in files), "layers not found"
    for name, data in files:
        assert not (name.endswith("run/secrets/ca") and data), f"{name} holds the secret"
        leaked = [f for f in fingerprints if f in data]
        assert leaked == [], f"{name}: {len(leaked)} certificates of the host bundle"
