"""MWI when a phone subscribes: FreeSWITCH's MESSAGE_QUERY on the inbound connection is
answered with the account's current MESSAGE_WAITING, as mod_voicemail does.

The fake inbound ESL fires MESSAGE_QUERY byte for byte as the captured FreeSWITCH 1.10.12
did; the controller runs over real TCP and its answer is what the fake records.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from esl_controller.bootstrap import Controller
from esl_controller.simulator import FakeInboundESL
from esl_controller.simulator import frames as sim_frames
from esl_controller.simulator.inbound import CORE_UUID
from esl_controller.voicemail import VoicemailService
from tests.conftest import CAPTURES, wait_until

CAPTURE = CAPTURES / "freeswitch-1.10.12" / "inbound-bridge-sip-events.txt.raw"


def answers(inbound: FakeInboundESL, call_id: str) -> list[dict[str, str]]:
    return [e for e in inbound.events
            if e["Event-Name"] == "MESSAGE_WAITING" and e.get("Call-ID") == call_id]


def subscribed(controller: Controller, inbound: FakeInboundESL) -> None:
    wait_until(lambda: inbound.listening("MESSAGE_QUERY"), what="MESSAGE_QUERY subscription")


def test_the_fake_fires_message_query_as_freeswitch_does() -> None:
    raw = CAPTURE.read_bytes()
    start = raw.index(b"Content-Length: 563\nContent-Type: text/event-plain\n\n"
                      b"Event-Name: MESSAGE_QUERY")
    length = int(re.match(rb"Content-Length: (\d+)", raw[start:]).group(1))  # type: ignore[union-attr]
    header_end = raw.index(b"\n\n", start) + 2
    captured = raw[start:header_end + length]
    assert CORE_UUID.encode() in captured
    fake = FakeInboundESL("not-the-default-secret")
    fake._sequence = 723  # the next one is the captured 724
    sent: list[bytes] = []
    fake.emit = lambda headers: sent.append(sim_frames.event_plain(headers)) or 1  # type: ignore[method-assign,func-returns-value]
    fake.message_query("sip:1001@127.0.0.1", call_id="1-18753@127.0.0.1")
    assert sent == [captured]


def test_a_subscribing_phone_gets_its_lamp_lit_when_messages_wait(
    controller: Controller, inbound: FakeInboundESL, tmp_path: Path
) -> None:
    box = VoicemailService(controller.app, tmp_path / "vm").enable(None, "102",
                                                                   email_audio=False)
    box.leave_message("m1", "101", "Alice Jansen", 12.0, str(tmp_path / "m1.wav"),
                      datetime.now(UTC))
    controller.app.save(box)
    subscribed(controller, inbound)
    assert inbound.message_query("sip:102@acme.example", call_id="1-1@127.0.0.1") == 1
    [answer] = wait_until(lambda: answers(inbound, "1-1@127.0.0.1"), what="MWI answer")
    assert answer["MWI-Messages-Waiting"] == "yes"
    assert answer["MWI-Message-Account"] == "sip:102@acme.example"
    assert answer["MWI-Voice-Message"] == "1/0 (0/0)"
    assert answer["Sofia-Profile"] == "internal"


def test_users_without_messages_get_the_lamp_off_and_strangers_nothing(
    controller: Controller, inbound: FakeInboundESL
) -> None:
    subscribed(controller, inbound)
    inbound.message_query("sip:999@elsewhere.example", call_id="stranger")
    inbound.message_query("sip:103@acme.example", call_id="carol")
    [answer] = wait_until(lambda: answers(inbound, "carol"), what="MWI answer")
    assert (answer["MWI-Messages-Waiting"], answer["MWI-Voice-Message"]) == ("no", "0/0 (0/0)")
    assert answers(inbound, "stranger") == []


def test_the_subscription_comes_back_after_freeswitch_restarts(
    controller: Controller, inbound: FakeInboundESL
) -> None:
    subscribed(controller, inbound)
    port = inbound.port
    inbound.stop()
    restarted = FakeInboundESL(inbound.password, port=port).start()
    try:
        subscribed(controller, restarted)
        restarted.message_query("sip:103@acme.example", call_id="after-restart")
        wait_until(lambda: answers(restarted, "after-restart"), what="MWI answer after restart")
    finally:
        restarted.stop()
