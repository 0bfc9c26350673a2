"""Worker configuration from HOUNSFIELD_* variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hounsfield.worker.settings import SettingsError, default_worker_id, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NATS_URL",
        "WORKER_ID",
        "WORK_DIR",
        "HEARTBEAT_INTERVAL",
        "FAKE_GPUS",
        "DATA_ROOTS",
        "LOG_LEVEL",
        "LOG_MAX_MIB",
        "LOG_SEGMENT_KIB",
        "LOG_UPLOAD_SECONDS",
        "CPU_SLOTS",
        "DRAIN_ON_STOP",
    ):
        monkeypatch.delenv(f"HOUNSFIELD_{name}", raising=False)


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(worker_id="node-a")
    assert settings.nats_url == "nats://127.0.0.1:14222"
    assert settings.heartbeat_interval == 2.0 and settings.fake_gpus is None and settings.data_roots == []
    assert settings.work_dir == tmp_path / ".hounsfield" / "worker" / "node-a"


def test_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUNSFIELD_WORKER_ID", "gpu-node_7")
    monkeypatch.setenv("HOUNSFIELD_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("HOUNSFIELD_FAKE_GPUS", "8xH100-80GB")
    monkeypatch.setenv("HOUNSFIELD_DATA_ROOTS", "/data/a:/data/b")
    monkeypatch.setenv("HOUNSFIELD_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.worker_id == "gpu-node_7" and settings.heartbeat_interval == 0.5
    assert settings.data_roots == [Path("/data/a"), Path("/data/b")]
    assert settings.log_level == "DEBUG"
    devices = settings.fake_gpu_devices()
    assert devices is not None and len(devices) == 8


def test_data_roots_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUNSFIELD_DATA_ROOTS", '["/x", "/y"]')
    assert load_settings(worker_id="n").data_roots == [Path("/x"), Path("/y")]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOUNSFIELD_HEARTBEAT_INTERVAL", "soon"),
        ("HOUNSFIELD_HEARTBEAT_INTERVAL", "0"),
        ("HOUNSFIELD_WORKER_ID", "bad id!"),
        ("HOUNSFIELD_FAKE_GPUS", "lots"),
        ("HOUNSFIELD_LOG_LEVEL", "chatty"),
        ("HOUNSFIELD_LOG_UPLOAD_SECONDS", "30"),  # the log is stored at least every 10 s
        ("HOUNSFIELD_LOG_MAX_MIB", "2"),  # less than three segments of 1 MiB
        ("HOUNSFIELD_CPU_SLOTS", "0"),
        ("HOUNSFIELD_DRAIN_ON_STOP", "maybe"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_cpu_slots_default_to_the_usable_cores_and_stopping_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.usable_cpu_slots == len(os.sched_getaffinity(0)) and settings.drain_on_stop
    monkeypatch.setenv("HOUNSFIELD_CPU_SLOTS", "3")
    monkeypatch.setenv("HOUNSFIELD_DRAIN_ON_STOP", "false")
    settings = load_settings()
    assert settings.usable_cpu_slots == 3 and not settings.drain_on_stop


def test_worker_id_from_hostname_is_subject_safe() -> None:
    assert default_worker_id("gpu01.lab.example.org") == "gpu01-lab-example-org"
    assert default_worker_id("..") == "worker"
    assert len(default_worker_id("x" * 100)) == 64
