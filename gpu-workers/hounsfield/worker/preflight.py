"""Checks run on the worker before a trainer starts, so a typo or a full disk fails in a second
with a reason instead of after the GPUs were claimed and the model was built.

A preflight failure ends the attempt ``failed`` with ``failureKind: "preflight"``: the scheduler
does not retry it, since running the same spec again would fail the same way. A busy rendezvous
port (``RendezvousPortBusyError``) is the exception: it passes, so it is reported as ``infrastructure``.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hounsfield.contracts.models import Assignment, EvaluationShardJobSpec, GpuInfo, TrainingJobSpec

GIB = 1024**3


class PreflightError(Exception):
    """One failed check, with a reason a person can act on."""


@dataclass(frozen=True)
class PreflightPolicy:
    data_roots: Sequence[Path]
    work_dir: Path
    min_free_disk_gib: float


def resolve_data_path(raw: str, roots: Sequence[Path]) -> Path:
    """The existing path ``raw`` names inside one of ``roots``.

    Relative paths are looked up under each root in order; absolute paths must lie inside one.
    ``..`` components are refused outright, and symbolic links are resolved before the
    containment check, so no spelling of a path reaches outside the roots.
    """
    if not raw or "\x00" in raw:
        raise PreflightError(f"data path {raw!r} is empty or contains a NUL byte")
    roots_text = ", ".join(str(r) for r in roots) or "none configured"
    if ".." in PurePosixPath(raw).parts:
        raise PreflightError(
            f"data path {raw!r} is outside the worker's data roots ({roots_text}): '..' is not allowed; "
            "name the dataset relative to a data root"
        )
    if not roots:
        raise PreflightError(
            f"data path {raw!r} cannot be checked: this worker has no data roots; "
            "set HOUNSFIELD_DATA_ROOTS on the worker"
        )
    path = Path(raw)
    resolved_roots = [root.expanduser().resolve() for root in roots]

    def inside(candidate: Path) -> bool:
        return any(candidate.is_relative_to(root) for root in resolved_roots)

    outside = PreflightError(f"data path {raw!r} is outside the worker's data roots ({roots_text})")
    if path.is_absolute():
        candidate = path.resolve()
        if not inside(candidate):
            raise outside
        if candidate.exists():
            return candidate
    else:
        for root in resolved_roots:
            candidate = (root / path).resolve()
            if candidate.exists():
                # An existing path that resolves elsewhere (a symbolic link) is an escape.
                if not candidate.is_relative_to(root):
                    raise outside
                return candidate
    raise PreflightError(f"data path {raw!r} does not exist under the worker's data roots ({roots_text})")


def check_disk(work_dir: Path, min_free_gib: float) -> None:
    probe = work_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < min_free_gib * GIB:
        raise PreflightError(
            f"only {free / GIB:.1f} GiB free on the worker's disk at {work_dir}; "
            f"at least {min_free_gib:g} GiB are required (HOUNSFIELD_MIN_FREE_DISK_GIB)"
        )


def check_gpus_free(indices: Set[int], gpus: Sequence[GpuInfo]) -> None:
    """The assigned GPUs exist and no process the platform did not start holds memory on them."""
    by_index = {gpu.index: gpu for gpu in gpus}
    missing = sorted(i for i in indices if i not in by_index)
    if missing:
        raise PreflightError(f"assigned GPU(s) {missing} do not exist on this worker")
    busy = sorted(i for i in indices if by_index[i].foreignProcesses)
    if busy:
        raise PreflightError(
            f"assigned GPU(s) {busy} are busy with processes the platform did not start "
            "(they started after placement); the job can be resubmitted once they are free"
        )


def check_resume_checkpoint(resume_from: str | None) -> None:
    """A local resume path must exist; registry references are fetched and verified later."""
    if resume_from and resume_from.startswith("/") and not Path(resume_from).exists():
        raise PreflightError(f"the resume checkpoint {resume_from} does not exist on this worker")


class RendezvousPortBusyError(PreflightError):
    """The rendezvous port is taken: a passing condition (a previous attempt's store still
    stopping), so the attempt is requeued without spending a restart, on another port."""


def check_rendezvous_port(port: int) -> None:
    """Node 0 of a multi-node attempt hosts torchrun's rendezvous store on ``port``: nothing may
    listen there. (Connections of an earlier store waiting out TIME_WAIT do not count: the store
    binds with SO_REUSEADDR, and so does this probe.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as error:
            raise RendezvousPortBusyError(
                f"the rendezvous port {port} is not free on this worker ({error.strerror or error}); "
                "free it, or give the worker another range in HOUNSFIELD_RENDEZVOUS_PORTS"
            ) from error


class Preflight:
    """Runs every check for one assignment; returns the resolved dataset root when one was named."""

    def __init__(self, policy: PreflightPolicy, gpus: Callable[[], Sequence[GpuInfo]]) -> None:
        self._policy = policy
        self._gpus = gpus

    def check(self, assignment: Assignment) -> Path | None:
        spec = assignment.spec
        data = spec.data if isinstance(spec, TrainingJobSpec | EvaluationShardJobSpec) else None
        root = resolve_data_path(data.root, self._policy.data_roots) if data and data.root else None
        for extra in data.paths if data else []:
            resolve_data_path(extra.root, self._policy.data_roots)
        if data and data.split:
            resolve_data_path(data.split, self._policy.data_roots)
        check_resume_checkpoint(assignment.resumeFrom)
        check_disk(self._policy.work_dir, self._policy.min_free_disk_gib)
        if assignment.node is not None and assignment.node.nodeRank == 0:
            check_rendezvous_port(assignment.node.rdzvPort)
        indices = {index.root for index in assignment.gpuIndices}
        if indices:
            check_gpus_free(indices, self._gpus())
        return root
