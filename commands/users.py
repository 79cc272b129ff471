"""``pbx user``: employees' lines."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from projections.directory import UserView


def _as_dict(user: UserView, enterprise: str) -> dict[str, object]:
    return {
        "extension": user.extension,
        "name": user.name,
        "enterprise": enterprise,
        "number": user.number,
        "email": user.email,
        "sip_password": "set" if user.has_password else None,
        "pin": "set" if user.has_pin else None,
        "no_answer_seconds": user.no_answer_seconds,
        "id": str(user.id),
    }


@click.group("user")
def user() -> None:
    """Users (extensions) of an enterprise."""


@user.command("add")
@click.argument("extension")
@enterprise_option
@click.option("--name", required=True, help="Display name.")
@click.option("--number", default=None, help="Public number (E.164 or national).")
@click.option("--email", default=None)
@click.option("--password", default=None, help="SIP password (stored hashed).")
@click.option("--pin", default=None, help="Voice portal PIN, 4-8 digits (stored hashed).")
@click.option("--no-answer", "no_answer", default=20, show_default=True, type=int,
              help="Seconds to ring before the call counts as not answered.")
@json_option
@pass_app
def add(
    app: Pbx,
    extension: str,
    enterprise: str | None,
    name: str,
    number: str | None,
    email: str | None,
    password: str | None,
    pin: str | None,
    no_answer: int,
    as_json: bool,
) -> None:
    """Add a user with an extension."""
    found = app.add_user(enterprise, extension, name, number, email, password, pin, no_answer)
    ent = app.enterprises_name(found.enterprise_id)
    if as_json:
        emit_json(_as_dict(found, ent))
    else:
        extra = f", number {found.number}" if found.number else ""
        click.echo(f"user {found.extension} ({found.name}) added to {ent}{extra}")


@user.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the users of an enterprise."""
    ent = app.enterprise(enterprise)
    users = app.directory().users_of(ent.id)
    if as_json:
        emit_json([_as_dict(u, ent.name) for u in users])
        return
    table(
        [(u.extension, u.name, u.number, u.email) for u in users],
        ["ext", "name", "number", "email"],
    )


@user.command("show")
@click.argument("extension")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, extension: str, enterprise: str | None, as_json: bool) -> None:
    """Show one user."""
    found = app.user(enterprise, extension)
    data = _as_dict(found, app.enterprises_name(found.enterprise_id))
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key + ':':<19}{'-' if value is None else value}")


@user.command("remove")
@click.argument("extension")
@enterprise_option
@pass_app
def remove(app: Pbx, extension: str, enterprise: str | None) -> None:
    """Remove a user; the extension can be given out again."""
    found = app.remove_user(enterprise, extension)
    click.echo(f"user {found.extension} ({found.name}) removed")


COMMANDS = [user]
