"""Chapter 10, Security: the compose stack hardened, and each hardening measured.

The stage is compose.yaml (the production image: non-root, no shell) with
compose.security.yaml layered on it, under the project `driftwood-stage-10` on
127.0.0.1:8010. The claims read what the kernel enforces, from the host's /proc (the app
image has no shell to ask), and run a few throwaway containers (`driftwood-stage-10-*`)
to show what the defaults block and what `unconfined` would allow.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

from python_on_whales import Container
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from ops import stack
from ops.baseimages import resolve_refs
from ops.imagefacts import history
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.probes import (
    postgres_ready,
    process_status,
    remove_container,
    same_pid_namespace,
    wait_for,
)

PREFIX = "driftwood-stage-10"
PORT = 8010
LAYER = "compose.security.yaml"
DENY_MKDIR = "deploy/seccomp/deny-mkdir.json"
# Where each service's image lets us write a file: the app image has python, no shell.
WRITE_WITH = {"app": ["python", "-c", "import sys; open(sys.argv[1], 'w').close()"]}
WRITE_DEFAULT = ["touch"]
# What the database's entrypoint needs when it starts as root: chown the data directory
# (CHOWN), chmod it once it is postgres' (FOWNER), then become postgres (SETUID, SETGID).
ROOT_ENTRYPOINT_CAPS = ["CHOWN", "FOWNER", "SETUID", "SETGID"]


def compose_stage(root: Path, number: int, port: int, layers: tuple[str, ...]) -> stack.Stack:
    """A stage of the project's compose.yaml with `layers` over it (this chapter's and the
    ones after it): its own project `driftwood-stage-NN`, nginx on 127.0.0.1:`port`, images
    tagged `stage-NN` and its own settings file; never the learner's .env."""
    return stack.Stack(
        root,
        project=f"driftwood-stage-{number:02d}",
        layers=layers,
        overrides=(
            ("DRIFTWOOD_BIND", "127.0.0.1"),
            ("DRIFTWOOD_HTTP_PORT", str(port)),
            ("DRIFTWOOD_TAG", f"stage-{number:02d}"),
            ("DRIFTWOOD_SIGNUP_ENABLED", "true"),
        ),
    )


def hardened(ctx: LessonContext) -> stack.Stack:
    """The stage's stack: compose.yaml with compose.security.yaml over it."""
    return compose_stage(ctx.root, 10, PORT, (LAYER,))


def up(ctx: LessonContext) -> str:
    the_stack = hardened(ctx)
    stack.prepare(the_stack, ctx.docker)
    stack.up(the_stack)
    return f"the hardened stack: {stack.url(the_stack)} (compose project {PREFIX})"


def down(ctx: LessonContext) -> str:
    stack.down(hardened(ctx), volumes=True)
    return f"removed the containers, networks and database volume of {PREFIX}"


LESSON = Lesson(chapter=10, title="Security", up=up, down=down)


def _containers(ctx: LessonContext) -> list[Container]:
    """The stack's containers, the finished `migrate` job included."""
    found = ctx.once("containers", lambda: hardened(ctx).client().compose.ps(all=True))
    if not found:
        raise LookupError(f"no containers in project {PREFIX}: invoke stage.up 10")
    return found


def _running(ctx: LessonContext) -> dict[str, Container]:
    """Running containers by compose service name."""
    return {
        c.config.labels["com.docker.compose.service"]: c
        for c in _containers(ctx)
        if c.state.running
    }


def _statuses(ctx: LessonContext) -> dict[str, list[dict[str, str]]]:
    """/proc/PID/status of every process of every running service, read from the host."""

    def read() -> dict[str, list[dict[str, str]]]:
        found: dict[str, list[dict[str, str]]] = {}
        for service, container in _running(ctx).items():
            found[service] = []
            for pid in same_pid_namespace(container.state.pid):
                with contextlib.suppress(FileNotFoundError):  # a healthcheck that ended
                    found[service].append(process_status(pid))
        return found

    return ctx.once("statuses", read)


def _refs(ctx: LessonContext) -> dict[str, str]:
    return ctx.once("refs", lambda: resolve_refs(ctx.docker))


