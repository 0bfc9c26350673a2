"""Job commands against the fake gateway: what a person sees and the exit statuses scripts rely on."""

from __future__ import annotations

import csv
import io
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from fake_gateway import FakeGateway, job_record, progress
from typer.main import get_command
from typer.testing import CliRunner

from hounsfield_client import cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    return ANSI.sub("", text)


def spec_file(
    tmp_path: Path, text: str = "name: tiny\nkind: script\nscript:\n  module: my_lab.train\n"
) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_submit_follow_renders_a_progress_bar_and_exits_0_when_the_job_succeeds(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli.app, ["submit", str(spec_file(tmp_path))])
    out = plain(result.output)
    assert result.exit_code == 0, out
    assert gateway.submitted == [{"name": "tiny", "kind": "script", "script": {"module": "my_lab.train"}}]
    assert "step 10/10" in out and "loss 0.25" in out and "12.5 samples/s" in out
    assert "━" in result.output  # the bar itself, drawn because the terminal is forced
    # State changes appear above the bar, in order.
    assert out.index("assigned on w1") < out.index("running") < out.index("job-1 succeeded")
    assert out.index("environment ready on w1") < out.index("assigned on w1")


def test_a_failed_job_exits_1_and_shows_its_cause_from_the_end_of_its_log(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    gateway.next_outcome = "failed"
    result = runner.invoke(cli.app, ["submit", str(spec_file(tmp_path))])
    out = plain(result.output)
    assert result.exit_code == 1
    assert "failed (exit code 3)" in out
    assert "trainer exited with code 3" in out
    assert "ValueError: boom" in out


def test_a_cancelled_job_exits_3(gateway: FakeGateway, runner: CliRunner, tmp_path: Path) -> None:
    gateway.next_outcome = "cancelled"
    assert runner.invoke(cli.app, ["submit", str(spec_file(tmp_path))]).exit_code == 3


def test_detach_returns_at_once_and_json_prints_the_record(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli.app, ["submit", str(spec_file(tmp_path)), "--detach", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["state"] == "queued"
    assert ("GET", "/v1/jobs/job-1/events") not in gateway.requests


def test_a_json_spec_is_accepted_too(gateway: FakeGateway, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"name": "tiny", "kind": "script"}))
    assert runner.invoke(cli.app, ["submit", str(path), "--detach"]).exit_code == 0
    assert gateway.submitted[0]["kind"] == "script"


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("job.yaml", "name: tiny\nkind: [script\nresources: {}\n", "job.yaml:3:"),
        ("job.json", '{\n  "name": "tiny",\n  "kind": script\n}\n', "job.json:3:11"),
    ],
)
def test_a_spec_that_does_not_parse_names_the_file_and_line(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = runner.invoke(cli.app, ["submit", str(path)])
    assert result.exit_code == 4
    assert where in plain(result.stderr).replace("\n", "")
    assert gateway.submitted == []


def test_problem_details_show_the_field_paths(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli.app, ["submit", str(spec_file(tmp_path, "name: tiny\n")), "--detach"])
    assert result.exit_code == 4
    err = plain(result.stderr)
    assert "400 Bad Request: the job spec is invalid" in err
    assert "kind: Invalid input: expected a job kind" in err


def test_an_unreachable_gateway_names_the_url_and_how_to_start_one(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOUNSFIELD_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("HOUNSFIELD_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    result = runner.invoke(cli.app, ["list"])
    assert result.exit_code == 4
    err = " ".join(plain(result.stderr).split())
    assert "cannot reach the Hounsfield gateway at http://127.0.0.1:9" in err
    assert "npm start" in err and "HOUNSFIELD_URL" in err


def test_list_is_a_table_with_submit_time_duration_and_eta(gateway: FakeGateway, runner: CliRunner) -> None:
    gateway.jobs["job-7"] = job_record(
        "job-7",
        "running",
        startedAt="2026-01-05T10:00:00.000Z",
        lastProgress=progress("job-7", 40, 100, 0.1, 3),
    )
    gateway.jobs["job-8"] = job_record(
        "job-8", "succeeded", startedAt="2026-01-05T10:00:00.000Z", finishedAt="2026-01-05T11:02:03.000Z"
    )
    result = runner.invoke(cli.app, ["list"])
    out = plain(result.output)
    assert result.exit_code == 0
    for header in ("SUBMITTED", "DURATION", "ETA", "STATE", "STEP"):
        assert header in out
    assert "40/100" in out
    assert "30s" in out  # 60 steps left × 0.5 s
    assert "1h02m" in out  # the finished job's duration
    assert [j["id"] for j in json.loads(runner.invoke(cli.app, ["list", "--json"]).stdout)] == [
        "job-7",
        "job-8",
    ]


def test_show_logs_and_cancel(gateway: FakeGateway, runner: CliRunner) -> None:
    gateway.jobs["job-1"] = job_record(
        "job-1",
        "failed",
        reason="trainer exited with code 1",
        logTail=["[rank 1] RuntimeError: out of cheese"],
        spec={
            "name": "mine",
            "kind": "script",
            "code": {"digest": "sha256:" + "ab" * 32, "gitCommit": "0123456789abcdef", "dirty": True},
        },
    )
    gateway.logs["job-1"] = ["one", "two", "three"]
    shown = plain(runner.invoke(cli.app, ["show", "job-1"]).output)
    assert "RuntimeError: out of cheese" in shown
    assert "git 0123456789ab (dirty)" in shown

    assert runner.invoke(cli.app, ["logs", "job-1", "--tail", "2"]).stdout == "[rank 0] two\n[rank 0] three\n"
    followed = runner.invoke(cli.app, ["logs", "job-1", "-f"])
    assert followed.stdout == "[rank 0] one\n[rank 0] two\n[rank 0] three\n"
    assert "job ended" in followed.stderr

    cancelled = runner.invoke(cli.app, ["cancel", "job-1", "--json"])
    assert json.loads(cancelled.stdout)["cancelRequested"] is True
    assert ("POST", "/v1/jobs/job-1/cancel") in gateway.requests


def test_unknown_job_is_a_readable_404(gateway: FakeGateway, runner: CliRunner) -> None:
    result = runner.invoke(cli.app, ["show", "nope"])
    assert result.exit_code == 4
    assert "404 Not Found: job nope not found" in plain(result.stderr)


def test_workers_table(gateway: FakeGateway, runner: CliRunner) -> None:
    gateway.workers = [
        {
            "workerId": "w1",
            "hostname": "gpu-01",
            "simulated": False,
            "lastSeenAt": "2026-01-05T10:00:00.000Z",
            "gpus": [
                {
                    "index": 0,
                    "name": "H100",
                    "memoryUsedBytes": 2 * 2**30,
                    "memoryTotalBytes": 80 * 2**30,
                    "utilizationPercent": 97,
                    "leasedBy": "job-1",
                }
            ],
            "kinds": [],
            "activeJobs": ["job-1"],
        }
    ]
    out = plain(runner.invoke(cli.app, ["workers"]).output)
    assert "gpu-01" in out and "2.0/80.0" in out and "97%" in out and "job-1" in out


def test_metrics_csv_has_every_point(gateway: FakeGateway, runner: CliRunner, tmp_path: Path) -> None:
    gateway.jobs["job-1"] = job_record("job-1", "running")
    points = [
        {
            "step": s,
            "attempt": 1,
            "value": 1.0 / s,
            "min": 1.0 / s,
            "max": 1.0 / s,
            "count": 1,
            "nonFinite": 0,
            "at": "2026-01-05T10:00:00.000Z",
        }
        for s in (1, 2, 4)
    ]
    gateway.series["job-1"] = [
        {"name": "loss", "stride": 1, "points": points},
        {"name": "lr", "stride": 1, "points": points[:1]},
    ]
    target = tmp_path / "m.csv"
    assert runner.invoke(cli.app, ["metrics", "job-1", "--csv", str(target)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["series"], int(r["step"]), float(r["value"])) for r in rows] == [
        ("loss", 1, 1.0),
        ("loss", 2, 0.5),
        ("loss", 4, 0.25),
        ("lr", 1, 1.0),
    ]
    summary = plain(runner.invoke(cli.app, ["metrics", "job-1", "--name", "loss"]).output)
    assert "loss" in summary and "0.25" in summary and "lr" not in summary.split("loss", 1)[1]
    assert "█▃▁" in summary  # the curve: 1, 0.5, 0.25 scaled to 8 levels of their range


def test_login_saves_the_token_readable_only_by_its_owner(
    gateway: FakeGateway, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOUNSFIELD_TOKEN")
    result = runner.invoke(cli.app, ["login", "--url", "http://gateway.test:8080"], input="hft_test\n")
    assert result.exit_code == 0, result.output
    saved = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": "http://gateway.test:8080", "token": "hft_test"}
    assert "hft_test" not in result.output
    monkeypatch.delenv("HOUNSFIELD_URL")
    from hounsfield_client import config

    assert config.settings().token == "hft_test" and config.settings().url == "http://gateway.test:8080"


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if hasattr(group, "commands"):
        found = []
        for name, command in group.commands.items():
            found += _commands(command, (*prefix, name))
        return found
    return [(prefix, group)]


def test_every_command_has_its_own_help_and_json(runner: CliRunner) -> None:
    commands = _commands(get_command(cli.app))
    names = {" ".join(path) for path, _ in commands}
    for expected in (
        "login",
        "submit",
        "list",
        "show",
        "logs",
        "cancel",
        "workers",
        "metrics",
        "checkpoints list",
        "checkpoints download",
        "checkpoints import",
        "evaluations submit",
        "evaluations list",
        "evaluations preview",
        "evaluations show",
        "evaluations report",
    ):
        assert expected in names
    for path, command in commands:
        result = runner.invoke(cli.app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert (command.help or "").split("\n")[0][:30] in " ".join(plain(result.output).split())
        assert any("--json" in p.opts for p in command.params), f"{' '.join(path)} has no --json"


def test_whoami_tokens_and_users(gateway: FakeGateway, runner: CliRunner) -> None:
    assert "alice (user), token tok_0123456789abcdef" in plain(runner.invoke(cli.app, ["whoami"]).output)
    created = runner.invoke(cli.app, ["token", "create", "laptop", "--expires-in", "3600"])
    assert created.exit_code == 0 and "hft_secret" in created.output
    listed = plain(runner.invoke(cli.app, ["token", "list"]).output)
    assert "laptop" in listed and "no expiry" in listed and "hft_secret" not in listed
    token_id = gateway.tokens[0]["id"]
    assert "revoked" in runner.invoke(cli.app, ["token", "revoke", token_id]).output
    assert json.loads(runner.invoke(cli.app, ["token", "list", "--json"]).stdout)[0]["revokedAt"]

    assert runner.invoke(cli.app, ["user", "create", "bob", "viewer"]).exit_code == 0
    assert "bob is now user" in runner.invoke(cli.app, ["user", "set-role", "bob", "user"]).output
    assert "disabled" in runner.invoke(cli.app, ["user", "disable", "bob"]).output
    assert gateway.users["bob"] == {
        "name": "bob",
        "role": "user",
        "disabled": True,
        "createdAt": gateway.users["bob"]["createdAt"],
    }
    assert "enabled" in runner.invoke(cli.app, ["user", "enable", "bob"]).output
    assert "bob" in plain(runner.invoke(cli.app, ["user", "list"]).output)
