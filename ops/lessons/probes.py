"""What the lessons look at: host processes, namespaces, cgroups, HTTP answers, and the
first PostgreSQL container the early chapters start by hand.

Everything is read the way a learner would read it by hand: /proc on the host, the cgroup
files, `docker inspect`; no check trusts a value the engine was merely asked for.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException, NoSuchContainer

from ops.stack import log_tail

T = TypeVar("T")
NAMESPACES = ("pid", "mnt", "net", "uts")
CGROUP_ROOT = Path("/sys/fs/cgroup")
POSTGRES_USER = "driftwood"
POSTGRES_DB = "driftwood"
# PostgreSQL's SSLRequest message: a server answers with one byte, S (TLS on offer) or N.
# A TCP connect alone proves nothing: a transparent proxy accepts connections to any address
# (and answers in its own protocol), so reachability checks speak the server's protocol.
SSL_REQUEST = bytes.fromhex("0000000804d2162f")
POSTGRES_REPLIES = ("S", "N")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


def http_status(url: str, timeout: float = 3.0) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own URL)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def namespaces(pid: int | str) -> dict[str, str]:
    """The namespace ids of process `pid` ("self" for this one), as /proc shows them."""
    return {ns: Path(f"/proc/{pid}/ns/{ns}").readlink().name for ns in NAMESPACES}


def same_pid_namespace(pid: int) -> list[int]:
    """Every process in the PID namespace of host process `pid` (a container's State.Pid):
    the container's processes, `docker exec`'d ones included, as the host numbers them."""
    namespace = Path(f"/proc/{pid}/ns/pid").readlink()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                if (entry / "ns" / "pid").readlink() == namespace:
                    found.append(int(entry.name))
    return sorted(found)


def process_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as fields (Uid, CapEff, NoNewPrivs, Seccomp, ...): the kernel's view."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def cgroup_limits(pid: int) -> dict[str, float | None]:
    """Memory (bytes), CPUs and PIDs limits of the cgroup `pid` is in; None = unlimited.

    Reads cgroup v2 (one unified tree) or v1 (one tree per controller), whichever the host has.
    """
    lines = [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    paths = {
        controller: path for _, controllers, path in lines for controller in controllers.split(",")
    }
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2
        group = CGROUP_ROOT / paths[""].lstrip("/")
        memory = (group / "memory.max").read_text().strip()
        quota, period = (group / "cpu.max").read_text().split()
        pids = (group / "pids.max").read_text().strip()
        return {
            "memory": None if memory == "max" else float(memory),
            "cpus": None if quota == "max" else int(quota) / int(period),
            "pids": None if pids == "max" else float(pids),
        }

    def v1(controller: str, name: str) -> str:
        return (CGROUP_ROOT / controller / paths[controller].lstrip("/") / name).read_text().strip()

    memory = int(v1("memory", "memory.limit_in_bytes"))
    quota, period = int(v1("cpu", "cpu.cfs_quota_us")), int(v1("cpu", "cpu.cfs_period_us"))
    pids = v1("pids", "pids.max")
    return {
        "memory": None if memory >= 2**62 else float(memory),  # v1 says "no limit" with ~2^63
        "cpus": None if quota < 0 else quota / period,
        "pids": None if pids == "max" else float(pids),
    }


def state_dir(root: Path) -> Path:
    """Where a stage keeps what `stage.up` generated (passwords, pid files, logs): gitignored."""
    folder = root / ".cache" / "stage-state"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def generated_secret(root: Path, name: str) -> str:
    """A random secret made on first use and kept (mode 600) for the stage's later runs."""
    path = state_dir(root) / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text()


def remove_container(docker: DockerClient, name: str) -> None:
    with contextlib.suppress(NoSuchContainer):
        docker.container.remove(name, force=True, volumes=True)


def wait_postgres(docker: DockerClient, name: str, timeout: float = 90.0) -> None:
    """Wait until `name` accepts TCP connections; if it exits first, say why from its log."""

    def ready() -> bool:
        state = docker.container.inspect(name).state
        if not state.running:
            tail = log_tail(docker, name, 5)
            raise RuntimeError(f"{name} exited ({state.exit_code}) while starting:\n{tail}")
        return postgres_ready(docker, name)

    wait_for(f"{name} accepting connections", ready, timeout)


def postgres_ready(docker: DockerClient, name: str) -> bool:
    """pg_isready over TCP: false while the image's init step runs its socket-only server."""
    try:
        docker.execute(name, ["pg_isready", "-q", "-h", "127.0.0.1", "-U", POSTGRES_USER])
    except DockerException:
        return False
    return True


def container(docker: DockerClient, name: str) -> Container:
    """The running container `name`, or a clear error telling how to start the stage."""
    try:
        found = docker.container.inspect(name)
    except NoSuchContainer as exc:
        raise LookupError(f"no container {name}: start the stage first (invoke stage.up)") from exc
    if not found.state.running:
        raise LookupError(f"{name} is {found.state.status}: restart it (invoke stage.up)")
    return found


def published_ports(containers: Iterable[Container]) -> list[str]:
    """`NAME PORT on HOST_IP:HOST_PORT` for each port the containers publish on the host, as
    `docker ps` shows them (a stopped container publishes nothing)."""
    return [
        f"{found.name} {port} on {binding['HostIp']}:{binding['HostPort']}"
        for found in containers
        for port, bindings in (found.network_settings.ports or {}).items()
        for binding in bindings or []
    ]


# What a Prometheus server on the frontend network reads: the app's own port (nginx does not
# serve /metrics). In Python, as the production image has no shell and no curl.
SCRAPE = (
    "import urllib.request as r; print(r.urlopen('http://127.0.0.1:8000/metrics').read().decode())"
)


def scrape_metrics(docker: DockerClient, app: Container | str) -> str:
    """The app's /metrics text, read from inside its container."""
    return str(docker.container.execute(app, ["python", "-c", SCRAPE]))


def postgres_reply(host: str, port: int = 5432, timeout: float = 3.0) -> str:
    """The first byte `host:port` answers an SSLRequest with, from here ("" if none):
    "S" or "N" only from a PostgreSQL server."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(SSL_REQUEST)
            return connection.recv(1).decode(errors="replace")
    except OSError:
        return ""


def postgres_reply_from(
    docker: DockerClient, inside: Container | str, host: str, *, python: bool = False
) -> str:
    """The same probe run inside container `inside` ("" when nothing answers): with bash's
    /dev/tcp, or with `python` for images without a shell."""
    if python:
        script = (
            f"import socket; s = socket.create_connection(({host!r}, 5432), 3); "
            f"s.sendall({SSL_REQUEST!r}); print(s.recv(1).decode(errors='replace'))"
        )
        try:
            return str(docker.execute(inside, ["python", "-c", script])).strip()
        except DockerException:
            return ""
    request = "".join(f"\\x{byte:02x}" for byte in SSL_REQUEST)
    probe = f"exec 3<>/dev/tcp/{host}/5432 && printf '{request}' >&3 && timeout 3 head -c1 <&3"
    # The outer timeout bounds the connect itself: a dropped SYN would wait for minutes.
    command = ["bash", "-c", f'timeout 5 bash -c "{probe}" 2>/dev/null || true']
    return str(docker.execute(inside, command)).strip()
