"""``pbx projections``: run the read-model worker; rebuild a read model from the log."""

from __future__ import annotations

import signal

import click
import gevent

from commands.main import Context
from commands.serve import _address, read_password
from esl_controller.worker import ProjectionWorker
from projections.blf import BlfProjection
from projections.call_log import CallLogProjection
from projections.tracking import Follower

NAMES = {"call_log": CallLogProjection, "blf": BlfProjection}


@click.group("projections")
def projections() -> None:
    """Read models folded from the event log."""


@projections.command("run")
@click.option("--esl", default=None, help="FreeSWITCH's inbound ESL HOST:PORT for BLF presence.")
@click.option("--esl-password-file", default=None, help="File holding the inbound ESL password.")
@click.option("--poll", default=0.05, show_default=True, type=click.FloatRange(0.001, 10),
              help="Seconds between looks at the log when idle.")
@click.pass_obj
def run(obj: Context, esl: str | None, esl_password_file: str | None, poll: float) -> None:
    """Follow the log (``pbx serve`` starts this as its worker process)."""
    password = read_password(esl_password_file)
    if esl is not None and password is None:
        raise click.UsageError("--esl needs --esl-password-file or PBX_ESL_PASSWORD")
    if password == "ClueCon":
        raise click.UsageError("refusing FreeSWITCH's default ESL password 'ClueCon'")
    worker = ProjectionWorker(obj.app.db_url, _address(esl, 8021, "--esl"), password, poll)
    worker.start()
    stopping = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    gevent.signal_handler(signal.SIGINT, stopping.set)
    stopping.wait()
    worker.stop()


@projections.command("rebuild")
@click.argument("name", type=click.Choice(sorted(NAMES)))
@click.pass_obj
def rebuild(obj: Context, name: str) -> None:
    """Rebuild a read model from zero and check it equals the live one."""
    live = Follower(obj.app, NAMES[name]())
    live.catch_up()
    before = live.state()
    live.rebuild()
    after = live.state()
    rows = sum(len(v) for v in after.values()) if isinstance(after, dict) else len(after)
    if before != after:
        raise click.ClickException(f"{name}: the rebuilt read model differs from the live one")
    click.echo(f"{name} rebuilt from {obj.app.last_position()} events: {rows} rows, "
               "identical to the live read model")


COMMANDS = [projections]
