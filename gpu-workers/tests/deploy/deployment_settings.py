"""What each process reads from its environment (scanned from the source) and what a deployment
sets for it (Kubernetes manifests rendered by ``kustomize``, or deploy/compose.yaml), and the
differences between the two, as human-readable problems.

A variable a process reads must be set by every deployment of it, unless it is listed in
``LEFT_AT_DEFAULT`` with the reason its built-in default is right in a deployment (tuning knobs).
A new variable in a service's config schema therefore fails the check until a manifest sets it
or someone decides, here, that its default is fine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from deploy.kustomize import Resource, pod_spec, split_image
from hounsfield.worker.settings import ENV_PREFIX, WorkerSettings

SERVICES = ("gateway", "scheduler", "checkpoints", "metrics", "evaluation")
SERVICE_IMAGE = "hounsfield/service"
WORKER_IMAGE = "hounsfield/worker"
#: Config files whose zod schemas name the variables services read.
BASE_CONFIG = "libs/runtime/src/config.ts"
STORAGE_CONFIG = "libs/storage/src/storage.config.ts"
#: What the env files of `npm run credentials -- deploy` hold (scripts/credentials.ts and
#: StackCredentials.serviceEnv/workerEnv in libs/testing/src/credentials.ts; checked by a test).
SERVICE_CREDENTIALS = ("HOUNSFIELD_NATS_USER", "HOUNSFIELD_NATS_PASSWORD", "HOUNSFIELD_REDIS_PASSWORD")
GATEWAY_CREDENTIALS = ("HOUNSFIELD_ADMIN_TOKEN", "HOUNSFIELD_METRICS_SCRAPE_TOKEN")
WORKER_CREDENTIALS = ("HOUNSFIELD_WORKER_ID", "HOUNSFIELD_NATS_USER", "HOUNSFIELD_NATS_PASSWORD")
#: Variables the processes themselves do not read but their runtime does (Node, glibc malloc, Kubernetes).
RUNTIME_VARIABLES = {"SERVICE", "NODE_OPTIONS", "NODE_NAME", "MALLOC_MMAP_THRESHOLD_"}

#: Variables whose built-in default is right in a deployment, and why.
LEFT_AT_DEFAULT: dict[str, str] = {
    "HOUNSFIELD_REDIS_PREFIX": "one stack per Redis",
    "HOUNSFIELD_JETSTREAM_REPLICAS": "1 on one NATS server (compose); the Kubernetes overlays set it",
    "HOUNSFIELD_STORAGE_ROOT": "the fs driver is not used (s3)",
    "HOUNSFIELD_TOPOLOGY": "no rack label: set it per node pool or host when the network has racks",
    "HOUNSFIELD_ADMIN_TOKEN_FILE": "HOUNSFIELD_ADMIN_TOKEN is set, so no token file is written",
    **{
        name: "tuning knob with a production default"
        for name in (
            "HOUNSFIELD_SSE_KEEPALIVE_SECONDS",
            "HOUNSFIELD_RATE_LIMIT_PER_SECOND",
            "HOUNSFIELD_RATE_LIMIT_BURST",
            "HOUNSFIELD_JSON_BODY_LIMIT_BYTES",
            "HOUNSFIELD_IMPORT_MAX_BYTES",
            "HOUNSFIELD_CODE_MAX_BYTES",
            "HOUNSFIELD_WORKER_TTL_SECONDS",
            "HOUNSFIELD_ASSIGN_TIMEOUT_SECONDS",
            "HOUNSFIELD_BUSY_UTILIZATION_PERCENT",
            "HOUNSFIELD_LOST_ATTEMPT_SECONDS",
            "HOUNSFIELD_RESERVE_AFTER_SECONDS",
            "HOUNSFIELD_RECONCILE_INTERVAL_MS",
            "HOUNSFIELD_CHECKPOINT_PART_MIB",
            "HOUNSFIELD_CHECKPOINT_GRANT_SECONDS",
            "HOUNSFIELD_CHECKPOINT_UPLOAD_TTL_SECONDS",
            "HOUNSFIELD_CHECKPOINT_PIN_SECONDS",
            "HOUNSFIELD_CHECKPOINT_IMPORT_TTL_SECONDS",
            "HOUNSFIELD_CHECKPOINT_SWEEP_INTERVAL_MS",
            "HOUNSFIELD_EVALUATION_GRANT_SECONDS",
            "HOUNSFIELD_AUTO_EVALUATION_PIN_SECONDS",
            "HOUNSFIELD_EVALUATION_RECONCILE_INTERVAL_MS",
            "HOUNSFIELD_S3_REGION",
            "HOUNSFIELD_S3_PATH_STYLE",
        )
    },
    **{
        name: "tuning knob with a production default"
        for name in (
            "HOUNSFIELD_METRICS_FINISHED_JOB_TTL_SECONDS",
            "HOUNSFIELD_METRICS_FINISHED_EVALUATION_TTL_SECONDS",
            "HOUNSFIELD_METRICS_WORKER_TTL_SECONDS",
            "HOUNSFIELD_METRICS_RETENTION_SECONDS",
            "HOUNSFIELD_METRICS_POINTS_PER_SERIES",
            "HOUNSFIELD_METRICS_SERIES_PER_JOB",
            "HOUNSFIELD_METRICS_SCHEDULER_POLL_SECONDS",
            "HOUNSFIELD_METRICS_BATCH_SIZE",
            "HOUNSFIELD_METRICS_LOSS_SPIKE_FACTOR",
            "HOUNSFIELD_METRICS_STALL_SECONDS",
            "HOUNSFIELD_METRICS_STARTUP_SECONDS",
            "HOUNSFIELD_METRICS_LOSS_WINDOW",
            "HOUNSFIELD_METRICS_DIVERGENCE_FACTOR",
            "HOUNSFIELD_METRICS_DATA_BOUND_UTILIZATION_PERCENT",
            "HOUNSFIELD_METRICS_DATA_WAIT_RATIO",
            "HOUNSFIELD_METRICS_DATA_BOUND_REPORTS",
            "HOUNSFIELD_METRICS_TINY_BATCH_WORLD_SIZE",
        )
    },
    # The worker's
    "HOUNSFIELD_HEARTBEAT_INTERVAL": "tuning knob with a production default",
    "HOUNSFIELD_FAKE_GPUS": "real GPUs (simulated ones are for tests)",
    "HOUNSFIELD_MIN_FREE_DISK_GIB": "tuning knob with a production default",
    "HOUNSFIELD_LOG_LEVEL": "INFO (the worker's) and log (the services')",
    "HOUNSFIELD_KINDS": "a worker offers every kind it can run",
    "HOUNSFIELD_LOG_SEGMENT_KIB": "tuning knob with a production default",
    "HOUNSFIELD_LOG_UPLOAD_SECONDS": "tuning knob with a production default",
    "HOUNSFIELD_LOG_LIVE_SECONDS": "tuning knob with a production default",
    "HOUNSFIELD_LOG_FINISH_SECONDS": "tuning knob with a production default",
    "HOUNSFIELD_CPU_SLOTS": "the container's usable cores",
    "HOUNSFIELD_READOPT_WAIT_SECONDS": "tuning knob with a production default",
    "HOUNSFIELD_SLURM": "Slurm mode is for agents inside Slurm allocations (deploy/slurm)",
    "HOUNSFIELD_SLURM_END_TIME": "read from SLURM_JOB_END_TIME inside an allocation",
    "HOUNSFIELD_SLURM_DRAIN_SECONDS": "tuning knob with a production default",
    "HOUNSFIELD_SLURM_GPUS": "read from SLURM_* inside an allocation",
    "HOUNSFIELD_IDLE_EXIT_SECONDS": "agents outside Slurm stay up while idle",
}

_SCHEMA_KEY = re.compile(r"^\s*(HOUNSFIELD_[A-Z0-9_]+)\s*:", re.MULTILINE)
_PORT_DEFAULT = re.compile(
    r"^\s*(HOUNSFIELD_[A-Z0-9_]*PORT)\s*:\s*portSchema\.default\((\d+)\)", re.MULTILINE
)


def service_config_files(repo: Path, service: str) -> list[Path]:
    """The config files whose schemas a service parses: its own, the shared base, and the
    storage settings when its config reads them."""
    own = repo / "services" / service / "src" / "config.ts"
    files = [own, repo / BASE_CONFIG]
    if "storageConfigFromEnv" in own.read_text():
        files.append(repo / STORAGE_CONFIG)
    return files


def service_variables(repo: Path, service: str) -> set[str]:
    """Every HOUNSFIELD_* variable a service's config schemas declare."""
    found: set[str] = set()
    for path in service_config_files(repo, service):
        found.update(_SCHEMA_KEY.findall(path.read_text()))
    return found


