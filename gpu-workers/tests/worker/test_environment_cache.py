"""Per-job environments: the cache's key and LRU bound, interruptible pip, and the environment phase."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hounsfield.contracts.models import Assignment, EnvironmentEvent
from hounsfield.worker import job_code
from hounsfield.worker.attempt_dir import AttemptDir
from hounsfield.worker.environment_build import EnvironmentBuild, clip_reason

from .assignments import make_assignment


def fake_environment(cache: job_code.EnvironmentCache, key: str, last_used: float) -> None:
    """A finished environment as the cache sees it (its ready marker and time of last use)."""
    directory = cache.path(key)
    directory.mkdir(parents=True)
    (directory / job_code.READY_FILE).write_text("x\n")
    (directory / job_code.LAST_USED_FILE).touch()
    os.utime(directory / job_code.LAST_USED_FILE, (last_used, last_used))


def test_the_key_follows_the_requirement_lines_and_interpreter_and_is_stable_across_processes() -> None:
    key = job_code.environment_key(["einops==0.8.0", "rich"], sys.executable)
    assert key == job_code.environment_key(["einops==0.8.0", "rich"], sys.executable)
    assert key != job_code.environment_key(["rich", "einops==0.8.0"], sys.executable)
    assert key != job_code.environment_key(["einops==0.8.1", "rich"], sys.executable)
    assert key != job_code.environment_key(["einops==0.8.0", "rich"], "/usr/bin/python3")
    # Another agent process (another hash seed) finds the same environment.
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from hounsfield.worker.job_code import environment_key as k; "
            "print(k(['einops==0.8.0', 'rich'], sys.executable))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert other.stdout.strip() == key


def test_the_bound_evicts_the_least_recently_used_environments(tmp_path: Path) -> None:
    cache = job_code.EnvironmentCache(tmp_path / "envs", max_entries=2)
    now = time.time()
    fake_environment(cache, "aaaaaaaa", now - 300)
    fake_environment(cache, "bbbbbbbb", now - 200)
    fake_environment(cache, "cccccccc", now - 100)
    assert cache.evict() == ["aaaaaaaa"]
    assert cache.ready_keys() == ["bbbbbbbb", "cccccccc"]
    # A use makes an environment the most recent: the other one goes next.
    cache.touch("bbbbbbbb")
    fake_environment(cache, "dddddddd", now - 50)
    assert cache.evict() == ["cccccccc"]
    assert cache.ready_keys() == ["bbbbbbbb", "dddddddd"]
    # Nothing is left half-deleted under another name.
    assert sorted(p.name for p in cache.root.iterdir()) == ["bbbbbbbb", "dddddddd"]


def test_an_environment_in_use_is_never_evicted_even_past_the_bound(tmp_path: Path) -> None:
    cache = job_code.EnvironmentCache(tmp_path / "envs", max_entries=1)
    now = time.time()
    fake_environment(cache, "aaaaaaaa", now - 300)
    fake_environment(cache, "bbbbbbbb", now - 200)
    fake_environment(cache, "cccccccc", now - 100)
    cache.acquire("aaaaaaaa")  # an attempt's trainer runs in it
    with cache.use("bbbbbbbb"):  # a build found it
        assert cache.evict() == ["cccccccc"]
        assert cache.ready_keys() == ["aaaaaaaa", "bbbbbbbb"]
    assert cache.evict() == ["bbbbbbbb"]
    cache.release("aaaaaaaa")
    fake_environment(cache, "dddddddd", now)
    assert cache.evict() == ["aaaaaaaa"]
    assert cache.ready_keys() == ["dddddddd"]


def test_unbounded_by_default_and_one_cache_per_directory(tmp_path: Path) -> None:
    cache = job_code.EnvironmentCache.of(tmp_path / "envs")
    assert cache.max_entries is None and cache.evict() == []
    bounded = job_code.EnvironmentCache.of(tmp_path / "envs", 3)
    assert bounded is cache and cache.max_entries == 3  # the agent's bound applies to its runners too


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_cancelled_command_has_its_whole_process_group_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pids}; echo $$ >> {pids}; wait"
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(job_code.BuildCancelledError):
        job_code.run_interruptible(["bash", "-c", script], tmp_path, 60.0, cancel)
    assert time.monotonic() - started < 5
    child, shell = (int(line) for line in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (_alive(child) or _alive(shell)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child) and not _alive(shell)


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """An HTTP address that accepts connections and never answers: a download that blocks pip."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    host, port = server.getsockname()
    yield f"http://{host}:{port}/hf_hang-1.0-py3-none-any.whl", accepted
    server.close()
    for connection in accepted:
        connection.close()


