"""The `hounsfield` command: jobs, logs, metrics, checkpoints and evaluations over the gateway's HTTP API.

Every command has its own `--help` and `--json` (the gateway's answer as JSON, for scripts). The
gateway is HOUNSFIELD_URL (or `hounsfield login --url`), the token HOUNSFIELD_TOKEN (or `login`).
Exit statuses: 0 success (a followed job succeeded), 1 the followed job failed, 3 it was cancelled,
4 the request failed (gateway unreachable, refused input, unknown id), 2 bad command-line usage.
"""

from __future__ import annotations

import typer

from hounsfield_client.commands import admin, checkpoints, evaluations, jobs, session

app = typer.Typer(
    name="hounsfield",
    help=__doc__.split("\n\n")[0] if __doc__ else None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(session.login)
app.command()(session.whoami)
app.command()(session.version)
app.command()(jobs.submit)
app.command("list")(jobs.list_jobs)
app.command()(jobs.show)
app.command()(jobs.logs)
app.command()(jobs.cancel)
app.command()(jobs.workers)
app.command()(jobs.metrics)
app.add_typer(checkpoints.checkpoints_app, name="checkpoints")
app.add_typer(evaluations.evaluations_app, name="evaluations")
app.add_typer(admin.token_app, name="token")
app.add_typer(admin.user_app, name="user")


def main() -> None:
    app()
