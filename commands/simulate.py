"""``pbx simulate call``: one call through the real controller against the simulator."""

from __future__ import annotations

import logging
import time
import uuid

import click
import gevent

from commands.calls import explain_call
from commands.common import enterprise_option, json_option
from commands.main import Context
from commands.output import emit_json
from commands.serve import _address
from esl_controller.application import Pbx
from esl_controller.errors import NotFoundError
from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch

BEHAVIOURS = ("answer", "busy", "no-answer", "unregistered", "reject")


def parse_endpoint(text: str) -> tuple[str, str]:
    key, sep, behaviour = text.partition("=")
    if not sep or not key or behaviour not in BEHAVIOURS:
        raise click.BadParameter(
            f"{text!r}: use EXT=answer|busy|no-answer|unregistered|reject",
            param_hint="--endpoint",
        )
    return key, behaviour


@click.group("simulate")
def simulate() -> None:
    """Drive the controller with the built-in FreeSWITCH simulator."""


@simulate.command("call")
@click.option("--from", "caller", required=True, help="Calling extension, or an outside number.")
@click.option("--to", "destination", required=True, help="Dialled extension or number.")
@click.option("--endpoint", "endpoints", multiple=True,
              help="How a rung phone behaves: EXT=answer|busy|no-answer|unregistered|reject "
                   "(default: users answer; others count as not registered).")
@click.option("--hangup-after", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The caller hangs up after this many (simulated) seconds.")
@click.option("--talk", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Seconds of conversation once answered (simulated).")
@click.option("--time-scale", type=click.FloatRange(0.001, 1.0), default=0.05, show_default=True,
              help="Simulated seconds run this much faster (0.05 = 20x).")
@click.option("--gateway", default="trunk", show_default=True)
@click.option("--controller", default=None,
              help="Call a controller that is already running (e.g. `make run`) at HOST:PORT "
                   "instead of starting one in this process.")
@click.option("--dtmf", default="", metavar="KEYS",
              help="Keys the caller presses, one a (simulated) second from the first second.")
@click.option("--dtmf-talking", default="", metavar="KEYS",
              help="Keys the caller presses during the conversation, one a (simulated) "
                   "second from a second after the answer (in-call codes: recording *1..*4).")
@click.option("--callee-dtmf-talking", default="", metavar="KEYS",
              help="Keys the ANSWERING party presses during the conversation, one a "
                   "(simulated) second from a second after the answer (their recording codes).")
@click.option("--fax-pages", type=click.IntRange(0, 100), default=0,
              help="The caller is a fax machine sending this many pages (fax lines).")
@enterprise_option
@json_option
@click.pass_obj
def call(
    obj: Context, caller: str, destination: str, endpoints: tuple[str, ...],
    hangup_after: float | None, talk: float, time_scale: float, gateway: str,
    controller: str | None, enterprise: str | None, as_json: bool, dtmf: str = "",
    fax_pages: int = 0, dtmf_talking: str = "", callee_dtmf_talking: str = "",
) -> None:
    """Place one call and print the route it took."""
    if dtmf.strip("0123456789*#"):
        raise click.BadParameter(f"{dtmf!r}: only 0-9, * and #", param_hint="--dtmf")
    if dtmf_talking.strip("0123456789*#"):
        raise click.BadParameter(f"{dtmf_talking!r}: only 0-9, * and #",
                                 param_hint="--dtmf-talking")
    if callee_dtmf_talking.strip("0123456789*#"):
        raise click.BadParameter(f"{callee_dtmf_talking!r}: only 0-9, * and #",
                                 param_hint="--callee-dtmf-talking")
    behaviour = dict(parse_endpoint(e) for e in endpoints)
    app = obj.app
    ent = app.enterprise(enterprise)
    directory = app.directory()
    internal = (directory.user(ent.id, caller) is not None
                or directory.hotdesk(ent.id, caller) is not None  # a hot-desk phone (USR-8)
                or directory.device_owner(ent.id, caller) is not None)  # shared device (USR-21)
    table = {
        u.extension: Endpoint(behaviour.pop(u.extension, "answer"), 1.0, talk)
        for u in directory.users_of(ent.id)
    }
    table.update({  # shared call appearances (USR-21) are registered phones too
        d.username(u.extension): Endpoint(behaviour.pop(d.username(u.extension), "answer"), 1.0,
                                          talk)
        for u in directory.users_of(ent.id) for d in u.devices
    })
    table.update({key: Endpoint(b, 1.0, talk) for key, b in behaviour.items()})
    spec = CallSpec(
        caller=caller,
        destination=destination,
        auth_user=caller if internal else None,
        domain=ent.domain if internal else None,
        hangup_after=hangup_after,
        call_uuid=str(uuid.uuid4()),
        dtmf=[(1.0 + i, key) for i, key in enumerate(dtmf)],
        fax_pages=fax_pages,  # fax to e-mail (OPT-3)
        dtmf_while_talking=[(1.0 + i, key) for i, key in enumerate(dtmf_talking)],  # REC-1
        called_dtmf_while_talking=[(1.0 + i, key)  # REC-1: the answering party's codes
                                   for i, key in enumerate(callee_dtmf_talking)],
    )
    logging.getLogger().setLevel(logging.ERROR)
    if controller is not None:
        host, port = _address(controller, 8084, "--controller") or ("127.0.0.1", 8084)
        result = FakeSwitch(host, port, endpoints=table, time_scale=time_scale).place_call(
            spec, timeout=120
        )
        if result.error:
            raise click.ClickException(f"the controller at {host}:{port}: {result.error}")
        _wait_recorded(app, result.call_uuid)
    else:
        from esl_controller.bootstrap import Controller, ServeConfig

        running = Controller(
            ServeConfig(db_url=obj.db, listen=("127.0.0.1", 0), http=None, gateway=gateway)
        ).start()
        try:
            host, port = running.esl_address
            switch = FakeSwitch(host, port, endpoints=table, time_scale=time_scale)
            result = switch.place_call(spec, timeout=120)
        finally:
            running.stop()
    lines = explain_call(app, result.call_uuid)
    if as_json:
        emit_json(
            {
                "call_id": result.call_uuid,
                "apps": [list(a) for a in result.apps],
                "bridged_to": result.bridged_to,
                "hangup_cause": result.hangup_cause,
                "explanation": lines,
            }
        )
        return
    for app_name, arg in result.apps:
        click.echo(f"switch ran: {app_name} {arg or ''}".rstrip())
    click.echo(f"switch result: hangup {result.hangup_cause}"
               + (f", connected to {result.bridged_to}" if result.bridged_to else ""))
    click.echo("")
    for line in lines:
        click.echo(line)


def _wait_recorded(app: Pbx, call_id: str, timeout: float = 10.0) -> None:
    """The running controller records the end of the call just after the switch's side."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if app.call(call_id).ended:
                return
        except NotFoundError:
            pass
        gevent.sleep(0.05)
    raise click.ClickException(f"call {call_id} was not recorded within {timeout:.0f} s")


COMMANDS = [simulate]
