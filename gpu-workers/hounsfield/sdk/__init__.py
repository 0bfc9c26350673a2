"""The trainer SDK: report progress and learn when to stop, under the platform or standalone.

    from hounsfield.sdk import Run

    run = Run.from_env(global_batch=64, base_lr=1e-3)   # batch args only matter standalone
    for step in range(steps):
        ...
        run.report(step, {"loss": loss}, lr=lr, total_steps=steps)
        if run.should_stop:          # SIGTERM from the agent: checkpoint, then exit 0
            break

Importing the SDK does not import torch.
"""

from hounsfield.contracts.models import ResolvedHyperparameters, TrainerContext
from hounsfield.sdk.platform_env import PlatformEnv, PlatformEnvError
from hounsfield.sdk.resolved import ResolutionError, resolve_hyperparameters
from hounsfield.sdk.run import Run, init

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
