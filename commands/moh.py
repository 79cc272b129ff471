"""``pbx moh`` and ``pbx ringback``: music on hold and ringback per enterprise or user."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.call_services import CallServices

user_option = click.option("--user", "extension", default=None, metavar="EXT",
                           help="For this user (default: the whole enterprise).")


group_option = click.option("--group", "group", default=None, metavar="EXT",
                            help="For calls to this group (e.g. a hunt group's extension).")


def _whom(extension: str | None, group: str | None = None) -> str:
    if group:
        return f"group {group}"
    return f"user {extension}" if extension else "the enterprise"


def _one(extension: str | None, group: str | None) -> str | None:
    if extension and group:
        raise click.UsageError("use --user or --group, not both")
    return extension or group


@click.group("moh")
def moh() -> None:
    """Music on hold: what the other party hears while a phone holds the call."""


@moh.command("set")
@click.argument("media")
@user_option
@group_option
@enterprise_option
@pass_app
def moh_set(app: Pbx, media: str, extension: str | None, group: str | None,
            enterprise: str | None) -> None:
    """MEDIA: a 16-bit PCM .wav file (8-48 kHz), local_stream://NAME or tone_stream://..."""
    chosen = CallServices(app).set_hold_music(enterprise, _one(extension, group), media)
    click.echo(f"music on hold of {_whom(extension, group)}: {chosen.hold_music}")


@moh.command("clear")
@user_option
@group_option
@enterprise_option
@pass_app
def moh_clear(app: Pbx, extension: str | None, group: str | None,
              enterprise: str | None) -> None:
    """Back to the group's or enterprise's music, or the switch's (for the enterprise)."""
    CallServices(app).set_hold_music(enterprise, _one(extension, group), None)
    click.echo(f"music on hold of {_whom(extension, group)} cleared")


@moh.command("show")
@enterprise_option
@json_option
@pass_app
def moh_show(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Music on hold, ringback and barge-in exemption chosen in the enterprise."""
    rows = CallServices(app).choices(enterprise)
    data = [{"user": c.extension, "hold_music": c.hold_music, "ringback": c.ringback,
             "barge_in_exempt": c.barge_in_exempt} for c in rows]
    if as_json:
        emit_json(data)
        return
    table([(d["user"] or "(enterprise)", d["hold_music"], d["ringback"],
            "yes" if d["barge_in_exempt"] else "no") for d in data],
          ["for", "music on hold", "ringback", "barge-in exempt"])


@click.group("ringback")
def ringback() -> None:
    """Ringback: what callers hear while the phone rings."""


@ringback.command("set")
@click.argument("media")
@user_option
@group_option
@enterprise_option
@pass_app
def ringback_set(app: Pbx, media: str, extension: str | None, group: str | None,
                 enterprise: str | None) -> None:
    """MEDIA: a tone %(ON,OFF,HZ[,HZ]), a .wav file, local_stream:// or tone_stream://."""
    chosen = CallServices(app).set_ringback(enterprise, _one(extension, group), media)
    click.echo(f"ringback of {_whom(extension, group)}: {chosen.ringback}")


@ringback.command("clear")
@user_option
@group_option
@enterprise_option
@pass_app
def ringback_clear(app: Pbx, extension: str | None, group: str | None,
                   enterprise: str | None) -> None:
    """Back to the group's or enterprise's ringback, or the switch's own."""
    CallServices(app).set_ringback(enterprise, _one(extension, group), None)
    click.echo(f"ringback of {_whom(extension, group)} cleared")


COMMANDS = [moh, ringback]
