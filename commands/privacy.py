"""``pbx privacy erase``: crypto-shredding of one person; ``pbx calls purge``: retention."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json
from esl_controller import privacy as use_cases
from esl_controller.application import Pbx
from esl_controller.audit_refusals import refusals_recorded


@click.group("privacy")
def privacy() -> None:
    """Erase an outside party's personal data (their key is destroyed; no event changes)."""


@privacy.command("erase")
@click.argument("number")
@enterprise_option
@json_option
@pass_app
@refusals_recorded("privacy erase", numbers=("number",))
def erase(app: Pbx, number: str, enterprise: str | None, as_json: bool) -> None:
    """Destroy NUMBER's key: their number reads [erased] in the call log and explanations."""
    done = use_cases.erase_person(app, number, enterprise)
    if as_json:
        emit_json({"number": done.number, "person_hash": done.person_hash,
                   "erasure_id": str(done.erasure_id), "at": done.at.isoformat(),
                   "voicemail_messages_deleted": done.voicemail_messages})
        return
    click.echo(f"Erased {done.number}: key of person {done.person_hash[:12]}… destroyed, "
               f"PersonErased recorded at {done.at:%Y-%m-%d %H:%M:%S} UTC; "
               f"stored events unchanged")
    if done.voicemail_messages:
        click.echo(f"Deleted {done.voicemail_messages} voicemail message(s) they left "
                   "(audio file and place in the box; MessagePurged, reason erased)")


@click.command("purge")
@click.option("--older-than", "days", required=True, type=int, metavar="DAYS",
              help="Delete call log entries of calls that started more than DAYS days ago.")
@json_option
@pass_app
@refusals_recorded("calls purge")
def purge_calls(app: Pbx, days: int, as_json: bool) -> None:
    """Call log retention: delete entries older than DAYS (CallLogPurged records it)."""
    done = use_cases.purge_call_log(app, days)
    if as_json:
        emit_json({"rows": done.rows, "before": done.before.isoformat(),
                   "purge_id": str(done.purge_id)})
        return
    click.echo(f"Purged {done.rows} call log entr{'y' if done.rows == 1 else 'ies'} of calls "
               f"started before {done.before:%Y-%m-%d %H:%M:%S} UTC")


COMMANDS = [privacy]
