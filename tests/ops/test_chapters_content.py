"""Chapters 04-06 without an engine: reading BuildKit's progress, where two image archives
differ, and the chapter files that must stay in step."""

import io
import json
import tarfile
from pathlib import Path

from ops.lessons.ch04 import DEPENDENCY_STEP, BuildRun, step_states
from ops.lessons.ch05 import differing_files

CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"

PROGRESS = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#5 [2/6] RUN apt-get update && apt-get install -y build-essential libpq-dev
#5 CACHED
#7 [4/6] RUN --mount=type=secret,id=ca,required=false if [ -f /run/secrets/ca ]; then \
export PIP_CERT=/run/secrets/ca; fi && pip install -r requirements/app.lock
#7 0.512 Collecting flask==3.1.3
#7 DONE 12.3s
#3 [internal] load build context
#3 transferring context: 2.31MB 0.4s done
#3 DONE 0.5s
""".splitlines(keepends=True)


def test_step_states_name_each_step_by_its_whole_instruction() -> None:
    run = BuildRun("t", 1.0, step_states(PROGRESS))
    assert run.state(DEPENDENCY_STEP) == "DONE"
    assert run.state("apt-get install") == "CACHED"
    assert run.state("load build context") is None  # BuildKit's own steps are left out
    assert run.cached == 1


def _archive(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal OCI-style archive: one uncompressed layer blob and a config blob."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blobs = {"blobs/sha256/layer": layer.getvalue(), "blobs/sha256/config": json.dumps({}).encode()}
    with tarfile.open(path, "w") as out:
        for name, data in blobs.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return path


def test_differing_files_names_what_changed_between_two_builds(tmp_path: Path) -> None:
    one = _archive(tmp_path / "1.tar", {"usr/a": b"same", "var/log/dpkg.log": b"12:00"})
    two = _archive(tmp_path / "2.tar", {"usr/a": b"same", "var/log/dpkg.log": b"12:01"})
    assert differing_files(one, two) == ["var/log/dpkg.log"]
    assert differing_files(one, one) == []


def test_stage_06_builds_chapter_05s_image_unchanged() -> None:
    for name in ("Dockerfile", ".dockerignore"):
        five = (CHAPTERS / "05-building-well" / "files" / name).read_bytes()
        assert (CHAPTERS / "06-storage" / "files" / name).read_bytes() == five, name
