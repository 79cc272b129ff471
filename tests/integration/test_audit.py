"""The audit of the event log with the real controller: calls through the simulator over TCP,
the worker sealing the chain as the log grows, tampering with the SQLite file, the
configuration at a moment between two calls, and rebuilds compared with the live views."""

from __future__ import annotations

import sqlite3

from esl_controller import audit, user_services
from esl_controller.bootstrap import Controller
from esl_controller.simulator import Endpoint
from esl_controller.store import sqlite_path, views_url
from projections.directory import Directory
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, settled, switch


def _sealed_to_the_end(controller: Controller) -> bool:
    app = controller.app
    return audit.Sealer(app).head()[0] == app.last_position()


def test_the_worker_seals_calls_and_verify_names_a_tampered_call_event(
        controller: Controller) -> None:
    sim = switch(controller, **{"103": Endpoint("busy")})
    assert sim.place_call(internal("101", "102")).bridged_to == "102"
    assert sim.place_call(internal("102", "103")).hangup_cause == "USER_BUSY"
    wait_until(lambda: _sealed_to_the_end(controller), what="the worker to seal every event")
    app = controller.app
    report = audit.verify(app)
    assert report.intact and report.sealed == app.last_position() and report.unsealed == 0
    ended = [pos for pos, event in app.events_after(0) if type(event).__name__ == "CallEnded"]
    assert len(ended) == 2
    path = sqlite_path(app.db_url)
    assert path is not None
    with sqlite3.connect(path) as conn:  # the first call's end: now "busy" instead
        conn.execute("UPDATE pbx_events SET state = replace(state, 'NORMAL_CLEARING', "
                     "'USER_BUSY') WHERE id = ?", (ended[0],))
    report = audit.verify(app)
    assert report.finding is not None
    assert (report.finding.position, report.finding.kind) == (ended[0], "changed")


def test_state_at_a_moment_between_two_calls_shows_the_forwarding_of_then(
        controller: Controller) -> None:
    sim = switch(controller)
    assert sim.place_call(internal("101", "102")).bridged_to == "102"
    app = controller.app
    before_change = max(event.timestamp for _pos, event in app.events_after(0))
    user_services.forward(app, None, "102", "always", "103")
    caught_up(controller)  # the controller routes on the change
    assert sim.place_call(internal("101", "102")).bridged_to == "103"
    then = audit.directory_at(app, before_change)
    now = audit.directory_at(app, max(event.timestamp for _pos, event in app.events_after(0)))
    ent = app.enterprise("Acme")
    assert then.directory.user(ent.id, "102").forwarding == ()  # type: ignore[union-attr]
    forward = now.directory.user(ent.id, "102").forward("always")  # type: ignore[union-attr]
    assert forward is not None and forward.destination == "103"


def test_every_projection_rebuilds_equal_to_the_live_view_and_a_corrupt_view_is_caught(
        controller: Controller) -> None:
    sim = switch(controller, **{"103": Endpoint("no-answer")})
    assert sim.place_call(internal("101", "102")).bridged_to == "102"
    sim.place_call(internal("102", "103"))
    user_services.set_dnd(controller.app, None, "101", True)
    settled(controller)
    app = controller.app
    for name, factory in (("call_log", type(controller.call_log.projection)),
                          ("blf", type(controller.blf.projection)), ("directory", Directory)):
        result = audit.rebuild(app, name, factory)
        assert result.equal, result
        assert result.events == app.last_position() and result.folded > 0
        assert result.line().startswith(
            f"rebuilt {name} from {app.last_position()} events: equal to the live view")
    # someone deletes a row of the live call log: the rebuild differs, and repairs it
    path = sqlite_path(views_url(app.db_url))
    assert path is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("DELETE FROM call_log_entries WHERE extension = '101'").rowcount
    call_log = type(controller.call_log.projection)
    broken = audit.rebuild(app, "call_log", call_log)
    assert not broken.equal
    assert broken.line() == (f"rebuilt call_log from {app.last_position()} events: DIFFERS "
                             "from the live view")
    assert audit.rebuild(app, "call_log", call_log).equal
