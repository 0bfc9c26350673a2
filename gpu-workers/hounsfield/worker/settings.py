"""The agent's configuration, read once at boot from HOUNSFIELD_* environment variables.

| variable | default | meaning |
|---|---|---|
| HOUNSFIELD_NATS_URL | nats://127.0.0.1:14222 | NATS server (the local stack's port, not 4222) |
| HOUNSFIELD_NATS_USER | unset | this worker's NATS user (``worker-<id>``) when NATS has authentication |
| HOUNSFIELD_NATS_PASSWORD | unset | its password |
| HOUNSFIELD_WORKER_ID | host name, sanitised to [A-Za-z0-9_-] | this worker's id in subjects and Redis |
| HOUNSFIELD_WORK_DIR | .hounsfield/worker/<id> | attempt directories (logs, reports, outputs) |
| HOUNSFIELD_HEARTBEAT_INTERVAL | 2 | seconds between heartbeats |
| HOUNSFIELD_FAKE_GPUS | unset | simulated GPUs (see ``hounsfield.gpu.fake``) |
| HOUNSFIELD_DATA_ROOTS | empty | dataset roots for preflight: JSON list or os.pathsep-separated |
| HOUNSFIELD_STOP_GRACE_SECONDS | 30 | SIGTERM → SIGKILL grace: on shutdown, and on cancel when the request |
|  |  | names none |
| HOUNSFIELD_LOG_LEVEL | INFO | DEBUG, INFO, WARNING or ERROR |
| HOUNSFIELD_KINDS | unset | comma-separated job kinds this worker offers (default: every recipe |
|  |  | that imports here, and ``script``); others are never placed on it |
| HOUNSFIELD_LOG_MAX_MIB | 256 | cap on one attempt's log, on disk and in the store: beyond it the |
|  |  | oldest segments after the first are deleted (see ``log_segments``) |
| HOUNSFIELD_LOG_SEGMENT_KIB | 1024 | size of one log segment (the unit of rotation and of storing) |
| HOUNSFIELD_LOG_UPLOAD_SECONDS | 5 | seconds between stores of a running attempt's log (at most 10) |
| HOUNSFIELD_LOG_LIVE_SECONDS | 0.5 | seconds between live publishes of new log lines |
| HOUNSFIELD_LOG_FINISH_SECONDS | 30 | how long an ended attempt's log keeps trying to reach the store |
| HOUNSFIELD_CPU_SLOTS | usable cores | CPU processes run at once: CPU jobs take one slot per process and |
|  |  | are placed only where enough are free; threads per process follow |
| HOUNSFIELD_DRAIN_ON_STOP | true | on SIGTERM/SIGINT, stop the running trainers (``preempted``, requeued); |
|  |  | false: exit leaving them running for the next agent to re-adopt (restarts, |
|  |  | upgrades) |
| HOUNSFIELD_ENV_CACHE_MAX | 20 | per-job environments kept in ``<work>/cache/envs``: beyond it the least |
|  |  | recently used one that no build or attempt uses is deleted after each build |
| HOUNSFIELD_READOPT_WAIT_SECONDS | 30 | at start, how long to wait for the scheduler to say whether a |
|  |  | trainer left running is still current before stopping it |
| HOUNSFIELD_WORKER_ADDRESS | host's address | where other workers reach this one: node 0 of a multi-node |
|  |  | job hosts torchrun's rendezvous there; every node uses it as its local address |
| HOUNSFIELD_RENDEZVOUS_PORTS | 29400-29499 | ports (``first-last``) kept free for the rendezvous of |
|  |  | the multi-node jobs whose node 0 runs here; the scheduler picks one per attempt |
| HOUNSFIELD_TOPOLOGY | unset | rack or network domain label; the nodes of one job prefer workers |
|  |  | that share one |
| HOUNSFIELD_SLURM | false | inside a Slurm allocation (``--slurm``): report its GPUs only, drain |
|  |  | before it ends (see ``hounsfield.worker.slurm``) |
| HOUNSFIELD_SLURM_END_TIME | SLURM_JOB_END_TIME | the allocation's end, Unix seconds |
| HOUNSFIELD_SLURM_DRAIN_SECONDS | 300 | drain (checkpoint, stop, requeue) this long before the end |
| HOUNSFIELD_SLURM_GPUS | from SLURM_* | the allocation's device indices (NVML), when Slurm's are unusable |
| HOUNSFIELD_IDLE_EXIT_SECONDS | unset | exit after this long with nothing to run (unset: never) |
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hounsfield.gpu.fake import FakeGpu, parse_fake_gpus
from hounsfield.platform.nats import NatsAccess

ENV_PREFIX = "HOUNSFIELD_"
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class SettingsError(ValueError):
    """An environment variable holds an invalid value; the message names the variable."""


def default_worker_address() -> str:
    """The address of the interface this host's default route leaves from (a UDP "connect" sends
    nothing), else what the host name resolves to, else loopback."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.254.254.254", 1))
            address = probe.getsockname()[0]
            if isinstance(address, str) and address != "0.0.0.0":
                return address
    except OSError:
        pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def parse_port_range(text: str) -> tuple[int, int]:
    """``"29400-29499"`` (or one port) as (first, last); raises ValueError saying what is wrong."""
    first_text, _, last_text = text.strip().partition("-")
    try:
        first, last = int(first_text), int(last_text or first_text)
    except ValueError:
        raise ValueError(f"expected a port range such as 29400-29499, got {text!r}") from None
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"expected 1 <= first <= last <= 65535, got {text!r}")
    return first, last


