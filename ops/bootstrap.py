"""`invoke setup`: make this host ready to build and run Driftwood.

Two halves. `probe_host()` gathers facts (OS, root, installed packages, engine, registry);
`plan()` turns facts into a list of `Step`s as pure data, so the decision logic is unit
tested without an engine; `apply()` carries the steps out in order.

Rules the plan follows:
- An engine that already answers (Docker Desktop, docker.com Engine, a CI runner) is only
  checked: no engine package, daemon.json or restart is ever planned for it.
- On Debian 12 the engine comes from trixie (Engine 26, buildx, Compose v2, cosign), through
  an apt source pinned at priority 100 so nothing else is taken from trixie; Debian 12's
  containerd, runc and libc stay. Debian 13 installs the same packages natively.
- Chapter 12's tools (Podman, and catatonit as its pods' init) come from the host's own
  suite, never from trixie on Debian 12: trixie's Podman needs trixie's libraries. They are
  optional: a host without apt is told nothing about them (`invoke doctor` lists them).
- What cannot be done here (not root, not Debian) becomes a `Missing` item with the command
  that fixes it, instead of a step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from python_on_whales import DockerClient

from ops import engine, registry
from ops.engine import EngineFacts

ENGINE_PACKAGES = ("docker.io", "docker-cli", "docker-buildx", "docker-compose", "cosign")
HOST_PACKAGES = ("qemu-user-static", "binfmt-support", "mmdebstrap", "docker-registry")
CHAPTER_PACKAGES = ("podman", "catatonit")
# Podman's defaults raise the open-files and processes limits past what this host's
# container sandbox allows ("error setting rlimit"): every `podman run` would fail.
CONTAINERS_CONF = Path("/etc/containers/containers.conf.d/driftwood.conf")
PODMAN_SETTINGS = """\
# Written by Driftwood's `invoke setup`: limits this host allows, for every container.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=1024:1024"]

