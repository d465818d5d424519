"""Chapter 12, The ecosystem: the production image is plain OCI, Docker is containerd and
runc underneath, Swarm reads the same Compose file, and Kubernetes takes over from here.

The stage is the production stack itself (`invoke stage.up 12`, ops.runstage). The claims
run the stack's app image under Podman and the Kubernetes manifests under `podman kube
play`, read the running app container with containerd's and runc's own tools, and deploy a
one-node Swarm stack for as long as it takes to converge. Everything they start is named
`driftwood-stage-12-...` and removed, Swarm mode included, also when a claim fails. Swarm
mode is only entered on an engine no one else is using (see `one_node_swarm`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException, NoSuchContainer

from ops import k8s, runstage, stack, stages, swarm
from ops.baseimages import resolve_refs
from ops.lessons import Lesson, LessonContext, Result
from ops.lessons.probes import http_status, wait_for
from ops.push import LOCAL_REGISTRY

PREFIX = "driftwood-stage-12"
# The image as Podman and Kubernetes get it: from a registry, never from Docker's store.
PUSHED = f"{LOCAL_REGISTRY}/{PREFIX}/app:final"
PODMAN_PORT = 8012  # `podman run` of the image
KUBE_PORT = 8013  # the app pod of `podman kube play`
APP_UID = 10001  # the image's USER, which must read the Secret's files
# Where dockerd keeps its containerd socket and runc state when it runs containerd itself
# (Debian's docker.io, `--exec-root /var/run/docker`), then where a system containerd does
# (Docker's own packages, Docker Desktop's VM).
CONTAINERD_SOCKETS = ("/run/docker/containerd/containerd.sock", "/run/containerd/containerd.sock")
RUNC_ROOTS = ("/run/docker/runtime-runc/moby", "/run/containerd/runc/moby")
SWARM_STACK = f"{PREFIX}-swarm"
SWARM_SERVICES = ["db", "app"]


def _final(ctx: LessonContext) -> stages.Stage:
    return stages.find_stage(ctx.root, "final")


def up(ctx: LessonContext) -> str:
    return runstage.start(ctx.docker, _final(ctx), ctx.root)


def down(ctx: LessonContext) -> str:
    runstage.stop(ctx.docker, _final(ctx), ctx.root)
    return "stage 12 (the production stack) is down"


LESSON = Lesson(chapter=12, title="The ecosystem", up=up, down=down)


def run(*command: str, timeout: float = 300) -> str:
    """A host tool (podman, ctr, runc); its stdout, or an error carrying its stderr."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}: {result.stderr.strip()[-500:]}")
    return result.stdout


def app_container_id(ctx: LessonContext) -> str:
    """The running stack's app container."""
    containers = stack.Stack(ctx.root, prod=True).client().compose.ps(["app"])
    if not containers:
        raise LookupError("the app is not running: invoke stage.up 12")
    return str(containers[0].id)


def pushed_image(ctx: LessonContext) -> str:
    """The stack's app image, pushed to the local registry once per run."""

    def push() -> str:
        image = ctx.docker.container.inspect(app_container_id(ctx)).config.image
        ctx.docker.image.tag(image, PUSHED)
        ctx.docker.image.push(PUSHED, quiet=True)
        return PUSHED

    return str(ctx.once("ch12.pushed", push))


@LESSON.claim(
    "The Kubernetes manifests in deploy/k8s validate against the Kubernetes 1.32 schemas, "
    "offline, and a misspelt field is rejected.",
    hint="kubernetes-validate -k 1.32 --strict deploy/k8s/*.yaml; strict mode rejects "
    "fields the schema does not know, which kubectl would drop silently",
)
def manifests_validate(ctx: LessonContext) -> Result:
    documents = k8s.load(ctx.root / k8s.MANIFESTS)
    problems = k8s.validate(documents)
    typo = next(d for d in documents if d["kind"] == "Deployment")
    typo = {**typo, "spec": {**typo["spec"], "replica": 2}}
    rejected = k8s.validate([typo])
    kinds = ", ".join(k8s.name_of(d) for d in documents)
    return Result.expect(
        not problems and bool(rejected),
        f"{len(documents)} documents ({kinds}): {len(problems)} problems"
        + (f" ({'; '.join(problems)})" if problems else "")
        + f"; a Deployment with `replica:` is rejected: {bool(rejected)}",
        documents=len(documents),
        problems=len(problems),
    )


