"""``pbx user call-back``: call back an entry of a user's call log (USR-23).

FreeSWITCH first rings the user's own phone (``user/EXT@DOMAIN``); once they answer, the
other party's number goes through the ``default`` dialplan, which hands the call to the
controller as a call placed by that user (``user_name``/``domain_name``/``sip_authorized``
make the controller see the authenticated internal user, as for a call from their phone).
The command is sent with ``bgapi``: an ``api originate`` would hold the event socket until
the user answers.
"""

from __future__ import annotations

import re
import uuid

import click

from commands.common import enterprise_option, pass_app
from commands.serve import connected, inbound_target
from commands.users import user
from esl_controller.application import Pbx
from esl_controller.esl.inbound import (
    NotConnectedError,
)
from esl_controller.esl.server import EslError

# A number FreeSWITCH can dial back: digits, an optional leading +, * and # (feature codes).
CALLABLE = re.compile(r"\+?[0-9*#]{1,32}")
# What callers send when they withhold their number (see routing.incoming.IncomingCall).
WITHHELD = ("", "anonymous", "unknown", "private", "0000000000")
MAX_ENTRIES = 10000


def originate_command(extension: str, name: str, domain: str, other: str) -> str:
    """The ``originate`` that rings ``extension`` first, then calls ``other`` as that user."""
    # The name is quoted; quotes, braces, backslashes and line breaks would end the variable
    # (or the command), so they are left out of the caller id name.
    safe_name = re.sub(r"['{}\\\r\n]", "", name).strip()
    variables = ",".join(
        (
            f"origination_caller_id_number={extension}",
            f"origination_caller_id_name='{safe_name}'",
            f"user_name={extension}",
            f"domain_name={domain}",
            "sip_authorized=true",
        )
    )
    return f"originate {{{variables}}}user/{extension}@{domain} {other} XML default"


def _number_to_call(entry_other: str) -> str | None:
    number = entry_other.strip()
    if number.lower() in WITHHELD or not CALLABLE.fullmatch(number):
        return None
    return number


@user.command("call-back")
@click.argument("extension")
@click.argument("entry")
@click.option("--esl", default=None, help="FreeSWITCH's inbound ESL HOST:PORT (required).")
@click.option("--esl-password-file", default=None,
              help="File holding the inbound ESL password (else PBX_ESL_PASSWORD).")
@enterprise_option
@pass_app
def call_back(
    app: Pbx, extension: str, entry: str, esl: str | None, esl_password_file: str | None,
    enterprise: str | None,
) -> None:
    """Ring EXTENSION's phone, then call back ENTRY of their call log.

    ENTRY is a position in `pbx calls list --user EXTENSION` (1 = newest) or a call id.
    """
    from projections import call_log

    address, password = inbound_target(esl, esl_password_file)

    ent = app.enterprise(enterprise)
    found = app.user(ent.name, extension)
    if entry.isdigit():
        position = int(entry)
        entries = (
            call_log.read_entries(app, ent.id, extension=extension, limit=position)
            if 1 <= position <= MAX_ENTRIES
            else []
        )
        if position < 1 or position > len(entries):
            size = len(call_log.read_entries(app, ent.id, extension=extension, limit=MAX_ENTRIES))
            raise click.BadParameter(
                f"{extension}'s call log has {size} entr{'y' if size == 1 else 'ies'}, "
                f"no entry {entry}",
                param_hint="ENTRY",
            )
        chosen = entries[position - 1]
    else:
        matching = [
            e
            for e in call_log.read_entries(app, ent.id, extension=extension, limit=MAX_ENTRIES)
            if e.call_id == entry
        ]
        if not matching:
            raise click.BadParameter(
                f"no call {entry!r} in {extension}'s call log", param_hint="ENTRY"
            )
        chosen = matching[0]
    other = _number_to_call(chosen.other_number)
    if other is None:
        raise click.BadParameter(
            f"entry {entry} ({chosen.kind}, {chosen.other_party or 'no number'}) "
            "has no number to call back",
            param_hint="ENTRY",
        )

    command = originate_command(found.extension, found.name, ent.domain, other)
    host, port = address
    job = str(uuid.uuid4())
    client = connected(address, password)
    try:
        reply = client.send(f"bgapi {command}\nJob-UUID: {job}").reply_text
    except (NotConnectedError, EslError) as exc:
        click.echo(f"error: FreeSWITCH's event socket at {host}:{port}: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        client.close()
    if not reply.startswith("+OK"):
        click.echo(f"error: FreeSWITCH refused the originate: {reply}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"calling back {chosen.other_party} for {found.extension} ({found.name}): "
               f"{found.extension}'s phone rings first")
    click.echo(f"sent to {host}:{port}: bgapi {command}")
    click.echo(f"job {job}")


COMMANDS: list[click.Command] = []  # `call-back` joins the `user` group, registered already