def all_service_variables(repo: Path) -> set[str]:
    return set().union(*(service_variables(repo, service) for service in SERVICES))


def service_port(repo: Path, service: str) -> tuple[str, int]:
    """The service's port variable and its default."""
    ports = _PORT_DEFAULT.findall((repo / "services" / service / "src" / "config.ts").read_text())
    assert len(ports) == 1, f"services/{service}/src/config.ts: expected one port variable, found {ports}"
    return ports[0][0], int(ports[0][1])


def worker_variables() -> set[str]:
    """Every variable the worker agent's settings read."""
    return {ENV_PREFIX + name.upper() for name in WorkerSettings.model_fields}


def missing(read: set[str], provided: set[str]) -> list[str]:
    return sorted(read - provided - set(LEFT_AT_DEFAULT))


def unknown(read: set[str], provided: set[str]) -> list[str]:
    """Variables a deployment sets that the process never reads (a typo, or a removed setting).
    For services, ``read`` is what any service reads: they share one ConfigMap / env block."""
    return sorted(name for name in provided - read - RUNTIME_VARIABLES if name.startswith(ENV_PREFIX))


# ---- Kubernetes --------------------------------------------------------------------------------


def find(resources: list[Resource], kind: str, name: str) -> Resource | None:
    return next((r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name), None)


