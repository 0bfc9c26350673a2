"""Exit codes in words a person can act on."""

from __future__ import annotations

import signal


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


#: Lines PyTorch and Python print when an allocation fails (CUDA or host memory).
_OOM_PATTERNS = (
    "torch.OutOfMemoryError",
    "CUDA out of memory",
    "DefaultCPUAllocator: can't allocate memory",
    "MemoryError",
)


def looks_out_of_memory(log_tail: list[str]) -> bool:
    """Whether the end of a trainer's log shows an out-of-memory error (for scripts that do not use
    the SDK's OOM handling; trainers that do exit with ``EXIT_OUT_OF_MEMORY``)."""
    return any(pattern in line for line in log_tail[-50:] for pattern in _OOM_PATTERNS)


def describe_exit(returncode: int) -> str:
    """``returncode`` as asyncio reports it for the launcher (negative: killed by that signal)."""
    if returncode < 0:
        name = _signal_name(-returncode)
        hint = " (often the out-of-memory killer)" if -returncode == signal.SIGKILL else ""
        return f"trainer was killed by {name}{hint}"
    if returncode > 128 and returncode - 128 < 64:
        # The launcher reports a rank killed by signal N as 128 + N, like a shell.
        name = _signal_name(returncode - 128)
        hint = " (often the out-of-memory killer)" if returncode - 128 == signal.SIGKILL else ""
        return f"trainer exited with code {returncode}: a rank was killed by {name}{hint}"
    return f"trainer exited with code {returncode}"
