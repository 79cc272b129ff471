"""``pbx capacity``: at most N simultaneous calls per enterprise or department (GRP-2)."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import calling_plans as plans
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError


@click.group("capacity")
def capacity() -> None:
    """Call capacity: simultaneous calls per enterprise or department."""


@capacity.command("set")
@click.argument("limit", metavar="N|none")
@enterprise_option
@click.option("--group", "group", default=None, metavar="NAME",
              help="The limit of this department (default: the whole enterprise).")
@pass_app
def set_(app: Pbx, limit: str, enterprise: str | None, group: str | None) -> None:
    """Allow at most N simultaneous calls; more get busy (USER_BUSY). `none`: no limit."""
    text = limit.strip().lower()
    if text != "none" and not text.isdigit():
        raise ValidationError(f"invalid capacity {limit!r}: a number of calls, or none")
    label, value = plans.set_capacity(app, enterprise, group,
                                      None if text == "none" else int(text))
    shown = ("no limit" if value is None
             else f"at most {value} simultaneous call{'' if value == 1 else 's'}")
    click.echo(f"capacity of {label}: {shown}")


@capacity.command("show")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Limits, calls in progress now (from the log) and calls refused so far."""
    rows = plans.capacity_rows(app, enterprise)
    if as_json:
        emit_json(rows)
        return
    table([(r["pool"], r["name"], "none" if r["limit"] is None else r["limit"], r["calls"],
            r["refused"]) for r in rows], ["pool", "name", "limit", "calls now", "refused"])


COMMANDS = [capacity]
