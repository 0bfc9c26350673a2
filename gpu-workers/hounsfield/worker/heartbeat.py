"""Heartbeats: the worker's registration and telemetry, every ``heartbeat_interval`` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hounsfield.contracts.models import (
    Environment,
    EnvironmentBuild,
    GpuInfo,
    RendezvousPorts,
    WorkerHeartbeat,
    WorkerKind,
)
from hounsfield.gpu.inventory import GpuInventory
from hounsfield.recipes.registry import available_kinds
from hounsfield.sdk.report_format import utc_timestamp
from hounsfield.worker import process_tree
from hounsfield.worker.agent import Agent
from hounsfield.worker.cancellation import raise_if_cancelling
from hounsfield.worker.event_publisher import EventPublisher

_log = logging.getLogger(__name__)


def offered_kinds(allowed: Sequence[str] | None) -> list[WorkerKind]:
    """What this installation runs (recipes that import, and ``script``), found once at start,
    restricted to ``allowed`` (HOUNSFIELD_KINDS) when given."""
    found = [WorkerKind(kind=info.kind, version=info.version) for info in available_kinds()]
    if allowed is None:
        return found
    unknown = sorted(set(allowed) - {k.kind for k in found})
    if unknown:
        _log.warning("HOUNSFIELD_KINDS names kinds this installation cannot run: %s (ignored)", unknown)
    return [k for k in found if k.kind in allowed]


@dataclass(frozen=True)
class Reachability:
    """What a worker advertises for multi-node jobs: its address, the ports it keeps for the
    rendezvous of jobs whose node 0 runs here, and its topology label."""

    address: str
    rendezvous_ports: tuple[int, int]
    topology: str | None = None


def host_memory(meminfo: Path = Path("/proc/meminfo")) -> tuple[int, int] | None:
    """Total and available host memory in bytes, or None where /proc/meminfo cannot be read."""
    try:
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        total, available = (int(fields[name].split()[0]) * 1024 for name in ("MemTotal", "MemAvailable"))
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return total, available


class HeartbeatLoop:
    def __init__(
        self,
        agent: Agent,
        inventory: GpuInventory,
        publisher: EventPublisher,
        interval_seconds: float,
        kinds: Sequence[WorkerKind] | None = None,
        cpu_slots: int | None = None,
        reachability: Reachability | None = None,
    ) -> None:
        self._agent = agent
        self._reachability = reachability
        self._cpu_slots = cpu_slots
        # What this installation runs, found once: recipes that import, and `script`.
        self._kinds = list(kinds) if kinds is not None else offered_kinds(None)
        self._inventory = inventory
        self._publisher = publisher
        self._interval = interval_seconds
        self._hostname = socket.gethostname()[:256]
        # Message ids must not repeat after a restart within the stream's duplicate window, or the
        # restarted agent's first heartbeats would be dropped as duplicates: start at boot time.
        self._seq = time.time_ns() // 1_000_000
        self._failing = False

    def _gpus(self, process_roots: list[int]) -> list[GpuInfo]:
        # Walking our own process trees only matters when NVML can see real processes.
        measure = not self._inventory.simulated and self._inventory.count() > 0
        own_pids = process_tree.descendants(process_roots) if measure else set()
        return self._inventory.snapshot(own_pids)

    async def build(self) -> WorkerHeartbeat:
        running = self._agent.running()
        builds = self._agent.environment_builds()
        roots = self._agent.process_roots()
        # NVML queries and the /proc walk block; keep them off the event loop.
        gpus = await asyncio.to_thread(self._gpus, roots)
        memory = host_memory()
        reach = self._reachability
        ports = reach.rendezvous_ports if reach else None
        return WorkerHeartbeat(
            v=1,  # the generated Literal checks this against SCHEMA_VERSION
            type="heartbeat",
            workerId=self._agent.worker_id,
            hostname=self._hostname,
            simulated=self._inventory.simulated,
            gpus=gpus,
            kinds=self._kinds,
            running=running,
            cpuSlots=self._cpu_slots,
            environments=[Environment(key) for key in self._agent.environment_keys()[:1024]] or None,
            environmentBuilds=[EnvironmentBuild(job) for job in builds[:256]] or None,
            memoryTotalBytes=memory[0] if memory else None,
            memoryAvailableBytes=memory[1] if memory else None,
            address=reach.address if reach else None,
            rendezvousPorts=RendezvousPorts(first=ports[0], last=ports[1]) if ports else None,
            topology=reach.topology if reach else None,
            intervalSeconds=self._interval,
            at=utc_timestamp(),
        )

    async def withdraw(self) -> None:
        """Offers no job kinds from now on, and says so at once: a draining worker gets no new
        work, not even the jobs its own drain requeues."""
        self._kinds = []
        with contextlib.suppress(Exception):
            await self.beat()

    async def beat(self) -> bool:
        heartbeat = await self.build()
        self._seq += 1
        problem = await self._publisher.heartbeat(heartbeat, self._seq)
        # Said once when heartbeats start failing (stream missing, NATS down) and once on recovery.
        if problem is not None and not self._failing:
            _log.warning("heartbeats are not being stored (%s); retrying every %g s", problem, self._interval)
        elif problem is None and self._failing:
            _log.info("heartbeats are stored again")
        self._failing = problem is not None
        return problem is None

    async def run(self) -> None:
        """Beats at once, then every interval, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                raise_if_cancelling(error)
                _log.exception("heartbeat failed")
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - started)))
