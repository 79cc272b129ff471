"""Privacy erasure by crypto-shredding (issue 6 item 5), end to end through the simulator.

A caller from the public network rings Alice and Alice calls a mobile number. The stored
events and read models hold neither number in clear (the bytes of the SQLite files are
searched); the call log and ``pbx calls explain`` show them to staff until the caller is
erased, then ``[erased]``, with no stored event changed and a rebuilt call log equal to the
live one. Call log retention deletes old rows and records how many.
"""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from esl_controller import personal, privacy
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.simulator import CallSpec
from esl_controller.store import sqlite_path, views_url
from projections.call_log import CallLogProjection, read_entries
from projections.tracking import Follower
from tests.conftest import wait_until
from tests.integration.calls import controller, inbound, internal, pbx, settled, switch

__all__ = ["controller", "inbound", "pbx"]

CALLER = "+31612345678"  # Jan, a customer
CALLER_SPELLINGS = ("31612345678", "0612345678", "06 12345678", "6 12345678")
CALLEE_SPELLINGS = ("31687654321", "0687654321", "06 87654321", "6 87654321")


def _bytes_of_store(controller: Controller) -> bytes:
    """Every byte of the events database and the read models' database (with WAL files)."""
    found = b""
    for url in (controller.app.db_url, views_url(controller.app.db_url)):
        path = sqlite_path(url)
        assert path is not None
        for part in (path, Path(f"{path}-wal")):
            if part.exists():
                found += part.read_bytes()
    return found


def explain_call(app: Pbx, call_id: str) -> list[str]:
    """``pbx calls explain`` as text (commands.main first: it registers every command)."""
    importlib.import_module("commands.main")
    from commands.calls import explain_call as explain

    return explain(app, call_id)


def _stored_events(controller: Controller) -> list[tuple[int, str, bytes]]:
    app = controller.app
    return [(n.id, n.topic, bytes(n.state)) for n in app.notifications(0, 100_000)]


def _calls(controller: Controller) -> tuple[str, str]:
    sim = switch(controller)
    incoming = sim.place_call(CallSpec(CALLER, "+31201234567", call_uuid=str(uuid.uuid4())))
    outgoing = sim.place_call(internal("101", "06 87654321"))
    for call in (incoming, outgoing):
        wait_until(lambda c=call: controller.app.call(c.call_uuid).ended,  # type: ignore[misc]
                   what="the call to end")
    settled(controller)
    return incoming.call_uuid, outgoing.call_uuid


def test_outside_numbers_are_sealed_then_erased_without_changing_any_event(
    controller: Controller,
) -> None:
    app = controller.app
    incoming, outgoing = _calls(controller)
    ent = app.enterprise("Acme")

    # sealed: no spelling of either outside number anywhere in the files
    raw = _bytes_of_store(controller)
    assert b"Alice Jansen" in raw  # the search does find clear text
    clear = [s for s in CALLER_SPELLINGS + CALLEE_SPELLINGS if s.encode() in raw]
    assert clear == []
    assert raw.count(b"pd:v1:") >= 4

    # staff still see them while the people are not erased
    log = {(e.kind, e.other_number) for e in read_entries(app, ent.id, "101")}
    assert log == {("received", CALLER), ("placed", "06 87654321")}
    story = "\n".join(explain_call(app, incoming))
    assert f"{CALLER} dialled +31201234567" in story
    assert f"call from {CALLER}" in story

    before = _stored_events(controller)
    done = privacy.erase_person(app, "06-1234 5678", "Acme")
    after = _stored_events(controller)

    # no stored event changed: the old ones are byte for byte the same, one event appended
    assert after[: len(before)] == before
    [(_, topic, state)] = after[len(before):]
    assert topic.endswith("PersonErasure.PersonErased")
    assert done.person_hash.encode() in state
    assert b"612345678" not in state

    # the call log and the explanation show [erased] for the caller; the callee stays
    log = {(e.kind, e.other_number) for e in read_entries(app, ent.id, "101")}
    assert log == {("received", personal.ERASED), ("placed", "06 87654321")}
    story = "\n".join(explain_call(app, incoming))
    assert f"{personal.ERASED} dialled +31201234567" in story
    assert "612345678" not in story
    assert "06 87654321" in "\n".join(explain_call(app, outgoing))
    assert app.call(incoming).caller == personal.ERASED

    # a rebuild of the call log from zero gives the same (erased) view
    follower = Follower(app, CallLogProjection())
    try:
        follower.catch_up()
        live = follower.state()
        follower.rebuild()
        assert follower.state() == live
    finally:
        follower.close()
    log = {(e.kind, e.other_number) for e in read_entries(app, ent.id, "101")}
    assert ("received", personal.ERASED) in log


def test_call_log_retention_purges_old_rows_and_records_it(controller: Controller) -> None:
    app = controller.app
    _calls(controller)
    ent = app.enterprise("Acme")
    assert len(read_entries(app, ent.id)) == 2
    kept = privacy.purge_call_log(app, 30)
    assert kept.rows == 0 and len(read_entries(app, ent.id)) == 2
    later = datetime.now(UTC) + timedelta(days=31)
    purged = privacy.purge_call_log(app, 30, now=later)
    assert purged.rows == 2
    assert read_entries(app, ent.id) == []
    last = list(app.events_after(app.last_position() - 1))[0][1]
    assert type(last).__name__ == "CallLogPurged"
    assert last.rows == 2 and last.before == purged.before  # type: ignore[attr-defined]
    # the calls themselves stay in the log; a rebuild purges the same rows again
    follower = Follower(app, CallLogProjection())
    try:
        follower.rebuild()
    finally:
        follower.close()
    assert read_entries(app, ent.id) == []
