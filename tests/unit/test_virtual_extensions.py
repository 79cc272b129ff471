"""Virtual on-net extensions (USR-22): an outside number dialled as an extension, under the
caller's own calling plan and identity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller import user_services, virtual_extensions
from esl_controller.application import Pbx
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing.actions import Action, GatewayNumber, Hangup, Ring, UserDevices
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import Done, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    return pbx


def call(app: Pbx, caller: str, dialled: str, answer: bool = True) -> tuple[list[Action], str]:
    directory = Directory()
    app.catch_up(directory)
    trace = Trace()
    ctx = CallContext(str(uuid4()), f"sofia/internal/{caller}", caller, caller, dialled,
                      Origin.INTERNAL, "acme.example", caller)
    script = route_call(ctx, directory, RoutingSettings(gateway="trunk"), trace, NOW)
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            actions.append(action)
            if isinstance(action, Ring):
                outcome = (Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "x") if answer
                           else Rang.failed_with(HangupCause.NO_ANSWER))
                action = script.send(outcome)
            else:
                action = script.send(Done())
    except StopIteration:
        pass
    return actions, " | ".join(s.detail for s in trace.steps)


def test_dialling_the_extension_calls_the_number_presenting_the_callers_number(app: Pbx) -> None:
    virtual_extensions.add(app, None, "150", "030 234 5678", "Accountant")
    actions, story = call(app, "101", "150")
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (GatewayNumber("trunk", "+31302345678"),)
    assert ring.caller_id_number == "+31201234567"  # Alice's business number, not 101
    assert "150 is virtual extension Accountant for 030 234 5678" in story


def test_forwarding_to_a_virtual_extension_goes_out_to_its_number(app: Pbx) -> None:
    virtual_extensions.add(app, None, "150", "030 234 5678", "Accountant")
    user_services.forward(app, None, "102", "always", "150")
    actions, _ = call(app, "101", "102")
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (GatewayNumber("trunk", "+31302345678"),)
    assert ring.targets != (UserDevices("102", "acme.example"),)


def test_bad_input_is_refused_and_nothing_is_written(app: Pbx) -> None:
    before = app.last_position()
    for ext, number, why in (("151", "0900 1234567", "premium number"),
                             ("152", "112", "not a valid telephone number"),
                             ("101", "0612345678", "already exists"),
                             ("153", "020 1234567", "belongs to 101"),
                             ("99999", "0612345678", "outside the plan"),
                             ("154", "12ab", "not a telephone number")):
        with pytest.raises(ValidationError, match=why):
            virtual_extensions.add(app, None, ext, number, "X")
    with pytest.raises(NotFoundError):
        virtual_extensions.remove(app, None, "150")
    assert app.last_position() == before


def test_a_removed_virtual_extension_no_longer_dials_out(app: Pbx) -> None:
    virtual_extensions.add(app, None, "150", "030 234 5678", "Accountant")
    virtual_extensions.remove(app, None, "150")
    actions, story = call(app, "101", "150")
    assert not any(isinstance(a, Ring) for a in actions)
    assert actions[-1] == Hangup(HangupCause.UNALLOCATED_NUMBER)
    assert virtual_extensions.list_(app, None) == []
