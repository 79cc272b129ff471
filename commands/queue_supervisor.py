"""``pbx queue priority | supervisor | monitor | report``: supervisor functions (CC-5).

The commands join the ``queue`` group of ``commands.call_centers``. ``monitor`` reaches a
running FreeSWITCH over its inbound event socket (``--esl HOST:PORT``, the password from
``--esl-password-file`` or ``PBX_ESL_PASSWORD``), as ``pbx user call-back`` does.
"""

from __future__ import annotations

import click

from commands.call_centers import queue
from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from commands.serve import connected, inbound_target
from esl_controller.application import Pbx
from esl_controller.domain.call_centers import MONITOR_MODES, PRIORITY_RANGE
from esl_controller.errors import ValidationError
from esl_controller.esl.inbound import (
    NotConnectedError,
)
from esl_controller.esl.server import EslError
from esl_controller.supervisor import MONITOR_RING_SECONDS, Supervision

WHAT = {"listen": "listens to", "whisper": "whispers to", "barge": "joins"}


@queue.command("priority")
@click.argument("call_id")
@click.argument("priority", type=int)
@enterprise_option
@click.option("--supervisor", metavar="EXT",
              help="The supervisor who changes it (must supervise the queue).")
@pass_app
def priority(app: Pbx, call_id: str, priority: int, enterprise: str | None,
             supervisor: str | None) -> None:
    """Give a waiting call another PRIORITY (0-9, higher first; the id: pbx queue show)."""
    low, high = PRIORITY_RANGE
    supervision = Supervision(app)
    view, before = supervision.set_priority(enterprise, call_id, priority, supervisor)
    position = supervision.position(view, before.call_id)
    waiting = len(app.directory().waiting_in(view.id))
    click.echo(f"call {before.call_id} in queue {view.name}: priority {before.priority} -> "
               f"{priority} ({low}-{high}), now position {position} of {waiting}")


@queue.group("supervisor")
def supervisor_group() -> None:
    """Who supervises a queue: only they may monitor its calls."""


@supervisor_group.command("add")
@click.argument("queue_name", metavar="QUEUE")
@click.argument("extension")
@enterprise_option
@pass_app
def supervisor_add(app: Pbx, queue_name: str, extension: str, enterprise: str | None) -> None:
    """Make a user a supervisor of the queue."""
    view = Supervision(app).add_supervisor(enterprise, queue_name, extension)
    click.echo(f"{extension.strip()} supervises queue {view.name}: supervisors "
               f"{', '.join(view.supervisors)}")


@supervisor_group.command("remove")
@click.argument("queue_name", metavar="QUEUE")
@click.argument("extension")
@enterprise_option
@pass_app
def supervisor_remove(app: Pbx, queue_name: str, extension: str,
                      enterprise: str | None) -> None:
    """A user no longer supervises the queue."""
    view = Supervision(app).remove_supervisor(enterprise, queue_name, extension)
    click.echo(f"{extension.strip()} no longer supervises queue {view.name}: supervisors "
               f"{', '.join(view.supervisors) or '-'}")


@queue.command("monitor")
@click.argument("target", metavar="CALL_ID|AGENT_EXT")
@click.option("--supervisor", required=True, metavar="EXT",
              help="The supervisor whose phone rings (must supervise the call's queue).")
@click.option("--mode", required=True, type=click.Choice(MONITOR_MODES),
              help="listen: silent; whisper: only the agent hears the supervisor; barge: all "
                   "three talk.")
@click.option("--esl", default=None, help="FreeSWITCH's inbound ESL HOST:PORT (required).")
@click.option("--esl-password-file", default=None,
              help="File holding the inbound ESL password (else PBX_ESL_PASSWORD).")
