"""A small Kustomize renderer for the features deploy/kubernetes uses, so CI renders every overlay
without a kubectl or kustomize binary. Anything else in a kustomization.yaml is refused by name
(not ignored), so the manifests cannot start using a feature this renderer would get wrong;
``test_kubernetes_manifests`` compares its output with ``kubectl kustomize`` where that exists.

Supported: ``resources`` (YAML files, or directories holding a kustomization), ``namespace``,
``labels`` (``pairs`` on metadata only), ``images`` (``newName``/``newTag``), ``replicas``,
``configMapGenerator`` (``files``/``literals``/``options.labels``, with
``generatorOptions.disableNameSuffixHash: true``), and ``patches`` given inline as JSON 6902
operation lists (``add``/``replace``/``remove``) with a ``target`` of ``kind``/``name``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FILE = "kustomization.yaml"
SUPPORTED_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "configMapGenerator",
    "generatorOptions",
    "patches",
}
#: Kinds without a namespace among those the manifests could use.
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "PriorityClass",
    "RuntimeClass",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Pod"}


class KustomizeError(ValueError):
    """A kustomization uses something this renderer does not support, or is malformed."""


def render(directory: Path) -> list[Resource]:
    """The resources ``kubectl kustomize <directory>`` would print, in no particular order."""
    directory = directory.resolve()
    spec = yaml.safe_load((directory / KUSTOMIZATION_FILE).read_text())
    unknown = set(spec) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{directory / KUSTOMIZATION_FILE}: unsupported fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources.extend(render(path))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    resources.extend(_generate_config_maps(directory, spec))
    for patch in spec.get("patches", []):
        _apply_patch(resources, patch, directory)
    for replica in spec.get("replicas", []):
        _set_replicas(resources, replica["name"], int(replica["count"]))
    for image in spec.get("images", []):
        _set_image(resources, image)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    for label in spec.get("labels", []):
        if set(label) - {"pairs"}:
            raise KustomizeError(f"labels: only `pairs` is supported, got {sorted(label)}")
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(label["pairs"])
    return resources


def _generate_config_maps(directory: Path, spec: dict[str, Any]) -> list[Resource]:
    generators = spec.get("configMapGenerator", [])
    if generators and not spec.get("generatorOptions", {}).get("disableNameSuffixHash"):
        raise KustomizeError("configMapGenerator needs generatorOptions.disableNameSuffixHash: true here")
    maps = []
    for generator in generators:
        if set(generator) - {"name", "files", "literals", "options"}:
            raise KustomizeError(f"configMapGenerator {generator.get('name')}: unsupported fields")
        data: dict[str, str] = {}
        for item in generator.get("files", []):
            key, _, source = item.rpartition("=") if "=" in item else (Path(item).name, "", item)
            data[key] = (directory / source).read_text()
        for item in generator.get("literals", []):
            key, _, value = item.partition("=")
            data[key] = value
        metadata: dict[str, Any] = {"name": generator["name"]}
        labels = generator.get("options", {}).get("labels")
        if labels:
            metadata["labels"] = dict(labels)
        maps.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    return maps


def _apply_patch(resources: list[Resource], patch: dict[str, Any], directory: Path) -> None:
    target = patch.get("target", {})
    if set(target) - {"kind", "name"} or "patch" not in patch:
        raise KustomizeError(f"{directory}: patches need an inline `patch` and a target of kind/name")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"{directory}: only JSON 6902 patches (a list of operations) are supported")
    matched = [
        r
        for r in resources
        if r["kind"] == target.get("kind", r["kind"])
        and r["metadata"]["name"] == target.get("name", r["metadata"]["name"])
    ]
    if not matched:
        raise KustomizeError(f"{directory}: patch target {target} matches no resource")
    for resource in matched:
        for operation in operations:
            _apply_operation(resource, operation)


def _apply_operation(document: Resource, operation: dict[str, Any]) -> None:
    op, pointer = operation["op"], operation["path"]
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    parent: Any = document
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if op in ("add", "replace"):
        value = copy.deepcopy(operation["value"])
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op == "add":
                parent.insert(index, value)
            else:
                parent[index] = value
        else:
            if op == "replace" and last not in parent:
                raise KustomizeError(f"replace {pointer}: no such field")
            parent[last] = value
    elif op == "remove":
        del parent[int(last) if isinstance(parent, list) else last]
    else:
        raise KustomizeError(f"JSON patch operation {op!r} is not supported")


def _set_replicas(resources: list[Resource], name: str, count: int) -> None:
    targets = [r for r in resources if r["kind"] in WORKLOAD_KINDS and r["metadata"]["name"] == name]
    if not targets:
        raise KustomizeError(f"replicas: no workload named {name}")
    for resource in targets:
        resource["spec"]["replicas"] = count


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    for container in containers(resources):
        name, tag = split_image(container["image"])
        if name == image["name"]:
            new_name = image.get("newName", name)
            new_tag = image.get("newTag", tag)
            container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def split_image(image: str) -> tuple[str, str | None]:
    """``registry:5000/name:tag`` → (``registry:5000/name``, ``tag``)."""
    head, _, last = image.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
        return (f"{head}/{last}" if head else last), tag
    return image, None


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    """The pod template's spec of a workload (None for other kinds)."""
    if resource["kind"] == "Pod":
        return dict(resource["spec"])
    if resource["kind"] == "CronJob":
        return dict(resource["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    if resource["kind"] in WORKLOAD_KINDS:
        return dict(resource["spec"]["template"]["spec"])
    return None


def containers(resources: list[Resource]) -> list[dict[str, Any]]:
    found = []
    for resource in resources:
        spec = pod_spec(resource)
        if spec is not None:
            found.extend(spec.get("initContainers", []) + spec.get("containers", []))
    return found