def containerd_socket() -> str:
    for socket in CONTAINERD_SOCKETS:
        if Path(socket).exists():
            return socket
    raise LookupError(f"no containerd socket in {', '.join(CONTAINERD_SOCKETS)}")


def runc_root() -> str:
    for root in RUNC_ROOTS:
        if Path(root).is_dir():
            return root
    raise LookupError(f"no runc state in {', '.join(RUNC_ROOTS)}")


def pids_by_id(table: str) -> dict[str, str]:
    """`ctr tasks ls` / `runc list` output: the first column (id) to the second (PID)."""
    rows = [line.split() for line in table.splitlines()[1:]]
    return {row[0]: row[1] for row in rows if len(row) > 1}


@LESSON.claim(
    "Docker's app container is a containerd task and a runc container with the same id "
    "and the same PID.",
    hint="dockerd asks containerd (namespace moby) to run the container, and containerd's "
    "shim asks runc: `ctr --address SOCKET --namespace moby tasks ls`, "
    "`runc --root /run/docker/runtime-runc/moby list`",
)
def containerd_and_runc(ctx: LessonContext) -> Result:
    container = app_container_id(ctx)
    pid = str(ctx.docker.container.inspect(container).state.pid)
    socket, root = containerd_socket(), runc_root()
    tasks = pids_by_id(run("ctr", "--address", socket, "--namespace", "moby", "tasks", "ls"))
    runc = pids_by_id(run("runc", "--root", root, "list"))
    return Result.expect(
        tasks.get(container) == pid and runc.get(container) == pid,
        f"docker: {container[:12]} PID {pid}; containerd ({socket}) task PID "
        f"{tasks.get(container, 'absent')}; runc ({root}) PID {runc.get(container, 'absent')}",
        containerd_tasks=len(tasks),
        runc_containers=len(runc),
    )


@contextlib.contextmanager
def podman_container(name: str, *args: str) -> Iterator[str]:
    run("podman", "rm", "--force", "--ignore", name)
    try:
        yield run("podman", "run", "--detach", "--name", name, *args).strip()
    finally:
        run("podman", "rm", "--force", "--ignore", name)


@LESSON.claim(
    "The final image, pulled from the registry, runs unchanged under Podman and answers /healthz.",
    hint="The image is plain OCI: `podman pull --tls-verify=false` (a plain-HTTP local "
    "registry), then `podman run` with the same hardening as compose.prod.yaml. Podman "
    "needs default_ulimits in containers.conf on this host (invoke setup writes it).",
)
def podman_runs_image(ctx: LessonContext) -> Result:
    image = pushed_image(ctx)
    # Podman has its own image store, not Docker's: a fresh pull, timed.
    run("podman", "rmi", "--ignore", image)
    started = time.monotonic()
    run("podman", "pull", "--quiet", "--tls-verify=false", image)
    pull_s = time.monotonic() - started
    url = f"http://127.0.0.1:{PODMAN_PORT}/healthz"
    with podman_container(
        f"{PREFIX}-podman",
        *("--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges"),
        *("--publish", f"127.0.0.1:{PODMAN_PORT}:8000"),
        # /healthz needs no database: any URL will do, and a throwaway signing key.
        *("--env", f"DRIFTWOOD_SECRET_KEY={os.urandom(24).hex()}"),
        *("--env", "DRIFTWOOD_DATABASE_URL=postgresql+psycopg://driftwood@nowhere:5432/x"),
        image,
    ):
        started = time.monotonic()
        status = wait_for(f"{url} answering", lambda: http_status(url), timeout=90)
        ready_s = time.monotonic() - started
    return Result.expect(
        status == 200,
        f"pulled {image} in {pull_s:.1f} s; podman run answered {url} with {status} "
        f"{ready_s:.1f} s after start",
        pull_s=round(pull_s, 2),
        healthz_s=round(ready_s, 2),
    )


def _secret_folder(folder: Path, values: dict[str, str]) -> str:
    """The Secret's keys as files only the app's UID can read (what kubelet mounts)."""
    folder.mkdir(mode=0o711)  # the UID must get through the folder to its files
    folder.chmod(0o711)  # mkdir's mode is cut by the umask
    for key, value in values.items():
        path = folder / key
        path.write_text(value)
        os.chown(path, APP_UID, APP_UID)
        path.chmod(0o400)
    return str(folder)


