"""The supervisor records how the trainer ended; the report tailer resumes from a saved offset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hounsfield.worker.relay_state import RelayState
from hounsfield.worker.report_tailer import ReportTailer
from hounsfield.worker.supervisor import ExitRecord, supervised_command


def _supervise(tmp_path: Path, code: str) -> tuple[int, ExitRecord | None]:
    exit_file = tmp_path / "exit.json"
    command = supervised_command(sys.executable, exit_file, [sys.executable, "-c", code])
    returncode = subprocess.run(command, check=False, timeout=60).returncode
    return returncode, ExitRecord.read(exit_file)


def test_an_exit_code_is_recorded_and_passed_on(tmp_path: Path) -> None:
    returncode, record = _supervise(tmp_path, "raise SystemExit(3)")
    assert returncode == 3
    assert record is not None and record.returncode == 3 and record.ended_at.endswith("Z")


def test_a_trainer_killed_by_a_signal_is_recorded_as_that_signal(tmp_path: Path) -> None:
    returncode, record = _supervise(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    # The supervisor ends the same way, so an agent watching it sees the signal too.
    assert returncode == -signal.SIGKILL
    assert record is not None and record.returncode == -signal.SIGKILL


def test_the_supervisor_outlives_a_sigterm_to_its_group_and_records_the_trainers_end(tmp_path: Path) -> None:
    exit_file = tmp_path / "exit.json"
    code = "import time; time.sleep(30)"
    command = supervised_command(sys.executable, exit_file, [sys.executable, "-c", code])
    supervisor = subprocess.Popen(command, start_new_session=True)
    try:
        for _ in range(100):  # until the trainer runs
            children = Path(f"/proc/{supervisor.pid}/task/{supervisor.pid}/children").read_text().split()
            if children:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        os.killpg(supervisor.pid, signal.SIGTERM)
        assert supervisor.wait(timeout=30) == -signal.SIGTERM
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    record = ExitRecord.read(exit_file)
    assert record is not None and record.returncode == -signal.SIGTERM


def test_the_tailer_resumes_at_its_position_without_a_gap_or_a_repeat(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    report.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": 3')  # the third line is still being written
    first = ReportTailer(report)
    assert first.read_lines() == ['{"n": 1}', '{"n": 2}']
    state = RelayState(offset=first.position, progress_seq=2)
    state.save(tmp_path / "relay.json")
    first.close()  # the agent dies here

    with report.open("ab") as file:
        file.write(b'}\n{"n": 4}\n')
    resumed = ReportTailer(report, RelayState.load(tmp_path / "relay.json").offset)
    assert resumed.read_lines() == ['{"n": 3}', '{"n": 4}']
    assert resumed.position == report.stat().st_size
    assert RelayState.load(tmp_path / "missing.json") == RelayState()
