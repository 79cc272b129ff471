"""``pbx voicemail``: users' voicemail boxes (USR-7)."""

from __future__ import annotations

from pathlib import Path

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.voicemail import VoicemailService

DIR_OPTION = click.option("--voicemail-dir", default="var/voicemail", show_default=True,
                          help="Folder of the voicemail audio.")


def _service(app: Pbx, folder: str) -> VoicemailService:
    return VoicemailService(app, Path(folder))


@click.group("voicemail")
def voicemail() -> None:
    """Voicemail boxes: one per user, 60 minutes, messages kept 2 weeks."""


@voicemail.command("enable")
@click.argument("extension")
@enterprise_option
@click.option("--email-audio/--no-email-audio", default=True, show_default=True,
              help="E-mail each message with the audio attached.")
@click.option("--keep/--email-only", default=None,
              help="Keep e-mailed messages in the box (default), or remove them once mailed.")
@DIR_OPTION
@pass_app
def enable(app: Pbx, extension: str, enterprise: str | None, email_audio: bool,
           keep: bool | None, voicemail_dir: str) -> None:
    """Give a user a voicemail box (or change its settings)."""
    box = _service(app, voicemail_dir).enable(enterprise, extension, email_audio, keep=keep)
    mail = f", messages e-mailed to {box.email}" if box.email_audio else ""
    only = " only (not kept in the box)" if not box.keep else ""
    click.echo(f"voicemail enabled for {extension}{mail}{only}")


@voicemail.command("disable")
@click.argument("extension")
@enterprise_option
@DIR_OPTION
@pass_app
def disable(app: Pbx, extension: str, enterprise: str | None, voicemail_dir: str) -> None:
    """Take a user's voicemail box away (kept messages stay until they expire)."""
    _service(app, voicemail_dir).disable(enterprise, extension)
    click.echo(f"voicemail disabled for {extension}")


@voicemail.command("list")
@click.argument("extension")
@enterprise_option
@json_option
@DIR_OPTION
@pass_app
def list_(app: Pbx, extension: str, enterprise: str | None, as_json: bool,
          voicemail_dir: str) -> None:
    """List the messages in a user's box."""
    user = app.user(enterprise, extension)
    box = _service(app, voicemail_dir).mailbox(user.enterprise_id, user.extension)
    if box is None:
        raise ValidationError(f"user {extension} has no voicemail box")
    rows = [
        {"id": m.message_id, "from": f"{m.caller_name} ({m.caller})" if m.caller_name
         else m.caller, "when": m.at.isoformat(timespec="seconds"),
         "seconds": round(m.seconds), "status": m.status}
        for m in sorted(box.messages.values(), key=lambda m: m.at)
    ]
    if as_json:
        emit_json(rows)
        return
    table([tuple(r.values()) for r in rows], ["id", "from", "when", "seconds", "status"])


@voicemail.command("purge")
@DIR_OPTION
@pass_app
def purge(app: Pbx, voicemail_dir: str) -> None:
    """Delete the messages older than their box's retention now."""
    count = _service(app, voicemail_dir).purge_expired()
    click.echo(f"{count} expired message(s) purged")


COMMANDS = [voicemail]
