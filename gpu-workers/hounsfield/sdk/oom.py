"""Out-of-memory as a failure of its own: recognised, recorded, and ended with a known exit code.

The platform retries an attempt that ran out of memory with half the per-device batch and twice the
gradient accumulation (same global batch and learning rate). For that it must know the attempt
died of OOM: the rank that hit it appends an ``oom`` record to the report file (any rank may; one
short ``O_APPEND`` write is atomic) and exits with ``EXIT_OUT_OF_MEMORY``. The shared training loop
does this itself; a user script can wrap its training in :func:`exit_on_out_of_memory`.

Importing this module does not import torch.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hounsfield.sdk.platform_env import ENV_REPORT_FILE, PlatformEnv
from hounsfield.sdk.report_format import EXIT_OUT_OF_MEMORY, dumps_record, oom_record

_log = logging.getLogger("hounsfield.sdk")

#: Messages of allocation failures that PyTorch raises as plain RuntimeErrors.
_OOM_MESSAGES = (
    "out of memory",
    "DefaultCPUAllocator: can't allocate memory",
    "DefaultCPUAllocator: not enough memory",
)


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA out-of-memory (``torch.OutOfMemoryError``), host ``MemoryError`` and the
    allocator failures PyTorch raises as ``RuntimeError``."""
    if isinstance(error, MemoryError):
        return True
    if type(error).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch
        return True
    return isinstance(error, RuntimeError) and any(text in str(error) for text in _OOM_MESSAGES)


def record_out_of_memory(
    error: BaseException, per_device_batch: int | None, env: PlatformEnv | None = None
) -> None:
    """Logs the OOM and appends the ``oom`` record the agent classifies the attempt by."""
    platform = env or PlatformEnv.read()
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:500]
    batch = f" at a per-device batch of {per_device_batch}" if per_device_batch is not None else ""
    message = f"rank {platform.rank} ran out of memory{batch}: {first_line}"
    _log.error("%s", message)
    standalone_file = os.environ.get(ENV_REPORT_FILE)
    report_file = platform.report_file or (Path(standalone_file) if standalone_file else None)
    if report_file is None:
        return
    try:
        line = dumps_record(oom_record(platform.rank, per_device_batch, message)) + "\n"
        fd = os.open(Path(report_file), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as write_error:
        _log.warning("could not record the out-of-memory failure in %s: %s", report_file, write_error)


@contextmanager
def exit_on_out_of_memory(per_device_batch: int | None = None) -> Iterator[None]:
    """Around a user script's training: an out-of-memory error is recorded and the process exits
    with ``EXIT_OUT_OF_MEMORY`` (without touching the process group), so the platform retries it
    with a smaller per-device batch. Other errors propagate unchanged."""
    try:
        yield
    except BaseException as error:
        if not is_out_of_memory(error):
            raise
        record_out_of_memory(error, per_device_batch)
        sys.stderr.flush()
        os._exit(EXIT_OUT_OF_MEMORY)  # no interpreter teardown: gloo/NCCL teardown could block on peers
