"""Starting agents in tests: fake GPUs, fast heartbeats, a work directory per test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hounsfield.worker.settings import WorkerSettings, load_settings

StartAgent = Callable[..., Awaitable[Any]]
"""``await start_agent(**setting_overrides)`` → a started ``WorkerApp`` (see conftest)."""


def agent_settings(nats_url: str, worker_id: str, work_dir: Path, **overrides: Any) -> WorkerSettings:
    return load_settings(
        **{
            "nats_url": nats_url,
            "worker_id": worker_id,
            "work_dir": work_dir,
            "heartbeat_interval": 0.5,
            "fake_gpus": "4xH100-80GB",
            "stop_grace_seconds": 5.0,
            # No checkpoints service runs here: an ended attempt's log gets one try to reach the store.
            "log_finish_seconds": 0.0,
            **overrides,
        }
    )
