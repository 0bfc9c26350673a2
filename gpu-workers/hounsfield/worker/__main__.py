"""``python -m hounsfield.worker [--slurm]``: run the GPU worker agent until SIGINT or SIGTERM (then
exit 0). ``--slurm`` (or HOUNSFIELD_SLURM=true) runs it inside a Slurm allocation: only the
allocation's GPUs, a drain before its end, an exit when idle (``hounsfield.worker.slurm``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from hounsfield.worker.app import WorkerApp
from hounsfield.worker.settings import SettingsError, WorkerSettings, load_settings
from hounsfield.worker.slurm import LifetimeWatch, SlurmAllocation, SlurmError, read_allocation

_log = logging.getLogger("hounsfield.worker")


async def serve(settings: WorkerSettings, allocation: SlurmAllocation | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Starting waits for NATS as long as it takes; a signal meanwhile must still end the process.
    starting = asyncio.create_task(WorkerApp.start(settings, allocation))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        _log.info("shutdown requested before the worker was up")
        return
    app = starting.result()
    watch = LifetimeWatch(
        end_time=None if allocation is None else allocation.end_time,
        drain_seconds=settings.slurm_drain_seconds,
        idle_exit_seconds=settings.idle_exit_seconds,
        busy=lambda: bool(app.agent.running() or app.agent.environment_builds()),
    )
    if allocation is not None and allocation.end_time is None:
        _log.warning("the Slurm allocation's end is unknown: draining on SIGTERM only (sbatch --signal)")
    watching = asyncio.create_task(watch.wait())
    await asyncio.wait({watching, stopping}, return_when=asyncio.FIRST_COMPLETED)
    drain: bool | None = None
    if watching.done():
        # Whatever HOUNSFIELD_DRAIN_ON_STOP says: no later agent will re-adopt these trainers here.
        drain = True
        _log.info("draining and exiting: %s", watching.result())
    else:
        _log.info("shutdown requested")
    for task in (watching, stopping):
        task.cancel()
    await app.close(drain=drain)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hounsfield.worker", description=__doc__)
    parser.add_argument(
        "--slurm", action="store_true", help="run inside a Slurm allocation (same as HOUNSFIELD_SLURM=true)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(**({"slurm": True} if args.slurm else {}))
        allocation = None
        if settings.slurm:
            allocation = read_allocation(os.environ, settings.slurm_end_time, settings.slurm_gpus)
    except (SettingsError, SlurmError) as error:
        _log.error("%s", error)
        sys.exit(2)
    logging.getLogger().setLevel(settings.log_level)
    try:
        asyncio.run(serve(settings, allocation))
    except SlurmError as error:
        _log.error("%s", error)
        sys.exit(2)


if __name__ == "__main__":
    main()
