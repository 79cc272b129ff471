"""``pbx projections``: run the read-model worker; rebuild a read model from the log."""

from __future__ import annotations

import dataclasses
import os
import signal
from typing import Any

import click
import gevent

from commands.main import Context
from commands.output import emit_json
from commands.serve import _address, read_password
from esl_controller import audit as log_audit
from esl_controller.worker import ProjectionWorker
from projections.blf import BlfProjection
from projections.call_log import CallLogProjection
from projections.directory import Directory
from projections.recording_index import RecordingIndexProjection
from projections.tracking import SqlProjection

NAMES: dict[str, type[SqlProjection[Any]]] = {
    "call_log": CallLogProjection, "blf": BlfProjection}
NAMES["recording_index"] = RecordingIndexProjection  # REC-3


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


# In-memory folds `pbx projections rebuild` also checks (the SQL read models are in NAMES).
FOLDS: dict[str, type[Directory]] = {"directory": Directory}


@projections.command("rebuild")
@click.argument("name", type=click.Choice(sorted([*NAMES, *FOLDS, "all"])))
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="With 'all': how many read models are rebuilt at once, each in its own "
                   "process (default: one per core).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def rebuild(obj: Context, name: str, jobs: int | None, as_json: bool) -> None:
    """Rebuild a read model (or all) from zero and check it equals the live one; exit
    status 1 when one differs."""
    registry: dict[str, Any] = {**NAMES, **FOLDS}
    chosen = sorted(registry) if name == "all" else [name]
    jobs = jobs or os.cpu_count() or 1
    if name == "all" and jobs > 1:
        sql = [n for n in chosen if n in NAMES]
        results = {r.name: r for r in log_audit.rebuild_in_processes(obj.app.db_url, sql, jobs)}
        for each in chosen:
            if each not in results:
                results[each] = log_audit.rebuild(obj.app, each, registry[each])
        found = [results[n] for n in chosen]
    else:
        found = [log_audit.rebuild(obj.app, each, registry[each]) for each in chosen]
    if as_json:
        emit_json([dataclasses.asdict(r) for r in found])
    else:
        for result in found:
            click.echo(result.line(), err=not result.equal)
    if any(not r.equal for r in found):
        raise click.exceptions.Exit(1)


COMMANDS = [projections]
