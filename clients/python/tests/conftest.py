from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from fake_gateway import FakeGateway  # noqa: E402

from hounsfield_client import context  # noqa: E402
from hounsfield_client.api import Gateway  # noqa: E402


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGateway]:
    """A fake gateway behind the CLI, a forced-terminal console (so bars render), no saved login."""
    fake = FakeGateway()
    monkeypatch.setenv("HOUNSFIELD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HOUNSFIELD_TOKEN", fake.token)
    monkeypatch.setenv("HOUNSFIELD_URL", "http://gateway.test:8080")
    monkeypatch.setattr(
        context,
        "make_gateway",
        lambda url=None, token=None: Gateway(
            url or "http://gateway.test:8080", token or fake.token, transport=fake.transport()
        ),
    )
    monkeypatch.setattr(
        context,
        "make_console",
        lambda stderr=False: Console(force_terminal=True, width=160, stderr=stderr, highlight=False),
    )
    yield fake


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
