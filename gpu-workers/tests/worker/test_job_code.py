"""A script job's uploaded code and per-job environment: fetched, verified, unpacked, layered, cached."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hounsfield.contracts.models import AccessGrant2, Assignment
from hounsfield.worker import job_code
from hounsfield.worker.attempt_dir import AttemptDir

from .assignments import make_assignment

TRAIN = """\
import hf_fixture_pkg, hounsfield
print("fixture", hf_fixture_pkg.VALUE, "from", hf_fixture_pkg.__file__)
print("hounsfield from", hounsfield.__file__)
"""


@pytest.fixture(scope="module")
def fixture_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny local package the job's requirements.txt names (built offline, once)."""
    source = tmp_path_factory.mktemp("pkg")
    (source / "hf_fixture_pkg").mkdir()
    (source / "hf_fixture_pkg" / "__init__.py").write_text("VALUE = 41 + 1\n")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "hf-fixture-pkg"\nversion = "1.0"\n'
    )
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out)]
        + [str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def archive_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Store:
    """The checkpoints service's side: a path grant to the stored archive, for this job only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.asked: list[tuple[str, str]] = []

    def put(self, archive: bytes) -> str:
        digest = f"sha256:{hashlib.sha256(archive).hexdigest()}"
        (self.root / digest.removeprefix("sha256:")).write_bytes(archive)
        return digest

    async def code_source(self, job_id: str, digest: str) -> AccessGrant2:
        self.asked.append((job_id, digest))
        return AccessGrant2(kind="path", path=str(self.root / digest.removeprefix("sha256:")))


def assignment_with(digest: str | None, requirements: list[str] | None = None) -> Assignment:
    base = make_assignment("w1", job_id="job-1", module="my_lab.train")
    spec = base.spec.model_dump(mode="json", exclude_none=True)
    if digest:
        spec["code"] = {"digest": digest, "gitCommit": "0123456789abcdef", "dirty": False}
    if requirements is not None:
        spec["environment"] = {"requirements": requirements}
    return Assignment.model_validate({**base.model_dump(mode="json", exclude_none=True), "spec": spec})


def attempt_in(work: Path, job: str = "job-1", attempt: int = 1) -> AttemptDir:
    directory = AttemptDir.of(work / "jobs", job, attempt)
    directory.prepare()
    return directory


async def test_code_runs_from_the_attempt_with_its_requirements_from_a_cached_layered_environment(
    tmp_path: Path, fixture_wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # everything is local: never the network
    store = Store(tmp_path)
    digest = store.put(
        archive_of(
            {
                "my_lab/__init__.py": "",
                "my_lab/train.py": TRAIN,
                "requirements.txt": f"# local\n{fixture_wheel}\n",
            }
        )
    )
    work = tmp_path / "work"
    attempt = attempt_in(work)
    ready = await job_code.prepare(assignment_with(digest), attempt, store)
    assert ready.code_dir == attempt.root / "code"
    assert ready.python is not None and ready.python.startswith(str(work / "cache" / "envs"))
    assert store.asked == [("job-1", digest)]

    run = subprocess.run(
        [ready.python, "-m", "my_lab.train"],
        cwd=ready.code_dir,
        env=ready.apply({"PATH": "/usr/bin:/bin"}),
        capture_output=True,
        text=True,
        check=True,
    )
    fixture_line, hounsfield_line = run.stdout.splitlines()
    # The package came from the job's environment, the platform from the worker's installation.
    assert fixture_line.startswith("fixture 42 from " + str(work / "cache" / "envs"))
    import hounsfield

    assert hounsfield_line == f"hounsfield from {hounsfield.__file__}"
    # The worker's own interpreter does not have it.
    plain = subprocess.run([sys.executable, "-c", "import hf_fixture_pkg"], capture_output=True)
    assert plain.returncode != 0

    # A second attempt (and any job with the same requirements) reuses archive and environment.
    again = await job_code.prepare(assignment_with(digest), attempt_in(work, attempt=2), store)
    assert again.python == ready.python
    assert len(list((work / "cache" / "envs").iterdir())) == 1


async def test_a_broken_requirement_is_an_environment_failure_with_the_end_of_pips_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(job_code.JobCodeError) as raised:
        await job_code.prepare(
            assignment_with(None, ["hf-no-such-package-anywhere==9.9"]), attempt_in(tmp_path), None
        )
    assert raised.value.kind == "environment"
    assert "pip exit code" in str(raised.value)
    assert "hf-no-such-package-anywhere" in str(raised.value)
    assert not [p for p in (tmp_path / "cache" / "envs").iterdir() if not p.name.startswith(".")]


async def test_code_whose_bytes_do_not_match_the_digest_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.put(archive_of({"my_lab/train.py": "print(1)\n"}))
    (tmp_path / digest.removeprefix("sha256:")).write_bytes(archive_of({"my_lab/train.py": "print(2)\n"}))
    with pytest.raises(job_code.JobCodeError, match="not sha256") as raised:
        await job_code.prepare(assignment_with(digest), attempt_in(tmp_path / "work"), store)
    assert raised.value.kind == "infrastructure"


async def test_an_archive_reaching_outside_its_directory_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.put(archive_of({"../escape.py": "print(1)\n"}))
    with pytest.raises(job_code.JobCodeError, match="not a plain file inside it"):
        await job_code.prepare(assignment_with(digest), attempt_in(tmp_path / "work"), store)
    assert not (tmp_path / "work" / "jobs" / "job-1" / "escape.py").exists()


async def test_jobs_without_code_or_environment_run_as_before(tmp_path: Path) -> None:
    ready = await job_code.prepare(make_assignment("w1"), attempt_in(tmp_path), None)
    assert ready == job_code.JobCode()
    assert ready.apply({"PYTHONPATH": "/x"}) == {"PYTHONPATH": "/x"}
