"""`pip install hounsfield-client` must not pull PyTorch (or our torch-based worker package) onto a laptop.

The wheel is built from this checkout; what pip would install into a fresh environment is its
Requires-Dist closure, walked here through the metadata of the installed distributions (offline,
seconds), exactly as the resolver would follow them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

PACKAGE = Path(__file__).resolve().parents[1]


def wheel_requirements(tmp_path: Path) -> tuple[str, list[Requirement]]:
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(
        PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("hounsfield_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
        scripts = next(
            (archive.read(n).decode() for n in archive.namelist() if n.endswith("entry_points.txt")), ""
        )
    requires = [
        Requirement(line.split(":", 1)[1].strip())
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    return scripts, requires


def closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution pip would install for these requirements (markers evaluated here, no extras)."""
    environment = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    pending = [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]
    while pending:
        requirement = pending.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(requirement.name) or []:
            child = Requirement(line)
            if child.marker is None or child.marker.evaluate(environment):
                pending.append(child)
    return seen


def test_installing_the_client_does_not_install_torch(tmp_path: Path) -> None:
    scripts, requires = wheel_requirements(tmp_path)
    assert "hounsfield = hounsfield_client.cli:main" in scripts
    installed = closure(requires)
    assert {"typer", "rich", "httpx"} <= installed
    assert not {"torch", "hounsfield", "nvidia-ml-py", "monai", "numpy"} & installed, sorted(installed)


def test_pips_resolver_installs_no_torch_into_a_fresh_environment(tmp_path: Path) -> None:
    """What pip itself would install (``--ignore-installed``: as into an empty environment)."""
    wheel_requirements(tmp_path)
    (wheel,) = tmp_path.glob("hounsfield_client-*.whl")
    report = tmp_path / "report.json"
    resolved = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if resolved.returncode != 0:
        pytest.skip(f"skipped because no package index answered pip: {resolved.stderr.strip()[-300:]}")
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"hounsfield-client", "typer", "rich", "httpx"} <= names
    assert not {"torch", "hounsfield", "numpy", "monai"} & names, sorted(names)


def test_the_client_imports_nothing_of_the_worker_package() -> None:
    code = (
        "import sys, hounsfield_client.cli, hounsfield_client.code_upload;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'hounsfield', 'numpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
