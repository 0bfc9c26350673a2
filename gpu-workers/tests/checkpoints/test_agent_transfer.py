"""The agent's upload, commit and resume download against the real checkpoints service (fs and S3)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
import torch
from harness.trainer_context import managed_environ
from worker.assignments import make_assignment

from hounsfield.checkpoints.manifest import verify_directory
from hounsfield.contracts.models import Retention
from hounsfield.platform import checkpoint_download
from hounsfield.platform.checkpoint_client import CheckpointClient, CheckpointServiceError
from hounsfield.platform.checkpoint_download import CheckpointVerificationError, download_checkpoint
from hounsfield.platform.checkpoint_transfer import TransferError
from hounsfield.platform.checkpoint_upload import upload_checkpoint
from hounsfield.sdk import Run
from hounsfield.sdk.checkpoint_report import CheckpointSaved
from hounsfield.worker.checkpoint_sync import CheckpointSync

from .conftest import CheckpointsService

KEEP_TWO = Retention(keepLast=2)


def _save(out: Path, job_id: str, step: int, size_floats: int = 700_000) -> Path:
    """A real SDK checkpoint of about 2.8 MB: three 1 MiB parts for the weights."""
    run = Run.from_env(
        handle_sigterm=False,
        environ=managed_environ(out.parent / f"ctx-{step}", job_id=job_id, output_dir=out),
    )
    generator = torch.Generator().manual_seed(step)
    state = {
        "model": {"w": torch.randn(size_floats, generator=generator)},
        "sampler": {"global_index": step * 8},
    }
    return run.save_checkpoint(state, step, metrics={"loss": 1.0 / (step + 1)})


async def test_upload_commit_and_download_reproduce_the_directory(
    checkpoint_client: CheckpointClient, tmp_path: Path
) -> None:
    job_id = f"py-{uuid.uuid4().hex[:8]}"
    directory = _save(tmp_path / "out", job_id, 10)
    record = await upload_checkpoint(
        checkpoint_client, directory, job_id=job_id, attempt=1, retention=KEEP_TWO
    )

    assert record.step == 10 and record.meta.globalSampleIndex == 80
    assert {f.name for f in record.files} == {"meta.json", "model.safetensors", "sampler.pt"}
    assert len(next(f for f in record.files if f.name == "model.safetensors").parts) == 3
    resolved = await checkpoint_client.resolve(f"{job_id}:latest")
    copy = await download_checkpoint(checkpoint_client, resolved, tmp_path / "resume")
    assert copy == tmp_path / "resume" / record.id
    assert verify_directory(copy, record.files) == []
    loaded = Run.from_env(output_dir=tmp_path / "x", handle_sigterm=False, environ={}, resume_from=copy)
    resumed = loaded.load_checkpoint()
    assert resumed is not None and resumed.step == 10
    original = torch.randn(700_000, generator=torch.Generator().manual_seed(10))
    assert torch.equal(resumed.state["model"]["w"], original)


async def test_parts_finishing_out_of_order_or_failing_once_still_give_the_verified_file(
    checkpoint_client: CheckpointClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts travel in parallel: the first one finishes last, the second fails half-way once and
    is fetched again into the same place; the file is still whole and its hash checked in order."""
    job_id = f"py-{uuid.uuid4().hex[:8]}"
    record = await upload_checkpoint(
        checkpoint_client, _save(tmp_path / "out", job_id, 3), job_id=job_id, attempt=1, retention=KEEP_TWO
    )
    real_get_part = checkpoint_download.get_part
    finished: list[str] = []
    failed_once = threading.Event()

    class HalfThenFail:
        def __init__(self, sink: checkpoint_download._PartWriter) -> None:
            self.sink = sink

        def write(self, chunk: bytes) -> int:
            self.sink.write(bytes(len(chunk) // 2))  # zeros where the part's first half belongs
            raise TransferError("connection reset (injected)")

    def get_part(grant, writer):  # type: ignore[no-untyped-def]
        label = writer._where
        if label.startswith("model.safetensors part 0"):
            time.sleep(0.5)  # the first part ends after the others
        if label.startswith("model.safetensors part 1") and not failed_once.is_set():
            failed_once.set()
            real_get_part(grant, HalfThenFail(writer))
        size = real_get_part(grant, writer)
        finished.append(label.split(" of ")[0])
        return size

    monkeypatch.setattr(checkpoint_download, "get_part", get_part)
    copy = await download_checkpoint(checkpoint_client, record, tmp_path / "resume")
    assert failed_once.is_set()
    model = [name for name in finished if name.startswith("model.safetensors")]
    assert model[-1] == "model.safetensors part 0" and len(model) == 3
    assert verify_directory(copy, record.files) == []


async def test_a_download_that_does_not_match_the_manifest_is_refused(
    checkpoints_service: CheckpointsService, checkpoint_client: CheckpointClient, tmp_path: Path
) -> None:
    if checkpoints_service.root is None:
        pytest.skip("skipped on s3: the test alters stored bytes through the fs store's files")
    job_id = f"py-{uuid.uuid4().hex[:8]}"
    record = await upload_checkpoint(
        checkpoint_client, _save(tmp_path / "out", job_id, 1), job_id=job_id, attempt=1, retention=KEEP_TWO
    )
    part = next((checkpoints_service.root / "checkpoints" / job_id).rglob("model.safetensors/00001"))
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF
    part.write_bytes(bytes(data))  # bit rot on the shared filesystem after the commit

    with pytest.raises(CheckpointVerificationError, match="model.safetensors of checkpoint .*: sha256"):
        await download_checkpoint(checkpoint_client, record, tmp_path / "resume")
    assert not (tmp_path / "resume" / record.id).exists()
    assert [p.name for p in (tmp_path / "resume").iterdir()] == []


async def test_sync_commits_announced_checkpoints_in_order_and_prunes_local_copies(
    checkpoint_client: CheckpointClient, tmp_path: Path
) -> None:
    job_id = f"py-{uuid.uuid4().hex[:8]}"
    assignment = make_assignment("w", job_id=job_id)
    policy = assignment.spec.checkpoint.model_copy(update={"keepLast": 2})
    spec = assignment.spec.model_copy(update={"checkpoint": policy})
    assignment = assignment.model_copy(update={"spec": spec})
    settled: list[int] = []  # what the runner drops from its relay state's pending list
    sync = CheckpointSync(
        checkpoint_client, assignment, tmp_path / "attempt", lambda saved: settled.append(saved.step)
    )
    for step in (1, 2, 3):
        sync.announce(CheckpointSaved(step, _save(tmp_path / "out", job_id, step, size_floats=1000)))
    await sync.finish()

    assert [r.step for r in sync.committed] == [1, 2, 3] and sync.failures == []
    assert settled == [1, 2, 3]
    listed = await checkpoint_client.resolve("latest", job_id=job_id)
    assert listed.step == 3
    assert [p.name for p in (tmp_path / "out" / "checkpoints").iterdir()] == ["step-000000003"]
    with pytest.raises(CheckpointServiceError) as missing:
        await checkpoint_client.resolve("1", job_id=job_id)
    assert missing.value.code == "not_found"  # keepLast 2 retired step 1
