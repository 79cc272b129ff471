"""``pbx pickup-group`` (USR-13: ``*8``, ``*97``+EXT) and ``pbx barge-in-exempt`` (``*33``)."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.call_services import CallServices
from projections.call_services_fold import PickupGroupView


def _as_dict(group: PickupGroupView) -> dict[str, object]:
    return {"name": group.name, "members": list(group.members), "id": str(group.id)}


def _members(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


@click.group("pickup-group")
def pickup_group() -> None:
    """Pickup groups: members answer each other's ringing calls with *8."""


@pickup_group.command("add")
@click.argument("name")
@click.option("--members", required=True, metavar="EXT[,EXT...]",
              help="Member extensions (a user is in one pickup group at most).")
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, members: str, enterprise: str | None, as_json: bool) -> None:
    """Add pickup group NAME."""
    group = CallServices(app).add_pickup_group(enterprise, name, _members(members))
    if as_json:
        emit_json(_as_dict(group))
        return
    click.echo(f"pickup group {group.name} added: {', '.join(group.members)} pick up each "
               "other's calls with *8")


@pickup_group.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Pickup groups and their members."""
    groups = CallServices(app).pickup_groups(enterprise)
    if as_json:
        emit_json([_as_dict(g) for g in groups])
        return
    table([(g.name, ", ".join(g.members)) for g in groups], ["pickup group", "members"])


@pickup_group.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove pickup group NAME."""
    group = CallServices(app).remove_pickup_group(enterprise, name)
    click.echo(f"pickup group {group.name} removed")


@click.command("barge-in-exempt")
@click.argument("extension")
@click.argument("state", type=click.Choice(["on", "off"]))
@enterprise_option
@pass_app
def barge_in_exempt(app: Pbx, extension: str, state: str, enterprise: str | None) -> None:
    """Barge-in exemption of user EXTENSION: with 'on' nobody joins their calls with *33."""
    CallServices(app).set_barge_in_exempt(enterprise, extension, state == "on")
    click.echo(f"{extension}: barge-in exempt {state}")


@click.command("barge-in-tone")
@click.argument("state", type=click.Choice(["on", "off"]))
@enterprise_option
@pass_app
def barge_in_tone(app: Pbx, state: str, enterprise: str | None) -> None:
    """Whether the parties hear a warning tone when a colleague barges in (default on)."""
    CallServices(app).set_barge_in_tone(enterprise, state == "on")
    click.echo(f"barge-in warning tone {state}")


COMMANDS = [pickup_group, barge_in_exempt, barge_in_tone]