@LESSON.claim(
    "Every process in every container of the stack runs with a non-root UID and no "
    "effective capabilities.",
    hint="`user:` in compose.yaml and USER in the Dockerfile (never UID 0); cap_drop: [ALL] "
    "in compose.security.yaml. Read /proc/<State.Pid>/status on the host: Uid, CapEff.",
)
def non_root_without_capabilities(ctx: LessonContext) -> Result:
    seen, bad = [], []
    for service, statuses in sorted(_statuses(ctx).items()):
        uids = sorted({uid for s in statuses for uid in s["Uid"].split()})
        caps = sorted({s["CapEff"] for s in statuses})
        seen.append(f"{service}: {len(statuses)} processes, UIDs {'/'.join(uids)}, CapEff {caps}")
        if "0" in uids or any(int(c, 16) for c in caps):
            bad.append(service)
    services = sorted(_statuses(ctx))
    return Result.expect(
        not bad and {"nginx", "app", "db"} <= set(services),
        "; ".join(seen) + (f"; root or capabilities in {bad}" if bad else ""),
        processes=sum(len(s) for s in _statuses(ctx).values()),
    )


@LESSON.claim(
    "The kernel enforces no-new-privileges and the default seccomp filter on every process, "
    "and every container has a read-only root with all capabilities dropped.",
    hint="security_opt no-new-privileges:true, read_only, cap_drop in compose.security.yaml; "
    "/proc/<pid>/status: NoNewPrivs 1, Seccomp 2 (filtering); docker inspect .HostConfig.",
)
def kernel_enforces_the_settings(ctx: LessonContext) -> Result:
    weak = [
        service
        for service, statuses in _statuses(ctx).items()
        if any(s["NoNewPrivs"] != "1" or s["Seccomp"] != "2" for s in statuses)
    ]
    configs = {}
    for container in _containers(ctx):
        host = container.host_config
        configs[container.name] = (
            bool(host.readonly_rootfs),
            list(host.cap_drop or []),
            list(host.cap_add or []),
            list(host.security_opt or []),
        )
    loose = [
        name
        for name, (read_only, dropped, added, options) in configs.items()
        if not read_only
        or dropped != ["ALL"]
        or added
        or "no-new-privileges:true" not in options
        or any(o.startswith("seccomp") for o in options)
    ]
    return Result.expect(
        not weak and not loose,
        f"{len(configs)} containers (the migrate job included) read-only, CapDrop [ALL], "
        f"CapAdd none, no-new-privileges, default seccomp: {loose or 'all'}; "
        f"every process NoNewPrivs 1 and Seccomp 2: {weak or 'yes'}",
    )


def _write(container: Container, service: str, path: str) -> str:
    """'written', or why the write failed (the last line of the error)."""
    try:
        container.execute([*WRITE_WITH.get(service, WRITE_DEFAULT), path])
    except DockerException as exc:
        lines = (exc.stderr or str(exc)).strip().splitlines()
        return lines[-1] if lines else f"exit {exc.return_code}"
    return "written"


@LESSON.claim(
    "Writing to the root filesystem fails in every running container; the tmpfs at /tmp "
    "takes the same write.",
    hint="read_only: true and tmpfs: [/tmp] in compose.security.yaml; a service that must "
    "write somewhere else needs a tmpfs or a volume there, not a writable root.",
)
def root_filesystem_is_read_only(ctx: LessonContext) -> Result:
    seen, ok = [], True
    for service, container in sorted(_running(ctx).items()):
        root = _write(container, service, "/driftwood-probe")
        scratch = _write(container, service, "/tmp/driftwood-probe")  # noqa: S108 (in the container)
        ok &= "Read-only file system" in root and scratch == "written"
        seen.append(f"{service}: / -> {root!r}, /tmp -> {scratch}")
    return Result.expect(ok and len(seen) >= 3, "; ".join(seen))


def _secret_values(ctx: LessonContext) -> dict[str, str]:
    folder = ctx.root / "secrets"
    return {
        path.name: path.read_text().strip()
        for path in sorted(folder.glob("*.txt"))
        if path.read_text().strip()
    }


def _environments(ctx: LessonContext) -> dict[str, str]:
    """The real environment of every process of every running service, from the host."""
    found = {}
    for service, container in _running(ctx).items():
        for pid in same_pid_namespace(container.state.pid):
            with contextlib.suppress(FileNotFoundError):  # a healthcheck that ended meanwhile
                found[f"{service}/{pid}"] = Path(f"/proc/{pid}/environ").read_text(errors="replace")
    return found


