"""Receptionist console (RCP-1): licences and their limits, the console's line states and
who calls whom (from real call events folded by the busy lamp projection), and the actions'
checks and the exact commands they send (to a recording stand-in for the event socket)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller import receptionist, user_services
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.errors import NotFoundError, ValidationError
from projections.blf import BlfProjection
from projections.tracking import Follower

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EXTENSIONS = [str(e) for e in range(201, 241)]  # 40 users


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Pbx]:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "100", "Rita")
    for ext in (*EXTENSIONS, *(str(e) for e in range(101, 107))):
        pbx.add_user(None, ext, f"User {ext}")
    pbx.add_user(None, "150", "Priv")
    yield pbx
    pbx.close()


def call_between(app: Pbx, caller: str, callee: str, answered: bool) -> Call:
    call = Call(call_uuid=str(uuid4()), enterprise_id=app.enterprise(None).id, caller=caller,
                caller_user=caller, destination=callee, direction="inbound",
                channel=f"sofia/internal/{caller}@acme.example", at=T0)
    call.route("internal", callee, [])
    call.alert([callee], T0)
    if answered:
        call.answer(callee, T0)
    app.save(call)
    Follower(app, BlfProjection()).catch_up()  # what the serving controller's worker does
    return call


def test_licences_limit_the_monitored_users(app: Pbx) -> None:
    receptionist.add_receptionist(app, None, "100", "entry")
    receptionist.set_monitored(app, None, "100", EXTENSIONS[:8])
    before = app.last_position()
    with pytest.raises(ValidationError, match="entry licence of 100 monitors at most 8 users, "
                                              "not 9"):
        receptionist.set_monitored(app, None, "100", EXTENSIONS[:9])
    assert app.last_position() == before  # nothing changed
    receptionist.add_receptionist(app, None, "100", "standard")
    assert len(receptionist.set_monitored(app, None, "100", EXTENSIONS[:30]).monitored) == 30
    with pytest.raises(ValidationError, match="at most 30 users, not 31"):
        receptionist.set_monitored(app, None, "100", EXTENSIONS[:31])
    with pytest.raises(ValidationError, match="monitor fewer first"):
        receptionist.add_receptionist(app, None, "100", "entry")  # 30 monitored > 8
    assert not receptionist.may_handle_queues(app, None, "100")
    premium = receptionist.add_receptionist(app, None, "100", "premium")
    assert premium.queue_handling and premium.limit is None
    assert receptionist.may_handle_queues(app, None, "100")
    assert not receptionist.may_handle_queues(app, None, "201")  # no receptionist at all
    assert len(receptionist.set_monitored(app, None, "100", EXTENSIONS).monitored) == 40


def test_bad_monitor_lists_are_refused(app: Pbx) -> None:
    with pytest.raises(NotFoundError, match="no receptionist"):
        receptionist.set_monitored(app, None, "100", ["101"])
    with pytest.raises(ValidationError, match="unknown licence"):
        receptionist.add_receptionist(app, None, "100", "gold")
    receptionist.add_receptionist(app, None, "100", "entry")
    for users, why in ((["999"], "no user"), (["100"], "does not monitor itself"),
                       (["101", "101"], "twice"), ([""], "give the users")):
        with pytest.raises(ValidationError, match=why):
            receptionist.set_monitored(app, None, "100", users)


def test_the_console_shows_line_states_and_who_calls_whom(app: Pbx) -> None:
    receptionist.add_receptionist(app, None, "100", "entry")
    receptionist.set_monitored(app, None, "100", ["101", "102", "103", "104", "150"])
    user_services.set_dnd(app, None, "104", True)
    user_services.set_privacy(app, None, "150", True)
    talking = call_between(app, "101", "102", answered=True)
    ringing = call_between(app, "105", "103", answered=False)
    view = receptionist.console(app, None, "100")
    states = {line.extension: line.state for line in view.lines}
    assert states == {"101": "busy", "102": "busy", "103": "ringing", "104": "dnd",
                      "150": "private"}
    by_ext = {line.extension: line for line in view.lines}
    [call] = by_ext["102"].calls
    assert (call.call_id, call.caller, call.callee, call.answered_by) == (
        str(talking.id), "User 101 (101)", "User 102 (102)", "102")
    [rings] = by_ext["103"].calls
    assert (rings.state, rings.caller, rings.answered_by) == ("ringing", "User 105 (105)", None)
    assert by_ext["150"].calls == ()  # privacy (USR-19): nothing shown
    assert str(ringing.id) == rings.call_id


def test_actions_check_the_call_before_sending_and_record_what_was_sent(app: Pbx) -> None:
    receptionist.add_receptionist(app, None, "100", "entry")
    receptionist.set_monitored(app, None, "100", ["102", "103"])
    sent: list[str] = []

    def api(command: str) -> str:
        sent.append(command)
        return "+OK\n"

    talking = str(call_between(app, "101", "102", answered=True).id)
    ringing = str(call_between(app, "104", "103", answered=False).id)
    stranger = str(call_between(app, "105", "106", answered=True).id)
    now = datetime.now(UTC)
    for action, call_id, to, why in (
        ("transfer", stranger, "103", "none of the users 100 monitors"),
        ("transfer", ringing, "101", "still ringing"),
        ("pickup", talking, None, "only a ringing call"),
        ("park", talking, "103", "no park slot"),
        ("transfer", talking, "99x", "no telephone number"),
        ("transfer", talking, "102", "with 102 already"),
        ("transfer", "not-a-call", "101", "no call id"),
        ("dance", talking, "101", "unknown action"),
    ):
        with pytest.raises(ValidationError, match=why):
            receptionist.act(app, None, "100", action, call_id, to, api, now)
    assert sent == []
    done = receptionist.act(app, None, "100", "transfer", talking, "0612345678", api, now)
    assert sent == [f"uuid_transfer {talking} +31612345678 XML default"]
    assert (done.on_behalf_of, done.destination) == ("102", "+31612345678")
    receptionist.act(app, None, "100", "pickup", ringing, None, api, now)
    assert sent[-1] == (
        "originate {origination_caller_id_number=104,origination_caller_id_name='User 104',"
        "intercept_unanswered_only=true,originate_timeout=30}user/100@acme.example "
        f"&intercept({ringing})")
    assert [(a["action"], a["on_behalf_of"]) for a in
            receptionist.actions_taken(app, None, "100")] == [("transfer", "102"),
                                                             ("pickup", "103")]
    # FreeSWITCH refusing the command: an error, and no action recorded.
    with pytest.raises(ValidationError, match="refused the pickup"):
        receptionist.act(app, None, "100", "pickup", ringing, None,
                         lambda c: "-ERR NO_ANSWER\n", now)
    assert len(receptionist.actions_taken(app, None, "100")) == 2
