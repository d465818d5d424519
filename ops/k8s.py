"""Driftwood's Kubernetes manifests (deploy/k8s/): read them, validate them offline against
the Kubernetes schemas, and adapt them for `podman kube play` on one host.

`podman kube play` runs a subset of Kubernetes: Pods, Deployments, PersistentVolumeClaims
and ConfigMaps (Podman 4.3, Debian 12's). It has no Services, no StatefulSets and no cluster
DNS, and it publishes every containerPort on the host. `for_podman()` rewrites the manifests
the way kustomize would (a name prefix, image references), plus what one host needs: each
workload becomes one Pod (a StatefulSet's claims become PersistentVolumeClaims), the
Services become the pod names Podman's DNS answers, and only the ports asked for are
published, on loopback. It is pure data in,
data out, so it is unit tested without Podman.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

MANIFESTS = Path("deploy/k8s")
# The oldest Kubernetes minor still supported upstream when these manifests were written.
KUBERNETES_VERSION = "1.32"
WORKLOADS = ("Deployment", "StatefulSet")

Document = dict[str, Any]


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file."""


def load(folder: Path) -> list[Document]:
    """Every document of every *.yaml in `folder`, files in name order."""
    documents = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
        except yaml.YAMLError as exc:
            raise ManifestError(f"{path}: not valid YAML: {exc}") from exc
    if not documents:
        raise ManifestError(f"{folder}: no Kubernetes manifests (*.yaml)")
    return documents


def validate(documents: list[Document], version: str = KUBERNETES_VERSION) -> list[str]:
    """Each document against the schema of Kubernetes `version`, strictly (an unknown field,
    a typo, is an error too): one line per problem, empty when all are valid."""
    problems = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{name_of(document)}: {exc.message} at {list(exc.path)}")
    return problems


def name_of(document: Document) -> str:
    return f"{document.get('kind', '?')}/{document.get('metadata', {}).get('name', '?')}"


def podman_secret(values: Mapping[str, str]) -> str:
    """A Secret's data as Podman 4.3 reads it for secretKeyRef and secret volumes: a JSON
    object of base64 values (`podman secret create NAME FILE`)."""
    return json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in values.items()})


def for_podman(
    documents: list[Document],
    *,
    prefix: str,
    images: Mapping[str, str],
    publish: Mapping[str, int],
    secret_folders: Mapping[str, str],
) -> list[list[Document]]:
    """The manifests as one host runs them with `podman kube play`: one group of documents
    per workload, StatefulSets first. Podman is no controller: an init container that fails
    because the database is still starting is never retried, so the caller plays a group
    and waits for it to be ready before playing the next.

    `prefix` goes before every name (pods, claims, Secret references); `images` maps an
    image reference to the one to run; `publish` maps a named containerPort to the
    loopback port it is published on (every other port stays unpublished);
    `secret_folders` maps a Secret mounted as a volume to a host folder holding its keys as
    files (Podman 4.3's secret volumes crash `kube play`; its secretKeyRef works).
    """
    workloads = [d for d in documents if d.get("kind") in WORKLOADS]
    hosts = {
        service["metadata"]["name"]: pod_name(prefix, workload)
        for service in documents
        if service.get("kind") == "Service"
        for workload in workloads
        if _selects(service, workload)
    }
    groups: list[list[Document]] = []
    for workload in sorted(workloads, key=lambda w: w["kind"] != "StatefulSet"):
        adapted: list[Document] = []
        name = workload["metadata"]["name"]
        template = copy.deepcopy(workload["spec"]["template"])
        pod = template["spec"]
        # A Pod, not a Deployment: Podman 4.3 gives init containers the pod's restart
        # policy, and a Deployment's `Always` would rerun the migration forever.
        pod["restartPolicy"] = "OnFailure"
        for claim_template in workload["spec"].get("volumeClaimTemplates", []):
            claim = f"{prefix}-{name}-{claim_template['metadata']['name']}"
            adapted.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim},
                    "spec": claim_template["spec"],
                }
            )
            pod.setdefault("volumes", []).append(
                {
                    "name": claim_template["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": claim},
                }
            )
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                folder = secret_folders[volume.pop("secret")["secretName"]]
                volume["hostPath"] = {"path": folder, "type": "Directory"}
        for key in ("initContainers", "containers"):
            if key in pod:
                pod[key] = [_container(c, prefix, images, publish, hosts) for c in pod[key]]
        metadata = {**template.get("metadata", {}), "name": pod_name(prefix, workload)}
        adapted.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod})
        groups.append(adapted)
    return groups


def pod_name(prefix: str, workload: Document) -> str:
    """The workload's pod on one host; Podman's network DNS answers this name."""
    return f"{prefix}-{workload['metadata']['name']}"


def _selects(service: Document, workload: Document) -> bool:
    selector = service.get("spec", {}).get("selector", {})
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _container(
    original: Document,
    prefix: str,
    images: Mapping[str, str],
    publish: Mapping[str, int],
    hosts: Mapping[str, str],
) -> Document:
    # A copy of its own: YAML anchors (`env: *env`) make containers share these lists.
    container = copy.deepcopy(original)
    container["image"] = images.get(container["image"], container["image"])
    numbers = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    ports = []
    for port in container.pop("ports", []):
        if port.get("name") in publish:
            ports.append({**port, "hostIP": "127.0.0.1", "hostPort": publish[port["name"]]})
    if ports:
        container["ports"] = ports
    # Probes by port number: the names may belong to ports that are no longer declared.
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        action = container.get(probe, {}).get("httpGet")
        if action and action["port"] in numbers:
            action["port"] = numbers[action["port"]]
    for variable in container.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference:
            reference["name"] = f"{prefix}-{reference['name']}"
        if "value" in variable:
            for service, host in hosts.items():
                variable["value"] = variable["value"].replace(f"@{service}:", f"@{host}:")
    return container
