"""IVR menus (OPT-1) through the real controller and the simulator over TCP: the caller's
DTMF picks a sub-menu, then a user; wrong keys end at the operator; silence ends in goodbye.
Each step is in the call's explanation."""

from __future__ import annotations

import uuid

import pytest

from esl_controller import menus
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.simulator import CallSpec, Endpoint
from tests.integration.calls import internal, log_of, switch


@pytest.fixture
def pbx(db_url: str) -> Pbx:
    """Acme: menu Main (ext. 700, 020 7654321, operator 103, 2 tries) with 1 -> Sales,
    9 -> repeat; menu Sales with 2 -> user 102; menu Quiet (ext. 701) with 1 -> 102."""
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", number="020 1234567", password="s3cret-pass")
    app.add_user(None, "102", "Bob de Vries")
    app.add_user(None, "103", "Carol Smit")
    menus.add_menu(app, None, "Main", "700", "020 7654321",
                   menus.Settings(retries=2, operator="103"))
    menus.add_menu(app, None, "Sales")
    menus.set_greeting(app, None, "Main", prompt="ivr/ivr-welcome.wav")
    menus.set_greeting(app, None, "Sales", prompt="ivr/ivr-sales.wav")
    menus.set_key(app, None, "Main", "1", "menu", "Sales")
    menus.set_key(app, None, "Main", "9", "repeat")
    menus.set_key(app, None, "Sales", "2", "user", "102")
    menus.add_menu(app, None, "Quiet", "701")
    menus.set_key(app, None, "Quiet", "1", "user", "102")
    return app


def keys(digits: str) -> list[tuple[float, str]]:
    """One DTMF key a (simulated) second, from the first second of the call."""
    return [(1.0 + i, key) for i, key in enumerate(digits)]


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)


def prompts(apps: list[tuple[str, str]]) -> list[str]:
    return [arg.split()[5] for app, arg in apps if app == "play_and_get_digits"]


def test_two_levels_of_menu_by_dtmf_end_at_a_user(controller: Controller) -> None:
    sim = switch(controller).place_call(internal("101", "700", dtmf=keys("12")))
    assert sim.answered
    assert prompts(sim.apps) == ["ivr/ivr-welcome.wav", "ivr/ivr-sales.wav"]
    assert sim.bridged_to == "102"
    assert sim.hangup_cause == "NORMAL_CLEARING"
    story = steps(controller, sim.call_uuid)
    assert "menu Main: caller pressed 1 -> menu Sales" in story
    assert "menu Sales: caller pressed 2 -> user 102 (Bob de Vries)" in story
    assert ("received", "Alice Jansen (101)", "answered") in log_of(controller, "102")
    # answered by the menu, the caller hears a ring tone while 102 rings (transfer_ringback)
    multiset = next(arg for app, arg in sim.apps if app == "multiset")
    assert "transfer_ringback=%(1000,4000,425)" in multiset.split()


def test_an_outside_caller_dials_the_menu_number_repeats_then_chooses(
    controller: Controller,
) -> None:
    outside = CallSpec("+31301234567", "+31207654321", call_uuid=str(uuid.uuid4()),
                       dtmf=keys("912"))
    sim = switch(controller).place_call(outside)
    assert prompts(sim.apps) == ["ivr/ivr-welcome.wav"] * 2 + ["ivr/ivr-sales.wav"]
    assert sim.bridged_to == "102"
    story = steps(controller, sim.call_uuid)
    assert "020 765 4321 is the number of menu Main (ext. 700) of Acme" in story
    assert "menu Main: caller pressed 9 -> repeat the menu" in story


def test_wrong_keys_are_announced_then_the_operator_is_rung(controller: Controller) -> None:
    sim = switch(controller).place_call(internal("101", "700", dtmf=keys("55")))
    assert prompts(sim.apps) == ["ivr/ivr-welcome.wav"] * 2
    assert ("playback", "ivr/ivr-that_was_an_invalid_entry.wav") in sim.apps
    assert sim.bridged_to == "103"
    story = steps(controller, sim.call_uuid)
    assert "menu Main: caller pressed 5, which does nothing here (try 1 of 2)" in story
    assert "menu Main: no choice after 2 tries -> operator 103" in story


def test_silence_without_an_operator_says_goodbye(controller: Controller) -> None:
    sim = switch(controller, **{"102": Endpoint("no-answer")}).place_call(
        internal("101", "701"))
    assert prompts(sim.apps) == ["ivr/ivr-welcome.wav"] * 3
    assert sim.apps[-1] == ("playback", "voicemail/vm-goodbye.wav")
    assert sim.bridged_to is None and sim.hangup_cause == "NORMAL_CLEARING"
    assert "menu Quiet: no key pressed within 5 s (try 3 of 3)" in steps(controller,
                                                                           sim.call_uuid)
