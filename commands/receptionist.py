"""``pbx receptionist``: the receptionist console (RCP-1).

``show`` reads the line states the serving controller keeps (the busy lamp read model) and
the calls' own records; ``pickup``, ``transfer`` and ``park`` act on a monitored user's call
over FreeSWITCH's inbound event socket (``--esl HOST:PORT``, as ``pbx user call-back``).
A premium receptionist is given call center queues (``queues``): ``show`` lists their
waiting callers and ``take`` takes one out of its queue, to the receptionist's phone or on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from commands.serve import inbound_target
from esl_controller import receptionist as use_cases
from esl_controller.application import Pbx
from esl_controller.esl.inbound import (
    AuthenticationError,
    InboundClient,
    NotConnectedError,
)
from esl_controller.esl.server import EslError


@click.group("receptionist")
def receptionist() -> None:
    """Receptionist console (RCP-1): watch colleagues' lines, pick up, transfer and park;
    premium: handle call center queues."""


@receptionist.command("add")
@click.argument("extension")
@click.option("--licence", required=True,
              type=click.Choice(["entry", "standard", "premium"], case_sensitive=False),
              help="entry: 8 monitored users, standard: 30, premium: unlimited and queues.")
@enterprise_option
@pass_app
def add(app: Pbx, extension: str, licence: str, enterprise: str | None) -> None:
    """Make user EXTENSION a receptionist (again: change the licence)."""
    found = use_cases.add_receptionist(app, enterprise, extension, licence)
    limit = "unlimited" if found.limit is None else str(found.limit)
    queues = ", queue handling" if found.queue_handling else ""
    click.echo(f"receptionist {found.extension}: {found.licence} licence "
               f"({limit} monitored users{queues})")


@receptionist.command("monitor")
@click.argument("extension")
@click.argument("users", metavar="USER[,USER...]")
@enterprise_option
@pass_app
def monitor(app: Pbx, extension: str, users: str, enterprise: str | None) -> None:
    """Set the users EXTENSION's console monitors (the whole list, in this order)."""
    found = use_cases.set_monitored(app, enterprise, extension, users.split(","))
    limit = "unlimited" if found.limit is None else str(found.limit)
    click.echo(f"receptionist {found.extension} monitors {len(found.monitored)} of {limit}: "
               + ", ".join(found.monitored))


def _console_dict(view: use_cases.Console) -> dict[str, Any]:
    return {
        "receptionist": view.receptionist.extension,
        "licence": view.licence,
        "limit": view.limit,
        "queue_handling": view.queue_handling,
        "lines": [
            {"extension": line.extension, "name": line.name, "state": line.state,
             "calls": [{"call_id": c.call_id, "state": c.state, "caller": c.caller,
                        "callee": c.callee, "answered_by": c.answered_by}
                       for c in line.calls]}
            for line in view.lines
        ],
        "queues": [
            {"name": q.name, "extension": q.extension,
             "waiting": [{"position": w.position, "call_id": w.call_id, "caller": w.caller,
                          "waited": w.waited, "priority": w.priority,
                          "ringing": list(w.ringing)} for w in q.waiting]}
            for q in view.queues
        ],
    }


@receptionist.command("show")
@click.argument("extension")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, extension: str, enterprise: str | None, as_json: bool) -> None:
    """The console: each monitored user's line state, and who calls whom."""
    view = use_cases.console(app, enterprise, extension)
    if as_json:
        emit_json(_console_dict(view))
        return
    limit = "unlimited" if view.limit is None else str(view.limit)
    click.echo(f"receptionist {view.receptionist.extension} ({view.receptionist.name}), "
               f"{view.licence} licence: {len(view.lines)} of {limit} users monitored")
    rows = []
    for line in view.lines:
        if not line.calls:
            rows.append((line.extension, line.name, line.state, "", ""))
        for call in line.calls:
            rows.append((line.extension, line.name, line.state,
                         f"{call.caller} -> {call.callee}"
                         + (f" (answered by {call.answered_by})" if call.answered_by else ""),
                         call.call_id))
    table(rows, ("ext", "name", "line", "call", "call id"))
    for queue in view.queues:  # premium: the queues handled, their waiting callers
        click.echo(f"queue {queue.name} ({queue.extension}): {len(queue.waiting)} waiting")
        if queue.waiting:
            table([(w.position, w.caller, f"{w.waited} s", w.priority or "-",
                    ", ".join(w.ringing) or "-", w.call_id) for w in queue.waiting],
                  ("pos", "caller", "waited", "priority", "ringing", "call id"))


def _client(esl: str | None, password_file: str | None) -> InboundClient:
    address, password = inbound_target(esl, password_file)
    return InboundClient(address[0], address[1], password)


