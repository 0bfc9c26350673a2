"""The accepted forms of HOUNSFIELD_FAKE_GPUS."""

from __future__ import annotations

import pytest

from hounsfield.gpu import FakeGpuSpecError, FakeInventory, parse_fake_gpus

GIB = 1024**3


def test_a_count() -> None:
    gpus = parse_fake_gpus("8")
    assert len(gpus) == 8 and gpus[0].memory_total_bytes == 80 * GIB
    assert parse_fake_gpus("0") == []


def test_model_groups() -> None:
    gpus = parse_fake_gpus("4xA100-40GB, 2xL4")
    assert [g.name for g in gpus] == ["NVIDIA A100 40GB"] * 4 + ["NVIDIA L4"] * 2
    assert gpus[0].memory_total_bytes == 40 * GIB and gpus[-1].memory_total_bytes == 80 * GIB


def test_json_list_can_describe_busy_gpus() -> None:
    gpus = parse_fake_gpus(
        '[{"name": "NVIDIA H100 80GB HBM3", "memoryGiB": 80},'
        ' {"memoryGiB": 24, "memoryUsedGiB": 20, "utilizationPercent": 97, "foreignProcesses": true}]'
    )
    snapshot = FakeInventory(gpus, "node-a").snapshot(set())
    assert [g.uuid for g in snapshot] == ["FAKE-node-a-0", "FAKE-node-a-1"]
    assert snapshot[0].name == "NVIDIA H100 80GB HBM3" and snapshot[0].memoryUsedBytes == 0
    assert snapshot[1].memoryUsedBytes == 20 * GIB and snapshot[1].foreignProcesses


@pytest.mark.parametrize(
    "spec",
    ["", "many", "8xH100-80XB", "[{}", '{"name": "x"}', '[{"memoryGiB": -1}]', '[{"colour": "red"}]', "65"],
)
def test_invalid_forms_are_refused(spec: str) -> None:
    with pytest.raises(FakeGpuSpecError):
        parse_fake_gpus(spec)
