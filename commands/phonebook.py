"""``pbx directory``: the enterprise phone book a receptionist or a phone reads (USR-19).

Users with privacy on are not in it.
"""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx


@click.group("directory")
def directory() -> None:
    """The enterprise phone book (private users are left out)."""


@directory.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Names and numbers colleagues and phones may look up."""
    ent = app.enterprise(enterprise)
    users = app.directory().phone_book(ent.id)
    if as_json:
        emit_json([{"extension": u.extension, "name": u.name, "number": u.number}
                   for u in users])
        return
    table([(u.extension, u.name, u.number) for u in users], ["ext", "name", "number"])


COMMANDS = [directory]
