"""Chapter 10's hardening layer covers every service `up` starts, and the lesson's /proc
readers see this very process as the kernel does (no engine needed)."""

import os
from pathlib import Path
from typing import Any

import yaml

from ops.lessons.probes import process_status, same_pid_namespace

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "chapters/10-security/files/compose.security.yaml"


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_every_service_up_starts_is_hardened() -> None:
    started = {
        name for name, service in load(ROOT / "compose.yaml")["services"].items()
        if "profiles" not in service
    }  # fmt: skip
    layer = load(LAYER)["services"]
    assert set(layer) == started
    for name, service in layer.items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "cap_add" not in service, name
        assert service["security_opt"] == ["no-new-privileges:true"], name  # default seccomp
        assert any(mount.startswith("/tmp:") for mount in service["tmpfs"]), name


def test_proc_readers_see_this_process() -> None:
    status = process_status(os.getpid())
    assert status["Uid"].split()[0] == str(os.getuid())
    assert int(status["CapEff"], 16) >= 0 and status["NoNewPrivs"] in {"0", "1"}
    found = same_pid_namespace(os.getpid())
    assert {os.getpid(), os.getppid()} <= set(found) and found == sorted(found)
