"""The GitHub Actions workflow cannot run here: validate it against GitHub's schema offline
and check the properties that matter (nothing is pushed before the tests pass)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))
CI = WORKFLOWS[0].parent / "ci.yml"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_valid_against_the_vendored_github_workflow_schema(workflow: Path) -> None:
    check = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run(
        [str(check), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_where_installed(workflow: Path) -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (optional; the schema test always runs)")
    proc = subprocess.run([actionlint, str(workflow)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def load() -> dict:
    return yaml.safe_load(CI.read_text())


def test_stages_matrix_comes_from_the_stage_list() -> None:
    jobs = load()["jobs"]
    assert "invoke stage.list --json" in str(jobs["test"]["steps"])
    assert jobs["stage"]["needs"] == "test"
    assert "needs.test.outputs.stages" in jobs["stage"]["strategy"]["matrix"]["stage"]
    runs = [step.get("run", "") for step in jobs["stage"]["steps"]]
    assert any(r.startswith("invoke image.build") for r in runs)
    assert any(r.startswith("invoke image.scan") and "--require-vuln-scan" in r for r in runs)


def test_release_pushes_only_after_tests_and_scans_and_signs_by_digest() -> None:
    release = load()["jobs"]["release"]
    assert set(release["needs"]) == {"test", "stage"}
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert release["permissions"]["id-token"] == "write"
    steps = release["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    first_trivy = uses.index("aquasecurity/trivy-action")
    pushing = [i for i, s in enumerate(steps) if s.get("with", {}).get("push") is True]
    assert pushing and all(i > first_trivy for i in pushing)
    (push,) = (steps[i] for i in pushing)
    assert push["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert push["with"]["provenance"] == "mode=max"
    signing = [s["run"] for s in steps if "cosign" in s.get("run", "")]
    assert len(signing) == 2
    assert all("@${DIGEST}" in run for run in signing)
    assert "--type cyclonedx" in signing[1]


def test_no_job_can_write_by_default() -> None:
    assert load()["permissions"] == {"contents": "read"}
