"""Routing: drive pure scripts by feeding outcomes, and check what the caller would notice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.domain.users import User
from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    PreAnswer,
    Ring,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.chain import SERVICE_ORDER, SERVICES
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory

GATEWAY = RoutingSettings(gateway="kpn-trunk")
NO_GATEWAY = RoutingSettings()
MAX_STEPS = 50


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Directory:
    """Acme (101 Alice with 020 1234567, 102 Bob, 103 Carol) and Globex (2001 Hank)."""
    path: Path = tmp_path_factory.mktemp("routing") / "pbx.sqlite"
    app = Pbx(f"sqlite:///{path}")
    app.create_enterprise("Acme", "acme.example")
    app.assign_number("Acme", "020 5550000")
    app.add_user("Acme", "101", "Alice", number="020 1234567", password="alice-secret")
    app.add_user("Acme", "102", "Bob", no_answer_seconds=25)
    app.add_user("Acme", "103", "Carol", number="06 12345678")
    app.add_user("Acme", "104", "Dave")
    app.remove_user("Acme", "104")
    app.create_enterprise("Globex", "globex.example", extensions="2000-2999")
    app.add_user("Globex", "2001", "Hank", number="010 7654321")
    # A directory folded from the log alone: routing needs nothing else.
    folded = Directory()
    for _, event in app.events_after(0):
        folded.apply(event)
    return folded


def from_user(ext: str, dialled: str, domain: str = "acme.example") -> CallContext:
    return CallContext(
        call_id=str(uuid.uuid4()),
        channel=f"sofia/internal/{ext}@{domain}",
        caller_number=ext,
        caller_name=f"phone {ext}",
        destination=dialled,
        origin=Origin.INTERNAL,
        domain=domain,
        auth_user=ext,
    )


def from_network(caller: str, dialled: str, name: str = "") -> CallContext:
    return CallContext(
        call_id=str(uuid.uuid4()),
        channel=f"sofia/external/{caller}",
        caller_number=caller,
        caller_name=name,
        destination=dialled,
        origin=Origin.EXTERNAL,
    )


Responder = Callable[[Action], Outcome]


def answering(by: str) -> Responder:
    return lambda a: (
        Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, by)
        if isinstance(a, Ring)
        else Done()
    )


def failing(cause: HangupCause) -> Responder:
    return lambda a: Rang.failed_with(cause) if isinstance(a, Ring) else Done()


def drive(script: Script, respond: Responder) -> list[Action]:
    """Run a script to its end, answering each action; returns every action it took on the
    call. Commands to stateful services get "no" (no mailbox here) and are not listed."""
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            if isinstance(action, Command):
                action = script.send(CommandResult(False, ""))
                continue
            actions.append(action)
            assert len(actions) <= MAX_STEPS, "the script never ends"
            action = script.send(respond(action))
    except StopIteration:
        pass
    return actions


def first_action(ctx: CallContext, directory: Directory, setting: RoutingSettings) -> Action:
    return next(route_call(ctx, directory, setting, Trace()))


def assert_plain_trace(trace: Trace) -> None:
    assert trace.steps, "every call leaves a trace"
    for step in trace.steps:
        for field in (step.service, step.rule, step.detail):
            assert isinstance(field, str) and field.strip()
        assert set(step.as_dict()) == {"service", "rule", "detail"}


def refused(cause: HangupCause, media: str = announcements.UNALLOCATED) -> list[Action]:
    return [PreAnswer(), Playback(media), Hangup(cause)]


# -- internal calls ----------------------------------------------------------------------


def test_internal_call_rings_the_callees_devices_presenting_the_extension(
    directory: Directory,
) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("101", "102"), directory, GATEWAY, trace), answering("102")
    )
    assert actions == [
        Ring(
            targets=(UserDevices("102", "acme.example"),),
            timeout=25,
            caller_id_number="101",
            caller_id_name="Alice",
            answered_as="102",
        )
    ]
    assert actions[0].targets[0].dial_string() == "user/102@acme.example"
    assert_plain_trace(trace)
    assert trace.steps[-1].rule == "answered"
    assert "102" in trace.steps[-1].detail
    cls = trace.classification
    acme = directory.enterprise_named("Acme")
    assert acme is not None
    assert (cls.kind, cls.caller_user, cls.target_user) == ("internal", "101", "102")
    assert cls.enterprise_id == str(acme.id)


def test_the_default_no_answer_time_is_used_when_none_was_set(directory: Directory) -> None:
    ring = first_action(from_user("102", "101"), directory, GATEWAY)
    assert isinstance(ring, Ring) and ring.timeout == 20
    assert ring.caller_id_number == "102"


@pytest.mark.parametrize(
    ("cause", "end", "words"),
    [
        (HangupCause.USER_BUSY, HangupCause.USER_BUSY, "busy"),
        (HangupCause.NO_ANSWER, HangupCause.NO_ANSWER, "did not answer within 25 s"),
        (HangupCause.NO_USER_RESPONSE, HangupCause.NO_ANSWER, "did not answer"),
        (HangupCause.ALLOTTED_TIMEOUT, HangupCause.NO_ANSWER, "did not answer"),
        (HangupCause.USER_NOT_REGISTERED, HangupCause.USER_NOT_REGISTERED, "no registered"),
        (HangupCause.SUBSCRIBER_ABSENT, HangupCause.USER_NOT_REGISTERED, "no registered"),
        (HangupCause.CALL_REJECTED, HangupCause.CALL_REJECTED, "rejected"),
        (
            HangupCause.DESTINATION_OUT_OF_ORDER,
            HangupCause.DESTINATION_OUT_OF_ORDER,
            "failed",
        ),
    ],
)
def test_an_unanswered_internal_call_ends_with_the_cause_the_caller_hears(
    directory: Directory, cause: HangupCause, end: HangupCause, words: str
) -> None:
    trace = Trace()
    actions = drive(route_call(from_user("101", "102"), directory, GATEWAY, trace), failing(cause))
    assert len(actions) == 2
    assert isinstance(actions[0], Ring)
    assert actions[1] == Hangup(end)
    assert_plain_trace(trace)
    assert any(words in step.detail for step in trace.steps)
    assert end.value in trace.steps[-1].detail


def test_dialling_a_colleagues_public_number_is_an_internal_call(directory: Directory) -> None:
    trace = Trace()
    ring = next(route_call(from_user("102", "020-1234567"), directory, GATEWAY, trace))
    assert ring == Ring((UserDevices("101", "acme.example"),), 20, "102", "Bob", answered_as="101")
    assert trace.classification.kind == "internal"
    assert trace.classification.target_user == "101"


def test_a_user_of_another_enterprise_on_the_exchange_sees_the_public_number(
    directory: Directory,
) -> None:
    trace = Trace()
    ring = next(route_call(from_user("101", "010 7654321"), directory, GATEWAY, trace))
    assert ring == Ring((UserDevices("2001", "globex.example"),), 20, "+31201234567", "Alice",
                        answered_as="2001")
    assert trace.classification.kind == "outbound"
    assert trace.classification.caller_user == "101"
    assert_plain_trace(trace)


# -- calls from the public network -------------------------------------------------------


@pytest.mark.parametrize(
    "dialled", ["+31201234567", "0201234567", "020 1234567", "020-1234567", "0031201234567"]
)
def test_external_call_to_a_users_number_rings_that_user_with_the_callers_number(
    directory: Directory, dialled: str
) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_network("+31612340000", dialled, "Mum"), directory, GATEWAY, trace),
        answering("101"),
    )
    assert actions == [Ring((UserDevices("101", "acme.example"),), 20, "+31612340000", "Mum",
                             answered_as="101")]
    cls = trace.classification
    acme = directory.enterprise_named("acme")
    assert acme is not None
    assert (cls.kind, cls.caller_user, cls.target_user) == ("inbound", None, "101")
    assert cls.enterprise_id == str(acme.id)
    assert_plain_trace(trace)
    assert trace.steps[0].service == "origin"


def test_external_call_to_an_unassigned_number_is_unallocated(directory: Directory) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_network("+31612340000", "020 9999999"), directory, GATEWAY, trace),
        answering("nobody"),
    )
    assert actions == refused(HangupCause.UNALLOCATED_NUMBER)
    assert trace.classification.kind == "unknown"
    assert trace.classification.target_user is None
    assert_plain_trace(trace)


def test_external_call_to_an_enterprise_number_without_a_user_is_unallocated(
    directory: Directory,
) -> None:
    actions = drive(
        route_call(from_network("+31612340000", "020 5550000"), directory, GATEWAY, Trace()),
        answering("nobody"),
    )
    assert actions == refused(HangupCause.UNALLOCATED_NUMBER)


def test_external_call_to_garbage_is_unallocated(directory: Directory) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_network("", "s"), directory, GATEWAY, trace), answering("nobody")
    )
    assert actions == refused(HangupCause.UNALLOCATED_NUMBER)
    assert_plain_trace(trace)


# -- outgoing calls ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialled", "e164", "klass"),
    [
        ("06 23456789", "+31623456789", "mobile"),
        ("0031623456789", "+31623456789", "mobile"),
        ("010 1234567", "+31101234567", "national"),
        ("0800 1234", "+318001234", "service"),
    ],
)
def test_outgoing_call_goes_through_the_gateway_presenting_the_users_number(
    directory: Directory, dialled: str, e164: str, klass: str
) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("101", dialled), directory, GATEWAY, trace), answering(e164)
    )
    assert actions == [Ring((GatewayNumber("kpn-trunk", e164),), 60, "+31201234567", "Alice")]
    assert actions[0].targets[0].dial_string() == f"sofia/gateway/kpn-trunk/{e164}"
    cls = trace.classification
    assert (cls.kind, cls.caller_user, cls.target_user) == ("outbound", "101", None)
    assert_plain_trace(trace)
    assert any(klass in s.rule and "kpn-trunk" in s.detail for s in trace.steps)


def test_a_user_without_a_number_presents_the_enterprise_number(directory: Directory) -> None:
    ring = first_action(from_user("102", "06 23456789"), directory, GATEWAY)
    assert isinstance(ring, Ring)
    assert ring.caller_id_number == "+31205550000"


def test_an_unanswered_outgoing_call_ends_with_the_networks_cause(directory: Directory) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("101", "06 23456789"), directory, GATEWAY, trace),
        failing(HangupCause.USER_BUSY),
    )
    assert isinstance(actions[0], Ring)
    assert actions[1:] == [Hangup(HangupCause.USER_BUSY)]
    assert_plain_trace(trace)


def test_without_a_gateway_an_outgoing_call_hears_an_announcement(directory: Directory) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("101", "06 23456789"), directory, NO_GATEWAY, trace),
        answering("x"),
    )
    assert actions == refused(HangupCause.NO_ROUTE_DESTINATION)
    assert any(s.service == "gateway" for s in trace.steps)
    assert_plain_trace(trace)


@pytest.mark.parametrize(
    ("dialled", "klass"),
    [
        ("0900 1234567", "premium"),
        ("0906 1234567", "premium"),
        ("0909 1234567", "premium"),
        ("+44 20 7946 0958", "international"),
        ("0044 20 7946 0958", "international"),
        ("+1 212 555 0100", "international"),
    ],
)
def test_premium_and_international_are_barred_by_the_calling_plan(
    directory: Directory, dialled: str, klass: str
) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("101", dialled), directory, GATEWAY, trace), answering("x")
    )
    assert actions == refused(HangupCause.OUTGOING_CALL_BARRED, announcements.BARRED)
    plan = [s for s in trace.steps if s.service == "calling plan"]
    assert plan, "the trace names the calling plan"
    assert klass in plan[0].rule and "calling plan" in plan[0].detail
    assert trace.classification.kind == "outbound"
    assert trace.classification.caller_user == "101"
    assert_plain_trace(trace)


def test_emergency_112_is_allowed(directory: Directory) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("102", "112"), directory, GATEWAY, trace), answering("112")
    )
    assert actions == [Ring((GatewayNumber("kpn-trunk", "112"),), 60, "+31205550000", "Bob")]
    assert trace.classification.kind == "outbound"
    assert_plain_trace(trace)


def test_112_reaches_the_emergency_services_even_if_a_user_holds_extension_112(
    tmp_path: Path,
) -> None:
    app = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    app.add_user("Acme", "101", "Alice", number="020 1234567")
    # Written before add_user refused emergency extensions: the log may still hold one.
    acme = app.enterprise("Acme")
    app.save(User(acme.id, "112", "Ilse", None, None, None, None, None, 20))
    ring = first_action(from_user("101", "112"), app.directory(), GATEWAY)
    assert ring == Ring((GatewayNumber("kpn-trunk", "112"),), 60, "+31201234567", "Alice")


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialled", ["555", "104", "2001", "abc", "*12"])
def test_unknown_extension_hears_an_announcement_then_unallocated(
    directory: Directory, dialled: str
) -> None:
    trace = Trace()
    actions = drive(
        route_call(from_user("101", dialled), directory, GATEWAY, trace), answering("x")
    )
    assert actions == refused(HangupCause.UNALLOCATED_NUMBER)
    assert trace.classification.target_user is None
    assert_plain_trace(trace)


@pytest.mark.parametrize(
    ("user", "domain"),
    [("104", "acme.example"), ("999", "acme.example"), ("101", "initech.example"), (None, None)],
)
def test_an_authenticated_user_unknown_to_the_directory_is_refused(
    directory: Directory, user: str | None, domain: str | None
) -> None:
    ctx = CallContext(
        call_id=str(uuid.uuid4()),
        channel="sofia/internal/x",
        caller_number=user or "",
        caller_name="",
        destination="102",
        origin=Origin.INTERNAL,
        domain=domain,
        auth_user=user,
    )
    trace = Trace()
    actions = drive(route_call(ctx, directory, GATEWAY, trace), answering("102"))
    assert not any(isinstance(a, Ring) for a in actions), "an unknown caller rings nobody"
    assert actions == refused(HangupCause.CALL_REJECTED)
    assert trace.classification.kind == "unknown"
    assert trace.classification.caller_user is None
    assert_plain_trace(trace)


# -- the chain ---------------------------------------------------------------------------


def test_the_service_order_is_the_one_design_md_fixes() -> None:
    assert SERVICE_ORDER == (
        "night-service",  # CORE-3: a user's night service comes first (issue 4)
        "intercept",
        "selective-rejection",
        "anonymous-rejection",
        "selective-acceptance",
        "executive-assistant",  # MA-1: after screening, before forwarding (issue 5)
        "selective-forwarding",
        "forward-always",
        "do-not-disturb",
        "alerting",
    )
    assert set(SERVICES) <= set(SERVICE_ORDER)
    assert "alerting" in SERVICES


# -- every script ends -------------------------------------------------------------------

CONTEXTS = [
    from_user("101", "102"),
    from_user("102", "101"),
    from_user("101", "0201234567"),
    from_user("101", "010 7654321"),
    from_user("101", "06 23456789"),
    from_user("101", "0900 1234567"),
    from_user("101", "+44 20 7946 0958"),
    from_user("101", "112"),
    from_user("101", "555"),
    from_user("104", "101"),
    from_network("+31612340000", "020 1234567"),
    from_network("+31612340000", "06 12345678"),
    from_network("anonymous", "020 9999999"),
]

ring_outcomes = st.builds(
    Rang,
    st.sampled_from(list(RingResult)),
    st.sampled_from(list(HangupCause)),
    st.one_of(st.none(), st.sampled_from(["101", "102", "+31612340000"])),
)


@settings(max_examples=300, deadline=None)
@given(
    ctx=st.sampled_from(CONTEXTS),
    setting=st.sampled_from([GATEWAY, NO_GATEWAY]),
    data=st.data(),
)
def test_every_script_ends_with_a_hangup_or_an_answered_call(
    directory: Directory, ctx: CallContext, setting: RoutingSettings, data: st.DataObject
) -> None:
    trace = Trace()
    script = route_call(ctx, directory, setting, trace)
    actions: list[Action] = []
    last_outcome: Outcome | None = None
    try:
        action = next(script)
        while True:
            actions.append(action)
            assert len(actions) <= MAX_STEPS, "the script never ends"
            last_outcome = data.draw(ring_outcomes) if isinstance(action, Ring) else Done()
            action = script.send(last_outcome)
    except StopIteration:
        pass
    assert actions, "every script does something"
    answered = (
        isinstance(actions[-1], Ring)
        and isinstance(last_outcome, Rang)
        and last_outcome.result is RingResult.ANSWERED
    )
    assert isinstance(actions[-1], Hangup) or answered
    assert sum(isinstance(a, Hangup) for a in actions) <= 1
    assert_plain_trace(trace)
    assert trace.classification.kind in {"internal", "inbound", "outbound", "unknown"}
