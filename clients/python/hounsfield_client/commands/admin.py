"""Tokens and users."""

from __future__ import annotations

import typer
from rich.table import Table

from hounsfield_client import context
from hounsfield_client.render import (
    local_time,
)

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
user_app = typer.Typer(help="(admins) API users and their roles.", no_args_is_help=True)


@token_app.command("create")
@context.handled
def token_create(
    name: str = typer.Argument(..., help="what the token is for (laptop, ci, …)"),
    user: str = typer.Option(None, "--user", help="(admins) a token for this user"),
    expires_in: int = typer.Option(None, "--expires-in", min=1, help="seconds until it stops working"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A new API token; its secret is printed once."""
    created = context.make_gateway().create_token(name, user, expires_in)
    if json_out:
        context.emit_json(created)
        return
    expires = f", expires {created['expiresAt']}" if created.get("expiresAt") else ""
    context.make_console().print(f"{created['id']} for {created['user']}{expires}; the token (shown once):")
    typer.echo(created["token"])


@token_app.command("list")
@context.handled
def token_list(
    user: str = typer.Option(None, "--user", help="(admins) this user's tokens"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """Tokens (never their secrets)."""
    found = context.make_gateway().tokens(user)
    if json_out:
        context.emit_json(found)
        return
    table = Table()
    for column in ("ID", "USER", "NAME", "CREATED", "STATE"):
        table.add_column(column)
    for t in found:
        state = (
            f"revoked {t['revokedAt']}"
            if t.get("revokedAt")
            else (f"expires {t['expiresAt']}" if t.get("expiresAt") else "no expiry")
        )
        table.add_row(t["id"], t["user"], t["name"], local_time(t.get("createdAt")), state)
    context.make_console().print(table)


@token_app.command("revoke")
@context.handled
def token_revoke(
    token_id: str = typer.Argument(..., help="tok_…"), json_out: bool = context.JSON_OPTION
) -> None:
    """Stops a token at once."""
    revoked = context.make_gateway().revoke_token(token_id)
    context.emit_json(revoked) if json_out else context.make_console().print(
        f"{revoked['id']} revoked at {revoked['revokedAt']}"
    )


@user_app.command("create")
@context.handled
def user_create(
    name: str = typer.Argument(...),
    role: str = typer.Argument(..., help="admin, user or viewer"),
    json_out: bool = context.JSON_OPTION,
) -> None:
    """A new user; give it a token with `hounsfield token create <name> --user <user>`."""
    created = context.make_gateway().create_user(name, role)
    context.emit_json(created) if json_out else context.make_console().print(
        f"user {created['name']} ({created['role']}) created"
    )


@user_app.command("list")
@context.handled
def user_list(json_out: bool = context.JSON_OPTION) -> None:
    """Users with their roles."""
    found = context.make_gateway().users()
    if json_out:
        context.emit_json(found)
        return
    table = Table()
    for column in ("USER", "ROLE", "STATE", "CREATED"):
        table.add_column(column)
    for u in found:
        table.add_row(
            u["name"],
            u["role"],
            "disabled" if u.get("disabled") else "active",
            local_time(u.get("createdAt")),
        )
    context.make_console().print(table)


@user_app.command("set-role")
@context.handled
def user_set_role(
    name: str = typer.Argument(...), role: str = typer.Argument(...), json_out: bool = context.JSON_OPTION
) -> None:
    """Changes a user's role."""
    updated = context.make_gateway().update_user(name, {"role": role})
    context.emit_json(updated) if json_out else context.make_console().print(
        f"user {updated['name']} is now {updated['role']}"
    )


@user_app.command("disable")
@context.handled
def user_disable(name: str = typer.Argument(...), json_out: bool = context.JSON_OPTION) -> None:
    """Disables a user: its tokens stop working now."""
    updated = context.make_gateway().update_user(name, {"disabled": True})
    context.emit_json(updated) if json_out else context.make_console().print(
        f"user {updated['name']} disabled"
    )


@user_app.command("enable")
@context.handled
def user_enable(name: str = typer.Argument(...), json_out: bool = context.JSON_OPTION) -> None:
    """Enables a disabled user again."""
    updated = context.make_gateway().update_user(name, {"disabled": False})
    context.emit_json(updated) if json_out else context.make_console().print(
        f"user {updated['name']} enabled"
    )