def _closed_by_peer(connection: socket.socket) -> bool:
    connection.settimeout(5)
    try:
        return connection.recv(65536 * 16) == b"" or connection.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


def test_cancelling_a_blocked_pip_stops_the_build_and_leaves_nothing_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, silent_server: tuple[str, list[socket.socket]]
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    url, accepted = silent_server
    cache = job_code.EnvironmentCache(tmp_path / "envs", max_entries=4)
    cancel = threading.Event()

    def cancel_once_pip_downloads() -> None:
        deadline = time.monotonic() + 60
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=cancel_once_pip_downloads, daemon=True).start()
    with pytest.raises(job_code.BuildCancelledError):
        job_code.ensure_environment_in([f"hf-hang @ {url}"], cache, sys.executable, tmp_path, cancel)
    assert accepted, "pip never started downloading"
    assert all(_closed_by_peer(connection) for connection in accepted)  # pip is gone
    assert list(cache.root.iterdir()) == []  # the half-built environment was removed
    assert not cache.in_use(job_code.environment_key([f"hf-hang @ {url}"], sys.executable))


class Events:
    def __init__(self) -> None:
        self.environment_events: list[EnvironmentEvent] = []

    async def environment(self, event: EnvironmentEvent) -> None:
        self.environment_events.append(event)


def build_order(requirements: list[str], job_id: str = "job-env") -> Assignment:
    base = make_assignment("w1", job_id=job_id, gpu_indices=[0], cuda_visible_devices="0")
    spec = base.spec.model_dump(mode="json", exclude_none=True)
    spec["environment"] = {"requirements": requirements}
    data = base.model_dump(mode="json", exclude_none=True)
    return Assignment.model_validate(
        {
            **data,
            "spec": spec,
            "gpuIndices": [],
            "cudaVisibleDevices": "",
            "phase": "environment",
            "assignmentId": f"{job_id}:1:env:x",
        }
    )


async def test_the_environment_phase_reports_ready_with_its_key_then_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    events = Events()
    cache = job_code.EnvironmentCache(tmp_path / "cache" / "envs", max_entries=4)
    requirements = ["numpy"]  # satisfied by the worker's installation: nothing is downloaded
    for _ in range(2):
        build = EnvironmentBuild(build_order(requirements), events, cache, tmp_path, None)  # type: ignore[arg-type]
        await build.run()
    first, second = events.environment_events
    key = job_code.environment_key(requirements, sys.executable)
    assert (first.outcome, first.key, first.cached) == ("ready", key, False)
    assert (second.outcome, second.key, second.cached) == ("ready", key, True)
    assert first.buildId == "job-env:1:env:x" and first.workerId == "w1"
    assert cache.ready_keys() == [key]
    assert not (tmp_path / "cache" / "builds" / "job-env").exists()  # its scratch space is gone


async def test_the_environment_phase_reports_a_pip_failure_with_the_end_of_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    events = Events()
    cache = job_code.EnvironmentCache(tmp_path / "cache" / "envs")
    build = EnvironmentBuild(build_order(["hf-no-such-package-anywhere==9.9"]), events, cache, tmp_path, None)  # type: ignore[arg-type]
    await build.run()
    (event,) = events.environment_events
    assert (event.outcome, event.failureKind, event.key) == ("failed", "environment", None)
    assert event.reason is not None and "pip exit code" in event.reason
    assert "hf-no-such-package-anywhere" in event.reason
    assert cache.ready_keys() == []


