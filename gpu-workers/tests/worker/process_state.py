"""Whether a process has died, as seen from /proc."""

from __future__ import annotations

from pathlib import Path


def is_dead(pid: int) -> bool:
    """Gone, or a zombie: killed processes whose parent died wait for init to reap them."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"
