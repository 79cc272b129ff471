"""``pbx intercept-group``: intercept every call to some users / targets (or the whole
enterprise) to an announcement or another destination."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.call_services import CallServices
from projections.call_services_fold import InterceptGroupView


def _as_dict(group: InterceptGroupView) -> dict[str, object]:
    return {"name": group.name, "members": list(group.members) or "all",
            "to": group.destination, "on": group.on, "id": str(group.id)}


@click.group("intercept-group")
def intercept_group() -> None:
    """Intercept groups: calls to the members go to an announcement or a destination."""


@intercept_group.command("add")
@click.argument("name")
@click.option("--members", default=None, metavar="EXT[,EXT...]",
              help="Users or targets (hunt groups, menus ...) whose calls are intercepted.")
@click.option("--all", "whole", is_flag=True, help="Intercept the whole enterprise.")
@click.option("--to", "destination", default="announcement", show_default=True,
              help="'announcement', an extension, vm:EXT or a number.")
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, members: str | None, whole: bool, destination: str,
        enterprise: str | None, as_json: bool) -> None:
    """Add intercept group NAME (on at once)."""
    if bool(members) == whole:
        raise click.UsageError("name the members with --members, or use --all")
    listed = [m for m in (members or "").split(",") if m.strip()]
    group = CallServices(app).add_intercept_group(enterprise, name, listed, destination)
    if as_json:
        emit_json(_as_dict(group))
        return
    whom = ", ".join(group.members) if group.members else "the whole enterprise"
    click.echo(f"intercept group {group.name} on: calls to {whom} go to {group.destination}")


@intercept_group.command("switch")
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
@enterprise_option
@pass_app
def switch(app: Pbx, name: str, state: str, enterprise: str | None) -> None:
    """Switch intercept group NAME on or off."""
    group = CallServices(app).switch_intercept_group(enterprise, name, state == "on")
    click.echo(f"intercept group {group.name} {'on' if group.on else 'off'}")


@intercept_group.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Intercept groups."""
    groups = CallServices(app).intercept_groups(enterprise)
    if as_json:
        emit_json([_as_dict(g) for g in groups])
        return
    table([(g.name, ", ".join(g.members) or "(all)", g.destination, "on" if g.on else "off")
           for g in groups], ["intercept group", "members", "to", "state"])


@intercept_group.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove intercept group NAME."""
    group = CallServices(app).remove_intercept_group(enterprise, name)
    click.echo(f"intercept group {group.name} removed")


COMMANDS = [intercept_group]
