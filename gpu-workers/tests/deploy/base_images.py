"""Static checks of a Dockerfile's base image: which distribution release it is, and which Python
versions its ``apt-get install`` lines ask for, against what that release's archive ships."""

from __future__ import annotations

import re

#: The Python 3 interpreters each distribution release's archive ships (main or universe), as
#: package names: what `apt-get install pythonX.Y` can find in that base image.
ARCHIVE_PYTHONS = {
    ("ubuntu", "20.04"): {"3.8", "3.9"},
    ("ubuntu", "22.04"): {"3.10", "3.11"},
    ("ubuntu", "24.04"): {"3.12"},
    ("debian", "bookworm"): {"3.11"},
    ("debian", "trixie"): {"3.13"},
}
#: What the unversioned `python3` package is in each release.
ARCHIVE_DEFAULT_PYTHON = {
    ("ubuntu", "20.04"): "3.8",
    ("ubuntu", "22.04"): "3.10",
    ("ubuntu", "24.04"): "3.12",
    ("debian", "bookworm"): "3.11",
    ("debian", "trixie"): "3.13",
}


def base_release(dockerfile: str) -> tuple[str, str]:
    """The distribution release of a Dockerfile's FROM image (CUDA images name it in the tag)."""
    image = re.search(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert image, "no FROM line"
    name = image.group(1)
    if cuda := re.search(r"-(ubuntu)(\d\d\.\d\d)$", name):
        return cuda.group(1), cuda.group(2)
    if plain := re.match(r"(ubuntu|debian):(\S+?)(?:-slim)?$", name):
        return plain.group(1), plain.group(2)
    raise AssertionError(f"cannot tell the distribution release of {name}")


def installed_pythons(dockerfile: str) -> set[str]:
    """The Python versions a Dockerfile's apt-get installs: ``python3.X`` by name, or the release's
    default for ``python3``."""
    release = base_release(dockerfile)
    found = set()
    for line in re.findall(r"apt-get install[^\n&]*", dockerfile):
        for package in line.split():
            if version := re.fullmatch(r"python(3\.\d+)(?:-\w+)?", package):
                found.add(version.group(1))
            elif package in ("python3", "python3-venv") and release in ARCHIVE_DEFAULT_PYTHON:
                found.add(ARCHIVE_DEFAULT_PYTHON[release])
    return found
