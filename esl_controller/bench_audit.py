"""``make bench``, the audit part: a store of a million events, then read, seal, verify, rebuild.

The store is built the way the controller fills it, only faster: a real enterprise with 200
users and a hunt group through the application, then calls whose events are made by the
``Call`` aggregate itself (answered, no answer, busy, forwarded) as templates, copied with
fresh call ids, callers, callees and times, and appended through the store's own bulk path
(``recorder.insert_events``: one ``INSERT ... RETURNING`` per batch). Every few hundred
calls a user changes DND or forwarding, as people do. About 95 % of the events are call
events.

Then it prints the store's raw read speed, the time to seal the chain, to verify it, and to
rebuild every projection (``pbx projections rebuild all``: the read models with a bulk fold
in one shared pass over the log, the others event by event, each compared with its live
view), against the budgets of issue 6: verify within 15 s, every projection rebuilt within
30 s.

Run alone: ``python -m esl_controller.bench_audit [--events N] [--db URL]``.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from esl_controller import audit
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.domain.users import User

USERS = 200  # extensions 200-399
CALL_UUID = "c0ffee00-0000-4000-8000-000000000000"
CALLER, CALLEE, FORWARD = "@@CALLER@@", "@@CALLEE@@", "@@FORWARD@@"
_STAMP = re.compile(rb'"_data_":"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00"')
BATCH = 20000


@dataclass(frozen=True)
class Template:
    """One call's events with markers where each copy differs."""

    kind: str
    events: list[tuple[str, list[bytes]]]  # (topic, state split at the time stamps)


def _stored(app: Pbx, aggregate: Any) -> list[StoredEvent]:
    return [app.mapper.to_stored_event(e) for e in aggregate.collect_events()]


def _template(app: Pbx, kind: str, enterprise_id: uuid.UUID) -> Template:
    at = datetime(2001, 1, 1, tzinfo=UTC)
    call = Call(CALL_UUID, enterprise_id, CALLER, CALLER, CALLEE, "internal",
                f"sofia/internal/{CALLER}@bench.example", at)
    steps = [
        {"service": "origin", "rule": "internal user", "detail": f"caller is {CALLER}"},
        {"service": "destination", "rule": "extension",
         "detail": f"{CALLEE} is the extension of User {CALLEE}"},
    ]
    ring = {"service": "alerting", "rule": "ring all devices",
            "detail": f"ringing {CALLEE} on all registered devices for 20 s"}
    if kind == "forwarded":
        steps.append({"service": "forward always", "rule": "on",
                      "detail": f"{CALLEE} forwards every call to {FORWARD}"})
    call.route("internal", CALLEE, [*steps, ring])
    if hasattr(call, "note_configuration"):  # what the decision read (issue 6, explain)
        call.note_configuration(1, [{"kind": "user", "label": f"user {CALLEE}", "version": 1}],
                                {"caller_number": CALLER, "destination": CALLEE,
                                 "origin": "internal", "domain": "bench.example"})
    if kind == "busy":
        call.continue_route([{"service": "alerting", "rule": "busy",
                              "detail": f"{CALLEE} is busy"}])
        call.end("USER_BUSY", "busy", at, 0.4, 0.0)
    else:
        rung = FORWARD if kind == "forwarded" else CALLEE
        call.alert([rung], at)
        if kind == "no-answer":
            call.continue_route([{"service": "alerting", "rule": "no-answer",
                                  "detail": f"{rung} did not answer within 20 s"}])
            call.continue_route([{"service": "voicemail", "rule": "no mailbox",
                                  "detail": f"{rung} has no voicemail box"}])
            call.end("NO_ANSWER", "no-answer", at, 20.1, 0.0)
        else:
            call.answer(rung, at)
            call.bridge(f"sofia/internal/{rung}", at)
            call.continue_route([{"service": "alerting", "rule": "answered",
                                  "detail": f"{rung} answered"}])
            call.end("NORMAL_CLEARING", "answered", at, 95.2, 88.7)
    return Template(kind, [(s.topic, _STAMP.split(s.state)) for s in _stored(app, call)])


def _setup(app: Pbx) -> tuple[uuid.UUID, list[User]]:
    ent = app.create_enterprise("Bench", "bench.example")
    for i in range(USERS):
        app.add_user(None, str(200 + i), f"User {200 + i}")
    from esl_controller.hunt_service import HuntGroups

    HuntGroups(app).add(None, "Sales", "600", "circular", ["201", "202", "203"])
    users: list[User] = [app.repository.get(User.create_id(ent.id, str(200 + i)))
                         for i in range(USERS)]
    return ent.id, users


def _calls(app: Pbx, templates: list[Template], users: list[User], start: datetime,
           total: int) -> Iterator[StoredEvent]:
    """Stored events of calls (and now and then a user's change) until ``total``."""
    rng = random.Random(6)
    weights = [70, 15, 10, 5]  # answered, no answer, busy, forwarded
    extensions = [u.extension for u in users]
    made = 0
    clock = start.timestamp()
    calls = 0
    while made < total:
        calls += 1
        if calls % 400 == 0:  # someone switches DND or forwarding
            user = rng.choice(users)
            if rng.random() < 0.5:
                user.set_dnd(not getattr(user, "dnd", False))
            elif user.forwarding.get("busy"):
                user.disable_forwarding("busy")
            else:
                user.enable_forwarding("busy", rng.choice(extensions), None, None, None)
            for stored in _stored(app, user):
                made += 1
                yield stored
            continue
        template = rng.choices(templates, weights)[0]
        caller, callee, forward = rng.sample(extensions, 3)
        call_id = uuid.uuid4()
        clock += rng.uniform(0.5, 3.0)
        originator = call_id
        fills = (
            (CALL_UUID.encode(), str(call_id).encode()),
            (CALLER.encode(), caller.encode()),
            (CALLEE.encode(), callee.encode()),
            (FORWARD.encode(), forward.encode()),
        )
        for version, (topic, parts) in enumerate(template.events, 1):
            stamp = datetime.fromtimestamp(clock + version * 0.3, UTC).isoformat()
            filler = f'"_data_":"{stamp}"'.encode()
            state = filler.join(parts)
            for marker, value in fills:
                if marker in state:
                    state = state.replace(marker, value)
            made += 1
            yield StoredEvent(originator, version, topic, state)
            if made >= total:
                return