@enterprise_option
@pass_app
def monitor(app: Pbx, target: str, supervisor: str, mode: str, esl: str | None,
            esl_password_file: str | None, enterprise: str | None) -> None:
    """Ring the supervisor's phone and eavesdrop on the agent's side of a queue call
    (FreeSWITCH eavesdrop): the call's id, or the extension of the agent talking on it."""
    address, password = inbound_target(esl, esl_password_file)
    supervision = Supervision(app)
    plan = supervision.plan_monitor(enterprise, target, supervisor, mode)
    host, port = address
    client = connected(address, password)
    command = plan.command
    try:
        supervision.record_monitor(plan)  # recorded before anything is sent
        # api: FreeSWITCH answers once the supervisor's phone answered (or did not)
        reply = client.send(f"api {command}", MONITOR_RING_SECONDS + 10).text.strip()
    except (NotConnectedError, EslError, OSError) as exc:
        reply = f"-ERR {exc}"
    finally:
        client.close()
    if not reply.startswith("+OK"):
        supervision.record_failure(plan, reply)
        click.echo(f"error: FreeSWITCH did not connect {plan.supervisor.extension}: {reply}",
                   err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"{plan.supervisor.extension} ({plan.supervisor.name}) {WHAT[plan.mode]} agent "
               f"{plan.agent.extension} ({plan.agent.name}) on call {plan.call.call_id} of "
               f"queue {plan.queue.name}")
    click.echo(f"sent to {host}:{port}: api {command}")
    click.echo(f"FreeSWITCH: {reply}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value} s"


@queue.command("report")
@click.argument("name")
@click.option("--from", "start", required=True, help="First day or moment (UTC), e.g. 2026-11-01.")
@click.option("--to", "end", required=True,
              help="Last day (included whole) or moment (UTC), e.g. 2026-11-30.")
@click.option("--service-level", type=click.IntRange(1, 3600), default=20, show_default=True,
              metavar="S", help="Answered within S seconds counts as in time.")
@enterprise_option
@json_option
@pass_app
def report(app: Pbx, name: str, start: str, end: str, service_level: int,
           enterprise: str | None, as_json: bool) -> None:
    """A queue's figures for the calls that entered it in a period (the queue_report read
    model): offered, answered, abandoned, overflowed, moved, waits, service level, agents."""
    from esl_controller.audit import parse_moment
    from esl_controller.call_centers import CallCenters
    from projections.queue_report import read_report

    first, last = parse_moment(start), parse_moment(end, end_of_day=True)
    if last < first:
        raise ValidationError(f"the range is reversed: --to {end} is before --from {start}")
    view = CallCenters(app).queue(enterprise, name)
    found = read_report(app, view.id, first, last, service_level)
    directory = app.directory()
    if as_json:
        emit_json({"queue": view.name, **found.as_dict()})
        return
    click.echo(f"queue {view.name}: calls that entered from {first:%Y-%m-%d %H:%M:%S} to "
               f"{last:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"offered {found.offered}: {found.answered} answered, {found.abandoned} "
               f"abandoned, {found.overflowed} overflowed, {found.moved} moved, "
               f"{found.waiting} still in the queue; {found.bounced} offers rang out")
    click.echo(f"wait until answered: average {_seconds(found.average_wait)}, p90 "
               f"{_seconds(found.p90_wait)}")
    click.echo(f"wait until abandoned: average {_seconds(found.average_abandon_wait)}, p90 "
               f"{_seconds(found.p90_abandon_wait)}")
    level = "-" if found.service_level is None else f"{found.service_level} %"
    click.echo(f"service level: {found.answered_in_time} of {found.offered} answered within "
               f"{service_level} s ({level})")
    if found.agents:
        rows = []
        for a in found.agents:
            user = directory.user(view.enterprise_id, a.agent)
            rows.append((a.agent, user.name if user else "-", a.answered,
                         _seconds(a.average_talk)))
        table(rows, ["agent", "name", "answered", "average talk"])


COMMANDS: list[click.Command] = []  # the commands join the `queue` group, registered already
