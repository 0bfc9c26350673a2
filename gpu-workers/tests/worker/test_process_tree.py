"""Finding and signalling the processes an attempt started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from hounsfield.worker import process_tree
from worker.process_state import is_dead


def _dies(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_dead(pid):
            return True
        time.sleep(0.05)
    return False


def test_descendants_include_grandchildren_in_other_sessions() -> None:
    # A child in its own session that starts a grandchild in another one, like torchrun's ranks.
    script = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True);"
        "print(p.pid, flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        found = process_tree.descendants([os.getpid()])
        assert {child.pid, grandchild} <= found
        assert os.getpgid(grandchild) != os.getpgid(child.pid)

        process_tree.kill_groups([child.pid, grandchild], signal.SIGKILL)

        assert child.wait(timeout=10) == -signal.SIGKILL
        assert _dies(grandchild)
    finally:
        if child.poll() is None:
            child.kill()