def build_store(db_url: str, events: int, progress: Callable[[str], None] = print) -> Pbx:
    """A store of about ``events`` events (configuration first, then mostly calls)."""
    app = Pbx(db_url)
    if app.last_position() > 0:
        progress(f"using the existing store of {app.last_position():,} events")
        return app
    enterprise_id, users = _setup(app)
    templates = [_template(app, kind, enterprise_id)
                 for kind in ("answered", "no-answer", "busy", "forwarded")]
    start = datetime.now(UTC) - timedelta(days=30)
    remaining = max(0, events - app.last_position())
    batch: list[StoredEvent] = []
    began = time.perf_counter()
    for stored in _calls(app, templates, users, start, remaining):
        batch.append(stored)
        if len(batch) >= BATCH:
            app.recorder.insert_events(batch)
            batch = []
    if batch:
        app.recorder.insert_events(batch)
    progress(f"built a store of {app.last_position():,} events in "
             f"{time.perf_counter() - began:.1f} s")
    return app


def raw_read(app: Pbx) -> tuple[int, float]:
    """Every row of the log through a plain cursor: (rows, seconds)."""
    engine = audit.events_engine(app)
    began = time.perf_counter()
    rows = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT id, originator_id, originator_version, topic, state "
                    "FROM pbx_events ORDER BY id")
        while True:
            chunk = cur.fetchmany(audit.READ_BATCH)
            if not chunk:
                break
            rows += len(chunk)
        cur.close()
    finally:
        raw.close()
    return rows, time.perf_counter() - began


def run(db_url: str, events: int, out: Callable[[str], None] = print) -> dict[str, float]:
    """Build, then measure; returns the figures (seconds, events/s)."""
    import os

    import commands.main  # noqa: F401  (the CLI's registry of read models, loaded in order)
    from commands.projections_cmd import NAMES, rebuild_all
    from projections import bulk
    from projections.tracking import Follower

    app = build_store(db_url, events, out)
    figures: dict[str, float] = {}
    rows, seconds = raw_read(app)
    figures["read_per_s"] = rows / seconds
    out(f"load average at the start: {os.getloadavg()[0]:.1f}")
    out(f"raw read of the store: {rows:,} events in {seconds:.2f} s "
        f"({rows / seconds:,.0f} events/s)")
    engine = audit.events_engine(app)
    audit.CHAIN_METADATA.create_all(engine, checkfirst=True)
    with engine.begin() as conn:  # a store used before: seal it again from the genesis
        conn.exec_driver_sql("DELETE FROM event_chain")
        conn.exec_driver_sql("DELETE FROM event_checkpoints")
    began = time.perf_counter()
    sealed = audit.Sealer(app, batch=50000).seal()
    figures["seal_s"] = time.perf_counter() - began
    out(f"seal (pbx events seal): {sealed:,} events in {figures['seal_s']:.2f} s")
    began, cpu = time.perf_counter(), time.process_time()
    report = audit.verify(app)
    figures["verify_s"] = time.perf_counter() - began
    cpu = time.process_time() - cpu
    state = "intact" if report.intact else f"FAILED: {report.finding}"
    out(f"verify (pbx events verify): {report.events:,} events in {figures['verify_s']:.2f} s "
        f"({cpu:.2f} s of processor time; {state})  budget <= 15 s")
    # The live views: what the worker would have folded as the calls came in, through the
    # projections' own per-event handlers (never the bulk folds they are compared with).
    began = time.perf_counter()
    for name in sorted(NAMES):
        follower = Follower(app, NAMES[name]())
        if follower.position < app.last_position():
            audit.fast_rebuild(app, follower)
        follower.engine.dispose()
    out(f"(live views prepared in {time.perf_counter() - began:.1f} s)")
    jobs = os.cpu_count() or 1
    shared = sorted(n for n in NAMES if bulk.fold_for(NAMES[n]()) is not None)
    began = time.perf_counter()
    results = rebuild_all(app, jobs)
    figures["rebuild_all_s"] = time.perf_counter() - began
    for result in results:
        figures[f"rebuild_{result.name}_s"] = result.seconds
        others = [n for n in shared if n != result.name]
        how = "event by event"
        if result.name in shared:
            how = "bulk, one pass with " + ", ".join(others) if others else "bulk"
        out(f"rebuild {result.name} ({how}): {result.folded:,} events folded in "
            f"{result.seconds:.2f} s ({result.cpu_seconds:.2f} s of processor time) "
            f"({'equal to the live view' if result.equal else 'DIFFERS from the live view'})")
    out(f"rebuild of every projection (pbx projections rebuild all, comparisons with the "
        f"live views included): {figures['rebuild_all_s']:.2f} s  budget <= 30 s")
    out(f"load average while measuring: {os.getloadavg()[0]:.1f} on {jobs} cores (other "
        "processes on the machine share them)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="store URL (default: a fresh temp file)")
    args = parser.parse_args()
    db = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='pbx-bench-audit-'))}/pbx.sqlite"
    print(f"audit bench: {args.events:,} events", flush=True)
    run(db, args.events, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