def recipe_order(config: dict[str, object], job_id: str = "job-check") -> Assignment:
    """A GPU slice_interp job's environment phase (the recipe's config check)."""
    base = build_order([], job_id)
    spec = base.spec.model_dump(mode="json", exclude_none=True)
    spec.pop("environment")
    spec.pop("script")
    data = base.model_dump(mode="json", exclude_none=True)
    return Assignment.model_validate({**data, "spec": {**spec, "kind": "slice_interp", "config": config}})


async def test_a_recipe_jobs_phase_runs_its_config_check_and_reports_a_wrong_vae_key(tmp_path: Path) -> None:
    from safetensors.torch import save_file  # noqa: PLC0415

    from hounsfield.recipes.slice_interp.vae import FrozenVAE  # noqa: PLC0415

    good_key, bad_key = "decoder.blocks.0.conv.conv.weight", "decoder.blocks.0.conv.conv.wieght"
    state = FrozenVAE("cpu-tiny", seed=3).module.state_dict()
    state[bad_key] = state.pop(good_key)
    weights = tmp_path / "vae.safetensors"
    save_file(state, str(weights))
    events = Events()
    cache = job_code.EnvironmentCache(tmp_path / "cache" / "envs")
    wrong = recipe_order({"preset": "cpu-tiny", "vae": {"weights": str(weights)}})
    await EnvironmentBuild(wrong, events, cache, tmp_path, None).run()  # type: ignore[arg-type]
    good = recipe_order({"preset": "cpu-tiny"}, job_id="job-good")
    await EnvironmentBuild(good, events, cache, tmp_path, None).run()  # type: ignore[arg-type]
    failed, ready = events.environment_events
    assert (failed.outcome, failed.failureKind, failed.key) == ("failed", "preflight", None)
    assert failed.reason is not None and failed.reason.startswith("before the GPU lease, config check failed")
    assert f"missing 1: {good_key}" in failed.reason and f"unexpected 1: {bad_key}" in failed.reason
    assert (ready.outcome, ready.key, ready.reason) == ("ready", None, None)
    assert cache.ready_keys() == []  # a recipe job builds no environment
    assert not (tmp_path / "cache" / "builds" / "job-check").exists()


async def test_cancelling_the_environment_phase_kills_pip_and_reports_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, silent_server: tuple[str, list[socket.socket]]
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    url, accepted = silent_server
    events = Events()
    cache = job_code.EnvironmentCache(tmp_path / "cache" / "envs")
    build = EnvironmentBuild(build_order([f"hf-hang @ {url}"]), events, cache, tmp_path, None)  # type: ignore[arg-type]
    task = asyncio.create_task(build.run())
    deadline = time.monotonic() + 60
    while not accepted and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert accepted
    asked = time.monotonic()
    assert build.cancel()
    await asyncio.wait_for(task, 10)
    assert time.monotonic() - asked < 5
    (event,) = events.environment_events
    assert event.outcome == "cancelled"
    assert all(_closed_by_peer(connection) for connection in accepted)
    assert not build.cancel()  # ended: nothing more to stop


def test_a_long_reason_keeps_its_first_line_and_its_end() -> None:
    text = "installing failed (pip exit code 1):\n" + "\n".join(f"line {i}" for i in range(2000))
    clipped = clip_reason(text)
    assert len(clipped) <= 4096
    assert clipped.startswith("installing failed (pip exit code 1):")
    assert clipped.endswith("line 1999")


async def test_an_attempts_environment_stays_in_use_until_it_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    attempt = AttemptDir.of(tmp_path / "jobs", "job-env", 1)
    attempt.prepare()
    cache = job_code.EnvironmentCache(tmp_path / "cache" / "envs", max_entries=1)
    assignment = build_order(["numpy"]).model_copy(update={"phase": None})  # the attempt itself
    ready = await job_code.prepare(assignment, attempt, None, cache=cache)
    key = ready.environment_key
    assert key is not None and ready.python == str(cache.path(key) / "bin" / "python")
    assert cache.in_use(key)
    fake_environment(cache, "ffffffff", time.time() + 10)  # newer, and past the bound of 1
    assert cache.evict() == ["ffffffff"]  # the running attempt's environment stays
    cache.release(key)
    fake_environment(cache, "eeeeeeee", time.time() + 20)
    assert cache.evict() == [key]