def container_env(resources: list[Resource], container: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A container's environment (name → value, or the reference for secrets) and the problems
    found resolving it."""
    env: dict[str, Any] = {}
    problems: list[str] = []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            config_map = find(resources, "ConfigMap", name)
            if config_map is None:
                problems.append(f"envFrom ConfigMap {name} is not in the manifests")
            else:
                env.update(config_map.get("data", {}))
        else:
            problems.append(
                "envFrom a Secret hides which variables it sets: use env with secretKeyRef per variable"
            )
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", item.get("valueFrom"))
    return env, problems


def check_kubernetes(repo: Path, resources: list[Resource]) -> list[str]:
    """Every problem between the rendered manifests and what the services and the worker read."""
    problems: list[str] = []
    for service in SERVICES:
        deployment = find(resources, "Deployment", service)
        if deployment is None:
            problems.append(f"{service}: no Deployment named {service}")
            continue
        spec = pod_spec(deployment)
        assert spec is not None
        container = spec["containers"][0]
        env, env_problems = container_env(resources, container)
        problems += [f"{service}: {p}" for p in env_problems]
        read = service_variables(repo, service)
        for name in missing(read, set(env)):
            problems.append(
                f"{service}: reads {name}, which the manifests do not set (set it in the "
                f"Deployment or the ConfigMap, or list it in LEFT_AT_DEFAULT with the reason)"
            )
        for name in unknown(all_service_variables(repo), set(env)):
            problems.append(f"{service}: the manifests set {name}, which no service reads")
        image, _tag = split_image(container.get("image", ""))
        if image != SERVICE_IMAGE or env.get("SERVICE") != service:
            problems.append(
                f"{service}: runs image {image} with SERVICE={env.get('SERVICE')}, "
                f"expected {SERVICE_IMAGE} with SERVICE={service}"
            )
        problems += _check_port(repo, resources, service, container, env, deployment)
        endpoint = env.get("HOUNSFIELD_S3_ENDPOINT")
        if isinstance(endpoint, str) and re.search(r"//(localhost|127\.|[^/:]*\.svc\b)", endpoint):
            problems.append(
                f"{service}: HOUNSFIELD_S3_ENDPOINT={endpoint} is presigned into grants for the workers, "
                "which cannot reach a loopback or cluster-internal address: use the store's external endpoint"
            )
    problems += _check_worker(resources)
    return problems


def _check_port(
    repo: Path,
    resources: list[Resource],
    service: str,
    container: dict[str, Any],
    env: dict[str, Any],
    deployment: Resource,
) -> list[str]:
    problems = []
    variable, default = service_port(repo, service)
    port = int(env.get(variable, default))
    declared = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if declared.get("http") != port:
        problems.append(f"{service}: listens on {port} ({variable}) but declares containerPort {declared}")
    for probe in ("readinessProbe", "livenessProbe"):
        http = container.get(probe, {}).get("httpGet", {})
        if http.get("path") != "/healthz" or http.get("port") not in ("http", port):
            problems.append(f"{service}: {probe} must GET /healthz on port {port}, got {http}")
    svc = find(resources, "Service", service)
    if svc is None or not any(p.get("targetPort") in ("http", port) for p in svc["spec"]["ports"]):
        problems.append(f"{service}: needs a Service {service} targeting port {port}")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") != str(
        port
    ):
        problems.append(
            f"{service}: prometheus.io/port {annotations.get('prometheus.io/port')} is not {port}"
        )
    return problems


def _check_worker(resources: list[Resource]) -> list[str]:
    daemonset = find(resources, "DaemonSet", "worker")
    if daemonset is None:
        return ["worker: no DaemonSet named worker"]
    spec = pod_spec(daemonset)
    assert spec is not None
    container = spec["containers"][0]
    env, problems = container_env(resources, container)
    provided = set(env)
    if "worker-$id.env" in " ".join(container.get("command", [])):
        provided |= set(WORKER_CREDENTIALS)
    read = worker_variables()
    problems += [f"worker: reads {name}, which the manifests do not set" for name in missing(read, provided)]
    problems += [
        f"worker: the manifests set {name}, which the worker does not read"
        for name in unknown(read, provided)
    ]
    image, _tag = split_image(container.get("image", ""))
    if image != WORKER_IMAGE:
        problems.append(f"worker: runs image {image}, expected {WORKER_IMAGE}")
    if "nvidia.com/gpu" not in container.get("resources", {}).get("limits", {}):
        problems.append("worker: needs an nvidia.com/gpu limit")
    return problems


# ---- Compose -----------------------------------------------------------------------------------

_ENV_FILE_CONTENTS = {
    "./secrets/gateway.env": set(SERVICE_CREDENTIALS) | set(GATEWAY_CREDENTIALS),
    **{f"./secrets/{service}.env": set(SERVICE_CREDENTIALS) for service in SERVICES if service != "gateway"},
    "./secrets/worker-${HOSTNAME:-gpu-node}.env": set(WORKER_CREDENTIALS),
    "./secrets/redis.env": {"REDIS_PASSWORD"},
}


def dockerfile_env(repo: Path, dockerfile: str) -> set[str]:
    """The variables a Dockerfile's ``ENV`` lines set in the image."""
    text = (repo / dockerfile).read_text()
    return set(re.findall(r"^ENV\s+([A-Z_][A-Z0-9_]*)=", text, re.MULTILINE))


def compose_env(repo: Path, entry: dict[str, Any]) -> tuple[set[str], list[str]]:
    """The variables a compose service gets: its image's ENV, its environment, and its env files'
    known keys."""
    names = set(entry.get("environment", {}) or {})
    dockerfile = entry.get("build", {}).get("dockerfile")
    if dockerfile:
        names |= dockerfile_env(repo, dockerfile)
    problems = []
    env_files = entry.get("env_file", [])
    for env_file in [env_files] if isinstance(env_files, str) else env_files:
        if env_file not in _ENV_FILE_CONTENTS:
            problems.append(f"env_file {env_file} is not one `npm run credentials -- deploy` writes")
        names |= _ENV_FILE_CONTENTS.get(env_file, set())
    return names, problems


def check_compose(repo: Path, compose: dict[str, Any], prometheus: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    services = compose["services"]
    targets = {
        job["job_name"]: target
        for job in prometheus["scrape_configs"]
        for config in job.get("static_configs", [])
        for target in config["targets"]
    }
    for service in SERVICES:
        entry = services.get(service)
        if entry is None:
            problems.append(f"{service}: not in deploy/compose.yaml")
            continue
        names, env_problems = compose_env(repo, entry)
        problems += [f"{service}: {p}" for p in env_problems]
        read = service_variables(repo, service)
        problems += [
            f"{service}: reads {name}, which deploy/compose.yaml does not set"
            for name in missing(read, names)
        ]
        problems += [
            f"{service}: deploy/compose.yaml sets {name}, which no service reads"
            for name in unknown(all_service_variables(repo), names)
        ]
        build = entry.get("build", {})
        if (
            build.get("dockerfile") != "deploy/docker/service.Dockerfile"
            or build.get("args", {}).get("SERVICE") != service
        ):
            problems.append(f"{service}: must build deploy/docker/service.Dockerfile with SERVICE={service}")
        variable, default = service_port(repo, service)
        port = int((entry.get("environment") or {}).get(variable, default))
        if targets.get(service) != f"{service}:{port}":
            problems.append(
                f"{service}: Prometheus scrapes {targets.get(service)}, but it listens on {service}:{port}"
            )
        endpoint = (entry.get("environment") or {}).get("HOUNSFIELD_S3_ENDPOINT", "")
        if endpoint and "${" not in endpoint:
            problems.append(
                f"{service}: HOUNSFIELD_S3_ENDPOINT={endpoint} is fixed; workers on other hosts need grants "
                "for an endpoint they reach (HOUNSFIELD_S3_PUBLIC_ENDPOINT / HOUNSFIELD_PUBLIC_HOST)"
            )
        published = [str(p).rsplit(":", 1)[-1] for p in entry.get("ports", [])]
        if published and str(port) not in published:
            problems.append(f"{service}: publishes {entry['ports']} but listens on {port}")
    worker = services.get("worker")
    if worker is None:
        return problems + ["worker: not in deploy/compose.yaml"]
    names, env_problems = compose_env(repo, worker)
    problems += [f"worker: {p}" for p in env_problems]
    read = worker_variables()
    problems += [
        f"worker: reads {name}, which deploy/compose.yaml does not set" for name in missing(read, names)
    ]
    problems += [
        f"worker: deploy/compose.yaml sets {name}, which the worker does not read"
        for name in unknown(read, names)
    ]
    if worker.get("build", {}).get("dockerfile") != "deploy/docker/worker.Dockerfile":
        problems.append("worker: must build deploy/docker/worker.Dockerfile")
    return problems