# runc, the runtime Docker uses here too. crun (Podman's default) refuses hosts whose cgroups
# are mixed v1 and v2 with a controller left on v2 ("cgroups in hybrid mode not supported"),
# as on our machines, where hugetlb is.
[engine]
runtime = "runc"
"""
TRIXIE_SOURCE = Path("/etc/apt/sources.list.d/driftwood-trixie.sources")
TRIXIE_PIN = Path("/etc/apt/preferences.d/driftwood-trixie")
BINFMT_ARM64 = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class Action(Enum):
    ADD_TRIXIE_SOURCE = "add the Debian trixie apt source, pinned at priority 100"
    INSTALL_ENGINE = "install Engine 26 / buildx / Compose v2 / cosign packages (trixie)"
    INSTALL_HOST_TOOLS = "install host tools"
    WRITE_DAEMON_JSON = "enable the containerd image store in /etc/docker/daemon.json"
    START_DOCKERD = "start dockerd in the background"
    ENABLE_BINFMT = "register QEMU's binfmt handlers (linux/arm64)"
    START_REGISTRY = "start the local registry on 127.0.0.1:5000"
    INSTALL_CHAPTER_TOOLS = "install chapter 12's tools from the host's own suite"
    WRITE_CONTAINERS_CONF = f"set Podman's ulimits and runtime in {CONTAINERS_CONF}"


@dataclass(frozen=True)
class Step:
    action: Action
    packages: tuple[str, ...] = ()

    def describe(self) -> str:
        suffix = f": {' '.join(self.packages)}" if self.packages else ""
        return f"{self.action.value}{suffix}"


@dataclass(frozen=True)
class Missing:
    """Something setup cannot fix on this host, and the one command that does."""

    what: str
    fix: str


@dataclass(frozen=True)
class HostFacts:
    os_id: str = ""
    os_codename: str = ""
    is_root: bool = False
    installed: frozenset[str] = frozenset()
    trixie_source: bool = False
    dockerd_installed: bool = False
    daemon_json_snapshotter: bool = False
    binfmt_arm64: bool = False
    cosign: bool = False
    registry_answering: bool = False
    containers_conf: bool = False
    engine: EngineFacts = field(default_factory=EngineFacts)

    @property
    def debian(self) -> bool:
        return self.os_id == "debian" and self.os_codename in {"bookworm", "trixie"}

    @property
    def can_apt(self) -> bool:
        return self.debian and self.is_root


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    missing: tuple[Missing, ...]

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps


def plan(facts: HostFacts) -> Plan:
    """Decide what setup will do on a host with these facts (pure: no I/O)."""
    steps: list[Step] = []
    missing: list[Missing] = []
    existing_engine = facts.engine.answering

    engine_pkgs: tuple[str, ...] = ()
    if not existing_engine:
        engine_pkgs = tuple(p for p in ENGINE_PACKAGES if p not in facts.installed)
    elif not facts.cosign:
        engine_pkgs = ("cosign",)
    host_pkgs = tuple(p for p in HOST_PACKAGES if p not in facts.installed)
    if existing_engine and facts.registry_answering:
        host_pkgs = tuple(p for p in host_pkgs if p != "docker-registry")
    if existing_engine and "linux/arm64" in facts.engine.platforms:
        host_pkgs = tuple(p for p in host_pkgs if p not in {"qemu-user-static", "binfmt-support"})

    if facts.can_apt:
        # Decided by the apt sources, not os-release: a Debian 12 host whose base-files came
        # from trixie says "trixie" but still has only bookworm to install from.
        if engine_pkgs and not facts.trixie_source:
            steps.append(Step(Action.ADD_TRIXIE_SOURCE))
        if engine_pkgs:
            steps.append(Step(Action.INSTALL_ENGINE, engine_pkgs))
        if host_pkgs:
            steps.append(Step(Action.INSTALL_HOST_TOOLS, host_pkgs))
    else:
        for package in engine_pkgs + host_pkgs:
            missing.append(Missing(package, _manual_fix(package)))

    installs_engine = bool(engine_pkgs) and facts.can_apt and "docker.io" in engine_pkgs
    if not existing_engine:
        if not facts.daemon_json_snapshotter and (facts.can_apt or facts.dockerd_installed):
            steps.append(Step(Action.WRITE_DAEMON_JSON))
        if facts.dockerd_installed or installs_engine:
            steps.append(Step(Action.START_DOCKERD))
        else:
            missing.append(Missing("Docker Engine", _manual_fix("docker.io")))

    arm64_ready = facts.binfmt_arm64 or "linux/arm64" in facts.engine.platforms
    qemu_coming = "qemu-user-static" in facts.installed or (
        facts.can_apt and "qemu-user-static" in host_pkgs
    )
    if not arm64_ready and qemu_coming and facts.is_root:
        steps.append(Step(Action.ENABLE_BINFMT))

    registry_coming = "docker-registry" in facts.installed or (
        facts.can_apt and "docker-registry" in host_pkgs
    )
    if not facts.registry_answering:
        if registry_coming and facts.is_root:
            steps.append(Step(Action.START_REGISTRY))
        elif "docker-registry" not in (engine_pkgs + host_pkgs):
            missing.append(Missing("local registry", registry.MANUAL_FIX))

    chapter_pkgs = tuple(p for p in CHAPTER_PACKAGES if p not in facts.installed)
    if chapter_pkgs and facts.can_apt:
        steps.append(Step(Action.INSTALL_CHAPTER_TOOLS, chapter_pkgs))
    podman_coming = "podman" in facts.installed or (facts.can_apt and "podman" in chapter_pkgs)
    if podman_coming and facts.is_root and not facts.containers_conf:
        steps.append(Step(Action.WRITE_CONTAINERS_CONF))
    return Plan(tuple(steps), tuple(missing))


def _manual_fix(package: str) -> str:
    if package in {"docker.io", "docker-buildx", "docker-compose"}:
        return "install Docker Desktop or Engine: https://docs.docker.com/engine/install/"
    if package == "cosign":
        return "install cosign: https://docs.sigstore.dev/cosign/system_config/installation/"
    if package == "docker-registry":
        return registry.MANUAL_FIX
    return f"sudo apt-get install {package}"


def probe_host(docker: DockerClient) -> HostFacts:
    """Gather the facts `plan()` needs; cheap enough to run on every setup."""
    os_release = _os_release()
    return HostFacts(
        os_id=os_release.get("ID", ""),
        os_codename=os_release.get("VERSION_CODENAME", ""),
        is_root=os.geteuid() == 0,
        installed=_installed_packages(ENGINE_PACKAGES + HOST_PACKAGES + CHAPTER_PACKAGES),
        trixie_source="trixie" in apt_suites(),
        dockerd_installed=engine.dockerd_path() is not None,
        daemon_json_snapshotter=_daemon_json_has_snapshotter(),
        binfmt_arm64=_binfmt_enabled(),
        cosign=shutil.which("cosign") is not None,
        registry_answering=registry.answering(),
        containers_conf=_read_or_empty(CONTAINERS_CONF) == PODMAN_SETTINGS,
        engine=engine.probe(docker),
    )


def _os_release() -> dict[str, str]:
    path = Path("/etc/os-release")
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value.strip('"') for key, value in pairs}


def _installed_packages(names: tuple[str, ...]) -> frozenset[str]:
    if shutil.which("dpkg-query") is None:
        return frozenset()
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    return frozenset(
        line.split()[0] for line in result.stdout.splitlines() if line.endswith(" installed")
    )


def _daemon_json_has_snapshotter() -> bool:
    try:
        config = json.loads(engine.DAEMON_JSON.read_text())
    except (OSError, ValueError):
        return False
    return bool(config.get("features", {}).get("containerd-snapshotter"))


def _binfmt_enabled() -> bool:
    try:
        return BINFMT_ARM64.read_text().startswith("enabled")
    except OSError:
        return False


# --- apply -------------------------------------------------------------------------------


class SetupError(RuntimeError):
    """A step of the plan failed; the message names the step and the command."""


def apply(steps: tuple[Step, ...], docker: DockerClient, say: Callable[[str], None]) -> None:
    """Carry out the plan's steps in order, saying what each does."""
    for step in steps:
        say(f"-> {step.describe()}")
        try:
            _HANDLERS[step.action](step, docker, say)
        except subprocess.CalledProcessError as error:
            command = " ".join(str(part) for part in error.cmd)
            raise SetupError(
                f"setup stopped at `{step.describe()}`: `{command}` exited"
                f" {error.returncode} (its messages are above); fix that and run setup again,"
                " it carries on from there"
            ) from error


