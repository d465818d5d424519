"""The offline base images: seeded, usable as bases for both platforms, and true to the
documented interface of the official images Driftwood relies on.

Each test works the same against the official image (on a machine that can pull it) as
against the stand-in, since it only uses that documented interface.
"""

import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from ops import standins
from ops.baseimages import load_lock, resolve_refs
from ops.registry import delete_image

LOCK = load_lock()
HELLO = """\
ARG PYTHON_IMAGE=python:3.13-slim-trixie
FROM ${PYTHON_IMAGE}
# python, venv and pip all work, on every platform (arm64 runs this under QEMU).
RUN python -m venv /opt/venv && /opt/venv/bin/pip --version > /pip-version
COPY hello.py /
CMD ["/opt/venv/bin/python", "/hello.py"]
"""


def unique(name: str) -> str:
    return f"driftwood-test-{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def seeded(docker: DockerClient) -> dict[str, standins.Seeded]:
    """Every base image in the lock, seeded (already done by `invoke setup` in CI)."""
    return {result.image.name: result for result in standins.seed(docker, print)}


@pytest.fixture(scope="module")
def refs(docker: DockerClient, seeded, registry: str) -> dict[str, str]:
    return resolve_refs(docker)


def test_every_base_is_here_under_the_name_the_files_use(docker: DockerClient, seeded) -> None:
    for image in LOCK.values():
        inspected = docker.image.inspect(image.ref)
        if seeded[image.name].outcome == "pulled":
            continue
        labels = inspected.config.labels
        assert labels["io.driftwood.standin.for"] == image.ref
        assert labels["io.driftwood.standin.debian-suite"].split()[0] == "trixie"
        assert f"{image.version_package}=" in labels["io.driftwood.standin.packages"]
        # Each keeps its tag's promise (nginx 1.30 comes from unstable for it).
        assert seeded[image.name].version_note() is None


def test_packages_from_a_newer_suite_leave_no_trace_in_apt(docker: DockerClient, seeded) -> None:
    nginx = LOCK["nginx"]
    if seeded["nginx"].outcome == "pulled":
        pytest.skip(f"{nginx.ref} is the official image here")
    sources = docker.run(nginx.ref, ["cat", "/etc/apt/sources.list"], entrypoint="", remove=True)
    assert " trixie main" in sources
    assert f" {nginx.newer_suite} " not in sources
    policy = docker.run(nginx.ref, ["apt-config", "dump"], entrypoint="", remove=True)
    assert "Check-Valid-Until" not in policy
    version = ["dpkg-query", "--show", "--showformat=${Version}", "nginx"]
    assert docker.run(nginx.ref, version, entrypoint="", remove=True).startswith("1.30.")


@pytest.mark.parametrize("name", ["debian", "python", "nginx"])
def test_multi_platform_stand_ins_are_oci_indexes_in_the_registry(
    docker: DockerClient, seeded, registry: str, name: str
) -> None:
    image = LOCK[name]
    if seeded[name].outcome == "pulled":
        pytest.skip(f"{image.ref} is the official image here")
    index = docker.buildx.imagetools.inspect(image.standin_ref)
    assert index.media_type == "application/vnd.oci.image.index.v1+json"
    platforms = {f"{m.platform.os}/{m.platform.architecture}" for m in index.manifests}
    assert platforms == set(image.platforms)


@pytest.fixture(scope="module", params=["by-name", "pinned"])
def hello(request, docker: DockerClient, refs, registry: str, tmp_path_factory) -> Iterator[str]:
    """A small image FROM the Python base, both platforms, pushed to the local registry.

    `by-name` builds `FROM python:3.13-slim-trixie` as written (the local multi-platform
    image); `pinned` passes the ref resolve_refs gives, as invoke does.
    """
    context = tmp_path_factory.mktemp("hello")
    (context / "Dockerfile").write_text(HELLO)
    (context / "hello.py").write_text(
        "import platform, sys\nprint(platform.machine(), sys.version.split()[0])\n"
    )
    build_args = {"PYTHON_IMAGE": refs["PYTHON_IMAGE"]} if request.param == "pinned" else {}
    repository = unique("hello")
    ref = f"{registry}/{repository}:{request.param}"
    docker.buildx.build(
        context,
        build_args=build_args,
        platforms=["linux/amd64", "linux/arm64"],
        output={"type": "image", "name": ref, "push": "true", "oci-mediatypes": "true"},
        provenance=False,
    )
    try:
        yield ref
    finally:
        if docker.image.exists(ref):
            docker.image.remove(ref, force=True)
        delete_image(repository, request.param)  # its layers go at the next `registry.gc`


@pytest.mark.parametrize(("platform", "machine"), [("amd64", "x86_64"), ("arm64", "aarch64")])
def test_image_built_from_the_python_base_runs_on_both_platforms(
    docker: DockerClient, hello: str, platform: str, machine: str
) -> None:
    docker.image.remove(hello, force=True)  # run what the registry serves, not a local copy
    output = docker.run(hello, platform=f"linux/{platform}", pull="always", remove=True)
    assert output.split()[0] == machine
    assert output.split()[1].startswith("3.13")


