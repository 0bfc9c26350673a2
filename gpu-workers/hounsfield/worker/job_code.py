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

When it is built: a GPU job's environment is built in its *environment phase*, before the
scheduler leases any GPU (``environment_build``: the scheduler places the build on a worker as CPU
work, and GPU placement then prefers the workers whose heartbeats list the key). The attempt then
finds it cached; when it does not (another worker was free first, or it was evicted), the attempt
builds it as a CPU job's attempt always does, holding its GPUs meanwhile.

The cache is bounded by ``HOUNSFIELD_ENV_CACHE_MAX`` environments: past it, the least recently
used one that no build or attempt of this agent uses is deleted (``EnvironmentCache``). pip runs
in its own process group, killed when the job is cancelled during the build (``BuildCancelledError``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


class BuildCancelledError(Exception):
    """The job was cancelled while its code or environment was made ready (pip was killed)."""


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
    #: The environment the trainer runs in, held in use in its cache until the attempt ends.
    environment_key: str | None = None

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """The trainer's environment with the code first on PYTHONPATH (every rank inherits it)."""
        if self.code_dir is None:
            return env
        rest = env.get("PYTHONPATH")
        return {**env, "PYTHONPATH": str(self.code_dir) + (os.pathsep + rest if rest else "")}


def cache_root(attempt_dir: AttemptDir) -> Path:
    """``<work>/cache`` for an attempt at ``<work>/jobs/<job>/attempt-<n>``."""
    return attempt_dir.root.parent.parent.parent / "cache"


READY_FILE = ".ready"
LAST_USED_FILE = ".last-used"


class EnvironmentCache:
    """The per-job environments of one worker (``<work>/cache/envs/<key>``), LRU-bounded.

    ``max_entries`` (HOUNSFIELD_ENV_CACHE_MAX; None: unbounded) bounds the finished environments:
    after each build the least recently used ones beyond it are deleted, except those in use. An
    environment is in use from the moment a build or an attempt of this agent asks for it until
    that build or attempt ends (``use``), so a running trainer's interpreter is never deleted
    under it. Last use is the modification time of ``<key>/.last-used``, set at every use.
    One instance per directory (``of``), so the in-use counts are shared by the agent's builds
    and attempts.
    """

    _instances: dict[Path, EnvironmentCache] = {}
    _instances_lock = threading.Lock()

    def __init__(self, root: Path, max_entries: int | None = None) -> None:
        self.root = root
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._in_use: dict[str, int] = {}

    @classmethod
    def of(cls, root: Path, max_entries: int | None = None) -> EnvironmentCache:
        """The agent's cache for ``root`` (a bound given here applies from now on)."""
        root = root.resolve()
        with cls._instances_lock:
            cache = cls._instances.get(root)
            if cache is None:
                cache = cls._instances[root] = cls(root, max_entries)
            elif max_entries is not None:
                cache.max_entries = max_entries
            return cache

    def path(self, key: str) -> Path:
        return self.root / key

    def ready_keys(self) -> list[str]:
        """Keys of the finished environments (heartbeats advertise them)."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if not entry.name.startswith(".") and (entry / READY_FILE).is_file()
        )

    def in_use(self, key: str) -> bool:
        with self._lock:
            return self._in_use.get(key, 0) > 0

    @contextmanager
    def use(self, key: str) -> Iterator[None]:
        """Marks ``key`` in use (never evicted) for the duration of the block."""
        self.acquire(key)
        try:
            yield
        finally:
            self.release(key)

    def acquire(self, key: str) -> None:
        """Like ``use``, for a use that outlives one block (an attempt); ``release`` ends it."""
        with self._lock:
            self._in_use[key] = self._in_use.get(key, 0) + 1

    def release(self, key: str) -> None:
        with self._lock:
            left = self._in_use.get(key, 0) - 1
            if left > 0:
                self._in_use[key] = left
            else:
                self._in_use.pop(key, None)

    def touch(self, key: str) -> None:
        marker = self.path(key) / LAST_USED_FILE
        try:
            marker.touch()  # sets the modification time to now when it exists
        except OSError as error:  # evicted meanwhile: nothing to mark
            _log.debug("cannot mark %s used: %s", key, error)

    def last_used(self, key: str) -> float:
        for name in (LAST_USED_FILE, READY_FILE):
            try:
                return (self.path(key) / name).stat().st_mtime
            except OSError:
                continue
        return 0.0

    def evict(self) -> list[str]:
        """Deletes the least recently used environments beyond the bound; returns their keys."""
        if self.max_entries is None:
            return []
        evicted: list[str] = []
        with self._lock:
            keys = self.ready_keys()
            idle = sorted((k for k in keys if self._in_use.get(k, 0) == 0), key=self.last_used)
            excess = len(keys) - self.max_entries
            for key in idle[: max(excess, 0)]:
                # Renamed first, so no reader ever finds a half-deleted environment under its key.
                doomed = self.root / f".evicted-{key}-{uuid.uuid4().hex[:8]}"
                try:
                    self.path(key).rename(doomed)
                except OSError as error:
                    _log.warning("cannot evict environment %s: %s", key, error)
                    continue
                shutil.rmtree(doomed, ignore_errors=True)
                evicted.append(key)
        if evicted:
            _log.info("evicted environment(s) %s (HOUNSFIELD_ENV_CACHE_MAX=%d)", evicted, self.max_entries)
        return evicted


@dataclass(frozen=True)
class EnvironmentReady:
    """A built (or cached) environment: its key, interpreter, and whether it was cached already."""

    key: str
    python: Path
    cached: bool


async def fetch_code(
    job_id: str, spec: TrainingJobSpec, source: CodeSource | None, cache: Path, target: Path
) -> Path | None:
    """The job's uploaded code unpacked into ``target`` (None: the job has none)."""
    if spec.code is None:
        return None
    if source is None:
        raise JobCodeError(
            "infrastructure", "this worker has no checkpoints service connection to fetch code"
        )
    digest = spec.code.digest
    try:
        grant = await source.code_source(job_id, digest)
    except Exception as error:
        raise JobCodeError("infrastructure", f"cannot get the job's code {digest}: {error}") from error
    archive = await asyncio.to_thread(fetch_archive, grant, digest, cache / "code")
    await asyncio.to_thread(unpack, archive, target)
    return target


def job_requirements(spec: TrainingJobSpec, code_dir: Path | None) -> list[str]:
    """The spec's requirement lines, then those of the code's ``requirements.txt``."""
    requirements = [line.root for line in spec.environment.requirements] if spec.environment else []
    if code_dir is not None and (code_dir / REQUIREMENTS_FILE).is_file():
        requirements += requirement_lines((code_dir / REQUIREMENTS_FILE).read_text(encoding="utf-8"))
    return requirements


async def build_environment(
    requirements: list[str],
    cache: EnvironmentCache,
    python: str,
    cwd: Path,
    cancel: threading.Event | None = None,
) -> EnvironmentReady:
    """Builds (or finds cached) the environment of ``requirements``; ``cancel`` kills pip."""
    return await asyncio.to_thread(ensure_environment_in, requirements, cache, python, cwd, cancel)


async def prepare(
    assignment: Assignment,
    attempt_dir: AttemptDir,
    source: CodeSource | None,
    *,
    python: str = sys.executable,
    cache: EnvironmentCache | None = None,
    cancel: threading.Event | None = None,
) -> JobCode:
    """Fetches and unpacks the job's code and builds (or reuses) its environment.

    With ``cache``, the environment stays in use (never evicted) until ``cache.release(key)``
    for the key ``JobCode.environment_key`` names; the attempt runner releases it when it ends.
    """
    spec = assignment.spec
    if not isinstance(spec, TrainingJobSpec) or (spec.code is None and spec.environment is None):
        return JobCode()
    root = cache_root(attempt_dir)
    code_dir = await fetch_code(assignment.jobId, spec, source, root, attempt_dir.root / "code")
    requirements = job_requirements(spec, code_dir)
    if not requirements:
        return JobCode(code_dir=code_dir)
    envs = cache if cache is not None else EnvironmentCache.of(root / "envs")
    key = environment_key(requirements, python)
    envs.acquire(key)
    try:
        ready = await build_environment(requirements, envs, python, code_dir or attempt_dir.root, cancel)
    except BaseException:
        envs.release(key)
        raise
    if cache is None:
        envs.release(key)  # nobody would release it
    held = key if cache is not None else None
    return JobCode(code_dir=code_dir, python=str(ready.python), environment_key=held)


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


def ensure_environment_in(
    requirements: list[str],
    cache: EnvironmentCache,
    python: str,
    cwd: Path,
    cancel: threading.Event | None = None,
) -> EnvironmentReady:
    """Finds the environment in ``cache`` or builds it there, then applies the cache's bound."""
    key = environment_key(requirements, python)
    final = cache.path(key)
    interpreter = final / "bin" / "python"
    with cache.use(key):
        if (final / READY_FILE).is_file():
            cache.touch(key)
            return EnvironmentReady(key, interpreter, cached=True)
        cache.root.mkdir(parents=True, exist_ok=True)
        building = cache.root / f".{key}.{uuid.uuid4().hex[:8]}"
        try:
            _build(building, requirements, python, cwd, cancel)
            (building / READY_FILE).write_text("\n".join(requirements) + "\n", encoding="utf-8")
            try:
                building.rename(final)
            except OSError:
                if not (final / READY_FILE).is_file():  # another build finished the same one first otherwise
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
        cache.touch(key)
        _log.info("built environment %s (%d requirements)", final, len(requirements))
        cache.evict()
    return EnvironmentReady(key, interpreter, cached=False)


def run_interruptible(
    command: list[str], cwd: Path, timeout: float, cancel: threading.Event | None
) -> tuple[int, str]:
    """Runs ``command`` in its own process group (its exit code and output); the whole group is
    killed when ``cancel`` is set (``BuildCancelledError``) or ``timeout`` passes (``TimeoutExpired``),
    so no pip, build backend or setup script it started outlives it."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as output:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    returncode = process.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if cancel is not None and cancel.is_set():
                    raise BuildCancelledError("cancelled while its environment was built")
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(command, timeout)
        finally:
            if process.returncode is None:
                _kill_group(process)
        output.seek(0)
        return returncode, output.read()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _build(
    directory: Path, requirements: list[str], python: str, cwd: Path, cancel: threading.Event | None = None
) -> None:
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
        returncode, output = run_interruptible(command, cwd, PIP_TIMEOUT_SECONDS, cancel)
    except subprocess.TimeoutExpired as error:
        raise JobCodeError("environment", f"pip did not finish within {PIP_TIMEOUT_SECONDS:g} s") from error
    if returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-PIP_TAIL_LINES:])
        raise JobCodeError(
            "environment",
            f"installing the job's requirements failed (pip exit code {returncode}):\n{tail}",
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
