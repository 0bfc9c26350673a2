"""The trainer SDK: report progress and learn when to stop, under the platform or standalone.

    from hounsfield.sdk import Run

    run = Run.from_env(global_batch=64, base_lr=1e-3)   # batch args only matter standalone
    for step in range(steps):
        ...
        run.report(step, {"loss": loss}, lr=lr, total_steps=steps)
        if run.should_stop:          # SIGTERM from the agent: checkpoint, then exit 0
            break

Importing the SDK does not import torch, nor the contract models (they load when a context is read).
"""

from typing import TYPE_CHECKING, Any

from hounsfield.sdk.platform_env import PlatformEnv, PlatformEnvError
from hounsfield.sdk.resolved import ResolutionError, resolve_hyperparameters
from hounsfield.sdk.run import Run, init

if TYPE_CHECKING:
    from hounsfield.contracts.models import ResolvedHyperparameters, TrainerContext


def __getattr__(name: str) -> Any:
    if name in ("ResolvedHyperparameters", "TrainerContext"):
        from hounsfield.contracts import models  # noqa: PLC0415

        return getattr(models, name)
    raise AttributeError(f"module 'hounsfield.sdk' has no attribute {name!r}")


__all__ = [
    "PlatformEnv",
    "PlatformEnvError",
    "ResolvedHyperparameters",
    "ResolutionError",
    "Run",
    "TrainerContext",
    "init",
    "resolve_hyperparameters",
]