def tiny_wheel(directory: Path) -> Path:
    """A minimal pure-Python wheel, so pip can install without reaching an index."""
    path = directory / "driftwood_probe-1.0-py3-none-any.whl"
    files = {
        "driftwood_probe.py": "ANSWER = 42\n",
        "driftwood_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\n"
        "Name: driftwood-probe\nVersion: 1.0\n",
        "driftwood_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "driftwood_probe-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in {**files, "driftwood_probe-1.0.dist-info/RECORD": record}.items():
            wheel.writestr(name, text)
    return path


def test_python_base_has_pip_install_and_venv_like_the_official_image(
    docker: DockerClient, seeded, tmp_path: Path
) -> None:
    wheel = tiny_wheel(tmp_path)
    # Into the system Python, as root, like `RUN pip install ...` on the official image
    # (Debian's PEP 668 marker would refuse it), then into a venv.
    script = (
        f"pip install --no-index /wheels/{wheel.name}"
        " && python -c 'import driftwood_probe; print(driftwood_probe.ANSWER)'"
        " && python -m venv /tmp/venv"
        f" && /tmp/venv/bin/pip install --no-index /wheels/{wheel.name}"
        " && /tmp/venv/bin/python -c 'import driftwood_probe, sys; print(sys.prefix)'"
    )
    output = docker.run(
        LOCK["python"].ref, ["sh", "-c", script], volumes=[(tmp_path, "/wheels", "ro")], remove=True
    )
    lines = output.splitlines()
    assert "42" in lines  # imported from the system Python
    assert lines[-1] == "/tmp/venv"


@pytest.fixture(params=["as-root", "as-postgres"])
def postgres(request, docker: DockerClient, seeded, tmp_path: Path) -> Iterator[Container]:
    """Started as root (the entrypoint prepares PGDATA, then drops to postgres) and with
    `--user postgres` from the start (no root at all, as compose.yaml runs it)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "db-password").write_text("s3cret-from-a-file\n")
    init = tmp_path / "initdb"
    init.mkdir()
    (init / "10-schema.sql").write_text("CREATE TABLE seeded (note text);\n")
    (init / "20-row.sh").write_text(
        'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
        " -c \"INSERT INTO seeded VALUES ('from an init script')\"\n"
    )
    container = docker.run(
        LOCK["postgres"].ref,
        name=unique("postgres"),
        detach=True,
        envs={
            "POSTGRES_USER": "driftwood",
            "POSTGRES_DB": "bookmarks",
            "POSTGRES_PASSWORD_FILE": "/run/secrets/db-password",
        },
        volumes=[(secrets, "/run/secrets", "ro"), (init, "/docker-entrypoint-initdb.d", "ro")],
        user="postgres" if request.param == "as-postgres" else None,
    )
    try:
        wait_for(lambda: _tcp_ready(docker, container), what="PostgreSQL on TCP")
        yield container
    finally:
        container.remove(force=True, volumes=True)


def _tcp_ready(docker: DockerClient, container: Container) -> bool:
    try:
        docker.execute(container, ["pg_isready", "-h", "127.0.0.1", "-U", "driftwood"])
    except DockerException:
        return False
    return True


def wait_for(ready, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout} s")
        time.sleep(0.5)


def psql(docker: DockerClient, container: Container, password: str, sql: str) -> str:
    return docker.execute(
        container,
        ["psql", "-h", "127.0.0.1", "-U", "driftwood", "-d", "bookmarks", "-At", "-c", sql],
        envs={"PGPASSWORD": password},
    )


def test_postgres_takes_its_password_from_a_file_and_runs_init_scripts(
    docker: DockerClient, postgres: Container
) -> None:
    # Over TCP, where the password is checked (scram-sha-256).
    assert psql(docker, postgres, "s3cret-from-a-file", "SELECT note FROM seeded") == (
        "from an init script"
    )
    with pytest.raises(DockerException):
        psql(docker, postgres, "wrong", "SELECT 1")
    # Read from the file for initdb, and not handed on to the server's environment.
    environ = docker.execute(postgres, ["cat", "/proc/1/environ"], user="postgres")
    assert "s3cret-from-a-file" not in environ


def test_postgres_runs_as_the_postgres_user_as_pid_1(docker: DockerClient, postgres) -> None:
    status = docker.execute(postgres, ["cat", "/proc/1/status"])
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Name"] == "postgres"
    postgres_uid = docker.execute(postgres, ["id", "-u", "postgres"])
    assert fields["Uid"].split()[0] == postgres_uid != "0"


def test_postgres_stops_cleanly_within_5_s_on_sigterm(docker: DockerClient, postgres) -> None:
    started = time.monotonic()
    docker.kill(postgres, signal="SIGTERM")
    exit_code = docker.wait(postgres)
    elapsed = time.monotonic() - started
    assert exit_code == 0
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert "database system is shut down" in docker.logs(postgres)


def test_nginx_renders_a_template_into_conf_d(docker: DockerClient, seeded, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "default.conf.template").write_text(
        "server {\n"
        "    listen ${NGINX_PORT};\n"
        '    location / { return 200 "hello ${GREETING} from $host\\n"; }\n'
        "}\n"
    )
    container = docker.run(
        LOCK["nginx"].ref,
        name=unique("nginx"),
        detach=True,
        envs={"NGINX_PORT": "8080", "GREETING": "learner"},
        volumes=[(templates, "/etc/nginx/templates", "ro")],
        publish=[("127.0.0.1:", 8080)],
    )
    try:
        rendered = docker.execute(container, ["cat", "/etc/nginx/conf.d/default.conf"])
        assert "listen 8080;" in rendered
        assert "$host" in rendered  # nginx's own variables are left alone
        port = container.network_settings.ports["8080/tcp"][0]["HostPort"]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        wait_for(lambda: _answers(opener, port), what="nginx")
        with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.read().decode() == "hello learner from 127.0.0.1\n"
        status = docker.execute(container, ["cat", "/proc/1/status"])
        assert "Name:\tnginx" in status
    finally:
        container.remove(force=True)


def _answers(opener, port: str) -> bool:
    try:
        with opener.open(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except OSError:
        return False
