"""Exit codes in words a person can act on."""

from __future__ import annotations

import signal


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
