"""Logging in and who the token belongs to."""

from __future__ import annotations

import typer

from hounsfield_client import __version__, config, context


@context.handled
def login(
    url: str = typer.Option(None, "--url", help="the gateway (default: HOUNSFIELD_URL or the saved one)"),
    token: str = typer.Option(
        None, "--token", help="the API token (hft_…); asked for, hidden, when left out"
    ),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Checks a token against the gateway and saves it with the URL (a file only you can read)."""
    target = url or config.settings().url
    secret = token or typer.prompt("API token", hide_input=True)
    gateway = context.make_gateway(target, secret)
    me = gateway.whoami()
    path = config.save_credentials(target, secret)
    if json_out:
        context.emit_json({"url": target, "user": me["user"], "role": me["role"], "credentials": str(path)})
        return
    context.make_console().print(
        f"logged in to {target} as {me['user']} ({me['role']}); token saved in {path}"
    )


@context.handled
def whoami(json_out: bool = context.JSON_OPTION) -> None:
    """The token's user and role."""
    me = context.make_gateway().whoami()
    if json_out:
        context.emit_json(me)
        return
    expires = f", expires {me['expiresAt']}" if me.get("expiresAt") else ""
    context.make_console().print(f"{me['user']} ({me['role']}), token {me['tokenId']}{expires}")


def version(json_out: bool = context.JSON_OPTION) -> None:
    """The client's version."""
    if json_out:
        context.emit_json({"version": __version__})
        return
    typer.echo(__version__)