def _kube_down(files: list[Path]) -> None:
    for path in reversed(files):
        with contextlib.suppress(RuntimeError):
            run("podman", "kube", "down", str(path))
    for leftover in (
        ("volume", "rm", "--force", f"{PREFIX}-driftwood-db-data"),
        ("secret", "rm", f"{PREFIX}-driftwood"),
        ("network", "rm", "--force", PREFIX),
    ):
        with contextlib.suppress(RuntimeError):
            run("podman", *leftover)


@LESSON.claim(
    "`podman kube play` of deploy/k8s (PostgreSQL's StatefulSet, then the app with its "
    "migration as an init container) brings the app up and /readyz answers 200.",
    hint="ops/k8s.py for_podman(): Podman plays Pods, not StatefulSets or Services; the "
    "database must be ready before the app's init container runs, since nothing retries it",
)
def kube_play_ready(ctx: LessonContext) -> Result:
    image = pushed_image(ctx)
    refs = {"postgres:17-trixie": _postgres_ref(ctx), k8s_app_image(ctx): image}
    values = {"db-password": os.urandom(16).hex(), "secret-key": os.urandom(24).hex()}
    url = f"http://127.0.0.1:{KUBE_PORT}/readyz"
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-") as tmp:
        folder = Path(tmp)
        groups = k8s.for_podman(
            k8s.load(ctx.root / k8s.MANIFESTS),
            prefix=PREFIX,
            images=refs,
            publish={"http": KUBE_PORT},
            secret_folders={"driftwood": _secret_folder(folder / "secrets", values)},
        )
        files = []
        for index, group in enumerate(groups):
            files.append(folder / f"play-{index}.yaml")
            files[-1].write_text(yaml.safe_dump_all(group))
        (folder / "secret.json").write_text(k8s.podman_secret(values))
        _kube_down(files)
        started = time.monotonic()
        try:
            run("podman", "network", "create", PREFIX)
            run("podman", "secret", "create", f"{PREFIX}-driftwood", str(folder / "secret.json"))
            database, app = files
            play = ("podman", "kube", "play", "--tls-verify=false", "--network", PREFIX)
            run(*play, str(database))
            db = f"{PREFIX}-driftwood-db-postgres"  # pod name, then container name
            wait_for(f"{db} ready", lambda: _pg_ready(db), timeout=120)
            run(*play, str(app))
            wait_for(f"{url} answering 200", lambda: http_status(url) == 200, timeout=120)
            ready_s = time.monotonic() - started
            pods = run("podman", "pod", "ps", "--filter", f"name={PREFIX}", "--format", "{{.Name}}")
        finally:
            _kube_down(files)
            run("podman", "rmi", "--ignore", image)
    return Result.expect(
        len(pods.split()) == len(groups),
        f"pods {', '.join(pods.split())}: {url} answered 200 {ready_s:.1f} s after the "
        "first `kube play`",
        kube_ready_s=round(ready_s, 2),
    )


def _postgres_ref(ctx: LessonContext) -> str:
    return ctx.once("ch12.refs", lambda: resolve_refs(ctx.docker))["POSTGRES_IMAGE"]


def k8s_app_image(ctx: LessonContext) -> str:
    documents = k8s.load(ctx.root / k8s.MANIFESTS)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def _pg_ready(container: str) -> bool:
    try:
        run("podman", "exec", container, "pg_isready", "-q", "-h", "127.0.0.1", timeout=20)
    except RuntimeError:
        return False
    return True


# Networks every engine has; only user-defined ones have the embedded DNS that
# `swarm leave` breaks (moby/moby#45144, open): names stop resolving on every bridge network
# that existed before `swarm init`, for running and new containers alike, until the network
# is recreated. On an engine other people use, that is their stacks broken.
DEFAULT_NETWORKS = {"bridge", "host", "none"}


def others_on_networks(docker: DockerClient) -> list[str]:
    """Running containers on user-defined networks that are not this stage's stack."""
    others = []
    for container in docker.container.list():
        try:
            project = container.config.labels.get("com.docker.compose.project")
            networks = set(container.network_settings.networks or {})
        except NoSuchContainer:  # removed since the listing
            continue
        if project != stack.PROJECT_NAME and networks - DEFAULT_NETWORKS:
            others.append(str(container.name))
    return others


