"""``python -m hounsfield.worker``: run the GPU worker agent until SIGINT or SIGTERM (then exit 0)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from hounsfield.worker.app import WorkerApp
from hounsfield.worker.settings import SettingsError, WorkerSettings, load_settings

_log = logging.getLogger("hounsfield.worker")


async def serve(settings: WorkerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Starting waits for NATS as long as it takes; a signal meanwhile must still end the process.
    starting = asyncio.create_task(WorkerApp.start(settings))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        _log.info("shutdown requested before the worker was up")
        return
    stopping.cancel()
    app = starting.result()
    await stop.wait()
    _log.info("shutdown requested")
    await app.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        _log.error("%s", error)
        sys.exit(2)
    logging.getLogger().setLevel(settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
