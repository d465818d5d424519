"""Chapters 04-06 without an engine: reading BuildKit's progress, where two image archives
differ, and the chapter files that must stay in step."""

import hashlib
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


def _blob(out: tarfile.TarFile, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest.removeprefix("sha256:"))
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return digest


def _archive(path: Path, *layers: dict[str, bytes]) -> Path:
    """A minimal OCI archive: index.json -> manifest -> uncompressed layers."""
    with tarfile.open(path, "w") as out:
        digests = []
        for files in layers:
            layer = io.BytesIO()
            with tarfile.open(fileobj=layer, mode="w") as tar:
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            digests.append(_blob(out, layer.getvalue()))
        manifest = json.dumps({"layers": [{"digest": d} for d in digests]}).encode()
        index = json.dumps({"manifests": [{"digest": _blob(out, manifest)}]}).encode()
        info = tarfile.TarInfo("index.json")
        info.size = len(index)
        out.addfile(info, io.BytesIO(index))
    return path


def test_differing_files_names_the_layer_and_path_that_changed(tmp_path: Path) -> None:
    base = {"etc/os-release": b"trixie"}
    one = _archive(tmp_path / "1.tar", base, {"usr/a": b"same", "var/log/dpkg.log": b"12:00"})
    two = _archive(tmp_path / "2.tar", base, {"usr/a": b"same", "var/log/dpkg.log": b"12:01"})
    assert differing_files(one, two) == ["layer 2: var/log/dpkg.log (content)"]
    assert differing_files(one, one) == []
    assert differing_files(one, _archive(tmp_path / "3.tar", base)) == ["2 layers vs 1"]