@contextlib.contextmanager
def one_node_swarm(docker: DockerClient) -> Iterator[None]:
    """Swarm mode for the duration, and always left: the engine is shared."""
    if docker.info().swarm.local_node_state == "active":
        raise RuntimeError("this engine is already in a swarm: not touching it")
    others = others_on_networks(docker)
    if others:
        raise RuntimeError(
            f"refusing swarm mode on an engine others use ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''} on bridge networks): leaving a swarm breaks "
            "name resolution on every existing bridge network (moby/moby#45144)"
        )
    docker.swarm.init(advertise_address="127.0.0.1")
    try:
        yield
    finally:
        docker.swarm.leave(force=True)


def resolves(docker: DockerClient, container: str, name: str) -> bool:
    """Whether `name` resolves inside `container` (the app image has Python, no shell)."""
    code = f"import socket; socket.gethostbyname({name!r})"
    try:
        docker.execute(container, ["python", "-c", code])
    except DockerException:
        return False
    return True


def _converged(docker: DockerClient) -> dict[str, str] | None:
    """Running/desired per service once every service runs as many tasks as it wants."""
    counts = {}
    for service in docker.stack.services(SWARM_STACK):
        wanted = service.spec.mode.get("Replicated", {}).get("Replicas", 1)
        running = sum(
            t.status.state == "running" and t.desired_state == "running"
            for t in docker.service.ps(service.id)
        )
        counts[service.spec.name] = (running, wanted)
    if len(counts) < len(SWARM_SERVICES) or any(r != w for r, w in counts.values()):
        return None
    return {name: f"{r}/{w}" for name, (r, w) in counts.items()}


def _stack_gone(docker: DockerClient) -> bool:
    label = ("label", f"com.docker.stack.namespace={SWARM_STACK}")
    return not docker.container.list(all=True, filters=[label])


@LESSON.claim(
    "The same Compose file deploys as a one-node Swarm stack that converges to 1/1 per "
    "service, and is removed.",
    hint="ops/swarm.py for_swarm(): `docker stack deploy` checks the version-3 schema, "
    "builds nothing and has no start order; the images come from a registry",
)
def swarm_converges(ctx: LessonContext) -> Result:
    app = app_container_id(ctx)
    model = stack.Stack(ctx.root, prod=True).client().compose.config(return_json=True)
    app_image = model["services"]["app"]["image"]
    stack_file = swarm.for_swarm(model, SWARM_SERVICES, {app_image: pushed_image(ctx)})
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-") as tmp, one_node_swarm(ctx.docker):
        path = Path(tmp) / "stack.yaml"
        path.write_text(yaml.safe_dump(stack_file))
        started = time.monotonic()
        try:
            ctx.docker.stack.deploy(SWARM_STACK, [path], resolve_image="never")
            counts = wait_for("the stack converged", lambda: _converged(ctx.docker), 180)
            converge_s = time.monotonic() - started
        finally:
            ctx.docker.stack.remove(SWARM_STACK)
            gone = wait_for("the stack's containers removed", lambda: _stack_gone(ctx.docker), 60)
            # `stack rm` keeps volumes, as `compose down` does: this one was the claim's own.
            label = ("label", f"com.docker.stack.namespace={SWARM_STACK}")
            for volume in ctx.docker.volume.list(filters=[label]):
                ctx.docker.volume.remove(volume)
    # The stage's own networks lost their DNS with the swarm: recreate them.
    dns_kept = resolves(ctx.docker, app, "db")
    down(ctx)
    up(ctx)
    left = ctx.docker.info().swarm.local_node_state == "inactive"
    return Result.expect(
        gone and left,
        f"{', '.join(f'{n} {c}' for n, c in sorted(counts.items()))} after "
        f"{converge_s:.1f} s; removed: {gone}, swarm left: {left}; after leaving, the stage's "
        f"app {'still resolves' if dns_kept else 'no longer resolved'} `db` "
        "(moby/moby#45144), so the stage was restarted",
        swarm_converge_s=round(converge_s, 2),
        dns_kept_after_leave=dns_kept,
    )
