"""``pbx projections``: run the read-model worker; rebuild a read model from the log."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import Any

import click
import gevent

from commands.main import Context
from commands.output import emit_json
from commands.serve import _address, read_password
from esl_controller import audit as log_audit
from esl_controller.application import Pbx
from esl_controller.worker import ProjectionWorker
from projections import bulk
from projections.blf import BlfProjection
from projections.call_log import CallLogProjection
from projections.directory import Directory
from projections.queue_report import QueueReportProjection
from projections.recording_index import RecordingIndexProjection
from projections.tracking import Follower, SqlProjection

NAMES: dict[str, type[SqlProjection[Any]]] = {
    "call_log": CallLogProjection, "blf": BlfProjection}
NAMES["recording_index"] = RecordingIndexProjection  # REC-3
NAMES["queue_report"] = QueueReportProjection  # call-center reports (CC-5)


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


def rebuild_all(app: Pbx, jobs: int) -> list[log_audit.RebuildResult]:
    """Every read model rebuilt from zero and compared with the live one, by name.

    The SQL read models with a bulk fold share ONE pass over the log in this process
    (:func:`rebuild_together`); the others are rebuilt event by event, in their own processes
    meanwhile when ``jobs`` > 1; then the in-memory folds (the directory)."""
    names = sorted(NAMES)
    together = [n for n in names if bulk.fold_for(NAMES[n]()) is not None]
    alone = [n for n in names if n not in together]
    results: dict[str, log_audit.RebuildResult] = {}

    def shared() -> None:
        results.update((r.name, r) for r in rebuild_together(app, together))

    if jobs > 1 and alone:
        for result in log_audit.rebuild_in_processes(app.db_url, alone, jobs - 1, shared):
            results[result.name] = result
    else:
        shared()
        for each in alone:
            results[each] = log_audit.rebuild(app, each, NAMES[each])
    for each in sorted(FOLDS):
        results[each] = log_audit.rebuild(app, each, FOLDS[each])
    return [results[n] for n in sorted(results)]


def rebuild_together(app: Pbx, names: list[str]) -> list[log_audit.RebuildResult]:
    """The SQL read models ``names`` (all with a bulk fold) brought up to date, then rebuilt
    from zero in one shared pass over the log (:func:`projections.bulk.rebuild`) and compared
    with what they were, row for row (``SqlProjection.state``). Each result carries the
    whole pass's time."""
    followers = [Follower(app, NAMES[n]()) for n in names]
    try:
        live: list[float] = []
        before = []
        for follower in followers:
            began = time.perf_counter()
            follower.catch_up()
            live.append(time.perf_counter() - began)
            before.append(follower.state())
        began, cpu = time.perf_counter(), time.process_time()
        folded = bulk.rebuild(app, followers)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        if folded is None:
            raise ValueError(f"no bulk fold for one of {', '.join(names)}")
        events = app.last_position()
        results = []
        for follower, was, live_seconds in zip(followers, before, live, strict=True):
            after = follower.state()
            name = follower.projection.name
            results.append(log_audit.RebuildResult(
                name, events, folded[name], seconds, live_seconds, was == after,
                log_audit._size(after), cpu))
        return results
    finally:
        for follower in followers:
            follower.engine.dispose()


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
    jobs = jobs or os.cpu_count() or 1
    if name == "all":
        found = rebuild_all(obj.app, jobs)
    elif name in NAMES and bulk.fold_for(NAMES[name]()) is not None:
        found = rebuild_together(obj.app, [name])
    else:
        found = [log_audit.rebuild(obj.app, name, registry[name])]
    if as_json:
        emit_json([dataclasses.asdict(r) for r in found])
    else:
        for result in found:
            click.echo(result.line(), err=not result.equal)
    if any(not r.equal for r in found):
        raise click.exceptions.Exit(1)


COMMANDS = [projections]
