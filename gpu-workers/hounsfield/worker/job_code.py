"""A ``script`` job's own code and Python environment, made ready before its trainer starts.

Code (``spec.code``, uploaded by ``hounsfield submit --code``): the archive is fetched through a
read grant the checkpoints service gives this worker for this job only, cached by digest under
``<work>/cache/code/``, checked against its sha256, and unpacked into ``<attempt>/code``, from
where every rank imports the script module (it is the trainer's working directory and first on
``PYTHONPATH``).

Environment (``spec.environment.requirements`` and a ``requirements.txt`` at the top of the code):
a virtual environment layered on the worker's own installation, so PyTorch and ``hounsfield``
come from the worker and only the job's extra packages are installed. It is cached under
``<work>/cache/envs/<hash of the requirements and the worker's Python>`` and built once; a pip
failure is the job's ``environment`` failure (with the end of pip's output), which the scheduler
does not retry, since the same requirements would fail the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from hounsfield.contracts.models import AccessGrant1, AccessGrant2, Assignment, TrainingJobSpec
from hounsfield.platform.checkpoint_transfer import get_part
from hounsfield.worker.attempt_dir import AttemptDir

_log = logging.getLogger(__name__)

#: pip gets this long to build an environment before the job fails.
PIP_TIMEOUT_SECONDS = 1800.0
PIP_TAIL_LINES = 30
REQUIREMENTS_FILE = "requirements.txt"


class CodeSource(Protocol):
    async def code_source(self, job_id: str, digest: str) -> AccessGrant1 | AccessGrant2: ...


class JobCodeError(Exception):
    """The code or environment could not be made ready; ``kind`` is the attempt's failure kind."""

    def __init__(self, kind: Literal["environment", "infrastructure", "preflight"], message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class JobCode:
    """Where the trainer runs from and with which interpreter (None: the worker's, as before)."""

    code_dir: Path | None = None
    python: str | None = None

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """The trainer's environment with the code first on PYTHONPATH (every rank inherits it)."""
        if self.code_dir is None:
            return env
        rest = env.get("PYTHONPATH")
        return {**env, "PYTHONPATH": str(self.code_dir) + (os.pathsep + rest if rest else "")}


def cache_root(attempt_dir: AttemptDir) -> Path:
    """``<work>/cache`` for an attempt at ``<work>/jobs/<job>/attempt-<n>``."""
    return attempt_dir.root.parent.parent.parent / "cache"


async def prepare(
    assignment: Assignment,
    attempt_dir: AttemptDir,
    source: CodeSource | None,
    *,
    python: str = sys.executable,
) -> JobCode:
    """Fetches and unpacks the job's code and builds (or reuses) its environment."""
    spec = assignment.spec
    if not isinstance(spec, TrainingJobSpec) or (spec.code is None and spec.environment is None):
        return JobCode()
    cache = cache_root(attempt_dir)
    code_dir: Path | None = None
    if spec.code is not None:
        if source is None:
            raise JobCodeError(
                "infrastructure", "this worker has no checkpoints service connection to fetch code"
            )
        digest = spec.code.digest
        try:
            grant = await source.code_source(assignment.jobId, digest)
        except Exception as error:
            raise JobCodeError("infrastructure", f"cannot get the job's code {digest}: {error}") from error
        archive = await asyncio.to_thread(fetch_archive, grant, digest, cache / "code")
        code_dir = attempt_dir.root / "code"
        await asyncio.to_thread(unpack, archive, code_dir)
    requirements = [line.root for line in spec.environment.requirements] if spec.environment else []
    if code_dir is not None and (code_dir / REQUIREMENTS_FILE).is_file():
        requirements += requirement_lines((code_dir / REQUIREMENTS_FILE).read_text(encoding="utf-8"))
    if not requirements:
        return JobCode(code_dir=code_dir)
    env_python = await asyncio.to_thread(
        ensure_environment, requirements, cache / "envs", python, code_dir or attempt_dir.root
    )
    return JobCode(code_dir=code_dir, python=str(env_python))


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file: comments and blank lines dropped."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def fetch_archive(grant: AccessGrant1 | AccessGrant2, digest: str, cache: Path) -> Path:
    """The archive in the worker's cache, downloaded once and checked against its digest."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{digest.removeprefix('sha256:')}.tar"
    if target.is_file() and _sha256(target) == digest:
        return target
    partial = cache / f".{uuid.uuid4().hex}.part"
    try:
        with partial.open("wb") as sink:
            get_part(grant, sink)
        actual = _sha256(partial)
        if actual != digest:
            raise JobCodeError("infrastructure", f"the fetched code has {actual}, not {digest}")
        partial.replace(target)
    except OSError as error:
        raise JobCodeError("infrastructure", f"cannot fetch the job's code {digest}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def unpack(archive: Path, target: Path) -> None:
    """Unpacks regular files and directories only, each inside ``target`` (no links, devices or ``..``)."""
    if target.exists():
        shutil.rmtree(target)  # a re-delivered attempt starts from the archive again
    target.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
                raise JobCodeError(
                    "preflight",
                    f"the code archive holds {member.name!r}, which is not a plain file inside it",
                )
        tar.extractall(target, filter="data")


def environment_key(requirements: list[str], python: str) -> str:
    """The cache key: the requirement lines and the worker interpreter they are layered on."""
    text = "\n".join([str(Path(python).resolve()), sys.version, *requirements])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def ensure_environment(requirements: list[str], cache: Path, python: str, cwd: Path) -> Path:
    """The environment's interpreter, building it unless a finished one is cached."""
    final = cache / environment_key(requirements, python)
    interpreter = final / "bin" / "python"
    if (final / ".ready").is_file():
        return interpreter
    cache.mkdir(parents=True, exist_ok=True)
    building = cache / f".{final.name}.{uuid.uuid4().hex[:8]}"
    try:
        _build(building, requirements, python, cwd)
        (building / ".ready").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        try:
            building.rename(final)
        except OSError:
            if not (final / ".ready").is_file():  # another attempt finished the same one first otherwise
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _log.info("built environment %s (%d requirements)", final, len(requirements))
    return interpreter


def _build(directory: Path, requirements: list[str], python: str, cwd: Path) -> None:
    run = subprocess.run(
        [python, "-m", "venv", "--system-site-packages", "--without-pip", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if run.returncode != 0:
        raise JobCodeError("infrastructure", f"cannot create a virtual environment: {run.stderr[-2000:]}")
    _layer_on_worker(directory, python)
    requirements_file = directory / "hounsfield-requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    command = [
        str(directory / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(requirements_file),
    ]
    try:
        pip = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as error:
        raise JobCodeError("environment", f"pip did not finish within {PIP_TIMEOUT_SECONDS:g} s") from error
    if pip.returncode != 0:
        tail = "\n".join((pip.stdout + pip.stderr).strip().splitlines()[-PIP_TAIL_LINES:])
        raise JobCodeError(
            "environment",
            f"installing the job's requirements failed (pip exit code {pip.returncode}):\n{tail}",
        )


def _layer_on_worker(directory: Path, python: str) -> None:
    """Makes the worker interpreter's own site-packages visible after the environment's.

    ``--system-site-packages`` reaches the base installation only; when the worker itself runs in a
    virtual environment (as ``scripts/bootstrap.sh`` sets it up), its packages, editable installs
    included, are added by a ``.pth`` hook that processes them as a site directory.
    """
    worker_sites = _site_packages(python)
    own = Path(sysconfig.get_path("purelib", vars={"base": str(directory), "platbase": str(directory)}))
    own.mkdir(parents=True, exist_ok=True)
    lines = [f"import site; site.addsitedir({path!r})" for path in worker_sites]
    (own / "_hounsfield_worker.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _site_packages(python: str) -> list[str]:
    if Path(python).resolve() == Path(sys.executable).resolve():
        return list(dict.fromkeys(site.getsitepackages()))
    out = subprocess.run(
        [python, "-c", "import site; print('\\n'.join(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line]
