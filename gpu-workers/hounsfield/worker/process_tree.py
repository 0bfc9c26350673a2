"""Process trees from /proc: which processes the agent started, and signalling all of them.

torchrun starts each rank in a new session (its own process group), so signalling the launcher's
process group does not reach the ranks. The agent therefore walks the tree: ranks are the
launcher's children, and every descendant's process group is signalled when it must die.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable
from pathlib import Path

_log = logging.getLogger(__name__)

PROC = Path("/proc")


def parent_map(proc: Path = PROC) -> dict[int, int]:
    """pid → parent pid of every visible process (empty where /proc does not exist)."""
    parents: dict[int, int] = {}
    if not proc.is_dir():
        return parents
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name (field 2) is in parentheses and may itself contain ") ".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 2:
            parents[int(entry.name)] = int(fields[1])
    return parents


def children(pid: int, parents: dict[int, int]) -> list[int]:
    return sorted(child for child, parent in parents.items() if parent == pid)


def descendants(roots: Iterable[int], parents: dict[int, int] | None = None) -> set[int]:
    """The roots and every process below them."""
    parents = parent_map() if parents is None else parents
    by_parent: dict[int, list[int]] = {}
    for child, parent in parents.items():
        by_parent.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(by_parent.get(pid, ()))
    return found


def signal_process(pid: int, signum: signal.Signals) -> bool:
    """Sends ``signum`` to one process; False when it is already gone."""
    try:
        os.kill(pid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError as error:
        _log.warning("cannot signal pid %d: %s", pid, error)
        return False


def kill_groups(pids: Iterable[int], signum: signal.Signals) -> None:
    """Signals the process group of every pid (and the pid itself), never the agent's own group."""
    own_group = os.getpgrp()
    groups: set[int] = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
        signal_process(pid, signum)
    for group in groups - {own_group}:
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            continue
        except PermissionError as error:
            _log.warning("cannot signal process group %d: %s", group, error)
