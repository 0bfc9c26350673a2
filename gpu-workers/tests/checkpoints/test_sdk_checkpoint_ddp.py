"""Two gloo processes: rank 0 writes, every rank waits and learns the outcome."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hounsfield.sdk import Run
from hounsfield.sdk.checkpoint import CheckpointError


def _rank_main(rank: int, port: int, out: str, results: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        run = Run.from_env(
            output_dir=out,
            handle_sigterm=False,
            environ={"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)},
        )
        path = run.save_checkpoint({"model": {"w": torch.full((2,), float(rank))}}, 7)
        # Once save_checkpoint returns on any rank, the directory is complete.
        complete = (path / "meta.json").is_file()
        try:
            run.save_checkpoint({"model": {"w": torch.zeros(1)}, "bad/key": 1}, 8)
            second = "saved"
        except CheckpointError as error:
            second = f"CheckpointError: {error}"
        except ValueError as error:
            second = f"{type(error).__name__}"
        Path(results, f"rank{rank}.txt").write_text(f"{path}\n{complete}\n{second}\n")
    finally:
        dist.destroy_process_group()


@pytest.mark.timeout(120)
def test_rank_0_writes_and_both_ranks_agree_on_success_and_failure(tmp_path: Path) -> None:
    from harness import free_port

    out, results = tmp_path / "out", tmp_path / "results"
    results.mkdir()
    mp.spawn(_rank_main, args=(free_port(), str(out), str(results)), nprocs=2, join=True)
    rank0 = (results / "rank0.txt").read_text().splitlines()
    rank1 = (results / "rank1.txt").read_text().splitlines()
    assert rank0[0] == rank1[0] == str(out / "checkpoints" / "step-000000007")
    assert rank0[1] == rank1[1] == "True"
    # Rank 0 wrote its own weights; rank 1's copy of the state was never used.
    saved = Run.from_env(output_dir=out, handle_sigterm=False, environ={}).load_checkpoint()
    assert saved is not None and torch.equal(saved.state["model"]["w"], torch.zeros(2))
    # A bad key fails on rank 0; rank 1 does not hang in the barrier and is told why.
    assert rank0[2] == "CheckpointFormatError"
    assert rank1[2].startswith("CheckpointError: rank 0 could not write the checkpoint of step 8")
