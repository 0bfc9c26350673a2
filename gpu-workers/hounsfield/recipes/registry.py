"""Which package implements each job kind. Adding a model family is its package plus one line here.

Each package ``hounsfield.recipes.<kind>`` has a light ``__init__`` (``KIND``, ``VERSION``), a
``recipe.py`` defining ``RECIPE`` and a ``__main__`` the worker starts under torchrun. A worker
advertises the kinds whose package imports on its installation (with their versions), so a job is
only placed where its recipe can run.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)

#: Job kind -> recipe package.
RECIPES: Mapping[str, str] = {
    "pcdiff": "hounsfield.recipes.pcdiff",
    "voxelization": "hounsfield.recipes.voxelization",
    "vqgan3d": "hounsfield.recipes.vqgan3d",
    "topo_unet": "hounsfield.recipes.topo_unet",
    "slice_interp": "hounsfield.recipes.slice_interp",
}

#: Kinds every worker runs that are not recipes: the user's own module, and the platform's internal
#: tasks (``hounsfield.worker.trainer_launch.BUILTIN_TASKS``).
BUILT_IN_KINDS: Mapping[str, str] = {"script": "1", "evaluation_shard": "1", "checkpoint_import": "1"}


class UnknownKindError(LookupError):
    """No recipe is registered for a job kind."""


@dataclass(frozen=True)
class KindInfo:
    kind: str
    version: str
    package: str


def recipe_package(kind: str) -> str:
    """The package of ``kind``'s recipe (what ``torchrun -m`` runs)."""
    try:
        return RECIPES[kind]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise UnknownKindError(f"no recipe for job kind {kind!r}; this installation has {known}") from None


def load_recipe(kind: str) -> Any:
    """The ``RECIPE`` of ``kind`` (imports torch and the model code)."""
    module = importlib.import_module(f"{recipe_package(kind)}.recipe")
    return module.RECIPE


def available_kinds() -> list[KindInfo]:
    """The recipes whose package imports here, plus the built-in kinds (for heartbeats)."""
    found = [KindInfo(kind, version, "") for kind, version in BUILT_IN_KINDS.items()]
    for kind, package in RECIPES.items():
        try:
            module = importlib.import_module(package)
            found.append(KindInfo(kind, str(module.VERSION), package))
        except Exception as error:  # a broken or partial installation must not stop the worker
            _log.warning("recipe %s (%s) is not available on this worker: %s", kind, package, error)
    return sorted(found, key=lambda info: info.kind)