def _add_trixie_source(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    TRIXIE_SOURCE.write_text(
        "# Added by Driftwood's `invoke setup`: Docker Engine 26, buildx, Compose v2, cosign.\n"
        "Types: deb\n"
        f"URIs: {host_mirror()}\n"
        "Suites: trixie\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    TRIXIE_PIN.write_text(
        "# Take from trixie only what is named with -t trixie; everything else stays bookworm.\n"
        "Package: *\nPin: release n=trixie\nPin-Priority: 100\n"
    )


def host_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror the host's own apt sources use (deb822 or one-line format)."""
    for path in [apt_dir / "sources.list", *(apt_dir / "sources.list.d").glob("*")]:
        if not path.is_file() or path.suffix not in {".list", ".sources"}:
            continue
        for line in path.read_text().splitlines():
            words = line.replace("URIs:", " ").split()
            for word in words:
                if word.startswith("http") and word.rstrip("/").endswith("/debian"):
                    return word.rstrip("/")
    return DEFAULT_MIRROR


def apt_suites(apt_dir: Path = Path("/etc/apt")) -> set[str]:
    """Every suite the host's apt sources name (deb822 `Suites:` or one-line `deb URI SUITE`)."""
    suites: set[str] = set()
    for path in [apt_dir / "sources.list", *(apt_dir / "sources.list.d").glob("*")]:
        if not path.is_file() or path.suffix not in {".list", ".sources"}:
            continue
        for line in path.read_text().splitlines():
            if line.startswith("Suites:"):
                suites.update(line.split()[1:])
            elif line.startswith("deb "):
                words = re.sub(r"\[[^]]*\]", " ", line).split()
                suites.update(words[2:3])
    return suites


def _apt_update(say: Callable[[str], None]) -> None:
    # Third-party sources some hosts list may be unreachable; their failure must not stop
    # us, since everything we need comes from the Debian mirror. apt-get install then
    # fails clearly if a package really is unavailable.
    result = subprocess.run(
        ["apt-get", "update", "-q"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        say("   apt-get update reported errors (unreachable sources ignored)")


def _apt_install(packages: tuple[str, ...], *, release: str | None = None) -> None:
    # `name/release` takes only the named packages from that release and resolves their
    # dependencies from the host's own suite where they suffice. (`-t trixie` would prefer
    # trixie for every dependency and drag in trixie's libc, apt, systemd, perl, ...)
    names = [f"{name}/{release}" for name in packages] if release else list(packages)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *names],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )


def _install_engine(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    _apt_update(say)
    # With our pinned trixie source (priority 100), packages must be named from trixie.
    _apt_install(step.packages, release="trixie" if TRIXIE_SOURCE.exists() else None)


def _install_host_tools(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    _apt_update(say)
    _apt_install(step.packages)


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write_containers_conf(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
    CONTAINERS_CONF.write_text(PODMAN_SETTINGS)


def _write_daemon_json(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    # The containerd image store lets the default `docker` builder build multi-platform
    # images and keep them locally as one OCI index.
    try:
        config = json.loads(engine.DAEMON_JSON.read_text())
    except (OSError, ValueError):
        config = {}
    config.setdefault("features", {})["containerd-snapshotter"] = True
    engine.DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    engine.DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")


def _start_dockerd(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    pid = engine.start_dockerd()
    facts = engine.wait_until_answering(docker)
    say(f"   dockerd (pid {pid}) answers: Engine {facts.server_version}, log {engine.DOCKERD_LOG}")


def _enable_binfmt(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    if not Path("/proc/sys/fs/binfmt_misc/register").exists():
        subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], check=True
        )
    subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=True)


def _start_registry(step: Step, docker: DockerClient, say: Callable[[str], None]) -> None:
    pid = registry.start()
    say(f"   registry (pid {pid}) answers on {registry.ADDRESS}, log {registry.LOG}")


_HANDLERS: dict[Action, Callable[[Step, DockerClient, Callable[[str], None]], None]] = {
    Action.ADD_TRIXIE_SOURCE: _add_trixie_source,
    Action.INSTALL_ENGINE: _install_engine,
    Action.INSTALL_HOST_TOOLS: _install_host_tools,
    Action.WRITE_DAEMON_JSON: _write_daemon_json,
    Action.START_DOCKERD: _start_dockerd,
    Action.ENABLE_BINFMT: _enable_binfmt,
    Action.START_REGISTRY: _start_registry,
    # The host's own suite, as the host tools: the trixie source is pinned at 100.
    Action.INSTALL_CHAPTER_TOOLS: _install_host_tools,
    Action.WRITE_CONTAINERS_CONF: _write_containers_conf,
}


def setup(docker: DockerClient, say: Callable[[str], None]) -> tuple[Plan, HostFacts]:
    """Probe, plan and apply; return the plan and the host's facts afterwards."""
    facts = probe_host(docker)
    the_plan = plan(facts)
    if the_plan.nothing_to_do:
        say("host: engine, plugins, QEMU and registry already installed and running")
        return the_plan, facts
    apply(the_plan.steps, docker, say)
    return the_plan, probe_host(docker)
