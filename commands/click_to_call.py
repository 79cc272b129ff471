"""``pbx click-to-call``: "call me" links of users (OPT-5); the web endpoint is
``POST /click-to-call`` on ``pbx serve``'s HTTP server."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import click_to_call as c2c
from esl_controller.application import Pbx


@click.group("click-to-call")
def click_to_call() -> None:
    """Click-to-call links: the exchange calls the visitor, then rings the user."""


@click_to_call.command("add")
@enterprise_option
@click.option("--user", "extension", required=True, metavar="EXT", help="Whom the link rings.")
@click.option("--expires", default=None, metavar="YYYY-MM-DD",
              help="Last day the link works (enterprise time); default: until revoked.")
@click.option("--label", default="", help="A note for yourself (e.g. where the link is).")
@pass_app
def add(app: Pbx, enterprise: str | None, extension: str, expires: str | None,
        label: str) -> None:
    """Make a link and print its token (shown once: only its hash is stored)."""
    token, link = c2c.add_link(app, enterprise, extension, expires, label)
    until = f"until {link.expires:%Y-%m-%d %H:%M} UTC" if link.expires else "until revoked"
    click.echo(f"click-to-call link {str(link.id)[:8]} for {link.extension} ({until})")
    click.echo(f"token: {token}")


@click_to_call.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Links (never their tokens), with attempts and calls placed."""
    ent = app.enterprise(enterprise)
    rows = [{"id": str(c.id), "user": c.extension, "label": c.label,
             "expires": c.expires, "state": "revoked" if c.revoked else "live",
             "attempts": c.attempts, "dialled": c.dialled}
            for c in app.directory().click_links_of(ent.id)]
    if as_json:
        emit_json(rows)
        return
    table([(r["id"][:8], r["user"], r["label"],
            f"{r['expires']:%Y-%m-%d}" if r["expires"] else None, r["state"], r["attempts"],
            r["dialled"]) for r in rows],
          ["link", "user", "label", "expires", "state", "attempts", "dialled"])


@click_to_call.command("revoke")
@click.argument("link")
@enterprise_option
@pass_app
def revoke(app: Pbx, link: str, enterprise: str | None) -> None:
    """Revoke a link (by the id `list` shows): its token stops working at once."""
    view = c2c.revoke_link(app, enterprise, link)
    click.echo(f"click-to-call link {str(view.id)[:8]} of {view.extension} revoked")


COMMANDS = [click_to_call]
