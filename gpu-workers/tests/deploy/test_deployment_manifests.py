"""The Kubernetes overlays render and validate against the Kubernetes schemas; they, and the
compose stack, set every variable the services and the worker read, with matching images and ports;
the worker image installs a Python its base image's archive has."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy.base_images import ARCHIVE_PYTHONS, base_release, installed_pythons
from deploy.deployment_settings import (
    SERVICE_CREDENTIALS,
    SERVICES,
    WORKER_CREDENTIALS,
    check_compose,
    check_kubernetes,
    find,
)
from deploy.kustomize import KustomizeError, Resource, render

REPO = Path(__file__).resolve().parents[3]
OVERLAYS = REPO / "deploy" / "kubernetes" / "overlays"
#: The Kubernetes version the manifests are validated against (schemas shipped by kubernetes-validate).
KUBERNETES_VERSION = "1.32.0"


def overlays() -> list[Path]:
    found = sorted(path for path in OVERLAYS.iterdir() if (path / "kustomization.yaml").exists())
    assert {path.name for path in found} >= {"single-node", "cluster"}
    return found


@pytest.fixture(params=overlays(), ids=lambda path: path.name)
def overlay(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


def test_every_resource_of_an_overlay_validates_against_the_kubernetes_schemas(overlay: Path) -> None:
    problems = []
    for resource in render(overlay):
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{resource['kind']}/{resource['metadata']['name']}: {error.message}")
    assert problems == []


def test_an_overlay_sets_every_variable_the_services_and_the_worker_read(overlay: Path) -> None:
    assert check_kubernetes(REPO, render(overlay)) == []


def test_the_cluster_overlay_runs_three_clustered_nats_servers_with_jetstream_on_volumes() -> None:
    resources = render(OVERLAYS / "cluster")
    nats = find(resources, "StatefulSet", "nats")
    assert nats is not None and nats["spec"]["replicas"] == 3
    assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    config_map = find(resources, "ConfigMap", "nats-config")
    assert config_map is not None
    config = config_map["data"]["nats.conf"]
    assert "jetstream" in config and all(f"nats-{i}.nats-headless:6222" in config for i in range(3))
    # The services ask for as many copies of each stream as there are servers.
    settings = find(resources, "ConfigMap", "hounsfield-config")
    assert settings is not None and settings["data"]["HOUNSFIELD_JETSTREAM_REPLICAS"] == "3"


def test_the_worker_daemonset_holds_gpus_on_gpu_nodes_with_shared_memory_and_host_network() -> None:
    worker = find(render(OVERLAYS / "cluster"), "DaemonSet", "worker")
    assert worker is not None
    spec = worker["spec"]["template"]["spec"]
    assert spec["hostNetwork"] and spec["nodeSelector"] and spec["tolerations"]
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] >= 1
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"


def test_the_grafana_dashboards_are_config_maps_with_every_dashboard() -> None:
    dashboards = find(render(OVERLAYS / "cluster"), "ConfigMap", "grafana-dashboards")
    assert dashboards is not None
    shipped = {path.name for path in (REPO / "deploy" / "grafana" / "dashboards").glob("*.json")}
    assert set(dashboards["data"]) == shipped


def test_a_manifest_that_leaves_out_a_variable_a_service_reads_fails_the_check(tmp_path: Path) -> None:
    resources = render(OVERLAYS / "cluster")
    config = find(resources, "ConfigMap", "hounsfield-config")
    assert config is not None
    del config["data"]["HOUNSFIELD_NATS_URL"]
    problems = check_kubernetes(REPO, resources)
    assert any(p.startswith("scheduler: reads HOUNSFIELD_NATS_URL") for p in problems), problems


def test_a_variable_a_service_starts_reading_fails_the_check_until_a_manifest_sets_it(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for relative in [
        "libs/runtime/src/config.ts",
        "libs/storage/src/storage.config.ts",
        "deploy/docker/service.Dockerfile",
        "deploy/docker/worker.Dockerfile",
    ] + [
        f"services/{s}/src/config.ts"
        for s in ("gateway", "scheduler", "checkpoints", "metrics", "evaluation")
    ]:
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / relative, copy / relative)
    config = copy / "services/scheduler/src/config.ts"
    config.write_text(
        config.read_text().replace(
            "schedulerEnvSchema = baseEnvSchema.extend({",
            "schedulerEnvSchema = baseEnvSchema.extend({\n  HOUNSFIELD_SCHEDULER_NEW_SETTING: z.string(),",
        )
    )
    resources = render(OVERLAYS / "cluster")
    assert any("HOUNSFIELD_SCHEDULER_NEW_SETTING" in p for p in check_kubernetes(copy, resources))
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert any("HOUNSFIELD_SCHEDULER_NEW_SETTING" in p for p in check_compose(copy, compose, prometheus))


def test_grants_for_an_endpoint_the_workers_cannot_reach_fail_the_checks() -> None:
    resources = render(OVERLAYS / "cluster")
    config = find(resources, "ConfigMap", "hounsfield-config")
    assert config is not None
    config["data"]["HOUNSFIELD_S3_ENDPOINT"] = "http://minio.hounsfield.svc:9000"
    assert any("checkpoints: HOUNSFIELD_S3_ENDPOINT=" in p for p in check_kubernetes(REPO, resources))
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    compose["services"]["checkpoints"]["environment"]["HOUNSFIELD_S3_ENDPOINT"] = "http://minio:9000"
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert any(
        "checkpoints: HOUNSFIELD_S3_ENDPOINT=http://minio:9000 is fixed" in p
        for p in check_compose(REPO, compose, prometheus)
    )


def test_a_misspelt_variable_in_a_manifest_fails_the_check() -> None:
    resources = render(OVERLAYS / "single-node")
    worker = find(resources, "DaemonSet", "worker")
    assert worker is not None
    worker["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "HOUNSFIELD_DATA_ROOT", "value": "/x"}
    )
    assert (
        "worker: the manifests set HOUNSFIELD_DATA_ROOT, which the worker does not read"
        in check_kubernetes(REPO, resources)
    )


def test_the_compose_stack_sets_every_variable_with_matching_images_and_ports() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert check_compose(REPO, compose, prometheus) == []


def test_compose_and_kubernetes_run_the_same_nats_and_redis_images() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    resources = render(OVERLAYS / "cluster")
    for name in ("nats", "redis"):
        workload = find(resources, "StatefulSet", name)
        assert workload is not None
        assert workload["spec"]["template"]["spec"]["containers"][0]["image"] == compose[name]["image"]


@pytest.mark.parametrize("name", ["NODE_OPTIONS", "MALLOC_MMAP_THRESHOLD_"])
def test_compose_and_kubernetes_run_each_service_with_the_same_runtime_settings(
    overlay: Path, name: str
) -> None:
    """V8 flags and malloc settings bound the checkpoint service's memory and the metrics service's
    CPU (libs/testing SERVICE_NODE_FLAGS / SERVICE_ENV, kept equal to compose by the services' tests)."""
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    resources = render(overlay)
    for service in SERVICES:
        workload = find(resources, "Deployment", service)
        assert workload is not None, service
        env = {
            e["name"]: e.get("value")
            for e in workload["spec"]["template"]["spec"]["containers"][0].get("env", [])
        }
        assert env.get(name) == compose[service].get("environment", {}).get(name), f"{service}: {name}"


def test_the_credential_files_hold_the_variables_the_checks_assume() -> None:
    """deployment_settings mirrors what `npm run credentials -- deploy` writes into each env file."""
    source = (REPO / "libs" / "testing" / "src" / "credentials.ts").read_text()
    script = (REPO / "scripts" / "credentials.ts").read_text()
    for name in SERVICE_CREDENTIALS:
        assert f"{name}:" in source
    assert "HOUNSFIELD_ADMIN_TOKEN: admin, HOUNSFIELD_METRICS_SCRAPE_TOKEN: scrape" in script
    assert all(f"{name}" in source + script for name in WORKER_CREDENTIALS)


def test_the_worker_image_installs_a_python_that_its_base_image_archive_has() -> None:
    dockerfile = (REPO / "deploy" / "docker" / "worker.Dockerfile").read_text()
    release = base_release(dockerfile)
    pythons = installed_pythons(dockerfile)
    assert pythons, "the worker Dockerfile installs no python3 package"
    assert pythons <= ARCHIVE_PYTHONS[release], (
        f"{release} ships Python {ARCHIVE_PYTHONS[release]}, not {pythons}"
    )
    pyproject = (REPO / "gpu-workers" / "pyproject.toml").read_text()
    minimum = pyproject.split('requires-python = ">=', 1)[1].split('"', 1)[0]
    assert all(tuple(map(int, v.split("."))) >= tuple(map(int, minimum.split("."))) for v in pythons)


def test_the_python_check_refuses_a_python_the_base_image_does_not_ship() -> None:
    dockerfile = (
        "FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04\n"
        "RUN apt-get install -y python3.11 python3.11-venv\n"
    )
    assert base_release(dockerfile) == ("ubuntu", "24.04")
    assert not installed_pythons(dockerfile) <= ARCHIVE_PYTHONS[("ubuntu", "24.04")]


def test_the_renderer_refuses_kustomize_features_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nhelmCharts: []\n")
    with pytest.raises(KustomizeError, match="helmCharts"):
        render(tmp_path)


def _by_identity(resources: list[Resource]) -> dict[tuple[str, str], Resource]:
    return {(r["kind"], r["metadata"]["name"]): r for r in resources}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_the_renderer_prints_what_kubectl_kustomize_prints_where_kubectl_is_installed(overlay: Path) -> None:
    printed = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], check=True, capture_output=True, text=True
    )
    assert _by_identity(render(overlay)) == _by_identity([d for d in yaml.safe_load_all(printed.stdout) if d])


def test_services_read_the_environment_only_through_the_scanned_config_files() -> None:
    """Otherwise the consistency checks above would miss a variable read elsewhere."""
    allowed = {"libs/runtime/src/config.ts", "libs/storage/src/storage.config.ts"} | {
        f"services/{s}/src/config.ts"
        for s in ("gateway", "scheduler", "checkpoints", "metrics", "evaluation")
    }
    readers = []
    for root in ["services", "libs/runtime", "libs/storage", "libs/messaging", "libs/contracts"]:
        for path in (REPO / root).rglob("src/**/*.ts"):
            relative = path.relative_to(REPO).as_posix()
            if relative.endswith(".spec.ts") or "node_modules" in relative or relative in allowed:
                continue
            if "process.env" in path.read_text():
                readers.append(relative)
    assert readers == []
