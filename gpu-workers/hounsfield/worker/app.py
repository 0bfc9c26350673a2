"""The agent process assembled: NATS connection, inventory, heartbeats, assignments, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from nats.aio.client import Client

from hounsfield.contracts.models import GpuInfo
from hounsfield.gpu.inventory import GpuInventory, open_inventory
from hounsfield.platform.checkpoint_client import CheckpointClient
from hounsfield.platform.nats import connect_nats
from hounsfield.worker import process_tree
from hounsfield.worker.agent import Agent
from hounsfield.worker.assignment_consumer import AssignmentConsumer
from hounsfield.worker.cancel_listener import CancelListener
from hounsfield.worker.event_publisher import JetStreamEventPublisher
from hounsfield.worker.heartbeat import HeartbeatLoop, Reachability, offered_kinds
from hounsfield.worker.log_shipping import LogShipping
from hounsfield.worker.preflight import Preflight, PreflightPolicy
from hounsfield.worker.readoption import AttemptOwnership, recover_attempts
from hounsfield.worker.settings import WorkerSettings
from hounsfield.worker.slurm import AllocatedInventory, SlurmAllocation, resolve_devices

_log = logging.getLogger(__name__)


class WorkerApp:
    """A running agent. ``await WorkerApp.start(settings)``, later ``await app.close()``."""

    def __init__(
        self,
        settings: WorkerSettings,
        nc: Client,
        inventory: GpuInventory,
        agent: Agent,
        heartbeat: HeartbeatLoop,
        consumer: AssignmentConsumer,
        cancel_listener: CancelListener,
    ) -> None:
        self.settings = settings
        self.agent = agent
        self._nc = nc
        self._inventory = inventory
        self._heartbeat = heartbeat
        self._consumer = consumer
        self._cancel_listener = cancel_listener
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._consumer_task: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def start(cls, settings: WorkerSettings, allocation: SlurmAllocation | None = None) -> WorkerApp:
        """Connects and starts taking work; inside a Slurm ``allocation`` it reports only its GPUs."""
        inventory: GpuInventory = open_inventory(settings.fake_gpu_devices(), settings.worker_id)
        gpu_devices: tuple[int, ...] | None = None
        if allocation is not None:
            try:
                gpu_devices = resolve_devices(allocation.gpus, inventory.count())
            except ValueError:
                inventory.close()
                raise
            inventory = AllocatedInventory(inventory, gpu_devices)
            _log.info("Slurm job %s: GPUs %s of this node", allocation.job_id, list(gpu_devices))
        nc = await connect_nats(settings.nats_access, name=f"hounsfield-worker-{settings.worker_id}")
        js = nc.jetstream()
        publisher = JetStreamEventPublisher(js)
        assert settings.work_dir is not None  # made absolute by the settings validator
        policy = PreflightPolicy(settings.data_roots, settings.work_dir, settings.min_free_disk_gib)

        def gpus_now() -> list[GpuInfo]:
            # Called only once the agent runs attempts, so the late-bound `agent` exists.
            return inventory.snapshot(process_tree.descendants(agent.process_roots()))

        checkpoints = CheckpointClient(nc, settings.worker_id)
        agent = Agent(
            settings,
            publisher,
            gpu_count=inventory.count(),
            preflight=Preflight(policy, gpus_now),
            checkpoints=checkpoints,
            logs=LogShipping.from_settings(settings, checkpoints, js),
            gpu_devices=gpu_devices,
        )
        app = cls(
            settings,
            nc,
            inventory,
            agent,
            HeartbeatLoop(
                agent,
                inventory,
                publisher,
                settings.heartbeat_interval,
                offered_kinds(settings.kinds),
                settings.usable_cpu_slots,
                Reachability(settings.advertised_address, settings.rendezvous_port_range, settings.topology),
            ),
            AssignmentConsumer(js, settings.worker_id, agent.accept, on_rejected=agent.report_unreadable),
            CancelListener(nc, agent),
        )
        # Before taking work and before the first heartbeat (which lists the attempts running here):
        # trainers a previous agent of this worker left are re-adopted if still current, else stopped.
        recovered = await recover_attempts(
            agent,
            AttemptOwnership(nc, settings.worker_id),
            publisher,
            attempts_dir=settings.attempts_dir,
            wait_seconds=settings.readopt_wait_seconds,
            grace_seconds=settings.stop_grace_seconds,
        )
        if recovered.adopted or recovered.stopped:
            _log.info(
                "left by the previous agent: %d attempt(s) re-adopted, %d stopped",
                len(recovered.adopted),
                len(recovered.stopped),
            )
        await app._cancel_listener.start()
        app._heartbeat_task = _spawn(app._heartbeat.run(), "heartbeat")
        app._consumer_task = _spawn(app._consumer.run(), "assignments")
        _log.info(
            "worker %s up: %d %sGPU(s), work dir %s",
            settings.worker_id,
            inventory.count(),
            "simulated " if inventory.simulated else "",
            settings.work_dir,
        )
        return app

    async def close(self, grace_seconds: float | None = None, *, drain: bool | None = None) -> None:
        """Stops taking work, stops running attempts (``preempted``), then disconnects.

        Heartbeats continue until the attempts have ended so the scheduler sees them go. Without
        ``drain`` (default: HOUNSFIELD_DRAIN_ON_STOP) the trainers are left running instead, for the
        next agent of this worker to re-adopt within the scheduler's reconnect window.
        """
        if self._closed:
            return
        self._closed = True
        grace = self.settings.stop_grace_seconds if grace_seconds is None else grace_seconds
        await _cancel(self._consumer_task)
        if self.settings.drain_on_stop if drain is None else drain:
            await self._heartbeat.withdraw()
            await self.agent.shutdown(grace)
        else:
            await self.agent.detach()
        await self._cancel_listener.stop()
        await _cancel(self._heartbeat_task)
        self._inventory.close()
        with contextlib.suppress(Exception):
            await self._nc.drain()
        _log.info("worker %s stopped", self.settings.worker_id)


def _spawn(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    task = asyncio.create_task(coroutine, name=name)
    task.add_done_callback(_log_crash)
    return task


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("%s loop stopped", task.get_name(), exc_info=task.exception())


#: How long closing waits for a cancelled loop before going on without it.
CANCEL_WAIT_SECONDS = 5.0


async def _cancel(task: asyncio.Task[None] | None) -> None:
    """Cancels a loop and waits for it, at most CANCEL_WAIT_SECONDS: a NATS call cancelled at the
    wrong moment (a pull subscription being bound, say) can swallow the cancellation, and an agent
    that is closing must not hang on it."""
    if task is None or task.done():
        return
    task.cancel()
    _done, pending = await asyncio.wait({task}, timeout=CANCEL_WAIT_SECONDS)
    if pending:
        _log.warning(
            "%s loop did not stop within %.0f s of its cancellation; going on",
            task.get_name(),
            CANCEL_WAIT_SECONDS,
        )
    elif not task.cancelled() and task.exception() is not None:
        _log.debug("%s loop ended with %r", task.get_name(), task.exception())