def default_worker_id(hostname: str | None = None) -> str:
    """The host name made safe for subjects: other characters become "-", at most 64 characters."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", hostname if hostname is not None else socket.gethostname())
    name = name.lstrip("-_")[:64].rstrip("-_")
    return name or "worker"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    nats_url: str = "nats://127.0.0.1:14222"
    nats_user: str | None = Field(default=None, min_length=1, max_length=128)
    nats_password: SecretStr | None = None
    worker_id: str = Field(default_factory=default_worker_id, min_length=1, max_length=64)
    work_dir: Path | None = None
    heartbeat_interval: float = Field(2.0, gt=0, le=3600)
    fake_gpus: str | None = None
    data_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    stop_grace_seconds: float = Field(30.0, ge=0, le=3600)
    #: Preflight refuses to start a trainer with less free disk than this under the work dir.
    min_free_disk_gib: float = Field(1.0, ge=0, le=1_000_000)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Restricts the job kinds this worker advertises (None: all it can run).
    kinds: Annotated[list[str] | None, NoDecode] = None
    log_segment_kib: int = Field(1024, ge=64, le=64 * 1024)
    log_max_mib: int = Field(256, ge=1, le=1024 * 1024)
    log_upload_seconds: float = Field(5.0, gt=0, le=10)
    log_live_seconds: float = Field(0.5, gt=0, le=2)
    log_finish_seconds: float = Field(30.0, ge=0, le=3600)
    #: CPU processes this worker runs at once (heartbeats advertise it; None: the usable cores).
    cpu_slots: int | None = Field(default=None, ge=1, le=4096)
    #: False: an agent asked to stop leaves its trainers running, to be re-adopted by the next one.
    drain_on_stop: bool = True
    readopt_wait_seconds: float = Field(30.0, ge=0, le=3600)
    #: Per-job environments kept in the cache (LRU by last use, never one in use).
    env_cache_max: int = Field(20, ge=1, le=100_000)
    #: Where other workers reach this one (None: ``default_worker_address()``).
    worker_address: str | None = Field(default=None, min_length=1, max_length=255)
    #: Ports kept for the rendezvous of multi-node jobs hosted here, ``first-last``.
    rendezvous_ports: str = "29400-29499"
    #: Rack or network domain, for placing the nodes of one job close together.
    topology: str | None = Field(default=None, min_length=1, max_length=128)
    #: Inside a Slurm allocation: its GPUs only, a drain before its end (hounsfield.worker.slurm).
    slurm: bool = False
    slurm_end_time: float | None = Field(default=None, gt=0)
    slurm_drain_seconds: float = Field(300.0, ge=0, le=7 * 24 * 3600)
    slurm_gpus: str | None = None
    #: Exit (draining) after this long without attempts or environment builds; None: never.
    idle_exit_seconds: float | None = Field(default=None, ge=0, le=365 * 24 * 3600)

    @field_validator("worker_id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError('use letters, digits, "-" and "_" only, starting with a letter or digit')
        return value

    @field_validator("rendezvous_ports")
    @classmethod
    def _port_range(cls, value: str) -> str:
        parse_port_range(value)  # raises with the reason
        return value.strip()

    @field_validator("fake_gpus")
    @classmethod
    def _fake_gpus(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parse_fake_gpus(value)  # raises with the reason
        return value.strip()

    @field_validator("data_roots", mode="before")
    @classmethod
    def _data_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part]
        return value

    @field_validator("kinds", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()] or None
        return value

    @field_validator("log_max_mib")
    @classmethod
    def _log_cap_holds_segments(cls, value: int, info: ValidationInfo) -> int:
        segment_kib = info.data.get("log_segment_kib")
        if isinstance(segment_kib, int) and value * 1024 < 3 * segment_kib:
            raise ValueError(
                f"must hold at least three log segments of {ENV_PREFIX}LOG_SEGMENT_KIB={segment_kib}"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _absolute_work_dir(self) -> WorkerSettings:
        # Resolved once at boot so a later chdir (or a trainer's cwd) cannot move attempt directories.
        work_dir = self.work_dir or Path(".hounsfield") / "worker" / self.worker_id
        object.__setattr__(self, "work_dir", work_dir.expanduser().resolve())
        return self

    @property
    def nats_access(self) -> NatsAccess:
        password = None if self.nats_password is None else self.nats_password.get_secret_value()
        return NatsAccess(self.nats_url, self.nats_user, password)

    @model_validator(mode="after")
    def _resolved_address(self) -> WorkerSettings:
        # Found once at boot: heartbeats advertise it and every multi-node launch uses it.
        if self.worker_address is None:
            object.__setattr__(self, "worker_address", default_worker_address())
        return self

    @property
    def advertised_address(self) -> str:
        """HOUNSFIELD_WORKER_ADDRESS, or the host's address (resolved at boot)."""
        assert self.worker_address is not None  # set by the validator
        return self.worker_address

    @property
    def rendezvous_port_range(self) -> tuple[int, int]:
        return parse_port_range(self.rendezvous_ports)

    @property
    def usable_cpu_slots(self) -> int:
        """``cpu_slots``, or the cores this process may run on (its affinity, as in a container)."""
        return self.cpu_slots if self.cpu_slots is not None else len(os.sched_getaffinity(0))

    @property
    def attempts_dir(self) -> Path:
        assert self.work_dir is not None  # set by the validator
        return self.work_dir / "jobs"

    def fake_gpu_devices(self) -> list[FakeGpu] | None:
        return None if self.fake_gpus is None else parse_fake_gpus(self.fake_gpus)


def load_settings(**overrides: Any) -> WorkerSettings:
    """Reads the environment (``overrides`` win, for tests); raises SettingsError naming the variable."""
    try:
        return WorkerSettings(**overrides)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            field = str(issue["loc"][0]) if issue["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {issue['msg']} (got {issue.get('input')!r})")
        raise SettingsError("invalid worker configuration: " + "; ".join(problems)) from error
