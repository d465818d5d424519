"""Image policy checks on recorded `docker image inspect` output and build history
(tests/data/inspect/, recorded from the good and bad test images on this engine)."""

import json
import tarfile
from pathlib import Path

import pytest
from python_on_whales.components.image.models import ImageInspectResult

from ops.scan import policy
from ops.scan.policy import FileEntry

DATA = Path(__file__).resolve().parents[1] / "data"


def inspect(name: str) -> ImageInspectResult:
    (raw,) = json.loads((DATA / "inspect" / f"{name}.json").read_text())
    return ImageInspectResult.model_validate(raw)


def history(name: str) -> list[str]:
    return json.loads((DATA / "inspect" / f"{name}-history.json").read_text())


def statuses(name: str, budget_mb: int) -> dict[str, str]:
    dockerfile = (DATA / f"{name}-image" / "Dockerfile").read_text()
    results = policy.check_all(inspect(name), history(name), [], dockerfile, budget_mb)
    return {r.check: r.status for r in results}


def test_the_good_image_passes_every_policy() -> None:
    assert set(statuses("good", 250).values()) == {"pass"}


def test_the_bad_image_fails_every_inspect_and_history_policy() -> None:
    assert statuses("bad", 10) == {
        "policy.non_root": "fail",
        "policy.healthcheck": "fail",
        "policy.no_secret_env": "fail",
        "policy.no_secret_labels": "fail",
        "policy.no_secret_history": "fail",
        "policy.no_setuid": "pass",  # no files given here: see the file tests below
        "policy.no_world_writable": "pass",
        "policy.base_pinned": "fail",
        "policy.oci_labels": "fail",
        "policy.size_budget": "fail",
    }


def test_secret_findings_name_the_variable_not_its_value() -> None:
    findings = policy.no_secret_env(inspect("bad")).findings
    assert [f.message for f in findings] == ["ENV API_TOKEN holds a secret value"]
    assert "hunter2" not in str(policy.no_secret_labels(inspect("bad")).findings)
    messages = [f.message for f in policy.no_secret_history(history("bad")).findings]
    assert any("DB_PASSWORD holds a secret value" in m for m in messages)
    assert any("contains a key or token" in m for m in messages)  # the AWS key in a RUN
    assert not any("changeme" in m or "AKIA" in m for m in messages)


@pytest.mark.parametrize(
    ("env", "flagged"),
    [
        ("DRIFTWOOD_SECRET_KEY_FILE=/run/secrets/secret_key", False),
        ("PASSWORD=", False),
        ("PATH=/usr/bin", False),
        ("GITHUB=ghp_" + "a" * 36, True),
        ("DB_PASSWORD=hunter2", True),
    ],
)
def test_secret_names_and_values(env: str, flagged: bool) -> None:
    image = ImageInspectResult.model_validate({"Config": {"Env": [env]}})
    assert (policy.no_secret_env(image).status == "fail") is flagged


def test_root_users() -> None:
    for user in ("", "root", "0", "0:0"):
        image = ImageInspectResult.model_validate({"Config": {"User": user}})
        assert policy.non_root(image).status == "fail"
    image = ImageInspectResult.model_validate({"Config": {"User": "driftwood"}})
    assert policy.non_root(image).status == "pass"


def entry(path: str, mode: int, kind: int = tarfile.REGTYPE) -> FileEntry:
    info = tarfile.TarInfo(path)
    info.mode, info.type = mode, kind
    return FileEntry.from_tarinfo(info)


def test_setuid_and_setgid_files() -> None:
    files = [
        entry("usr/bin/su", 0o4755),
        entry("usr/bin/chage", 0o2755),
        entry("usr/bin/ls", 0o755),
        entry("usr/local", 0o2775, tarfile.DIRTYPE),  # setgid directories are not programs
    ]
    found = [f.location for f in policy.no_setuid(files).findings]
    assert found == ["/usr/bin/su", "/usr/bin/chage"]


def test_world_writable_outside_tmp() -> None:
    files = [
        entry("tmp", 0o1777, tarfile.DIRTYPE),
        entry("var/tmp", 0o1777, tarfile.DIRTYPE),
        entry("run/lock", 0o1777, tarfile.DIRTYPE),
        entry("var/lock", 0o1777, tarfile.DIRTYPE),
        entry("dev/shm", 0o1777, tarfile.DIRTYPE),
        entry("opt", 0o777, tarfile.DIRTYPE),
        entry("etc/app.conf", 0o666),
        entry("usr/bin/python3", 0o777, tarfile.SYMTYPE),  # symlinks are always 777
    ]
    found = [f.location for f in policy.no_world_writable(files).findings]
    assert found == ["/opt", "/etc/app.conf"]


@pytest.mark.parametrize(
    ("dockerfile", "refs"),
    [
        ("FROM python:3.13\n", [(1, "python:3.13")]),
        (
            "ARG BASE=debian:trixie-slim@sha256:" + "a" * 64 + "\n"
            "FROM ${BASE} AS build\nFROM build\nFROM scratch\n"
            "FROM --platform=$BUILDPLATFORM $BASE AS other\n",
            [(2, "debian:trixie-slim@sha256:" + "a" * 64)] * 2,
        ),
        ("FROM alpine AS a\nARG LATE=x\nFROM ${LATE}\n", [(1, "alpine"), (3, "${LATE}")]),
        ("# comment\nFROM \\\n  busybox\n", [(2, "busybox")]),
    ],
)
def test_base_refs_resolve_global_args_and_skip_stages(dockerfile: str, refs: list) -> None:
    found = policy.base_refs(dockerfile)
    assert [ref for _, ref in found] == [ref for _, ref in refs]
    assert found[0][0] == refs[0][0]


def test_a_placeholder_is_not_a_pin() -> None:
    check = policy.base_pinned("ARG B=debian:trixie-slim@sha256:DIGEST\nFROM ${B}\n")
    assert check.status == "fail"
    assert check.findings[0].line == 2


MULTI_TARGET = """\
ARG DEBIAN=debian:trixie-slim@sha256:%s
ARG NGINX=nginx:1.30-trixie
FROM --platform=$BUILDPLATFORM ${DEBIAN} AS build
FROM build AS venv
FROM ${DEBIAN} AS rootfs
FROM ${NGINX} AS web
COPY --from=venv /x /x
FROM scratch AS app
COPY --link --from=rootfs / /
COPY --from=1 /opt/venv /opt/venv
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /uv
""" % ("a" * 64)


def test_a_target_counts_only_the_bases_it_is_built_from() -> None:
    app = [ref for _, ref in policy.base_refs(MULTI_TARGET, "app")]
    # rootfs directly, build through venv (stage 1 by number), and the image it copies from;
    # not nginx, which only the `web` target uses.
    assert app == ["debian:trixie-slim@sha256:" + "a" * 64] * 2 + ["ghcr.io/astral-sh/uv:0.9"]
    web = [ref for _, ref in policy.base_refs(MULTI_TARGET, "WEB")]
    assert web == ["debian:trixie-slim@sha256:" + "a" * 64, "nginx:1.30-trixie"]
    assert policy.base_pinned(MULTI_TARGET, target="app").findings[0].line == 11
    assert len(policy.base_refs(MULTI_TARGET)) == 4  # no target: the whole Dockerfile