@LESSON.claim(
    "No secret value appears in `docker inspect`, in the images' history, or in the "
    "environment of the app's and nginx's processes; the app reads it from /run/secrets.",
    hint="Secrets as files: compose `secrets:` mounts them under /run/secrets and the app "
    "reads DRIFTWOOD_*_FILE; never `environment:` values, ARG or ENV with a secret.",
)
def secrets_only_in_files(ctx: LessonContext) -> Result:
    values = _secret_values(ctx)
    if not values:
        return Result(False, f"no secret files in {ctx.root / 'secrets'}: invoke stage.up 10")
    containers = _containers(ctx)
    inspected = json.loads(
        str(run([*ctx.docker.container.docker_cmd, "container", "inspect",
                 *(c.id for c in containers)]))
    )  # fmt: skip
    places = {f"inspect {d['Name'].lstrip('/')}": json.dumps(d) for d in inspected}
    images = sorted({c.image for c in containers})
    steps = 0
    for image in images:
        config = ctx.docker.image.inspect(image).config
        created_by = [step.created_by for step in history(ctx.docker, image)]
        steps += len(created_by)
        places[f"image {image[:19]}"] = json.dumps([config.env, config.labels, created_by])
    environments = _environments(ctx)
    places |= {f"environ {key}": text for key, text in environments.items()}
    found = [
        (name, place) for name, value in values.items() for place, text in places.items()
        if value in text
    ]  # fmt: skip
    # The database image's entrypoint reads POSTGRES_PASSWORD_FILE into POSTGRES_PASSWORD and
    # exports it to the server it starts: reported, as the README explains, not ours to fix.
    database = [f"{n} in {p}" for n, p in found if p.startswith("environ db/")]
    leaks = [f"{n} in {p}" for n, p in found if not p.startswith("environ db/")]
    read = "print(open('/run/secrets/db_password').read())"
    in_use = str(_running(ctx)["app"].execute(["python", "-c", read])).strip()
    control = in_use == values.get("db_password.txt")
    return Result.expect(
        not leaks and control,
        f"{len(values)} secrets searched in {len(inspected)} inspect documents, {steps} history "
        f"steps of {len(images)} images and {len(environments)} process environments: "
        f"{'; '.join(leaks) or 'not found'}; the database server's environment: "
        f"{'; '.join(database) or 'clean'}; /run/secrets/db_password in the app "
        f"{'holds' if control else 'does not hold'} the password searched for",
        leaks=len(leaks),
        db_environment_leak=bool(database),
        environments=len(environments),
    )


@contextlib.contextmanager
def _throwaway(ctx: LessonContext, name: str) -> Iterator[str]:
    """The name for a container this claim starts; removed afterwards, also on failure."""
    full = f"{PREFIX}-{name}"
    remove_container(ctx.docker, full)
    try:
        yield full
    finally:
        remove_container(ctx.docker, full)


def _outcome(
    ctx: LessonContext, name: str, image: str, command: list[str], **options: object
) -> str:
    """Run `command` in a throwaway container to its end: `exit N: its output`, stdout and
    stderr together, lines joined with ' / '."""
    with _throwaway(ctx, name) as full:
        ctx.docker.run(image, command, detach=True, name=full, **options)  # type: ignore[arg-type]
        code = ctx.docker.container.wait(full)
        stream = ctx.docker.container.logs(full, stream=True)
        lines = [line.decode(errors="replace").strip() for _, line in stream]  # type: ignore[misc]
    return f"exit {code}: " + " / ".join(line for line in lines if line)


@LESSON.claim(
    "Started as root, the database's entrypoint fails without capabilities and starts with "
    "only CHOWN, FOWNER, SETUID and SETGID added; the stage's `user: postgres` needs none.",
    hint="Started as root, the postgres image's entrypoint chowns PGDATA, then becomes "
    "postgres (setpriv here, gosu in the official image); name and explain every capability "
    "added back, as compose.security.yaml does.",
)
def root_entrypoint_needs_four_capabilities(ctx: LessonContext) -> Result:
    image = _refs(ctx)["POSTGRES_IMAGE"]
    envs = {"POSTGRES_PASSWORD": secrets.token_hex(16)}
    refused = _outcome(ctx, "root-db-0", image, ["postgres"], cap_drop=["ALL"], envs=envs, user="0")
    with _throwaway(ctx, "root-db") as name:
        ctx.docker.run(
            image, detach=True, name=name, envs=envs, user="0",
            cap_drop=["ALL"], cap_add=ROOT_ENTRYPOINT_CAPS,
        )  # fmt: skip
        wait_for(f"{name} ready", lambda: postgres_ready(ctx.docker, name), timeout=90)
        server = process_status(ctx.docker.container.inspect(name).state.pid)
    return Result.expect(
        not refused.startswith("exit 0") and server["Uid"].split()[0] != "0"
        and int(server["CapEff"], 16) == 0,
        f"cap_drop ALL as root: {refused}; with {', '.join(ROOT_ENTRYPOINT_CAPS)} added: ready, "
        f"its server UID {server['Uid'].split()[0]}, CapEff {server['CapEff']}",
    )  # fmt: skip


