"""Group voicemail end to end (CORE-4, OPT-4): the controller over TCP, the simulator placing
calls and recording real WAV files, a real SMTP server (aiosmtpd in its own process)
receiving the e-mails with the audio attached."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from esl_controller import group_voicemail as use_cases
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch, SimCall
from tests.conftest import wait_until
from tests.integration.calls import internal
from tests.integration.test_voicemail import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "maildir").start()
    yield server
    server.stop()


@pytest.fixture
def office(db_url: str, tmp_path: Path) -> Pbx:
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", password="s3cret-pass")
    app.add_user(None, "102", "Bob de Vries")
    greeting = tmp_path / "welcome.wav"
    with wave.open(str(greeting), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x10\x00" * 8000)
    audio = tmp_path / "audio"
    use_cases.add_group_voicemail(app, None, "Sales", "600", "sales@acme.example",
                                  number="020 7654321", cc="boss@acme.example",
                                  greeting=greeting, audio_dir=audio)
    use_cases.add_group_voicemail(app, None, "Closed", "610", "closed@acme.example",
                                  greeting=greeting, greeting_only="hangup", audio_dir=audio)
    use_cases.add_group_voicemail(app, None, "Reception", "620", "desk@acme.example",
                                  greeting=greeting, greeting_only="forward:102",
                                  audio_dir=audio)
    return app


@pytest.fixture
def controller(office: Pbx, smtp: SmtpServer, tmp_path: Path) -> Iterator[Controller]:
    config = ServeConfig(db_url=office.db_url, listen=("127.0.0.1", 0), http=None,
                         poll_interval=0.01, smtp=("127.0.0.1", smtp.port),
                         mail_from="pbx@acme.example", voicemail_dir=str(tmp_path / "vm"))
    running = Controller(config).start()
    yield running
    running.stop()


def place(controller: Controller, spec: CallSpec) -> SimCall:
    host, port = controller.esl_address
    table = {"101": Endpoint(), "102": Endpoint()}
    return FakeSwitch(host, port, endpoints=table, time_scale=0.02).place_call(spec)


def steps(controller: Controller, call: SimCall) -> list[str]:
    return [s["rule"] for s in controller.app.call(call.call_uuid).steps]


def test_message_from_the_public_network_is_mailed_to_the_address_and_cc_with_the_audio(
        controller: Controller, smtp: SmtpServer) -> None:
    # A caller from outside dials the box's public number, talks 20 s, presses #.
    spec = CallSpec("+31612345678", "+31207654321", caller_name="Klant",
                    talk_into_recording=20.0, call_uuid="9d0f0a1e-0000-4000-8000-000000000601")
    call = place(controller, spec)
    apps = [app for app, _ in call.apps]
    assert apps[-4:] == ["answer", "playback", "playback", "record"]
    greeting = [arg for app, arg in call.apps if app == "playback"][0]
    assert "group-voicemail" in greeting and Path(greeting).exists()
    [mail] = wait_until(smtp.messages, timeout=15, what="the group voicemail e-mail")
    assert mail["To"] == "sales@acme.example" and mail["Cc"] == "boss@acme.example"
    assert mail["Subject"].startswith("Voicemail for Sales from Klant (+31612345678)")
    assert set(mail["X-RcptTo"].replace(" ", "").split(",")) == {
        "sales@acme.example", "boss@acme.example"}  # both received it
    [audio] = [p for p in mail.iter_attachments() if p.get_content_type() == "audio/x-wav"]
    data = audio.get_content()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) > 8000
    # e-mail only: once mailed, the message and its file leave the box
    def emptied() -> bool:
        _, box = use_cases.get_group_voicemail(controller.app, None, "Sales")
        return not box.messages

    wait_until(emptied, what="the mailed message removed from the box")
    kinds = [type(e).__name__ for _, e in controller.app.events_after(0)]
    assert {"MessageLeft", "MessageMailed", "MessageRemovedAfterMail"} <= set(kinds)
    assert "message left" in steps(controller, call)


def test_greeting_only_box_plays_the_greeting_then_hangs_up(
        controller: Controller, smtp: SmtpServer) -> None:
    call = place(controller, internal("101", "610"))
    apps = [app for app, _ in call.apps]
    assert "record" not in apps and apps.count("playback") == 1
    assert call.answered and call.hangup_cause == "NORMAL_CLEARING"
    assert call.hangup_by == "controller"
    assert "greeting only" in steps(controller, call)
    _, box = use_cases.get_group_voicemail(controller.app, None, "Closed")
    assert not box.messages and smtp.messages() == []


def test_greeting_only_box_forwards_after_the_greeting(controller: Controller) -> None:
    call = place(controller, internal("101", "620"))
    apps = [app for app, _ in call.apps]
    assert "record" not in apps
    assert apps.index("playback") < apps.index("bridge")
    assert call.bridged_to == "102"
    assert "greeting only" in steps(controller, call)
