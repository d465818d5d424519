"""The setup plan: what a host has, what it lacks, what `invoke setup` will do (no engine)."""

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ops import bootstrap
from ops.bootstrap import (
    CHAPTER_PACKAGES,
    ENGINE_PACKAGES,
    HOST_PACKAGES,
    Action,
    HostFacts,
    Step,
    apt_suites,
    host_mirror,
    plan,
)
from ops.engine import EngineFacts, version_tuple

RUNNING = EngineFacts(
    server_version="26.1.5+dfsg1",
    api_version="1.45",
    containerd_store=True,
    buildx_version="0.13.1",
    compose_version="2.26.1",
    platforms=("linux/amd64", "linux/arm64"),
)
BARE_BOOKWORM = HostFacts(os_id="debian", os_codename="bookworm", is_root=True)
READY = replace(
    BARE_BOOKWORM,
    installed=frozenset(ENGINE_PACKAGES + HOST_PACKAGES + CHAPTER_PACKAGES),
    trixie_source=True,
    containers_conf=True,
    dockerd_installed=True,
    daemon_json_snapshotter=True,
    binfmt_arm64=True,
    cosign=True,
    registry_answering=True,
    engine=RUNNING,
)
# Docker Desktop on a Mac: an engine that answers, no apt, not root, no registry.
LAPTOP = HostFacts(os_id="", is_root=False, cosign=True, engine=RUNNING)


def actions(facts: HostFacts) -> list[Action]:
    return [step.action for step in plan(facts).steps]


def test_bare_bookworm_gets_everything_in_order() -> None:
    assert actions(BARE_BOOKWORM) == [
        Action.ADD_TRIXIE_SOURCE,
        Action.INSTALL_ENGINE,
        Action.INSTALL_HOST_TOOLS,
        Action.WRITE_DAEMON_JSON,
        Action.START_DOCKERD,
        Action.ENABLE_BINFMT,
        Action.START_REGISTRY,
        Action.INSTALL_CHAPTER_TOOLS,
        Action.WRITE_CONTAINERS_CONF,
    ]
    engine_step = plan(BARE_BOOKWORM).steps[1]
    assert engine_step.packages == ENGINE_PACKAGES
    assert plan(BARE_BOOKWORM).missing == ()


def test_podman_comes_from_the_host_suite_with_its_ulimits() -> None:
    without = replace(READY, installed=READY.installed - {"podman"}, containers_conf=False)
    step = next(s for s in plan(without).steps if s.action is Action.INSTALL_CHAPTER_TOOLS)
    assert step.packages == ("podman",)
    assert actions(without) == [Action.INSTALL_CHAPTER_TOOLS, Action.WRITE_CONTAINERS_CONF]
    # Optional: a host setup cannot install it on is not told it is missing.
    assert "podman" not in {m.what for m in plan(replace(without, is_root=False)).missing}


def test_trixie_installs_natively_without_an_extra_source() -> None:
    trixie = replace(BARE_BOOKWORM, os_codename="trixie", trixie_source=True)
    assert Action.ADD_TRIXIE_SOURCE not in actions(trixie)
    assert Action.INSTALL_ENGINE in actions(trixie)
    # os-release alone is not enough: base-files from trixie on a host whose apt still
    # knows only bookworm.
    upgraded = replace(BARE_BOOKWORM, os_codename="trixie", trixie_source=False)
    assert actions(upgraded)[:2] == [Action.ADD_TRIXIE_SOURCE, Action.INSTALL_ENGINE]


def test_apt_suites_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
    )
    (tmp_path / "sources.list").write_text(
        "# deb http://old trixie main\ndeb [arch=amd64 signed-by=/k.gpg] http://x/debian sid main\n"
    )
    (tmp_path / "sources.list.d" / "off.list.disabled").write_text("deb http://y trixie main\n")
    assert apt_suites(tmp_path) == {"bookworm", "bookworm-updates", "sid"}


def test_second_run_has_nothing_to_do() -> None:
    result = plan(READY)
    assert result.nothing_to_do
    assert result.missing == ()


def test_installed_but_stopped_engine_and_registry_are_only_started() -> None:
    stopped = replace(READY, engine=EngineFacts(), registry_answering=False)
    assert actions(stopped) == [Action.START_DOCKERD, Action.START_REGISTRY]


def test_existing_engine_is_never_touched() -> None:
    # A CI runner on Debian with its own engine (no containerd store, no daemon.json of
    # ours): setup installs the host tools it lacks but no engine package, no config, no
    # restart.
    runner = replace(
        BARE_BOOKWORM,
        cosign=True,
        engine=replace(RUNNING, containerd_store=False, platforms=("linux/amd64",)),
    )
    planned = plan(runner)
    assert Action.INSTALL_ENGINE not in actions(runner)
    assert Action.WRITE_DAEMON_JSON not in actions(runner)
    assert Action.START_DOCKERD not in actions(runner)
    tools = next(s for s in planned.steps if s.action is Action.INSTALL_HOST_TOOLS)
    assert "docker.io" not in tools.packages


def test_existing_engine_without_cosign_gets_only_cosign() -> None:
    runner = replace(READY, cosign=False, installed=frozenset(HOST_PACKAGES))
    engine_steps = [s for s in plan(runner).steps if s.action is Action.INSTALL_ENGINE]
    assert [s.packages for s in engine_steps] == [("cosign",)]


def test_laptop_is_only_checked_and_told_the_fixes() -> None:
    result = plan(LAPTOP)
    assert result.steps == ()
    missing = {item.what: item.fix for item in result.missing}
    assert "registry:2" in missing["docker-registry"]
    # Docker Desktop runs arm64 images itself: no QEMU packages asked for.
    assert "qemu-user-static" not in missing
    assert "Docker Engine" not in missing


def test_not_root_on_debian_lists_packages_instead_of_installing() -> None:
    user = replace(BARE_BOOKWORM, is_root=False)
    result = plan(user)
    assert result.steps == ()
    assert {"docker.io", "mmdebstrap", "Docker Engine"} <= {m.what for m in result.missing}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("26.1.5+dfsg1", (26, 1, 5)), ("v0.13.1", (0, 13, 1)), ("2.26.1-4", (2, 26, 1)), (None, ())],
)
def test_version_tuple(text: str | None, expected: tuple[int, ...]) -> None:
    assert version_tuple(text) == expected


def test_host_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"
    )
    (tmp_path / "sources.list.d" / "other.list").write_text("deb https://elsewhere/apt x main\n")
    assert host_mirror(tmp_path) == "http://mirror.example/debian"


def test_host_mirror_defaults_to_deb_debian_org(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    assert host_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_a_failed_step_names_itself_and_its_command(monkeypatch) -> None:
    def failing(step, docker, say) -> None:
        raise subprocess.CalledProcessError(100, ["apt-get", "install", "-y", "docker.io"])

    monkeypatch.setitem(bootstrap._HANDLERS, Action.INSTALL_ENGINE, failing)
    said: list[str] = []
    with pytest.raises(bootstrap.SetupError) as raised:
        bootstrap.apply((Step(Action.INSTALL_ENGINE, ("docker.io",)),), None, said.append)
    assert said == [f"-> {Step(Action.INSTALL_ENGINE, ('docker.io',)).describe()}"]
    assert "`apt-get install -y docker.io` exited 100" in str(raised.value)
    assert "install Engine 26" in str(raised.value)
