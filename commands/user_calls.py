"""``pbx user speed-dial``: a user's speed dials (USR-12), 8 short and 100 long entries.

Slots ``2``..``9`` are dialled as ``#2``..``#9`` and slots ``00``..``99`` as ``#00``..``#99``
(extensions never start with ``#``, so the two cannot clash). The phone programs the same
slots with ``*74`` / ``*75``; both go through the same use case.
"""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json
from commands.users import user
from esl_controller import user_services
from esl_controller.application import Pbx


@user.command("speed-dial")
@click.argument("extension")
@click.argument("slot", required=False)
@click.argument("number", required=False)
@click.option("--remove", "remove", metavar="SLOT", default=None, help="Clear this slot.")
@enterprise_option
@json_option
@pass_app
def speed_dial(
    app: Pbx, extension: str, slot: str | None, number: str | None, remove: str | None,
    enterprise: str | None, as_json: bool,
) -> None:
    """Set slot SLOT (2-9 or 00-99) of EXTENSION to NUMBER, clear one, or list them.

    NUMBER is a colleague's extension or a number the user's calling plan allows.
    """
    if remove is not None:
        if slot is not None:
            raise click.UsageError("--remove SLOT takes no other SLOT or NUMBER")
        user_services.remove_speed_dial(app, enterprise, extension, remove)
        click.echo(f"speed dial #{remove} of {extension} cleared")
        return
    if slot is not None:
        if number is None:
            raise click.UsageError("missing NUMBER: pbx user speed-dial EXT SLOT NUMBER")
        found = user_services.set_speed_dial(app, enterprise, extension, slot, number)
        click.echo(f"speed dial #{slot} of {extension} dials {dict(found.speed_dials)[slot]}")
        return
    found = app.user(enterprise, extension)
    if as_json:
        emit_json([{"slot": s, "dial": f"#{s}", "number": n} for s, n in found.speed_dials])
        return
    if not found.speed_dials:
        click.echo(f"{extension} has no speed dials")
        return
    for s, n in found.speed_dials:
        click.echo(f"#{s:<3} {n}")


COMMANDS: list[click.Command] = []  # `speed-dial` joins the `user` group, registered already
