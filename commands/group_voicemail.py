"""``pbx group-voicemail``: business and department voicemail boxes (CORE-4, OPT-4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import group_voicemail as use_cases
from esl_controller.application import Pbx
from esl_controller.domain.mailboxes import Mailbox
from esl_controller.domain.numbers import national_format
from projections.group_voicemail_fold import GroupVoicemailView

AUDIO_DIR = click.option("--audio-dir", default=use_cases.DEFAULT_AUDIO_DIR, show_default=True,
                         type=click.Path(file_okay=False),
                         help="Folder the greeting is copied to (FreeSWITCH plays it there).")
GREETING = click.option("--greeting", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="The box's greeting: a WAV file.")
MODE_HELP = ("Play the greeting only, take no message, then 'hangup' or 'forward:DEST' "
             "(EXT, vm:EXT or a number)")


@click.group("group-voicemail")
def group_voicemail() -> None:
    """Group voicemail: a business or department box, messages e-mailed with the audio."""


@group_voicemail.command("add")
@click.argument("name")
@click.option("--extension", required=True, help="Extension that reaches the box.")
@click.option("--number", default=None, help="Public number that reaches the box.")
@click.option("--email", required=True, help="Where each message is e-mailed (audio attached).")
@click.option("--cc", default=None, help="A second address each message is copied to.")
@GREETING
@click.option("--greeting-only", "greeting_only", default=None, metavar="hangup|forward:DEST",
              help=MODE_HELP + "; default: callers leave a message.")
@AUDIO_DIR
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, extension: str, number: str | None, email: str, cc: str | None,
        greeting: Path | None, greeting_only: str | None, audio_dir: str,
        enterprise: str | None, as_json: bool) -> None:
    """Add a group voicemail box (60 minutes, messages kept at most 2 weeks until mailed)."""
    found = use_cases.add_group_voicemail(app, enterprise, name, extension, email, number, cc,
                                          greeting, greeting_only, Path(audio_dir))
    if as_json:
        emit_json(found.as_dict())
        return
    click.echo(f"group voicemail {found.name} added: {_summary(found)}")


@group_voicemail.command("change")
@click.argument("name")
@click.option("--email", default=None, help="New address for the messages.")
@click.option("--cc", default=None, help="New cc address, or 'none'.")
@GREETING
@click.option("--greeting-only", "greeting_only", default=None,
              metavar="hangup|forward:DEST|off", help=MODE_HELP + "; 'off' takes messages.")
@AUDIO_DIR
@enterprise_option
@pass_app
def change(app: Pbx, name: str, email: str | None, cc: str | None, greeting: Path | None,
           greeting_only: str | None, audio_dir: str, enterprise: str | None) -> None:
    """Change a box's addresses, greeting or greeting-only mode."""
    if email is None and cc is None and greeting is None and greeting_only is None:
        raise click.UsageError("nothing to change: give --email, --cc, --greeting or "
                               "--greeting-only")
    found = use_cases.change_group_voicemail(
        app, enterprise, name, email,
        use_cases.UNCHANGED if cc is None else (None if cc.lower() == "none" else cc),
        greeting,
        use_cases.UNCHANGED if greeting_only is None else greeting_only, Path(audio_dir))
    click.echo(f"group voicemail {found.name}: {_summary(found)}")


@group_voicemail.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a box: its extension and number are free again."""
    found = use_cases.remove_group_voicemail(app, enterprise, name)
    click.echo(f"group voicemail {found.name} removed")


@group_voicemail.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the group voicemail boxes."""
    found = use_cases.list_group_voicemails(app, enterprise)
    if as_json:
        emit_json([g.as_dict() for g in found])
        return
    table([(g.name, g.extension, ", ".join(national_format(n) for n in g.numbers),
            g.email, g.cc, _mode(g)) for g in found],
          ["name", "extension", "number", "email", "cc", "mode"])


@group_voicemail.command("show")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """A box's settings, greeting and the messages not mailed yet."""
    found, box = use_cases.get_group_voicemail(app, enterprise, name)
    details = {**found.as_dict(), **_box_details(box)}
    if as_json:
        emit_json(details)
        return
    for key in ("name", "extension", "numbers", "email", "cc", "mode", "greeting",
                "capacity", "retention", "waiting"):
        value = details[key]
        if key == "numbers":
            value = ", ".join(national_format(n) for n in value) or "-"
        click.echo(f"{key + ':':11} {value if value not in (None, '') else '-'}")


def _box_details(box: Mailbox) -> dict[str, Any]:
    waiting = [{"id": m.message_id, "from": m.caller, "seconds": round(m.seconds),
                "when": m.at.isoformat(timespec="seconds")} for m in box.messages.values()]
    return {
        "greeting": box.greetings.get("unavailable") or "standard",
        "capacity": f"{box.capacity_seconds // 60} minutes, {box.seconds_left // 60} left",
        "retention": f"{box.retention_days} days",
        "waiting": len(waiting) if waiting else "none (every message was mailed)",
        "messages_not_mailed": waiting,
    }


def _mode(found: GroupVoicemailView) -> str:
    if found.greeting_only is None:
        return "messages"
    return "greeting, then " + found.greeting_only.replace("forward:", "forward to ")


def _summary(found: GroupVoicemailView) -> str:
    reach = f"extension {found.extension}" + "".join(
        f", number {national_format(n)}" for n in found.numbers)
    if found.greeting_only is not None:
        return f"{reach}; {_mode(found)} (no messages)"
    cc = f", cc {found.cc}" if found.cc else ""
    return f"{reach}; messages e-mailed to {found.email}{cc}"


COMMANDS = [group_voicemail]
