"""What every command shares: the gateway and console it uses, `--json`, and readable failures.

Tests replace `make_gateway` (an in-process transport) and `make_console` (a forced terminal) here.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from hounsfield_client import config
from hounsfield_client.api import ClientError, Gateway

ERROR_EXIT = 4
JSON_OPTION = typer.Option(False, "--json", help="print the gateway's answer as JSON instead of a table")


def make_gateway(url: str | None = None, token: str | None = None) -> Gateway:
    """The gateway the command talks to (tests replace this with one on an in-process transport)."""
    resolved = config.settings(url)
    return Gateway(resolved.url, token or resolved.token)


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


F = TypeVar("F", bound=Callable[..., Any])


def handled(command: F) -> F:
    """A ClientError (unreachable gateway, a problem answer, a bad file) becomes one message and status 4."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ClientError as error:
            make_console(stderr=True).print(f"[red]error:[/] {error}", highlight=False)
            raise typer.Exit(ERROR_EXIT) from None

    return wrapper  # type: ignore[return-value]


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")
