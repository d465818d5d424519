"""Chapter 07, Networking: nginx in front, the database on a network nothing else can reach.

The stage is chapter 06's, with nginx as the one entrance, still started by hand with
`docker run` (Compose, chapter 08, will do exactly this from a file):

    host 127.0.0.1:8007 -> nginx:8080   [frontend]
                           app:8000     [frontend, backend]
                           db:5432      [backend: internal, and its bridge has no address]

Reachability is always checked by speaking PostgreSQL's protocol (probes.postgres_reply):
on this network a transparent proxy accepts a TCP connection to any address, so a connect
that succeeds proves nothing. The claims' throwaway containers and networks are named
`driftwood-stage-07-*` too, and removed by the claim that made them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException, NoSuchNetwork
from python_on_whales.utils import run

from ops.baseimages import resolve_refs
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.ch04 import ImageStage
from ops.lessons.probes import (
    POSTGRES_REPLIES,
    container,
    namespaces,
    postgres_reply,
    postgres_reply_from,
    published_ports,
    remove_container,
)

NGINX_CONF = Path("deploy/nginx/nginx.conf")
# Without an IPv4 address on the bridge the host has no route into the network.
INHIBIT_IPV4 = "com.docker.network.bridge.inhibit_ipv4"


def create_network(
    docker: DockerClient, name: str, *, internal: bool = False, options: tuple[str, ...] = ()
) -> None:
    """`docker network create`, with --internal (python-on-whales 0.81 does not wrap it)."""
    command = [*docker.network.docker_cmd, "network", "create"]
    command += ["--internal"] if internal else []
    command += [f"--opt={option}" for option in options]
    run([*command, name])


def remove_network(docker: DockerClient, name: str) -> None:
    with contextlib.suppress(NoSuchNetwork):
        docker.network.remove(name)


@dataclass(frozen=True)
class ProxiedStage(ImageStage):
    """Chapter 06's stage behind nginx, on two networks: the app joins both, nginx only the
    frontend, the database only the backend. Only nginx publishes a port."""

    @property
    def prefix(self) -> str:
        return f"driftwood-stage-{self.number:02d}"

    @property
    def network(self) -> str:
        return f"{self.prefix}-backend"

    @property
    def frontend(self) -> str:
        return f"{self.prefix}-frontend"

    @property
    def networks(self) -> tuple[str, ...]:
        return (self.frontend, self.network)

    @property
    def nginx(self) -> str:
        return f"{self.prefix}-nginx"

    @property
    def containers(self) -> tuple[str, ...]:
        return (self.nginx, self.app, self.db)

    def app_options(self, root: Path) -> dict[str, object]:
        options = super().app_options(root)
        # Exactly one proxy (nginx) sets X-Forwarded-*: the app trusts one hop, no more.
        options["envs"] = {**options["envs"], "DRIFTWOOD_TRUSTED_PROXIES": "1"}  # type: ignore[dict-item]
        return options

    def create_networks(self, docker: DockerClient) -> None:
        docker.network.create(self.frontend)
        # internal: no gateway, so nothing on it reaches out. inhibit_ipv4: the bridge gets
        # no address, so the host cannot reach in either (internal alone allows that).
        create_network(docker, self.network, internal=True, options=(f"{INHIBIT_IPV4}=true",))

    def start_app(self, ctx: LessonContext, options: dict[str, object]) -> None:
        """The app on the backend, then also on the frontend as `app`; nginx publishes."""
        docker = ctx.docker
        docker.run(self.image, detach=True, name=self.app, restart="on-failure:5", **options)  # type: ignore[arg-type]
        # A running container joins a second network; `app` is the name nginx proxies to.
        docker.network.connect(self.frontend, self.app, alias="app")
        docker.run(
            resolve_refs(docker)["NGINX_IMAGE"],
            detach=True,
            name=self.nginx,
            networks=[self.frontend],
            # The stage's only published port, on loopback: other machines cannot connect.
            publish=[(f"127.0.0.1:{self.port}", 8080)],
            volumes=[(str(ctx.root / NGINX_CONF), "/etc/nginx/nginx.conf", "ro")],
            restart="unless-stopped",
        )


STAGE = ProxiedStage(number=7, port=8007, target="runtime", volume="driftwood-stage-07-data")
LESSON = Lesson(chapter=7, title="Networking", up=STAGE.up, down=STAGE.down)


# --- reading the host's routes and a container's interfaces (pure, unit-tested) -----------


def route_for(address: str, table: str) -> str:
    """The interface the host sends `address` through, from /proc/net/route's text: the
    longest matching prefix wins, as `ip route get` would answer (IPv4 only)."""
    target = int(ipaddress.IPv4Address(address))
    best: tuple[int, str] | None = None
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        # Destination and mask are little-endian hex: 0100A8C0 is 192.168.0.1.
        destination = int.from_bytes(bytes.fromhex(fields[1]), "little")
        mask = int.from_bytes(bytes.fromhex(fields[7]), "little")
        if target & mask == destination and (best is None or mask.bit_count() > best[0]):
            best = (mask.bit_count(), fields[0] if mask else f"{fields[0]} (default route)")
    return best[1] if best else "no route"


def interfaces(proc_net_dev: str) -> list[str]:
    """The interface names in /proc/net/dev's text (two header lines, then `name: counters`)."""
    return [line.split(":", 1)[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line]


def describe_reply(reply: str) -> str:
    if reply in POSTGRES_REPLIES:
        return f"PostgreSQL answered {reply!r}"
    return f"not PostgreSQL ({reply!r})" if reply else "no answer"


# --- the claims ---------------------------------------------------------------------------


def _refs(ctx: LessonContext) -> dict[str, str]:
    return ctx.once("refs", lambda: resolve_refs(ctx.docker))


def _addresses(found: Container) -> dict[str, str]:
    """{network: the container's IPv4 address there}."""
    return {name: s.ip_address for name, s in found.network_settings.networks.items()}


@LESSON.claim(
    "The app answers through nginx, the stage's only entrance.",
    hint=f"invoke stage.up 7; `docker logs {STAGE.nginx}`: nginx must resolve `app` on "
    f"{STAGE.frontend} when it starts (the app joins that network first).",
)
def answers_through_nginx(ctx: LessonContext) -> Result:
    container(ctx.docker, STAGE.nginx)
    headers: Message | None = None
    try:
        with urllib.request.urlopen(STAGE.url + "readyz", timeout=5) as response:  # noqa: S310 (our own URL)
            status, headers = response.status, response.headers
    except OSError as exc:
        return Result(False, f"{STAGE.url}readyz: {exc}")
    server = headers.get("Server", "")
    return Result.expect(
        status == 200 and server == "nginx",
        f"{STAGE.url}readyz: {status}, Server: {server!r} (gunicorn would say 'gunicorn')",
        status=status,
    )


@LESSON.claim(
    "Exactly one port is published, on 127.0.0.1: nginx's; the app and the database publish none.",
    hint="`docker ps --filter name=driftwood-stage-07`: only nginx has `-p "
    "127.0.0.1:8007:8080`; a port published without an address listens on every interface.",
)
def one_published_port(ctx: LessonContext) -> Result:
    published = published_ports(container(ctx.docker, name) for name in STAGE.containers)
    expected = [f"{STAGE.nginx} 8080/tcp on 127.0.0.1:{STAGE.port}"]
    return Result.expect(
        published == expected,
        "published: " + ("; ".join(published) or "nothing"),
        published_ports=len(published),
    )


@LESSON.claim(
    "The database is unreachable from nginx, by name and by address; the app, on the "
    "backend network with it, reaches it.",
    hint=f"nginx must be on {STAGE.frontend} only (`docker inspect {STAGE.nginx}` "
    f".NetworkSettings.Networks) and {STAGE.network} must be internal.",
)
def db_unreachable_from_nginx(ctx: LessonContext) -> Result:
    docker = ctx.docker
    db = container(docker, STAGE.db)
    from_app = postgres_reply_from(docker, STAGE.app, "db")
    # DNS answers per network: on the frontend alone, nginx cannot even look `db` up.
    db_name = resolve(docker, STAGE.nginx, "db")
    addresses = list(_addresses(db).values())
    from_nginx = {host: postgres_reply_from(docker, STAGE.nginx, host) for host in addresses}
    reached = [host for host, reply in from_nginx.items() if reply in POSTGRES_REPLIES]
    return Result.expect(
        from_app in POSTGRES_REPLIES and db_name is None and bool(addresses) and not reached,
        f"app -> db: {describe_reply(from_app)}; `db` in nginx: {db_name or 'no such name'}; "
        + "; ".join(f"nginx -> {host}: {describe_reply(r)}" for host, r in from_nginx.items()),
    )


@LESSON.claim(
    "The database is unreachable from the host: its network's bridge has no address, so "
    "the host has no route to it.",
    hint=f"`docker network inspect {STAGE.network}`: Internal true and option "
    f"{INHIBIT_IPV4}=true; `ip route get ADDRESS` must not name the network's bridge.",
)
def db_unreachable_from_host(ctx: LessonContext) -> Result:
    table = Path("/proc/net/route").read_text()
    seen = []
    reached = False
    for network, address in _addresses(container(ctx.docker, STAGE.db)).items():
        reply = postgres_reply(address)
        reached = reached or reply in POSTGRES_REPLIES
        seen.append(f"{address} ({network}): route {route_for(address, table)}, "
                    f"{describe_reply(reply)}")  # fmt: skip
    return Result.expect(bool(seen) and not reached, "; ".join(seen))


@LESSON.claim(
    "`--internal` alone does not keep the host out: on an internal network whose bridge "
    "has an address, the host reaches the database.",
    hint="Docker documents it: the host may talk to any container address on an internal "
    f"network. Create the network with `-o {INHIBIT_IPV4}=true` as well.",
)
def internal_alone_lets_the_host_in(ctx: LessonContext) -> Result:
    docker = ctx.docker
    network = f"{STAGE.prefix}-internal-only"
    remove_network(docker, network)
    create_network(docker, network, internal=True)
    try:
        docker.network.connect(network, STAGE.db)
        try:
            address = _addresses(docker.container.inspect(STAGE.db))[network]
            reply = postgres_reply(address)
            route = route_for(address, Path("/proc/net/route").read_text())
        finally:
            docker.network.disconnect(network, STAGE.db)
    finally:
        remove_network(docker, network)
    return Result.expect(
        reply in POSTGRES_REPLIES,
        f"{STAGE.db} on {network} (--internal only) at {address}: route {route}, "
        f"{describe_reply(reply)}",
    )


def resolve(docker: DockerClient, inside: str, name: str) -> str | None:
    """The address `name` resolves to inside the container, or None when it does not."""
    try:
        return str(docker.execute(inside, ["getent", "hosts", name])).split()[0]
    except DockerException:  # getent exits 2: no such name
        return None


def nameserver(docker: DockerClient, inside: str) -> str:
    lines = str(docker.execute(inside, ["cat", "/etc/resolv.conf"])).splitlines()
    return next((line.split()[1] for line in lines if line.startswith("nameserver")), "none")


@contextlib.contextmanager
def idle_pair(ctx: LessonContext) -> Iterator[tuple[str, str]]:
    """Two throwaway containers on the default bridge (their names), removed afterwards."""
    names = (f"{STAGE.prefix}-dns-a", f"{STAGE.prefix}-dns-b")
    try:
        for name in names:
            ctx.docker.run(
                _refs(ctx)["DEBIAN_IMAGE"],
                ["sleep", "infinity"],
                detach=True,
                name=name,
                init=True,  # sleep as PID 1 would ignore SIGTERM: removal would wait
            )
        yield names
    finally:
        for name in names:
            remove_container(ctx.docker, name)


@LESSON.claim(
    "Names resolve on a user-defined network and not on the default bridge.",
    hint="On the default bridge a container gets the host's resolv.conf and no names; on "
    "a user-defined network Docker's embedded DNS (127.0.0.11) answers container names "
    "and aliases.",
)
def names_resolve_on_user_networks(ctx: LessonContext) -> Result:
    docker = ctx.docker
    network = f"{STAGE.prefix}-dns"
    remove_network(docker, network)
    with idle_pair(ctx) as (a, b):
        on_bridge = resolve(docker, a, b)
        bridge_dns = nameserver(docker, a)
        docker.network.create(network)
        try:
            for one in (a, b):
                docker.network.connect(network, one)
            on_network = resolve(docker, a, b)
            network_dns = nameserver(docker, a)
            b_address = _addresses(docker.container.inspect(b))[network]
        finally:
            for one in (a, b):
                with contextlib.suppress(DockerException):
                    docker.network.disconnect(network, one)
            remove_network(docker, network)
    return Result.expect(
        on_bridge is None and on_network == b_address,
        f"default bridge: {b} {on_bridge or 'does not resolve'} (nameserver {bridge_dns}); "
        f"on {network}: {b} is {on_network} (nameserver {network_dns})",
    )


@LESSON.claim(
    "A `none` container has only the loopback interface; a `host` container shares the "
    "host's network namespace and sees its interfaces.",
    hint="--network none: a network namespace with lo only (batch jobs that must not talk); "
    "--network host: no namespace of its own, no isolation, -p is ignored.",
)
def none_and_host_modes(ctx: LessonContext) -> Result:
    debian = _refs(ctx)["DEBIAN_IMAGE"]
    script = ["sh", "-c", "readlink /proc/self/ns/net; cat /proc/net/dev"]
    alone = str(ctx.docker.run(debian, script, networks=["none"], remove=True)).splitlines()
    shared = str(ctx.docker.run(debian, script, networks=["host"], remove=True)).splitlines()
    ours = namespaces("self")["net"]
    host_interfaces = interfaces(Path("/proc/net/dev").read_text())
    none_interfaces = interfaces("\n".join(alone[1:]))
    host_mode_interfaces = interfaces("\n".join(shared[1:]))
    return Result.expect(
        none_interfaces == ["lo"] and alone[0] != ours and shared[0] == ours,
        f"none: {alone[0]}, interfaces {none_interfaces}; host: {shared[0]} (the host's is "
        f"{ours}), {len(host_mode_interfaces)} interfaces seen (the host, a moment later: "
        f"{len(host_interfaces)}), e.g. {', '.join(host_mode_interfaces[:4])}",
        none_interfaces=len(none_interfaces),
        host_mode_interfaces=len(host_mode_interfaces),
    )