@LESSON.claim(
    "The default seccomp profile blocks unshare (a new user and mount namespace); "
    "`seccomp=unconfined` lets the same unprivileged container make one and mount in it.",
    hint="Never `security_opt: [seccomp=unconfined]`: the default profile closes system "
    "calls (unshare, mount, keyctl, bpf, ...) that many kernel exploits start from.",
)
def default_seccomp_blocks_unshare(ctx: LessonContext) -> Result:
    image = _refs(ctx)["DEBIAN_IMAGE"]
    mount = "mount -t tmpfs none /mnt && echo mounted as $(id -u) in a new namespace"
    command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount]
    options = {"user": "65534", "cap_drop": ["ALL"]}
    default = _outcome(ctx, "unshare-default", image, command, **options)
    unconfined = _outcome(
        ctx,
        "unshare-unconfined",
        image,
        command,
        security_options=["seccomp=unconfined"],
        **options,
    )
    return Result.expect(
        "Operation not permitted" in default and unconfined.startswith("exit 0: mounted"),
        f"as UID 65534 without capabilities: default profile -> {default!r}; "
        f"unconfined -> {unconfined!r}",
    )


@LESSON.claim(
    "A custom seccomp profile that denies mkdir and mkdirat breaks exactly what uses them: "
    "mkdir fails with EPERM while other writes still work.",
    hint=f"{DENY_MKDIR}: `security_opt: [seccomp=FILE]` replaces the default profile; derive "
    "real ones from Docker's default and test the app under them before shipping.",
)
def custom_profile_denies_one_call(ctx: LessonContext) -> Result:
    image = _refs(ctx)["DEBIAN_IMAGE"]
    command = ["sh", "-c", "touch /tmp/file && echo file written; mkdir /tmp/dir && echo dir made"]
    default = _outcome(ctx, "seccomp-default", image, command)
    profile = ctx.root / DENY_MKDIR
    custom = _outcome(
        ctx, "seccomp-custom", image, command, security_options=[f"seccomp={profile}"]
    )
    return Result.expect(
        default == "exit 0: file written / dir made"
        and custom.startswith("exit 1:")
        and "file written" in custom  # stdout and stderr lines may come in either order
        and "Operation not permitted" in custom,
        f"default profile: {default!r}; {DENY_MKDIR}: {custom!r}",
    )


@LESSON.claim(
    "Root in a container is the host's root unless the engine remaps user namespaces: this "
    "engine's setting and a root container's UID on the host agree.",
    hint="userns-remap in /etc/docker/daemon.json (or a rootless engine) maps container "
    "UID 0 to an unprivileged host UID; /proc/<pid>/uid_map shows the mapping.",
)
def user_namespace_mapping(ctx: LessonContext) -> Result:
    options = [str(o) for o in (ctx.docker.info().security_options or [])]
    remapped = any("name=userns" in o for o in options)
    rootless = any("name=rootless" in o for o in options)
    with _throwaway(ctx, "userns") as name:
        container = ctx.docker.run(
            _refs(ctx)["DEBIAN_IMAGE"], ["sleep", "60"], detach=True, name=name, init=True
        )
        pid = ctx.docker.container.inspect(container).state.pid  # type: ignore[arg-type]
        host_uid = process_status(pid)["Uid"].split()[0]
        uid_map = " ".join(Path(f"/proc/{pid}/uid_map").read_text().split())
    mapped = host_uid != "0"
    return Result.expect(
        mapped == (remapped or rootless),
        f"engine: userns-remap {'on' if remapped else 'off'}, rootless "
        f"{'yes' if rootless else 'no'}; UID 0 in a container is UID {host_uid} on the host "
        f"(uid_map {uid_map!r})",
        host_uid=int(host_uid),
    )
