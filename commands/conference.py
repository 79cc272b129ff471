"""``pbx conference``: dial-in conference rooms (USR-11: the user plus up to 15 others)."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.call_services import CallServices
from esl_controller.domain.call_services import MAX_CONFERENCE_MEMBERS
from projections.call_services_fold import ConferenceRoomView


def _as_dict(room: ConferenceRoomView) -> dict[str, object]:
    return {"name": room.name, "extension": room.extension, "pin": room.pin_hash is not None,
            "max": room.max_members, "id": str(room.id)}


@click.group("conference")
def conference() -> None:
    """Conference rooms callers dial into."""


@conference.command("add")
@click.argument("name")
@click.option("--extension", required=True, help="The room's extension.")
@click.option("--pin", default=None, help="4 to 8 digits callers enter first (stored hashed).")
@click.option("--max", "max_members", type=int, default=MAX_CONFERENCE_MEMBERS,
              show_default=True, help="Most callers in the room at once (2-16).")
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, extension: str, pin: str | None, max_members: int,
        enterprise: str | None, as_json: bool) -> None:
    """Add conference room NAME."""
    room = CallServices(app).add_conference(enterprise, name, extension, pin, max_members)
    if as_json:
        emit_json(_as_dict(room))
        return
    click.echo(f"conference room {room.name} added: dial {room.extension}"
               + (" and the PIN" if pin else "") + f", at most {room.max_members} callers")


@conference.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Conference rooms."""
    rooms = CallServices(app).conferences(enterprise)
    if as_json:
        emit_json([_as_dict(r) for r in rooms])
        return
    table([(r.name, r.extension, "yes" if r.pin_hash else "no", r.max_members) for r in rooms],
          ["room", "extension", "pin", "max"])


@conference.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove conference room NAME."""
    room = CallServices(app).remove_conference(enterprise, name)
    click.echo(f"conference room {room.name} (ext. {room.extension}) removed")


@click.group("instant-group")
def instant_group() -> None:
    """Instant group calls: dial the extension, all members ring, all who answer talk."""


@instant_group.command("add")
@click.argument("name")
@click.option("--extension", required=True, help="The group's extension.")
@click.option("--members", required=True, metavar="EXT[,EXT...]",
              help="Users called at once (at most 15).")
@enterprise_option
@pass_app
def instant_add(app: Pbx, name: str, extension: str, members: str,
                enterprise: str | None) -> None:
    """Add instant group NAME."""
    listed = [m for m in members.split(",") if m.strip()]
    group = CallServices(app).add_instant_group(enterprise, name, extension, listed)
    click.echo(f"instant group {group.name} added: dial {group.extension} to call "
               f"{', '.join(group.members)} into one conference")


@instant_group.command("list")
@enterprise_option
@pass_app
def instant_list(app: Pbx, enterprise: str | None) -> None:
    """Instant groups."""
    table([(g.name, g.extension, ", ".join(g.members))
           for g in CallServices(app).instant_groups(enterprise)],
          ["instant group", "extension", "members"])


@instant_group.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def instant_remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove instant group NAME."""
    group = CallServices(app).remove_instant_group(enterprise, name)
    click.echo(f"instant group {group.name} (ext. {group.extension}) removed")


COMMANDS = [conference, instant_group]
