"""``pbx blf``: the busy lamps as the phones show them."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx


@click.group("blf")
def blf() -> None:
    """Busy lamp field: line state per user."""


@blf.command("show")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Line state (idle, ringing, busy, dnd) of every user."""
    from projections import blf as blf_projection

    ent = app.enterprise(enterprise)
    states = blf_projection.read_line_states(app, ent.id)
    users = app.directory().users_of(ent.id)
    rows = [(u.extension, u.name, states.get(u.extension, "idle")) for u in users]
    if as_json:
        emit_json([{"extension": e, "name": n, "state": s} for e, n, s in rows])
        return
    table(rows, ["ext", "name", "state"])


COMMANDS = [blf]
