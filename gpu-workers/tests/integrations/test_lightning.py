"""The example Lightning script under torchrun with 2 CPU processes: it reports, checkpoints in the
platform's format, survives ``kill -9`` by resuming at the same global step, and stops gracefully
(with a checkpoint) when asked to."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.sdk.checkpoint import CHECKPOINTS_DIR
from hounsfield.worker.process_tree import children, descendants, kill_groups, parent_map, signal_process

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "examples" / "lightning" / "train_lightning.py"


def torchrun(output: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUNSFIELD_")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    return subprocess.Popen(
        [*command, str(SCRIPT), "--output-dir", str(output), *args],
        env={**env, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def signal_tree(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    """torchrun and every rank (torch starts the ranks in sessions of their own)."""
    kill_groups(descendants([process.pid]), signum)


def signal_ranks(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    """The ranks only, as the agent's ``TrainerStop`` does: torchrun's own SIGTERM handling
    SIGKILLs ranks that take more than 30 s to stop, which a loaded machine can exceed."""
    for rank in children(process.pid, parent_map()):
        signal_process(rank, signum)


def committed_steps(output: Path) -> list[int]:
    root = output / CHECKPOINTS_DIR
    return sorted(int(p.name.split("-")[1]) for p in root.glob("step-*") if (p / "meta.json").is_file())


def wait_for_step(output: Path, process: subprocess.Popen[str], step: int, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(s >= step for s in committed_steps(output)):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"no checkpoint of step {step} within {timeout} s"
        time.sleep(0.2)


def test_kill_9_then_resume_at_the_same_global_step_then_a_graceful_stop(tmp_path: Path) -> None:
    output = tmp_path / "out"
    first = torchrun(output, "--steps", "400", "--checkpoint-every", "5", "--sleep", "0.05")
    wait_for_step(output, first, 10)
    signal_tree(first, signal.SIGKILL)
    first.wait(timeout=60)
    resumed_from = committed_steps(output)[-1]
    state, meta = read_checkpoint(output / CHECKPOINTS_DIR / f"step-{resumed_from:09d}")
    assert meta.step == resumed_from and state["lightning"]["global_step"] == resumed_from
    assert "net.0.weight" in state["model"]  # the weights, as safetensors

    second = torchrun(output, "--steps", "400", "--checkpoint-every", "5", "--sleep", "0.05")
    wait_for_step(output, second, resumed_from + 5)
    signal_ranks(second, signal.SIGTERM)  # what the agent sends on cancel or preemption
    log, _ = second.communicate(timeout=120)
    assert f"training starts at global_step={resumed_from}" in log, log
    assert re.search(rf"step {resumed_from + 1}/400 loss=", log), log  # progress with the total
    ended = re.search(r"training ended at global_step=(\d+)", log)
    assert ended is not None and second.returncode == 0, log  # ranks that stop cleanly end torchrun cleanly
    stopped = int(ended.group(1))
    assert stopped < 400 and committed_steps(output)[-1] == stopped  # a checkpoint of the stop step
    assert "stop requested: saving a checkpoint" in log