def _act(app: Pbx, extension: str, action: str, call_id: str, destination: str | None,
         esl: str | None, password_file: str | None, enterprise: str | None) -> None:
    client = _client(esl, password_file)
    connected = False

    def api(command: str) -> str:
        nonlocal connected
        if not connected:
            client.connect()
            connected = True
        return str(client.api(command))

    try:
        done = use_cases.act(app, enterprise, extension, action, call_id, destination, api,
                             datetime.now(UTC))
    except (NotConnectedError, AuthenticationError, EslError, OSError) as exc:
        click.echo(f"error: FreeSWITCH's event socket at {esl}: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        if connected:
            client.close()
    click.echo(f"{action} of call {done.call_id} ({done.on_behalf_of}) to {done.destination} "
               f"by {extension}")
    click.echo(f"sent: api {done.command}")


ESL_OPTIONS = (
    click.option("--esl", default=None, help="FreeSWITCH's inbound ESL HOST:PORT (required)."),
    click.option("--esl-password-file", "password_file", default=None,
                 help="File holding the inbound ESL password (else PBX_ESL_PASSWORD)."),
)


def _esl_options(func: Any) -> Any:
    for option in reversed(ESL_OPTIONS):
        func = option(func)
    return func


@receptionist.command("pickup")
@click.argument("extension")
@click.argument("call_id")
@_esl_options
@enterprise_option
@pass_app
def pickup(app: Pbx, extension: str, call_id: str, esl: str | None, password_file: str | None,
           enterprise: str | None) -> None:
    """EXTENSION's phone rings; answering it takes ringing call CALL_ID of a monitored user."""
    _act(app, extension, "pickup", call_id, None, esl, password_file, enterprise)


@receptionist.command("transfer")
@click.argument("extension")
@click.argument("call_id")
@click.argument("destination")
@_esl_options
@enterprise_option
@pass_app
def transfer(app: Pbx, extension: str, call_id: str, destination: str, esl: str | None,
             password_file: str | None, enterprise: str | None) -> None:
    """Send answered call CALL_ID of a monitored user to DESTINATION (an extension or a
    number), on the user's behalf."""
    _act(app, extension, "transfer", call_id, destination, esl, password_file, enterprise)


@receptionist.command("park")
@click.argument("extension")
@click.argument("call_id")
@click.argument("slot")
@_esl_options
@enterprise_option
@pass_app
def park(app: Pbx, extension: str, call_id: str, slot: str, esl: str | None,
         password_file: str | None, enterprise: str | None) -> None:
    """Park answered call CALL_ID of a monitored user on park slot SLOT (its extension)."""
    _act(app, extension, "park", call_id, slot, esl, password_file, enterprise)


@receptionist.command("queues")
@click.argument("extension")
@click.argument("queues", metavar="QUEUE[,QUEUE...]|none")
@enterprise_option
@pass_app
def queues(app: Pbx, extension: str, queues: str, enterprise: str | None) -> None:
    """Give premium receptionist EXTENSION the call center queues to handle (names or
    extensions; the whole list; none: no queue)."""
    names = use_cases.set_queues(app, enterprise, extension, queues.split(","))
    click.echo(f"receptionist {extension} handles "
               + (f"{len(names)} queue(s): " + ", ".join(names) if names else "no queue"))


@receptionist.command("take")
@click.argument("extension")
@click.argument("call_id")
@click.option("--to", "destination", default=None, metavar="EXT",
              help="Send the caller on to this extension or number (default: EXTENSION's "
                   "own phone).")
@_esl_options
@enterprise_option
@pass_app
def take(app: Pbx, extension: str, call_id: str, destination: str | None, esl: str | None,
         password_file: str | None, enterprise: str | None) -> None:
    """Take call CALL_ID waiting in a queue EXTENSION handles (premium) out of the queue:
    to EXTENSION's phone, or on to --to."""
    client = _client(esl, password_file)
    connected = False

    def connect() -> None:  # checked first, connected before anything is recorded
        nonlocal connected
        client.connect()
        connected = True

    try:
        done = use_cases.take(app, enterprise, extension, call_id, destination,
                              lambda command: str(client.api(command)), datetime.now(UTC),
                              connect)
    except (NotConnectedError, AuthenticationError, EslError, OSError) as exc:
        recorded = (" (the take is recorded: the caller goes at their next look for an "
                    "agent)") if connected else ""
        click.echo(f"error: FreeSWITCH's event socket at {esl}: {exc}{recorded}", err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        if connected:
            client.close()
    click.echo(f"take of call {done.call_id} out of {done.on_behalf_of} to {done.destination} "
               f"by {extension}")
    click.echo(f"sent: api {done.command}")
    if not done.reply.startswith("+OK"):
        click.echo(f"FreeSWITCH answered {done.reply or 'nothing'}: the caller goes at their "
                   "next look for an agent, after the current music slice")


@receptionist.command("actions")
@click.argument("extension")
@enterprise_option
@json_option
@pass_app
def actions(app: Pbx, extension: str, enterprise: str | None, as_json: bool) -> None:
    """What EXTENSION did on behalf of others (ReceptionistActionTaken events)."""
    taken = use_cases.actions_taken(app, enterprise, extension)
    if as_json:
        emit_json(taken)
        return
    table([(t["at"], t["action"], t["call_id"], t["on_behalf_of"], t["destination"])
           for t in taken], ("at", "action", "call", "for", "to"))


COMMANDS: list[click.Command] = [receptionist]
