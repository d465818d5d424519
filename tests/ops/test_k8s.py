"""deploy/k8s: valid against the Kubernetes schemas, hardened like compose.prod.yaml, and
adapted for `podman kube play` without losing what the chapter teaches."""

from pathlib import Path

import pytest

from ops import k8s
from ops.baseimages import load_lock

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = k8s.load(ROOT / k8s.MANIFESTS)
PREFIX = "driftwood-stage-12"


def workload(kind: str) -> dict:
    return next(d for d in DOCUMENTS if d["kind"] == kind)


def pod_spec(kind: str) -> dict:
    return workload(kind)["spec"]["template"]["spec"]


def test_manifests_validate_strictly() -> None:
    assert k8s.validate(DOCUMENTS) == []
    assert sorted(k8s.name_of(d) for d in DOCUMENTS) == [
        "Deployment/driftwood",
        "Service/driftwood",
        "Service/driftwood-db",
        "StatefulSet/driftwood-db",
    ]


def test_a_misspelt_field_and_a_wrong_type_are_rejected() -> None:
    deployment = workload("Deployment")
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    wrong_type = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    assert len(k8s.validate([typo, wrong_type])) == 2


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_every_container_is_hardened_as_in_compose_prod(kind: str) -> None:
    spec = pod_spec(kind)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec.get("initContainers", []) + spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"]


def test_app_probes_health_and_readiness_and_reads_secrets_as_files() -> None:
    app = pod_spec("Deployment")["containers"][0]
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("value") for e in app["env"]}
    assert env["DRIFTWOOD_DATABASE_PASSWORD_FILE"].startswith("/run/secrets/driftwood/")
    assert "DRIFTWOOD_SECRET_KEY" not in env
    volumes = {v["name"]: v for v in pod_spec("Deployment")["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "driftwood"


def test_postgres_image_is_the_locked_ref() -> None:
    assert pod_spec("StatefulSet")["containers"][0]["image"] == load_lock()["postgres"].ref


def for_podman() -> list[list[dict]]:
    return k8s.for_podman(
        DOCUMENTS,
        prefix=PREFIX,
        images={"postgres:17-trixie": "registry.test/postgres@sha256:abc"},
        publish={"http": 8013},
        secret_folders={"driftwood": "/tmp/secrets"},
    )


def test_podman_plays_the_database_first_as_a_pod_with_its_claim() -> None:
    database, app = for_podman()
    assert [k8s.name_of(d) for d in database] == [
        f"PersistentVolumeClaim/{PREFIX}-driftwood-db-data",
        f"Pod/{PREFIX}-driftwood-db",
    ]
    assert [k8s.name_of(d) for d in app] == [f"Pod/{PREFIX}-driftwood"]
    pod = database[1]["spec"]
    assert pod["containers"][0]["image"] == "registry.test/postgres@sha256:abc"
    assert {
        "name": "data",
        "persistentVolumeClaim": {"claimName": f"{PREFIX}-driftwood-db-data"},
    } in pod["volumes"]
    # No port of the database is published on the host.
    assert "ports" not in pod["containers"][0]
    reference = pod["containers"][0]["env"][2]["valueFrom"]["secretKeyRef"]
    assert reference["name"] == f"{PREFIX}-driftwood"


def test_podman_app_reaches_the_database_pod_and_publishes_on_loopback_only() -> None:
    pod = for_podman()[1][0]["spec"]
    migrate, app = pod["initContainers"][0], pod["containers"][0]
    for container in (migrate, app):
        url = next(e["value"] for e in container["env"] if e["name"] == "DRIFTWOOD_DATABASE_URL")
        assert f"@{PREFIX}-driftwood-db:5432/" in url
    assert app["ports"] == [
        {"name": "http", "containerPort": 8000, "hostIP": "127.0.0.1", "hostPort": 8013}
    ]
    assert app["readinessProbe"]["httpGet"]["port"] == 8000
    assert "ports" not in migrate
    secrets = next(v for v in pod["volumes"] if v["name"] == "secrets")
    assert secrets == {"name": "secrets", "hostPath": {"path": "/tmp/secrets", "type": "Directory"}}
    assert pod["restartPolicy"] == "OnFailure"


def test_the_manifests_themselves_are_left_unchanged() -> None:
    before = k8s.load(ROOT / k8s.MANIFESTS)
    for_podman()
    assert before == DOCUMENTS


def test_podman_secret_is_json_of_base64_values() -> None:
    assert k8s.podman_secret({"a": "xyz"}) == '{"a": "eHl6"}'


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(k8s.ManifestError, match="no Kubernetes manifests"):
        k8s.load(tmp_path)
