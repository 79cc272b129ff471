"""Voicemail end to end: the controller over TCP, the simulator, a real SMTP server (aiosmtpd
in its own process, storing into a maildir) and the fake inbound ESL recording MWI events."""

from __future__ import annotations

import mailbox
import socket
import subprocess
import sys
import uuid
import wave
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch
from esl_controller.voicemail import Mailer, VoicemailService
from tests.conftest import wait_until

ESL_PASSWORD = "not-the-default-secret"
SCALE = 0.02


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class SmtpServer:
    """aiosmtpd's Mailbox handler: every accepted message lands in a maildir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SmtpServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _accepting(self.port), timeout=15, what="SMTP server up")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)

    def messages(self) -> list[EmailMessage]:
        if not self.folder.exists():
            return []
        from email import policy
        from email.parser import BytesParser

        box = mailbox.Maildir(self.folder, create=False)
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(box.get_bytes(key)) for key in box.keys()]  # type: ignore[misc]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "maildir").start()
    yield server
    server.stop()


@pytest.fixture
def pbx(db_url: str, tmp_path: Path) -> Pbx:
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", password="s3cret-pass")
    app.add_user(None, "102", "Bob de Vries", email="bob@acme.example", pin="4321")
    VoicemailService(app, tmp_path / "vm").enable(None, "102", email_audio=True)
    return app


@pytest.fixture
def inbound() -> Iterator[FakeInboundESL]:
    fake = FakeInboundESL(ESL_PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def controller(pbx: Pbx, inbound: FakeInboundESL, smtp: SmtpServer, tmp_path: Path
               ) -> Iterator[Controller]:
    config = ServeConfig(
        db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
        esl=("127.0.0.1", inbound.port), esl_password=ESL_PASSWORD, poll_interval=0.01,
        smtp=("127.0.0.1", smtp.port), mail_from="pbx@acme.example",
        voicemail_dir=str(tmp_path / "vm"),
    )
    running = Controller(config).start()
    yield running
    running.stop()


def call(controller: Controller, spec: CallSpec, **endpoints: Endpoint) -> object:
    host, port = controller.esl_address
    table = {"101": Endpoint(), "102": Endpoint(), **endpoints}
    return FakeSwitch(host, port, endpoints=table, time_scale=SCALE).place_call(spec)


def internal(caller: str, destination: str, **kw: object) -> CallSpec:
    return CallSpec(caller, destination, auth_user=caller, domain="acme.example",
                    call_uuid=str(uuid.uuid4()), **kw)  # type: ignore[arg-type]


def messages_of(controller: Controller, ext: str) -> list[object]:
    box = controller.voicemail.mailbox(controller.app.enterprise("Acme").id, ext)
    return sorted(box.messages.values(), key=lambda m: m.at) if box else []  # type: ignore[attr-defined]


@pytest.mark.parametrize("behaviour", ["busy", "no-answer", "unregistered"])
def test_unanswered_call_leaves_a_message_mailed_with_its_audio(
    controller: Controller, inbound: FakeInboundESL, smtp: SmtpServer, behaviour: str
) -> None:
    # The caller speaks 25 s (simulated) into the recording, then presses #.
    sim = call(controller, internal("101", "102", talk_into_recording=25.0),
               **{"102": Endpoint(behaviour)})
    apps = [app for app, _ in sim.apps]  # type: ignore[attr-defined]
    assert apps[-4:] == ["answer", "playback", "playback", "record"]
    assert sim.hangup_cause == "NORMAL_CLEARING"  # type: ignore[attr-defined]
    [message] = wait_until(lambda: messages_of(controller, "102"), what="message kept")
    assert message.caller == "101" and 5 < message.seconds <= 45  # type: ignore[attr-defined]
    with wave.open(message.path) as wav:  # type: ignore[attr-defined]
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() / 8000 > 0
    [mail] = wait_until(smtp.messages, timeout=10, what="the e-mail")
    assert mail["To"] == "bob@acme.example" and mail["From"] == "pbx@acme.example"
    [audio] = [p for p in mail.iter_attachments() if p.get_content_type() == "audio/x-wav"]
    assert audio.get_content() == Path(message.path).read_bytes()  # type: ignore[attr-defined]
    kinds = [type(e).__name__ for _, e in controller.app.events_after(0)]
    assert "MessageLeft" in kinds
    wait_until(lambda: "MessageMailed" in [type(e).__name__
                                           for _, e in controller.app.events_after(0)],
               what="MessageMailed recorded")
    mwi = wait_until(lambda: [e for e in inbound.events if e["Event-Name"] == "MESSAGE_WAITING"],
                     what="MWI sent")
    assert mwi[-1]["MWI-Messages-Waiting"] == "yes"
    assert mwi[-1]["MWI-Message-Account"] == "sip:102@acme.example"
    assert mwi[-1]["MWI-Voice-Message"] == "1/0 (0/0)"
    explained = controller.app.call(sim.call_uuid)  # type: ignore[attr-defined]
    assert "message left" in [s["rule"] for s in explained.steps]  # type: ignore[attr-defined]


def test_a_user_without_a_box_still_gets_the_busy_cause(controller: Controller) -> None:
    sim = call(controller, internal("102", "101"), **{"101": Endpoint("busy")})
    assert sim.hangup_cause == "USER_BUSY"  # type: ignore[attr-defined]
    assert "record" not in [app for app, _ in sim.apps]  # type: ignore[attr-defined]


def test_the_message_is_kept_when_the_caller_hangs_up_while_recording(
    controller: Controller,
) -> None:
    sim = call(controller, internal("101", "102", hangup_into_recording=5.0),
               **{"102": Endpoint("busy")})
    assert sim.hangup_by == "caller"  # type: ignore[attr-defined]
    [message] = wait_until(lambda: messages_of(controller, "102"), what="message kept")
    assert Path(message.path).exists()  # type: ignore[attr-defined]


def test_portal_with_pin_plays_and_saves_the_message(
    controller: Controller, inbound: FakeInboundESL
) -> None:
    call(controller, internal("101", "102", talk_into_recording=8.0), **{"102": Endpoint("busy")})
    [message] = wait_until(lambda: messages_of(controller, "102"), what="message kept")
    keys = ["4", "3", "2", "1", "#", "1", "2", "#"]
    sim = call(controller, internal("102", "*98", dtmf=[(1.0 + i, k) for i, k in enumerate(keys)]))
    played = [arg for app, arg in sim.apps if app == "playback"]  # type: ignore[attr-defined]
    assert message.path in played  # type: ignore[attr-defined]
    [saved] = messages_of(controller, "102")
    assert saved.status == "saved"  # type: ignore[attr-defined]
    wait_until(lambda: [e for e in inbound.events if e.get("MWI-Voice-Message") == "0/1 (0/0)"],
               what="lamp off after saving")


def test_three_wrong_pins_lock_the_portal(controller: Controller) -> None:
    keys = [*"1111#", *"2222#", *"3333#"]
    sim = call(controller, internal("102", "*98", dtmf=[(1.0 + i, k) for i, k in enumerate(keys)]))
    assert sum(app == "play_and_get_digits" for app, _ in sim.apps) == 3  # type: ignore[attr-defined]
    box = controller.voicemail.mailbox(controller.app.enterprise("Acme").id, "102")
    assert box is not None and box.locked_until is not None


def test_mailer_retries_until_the_server_answers(tmp_path: Path) -> None:
    wav = tmp_path / "m.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)
    server = SmtpServer(tmp_path / "late")
    mailer = Mailer("127.0.0.1", server.port, "pbx@acme.example", retries=8, backoff=0.1)
    sent: list[bool] = []
    greenlet = mailer.send_later(mailer.message("bob@acme.example", "s", "t", wav),
                                 lambda: sent.append(True))
    wait_until(lambda: mailer.failures >= 1, what="a first failure")
    server.start()
    try:
        wait_until(lambda: sent, timeout=15, what="delivered after retries")
        assert greenlet.get(timeout=5) is True
        [mail] = server.messages()
        assert [p.get_filename() for p in mail.iter_attachments()] == ["m.wav"]
    finally:
        server.stop()


# -- e-mail only (USR-7: messages to e-mail, optionally also kept) -----------------------------
def test_email_only_box_mails_the_message_then_frees_it_and_the_lamp_goes_off(
    controller: Controller, inbound: FakeInboundESL, smtp: SmtpServer
) -> None:
    controller.voicemail.enable(None, "102", email_audio=True, keep=False)
    call(controller, internal("101", "102", talk_into_recording=20.0), **{"102": Endpoint("busy")})
    [mail] = wait_until(smtp.messages, timeout=10, what="the e-mail")
    [audio] = [p for p in mail.iter_attachments() if p.get_content_type() == "audio/x-wav"]
    assert len(audio.get_content()) > 1000
    wait_until(lambda: not messages_of(controller, "102"), what="message removed once mailed")
    kinds = [type(e).__name__ for _, e in controller.app.events_after(0)]
    assert "MessageRemovedAfterMail" in kinds
    folder = controller.voicemail.storage / str(controller.app.enterprise("Acme").id) / "102"
    assert list(folder.glob("*.wav")) == []  # the audio is gone from the disk too
    wait_until(lambda: [e for e in inbound.events if e["Event-Name"] == "MESSAGE_WAITING"]
               [-1]["MWI-Voice-Message"] == "0/0 (0/0)", what="lamp off once mailed")


def test_email_only_keeps_the_message_when_mailing_fails(
    pbx: Pbx, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    VoicemailService(pbx, tmp_path / "vm").enable(None, "102", email_audio=True, keep=False)
    config = ServeConfig(db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
                         poll_interval=0.01, smtp=("127.0.0.1", _free_port()),
                         voicemail_dir=str(tmp_path / "vm"))
    running = Controller(config).start()
    try:
        mailer = running.voicemail.mailer
        assert mailer is not None
        mailer.retries, mailer.backoff = 2, 0.01  # give up quickly: nobody listens there
        call(running, internal("101", "102", talk_into_recording=20.0), **{"102": Endpoint("busy")})
        wait_until(lambda: mailer.failures >= 2, what="mailing given up")
        running.voicemail.wait_mail(timeout=5)
        [message] = messages_of(running, "102")
        assert Path(message.path).exists()  # type: ignore[attr-defined]
        assert any("kept: e-mail to bob@acme.example failed" in r.getMessage()
                   for r in caplog.records)
    finally:
        running.stop()
