"""Call notify (USR-17) end to end: the controller over TCP, the simulator placing calls,
a real SMTP server (aiosmtpd in its own process) receiving the e-mails."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.simulator import Endpoint, FakeSwitch
from tests.conftest import wait_until
from tests.integration.calls import internal
from tests.integration.test_voicemail import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path / "maildir").start()
    yield server
    server.stop()


@pytest.fixture
def office(db_url: str) -> Pbx:
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", password="s3cret-pass")
    app.add_user(None, "102", "Bob de Vries", email="bob@acme.example")
    user_services.add_notify(app, None, "102", "10X")
    return app


def running(app: Pbx, smtp_port: int, tmp_path: Path) -> Controller:
    config = ServeConfig(db_url=app.db_url, listen=("127.0.0.1", 0), http=None,
                         poll_interval=0.01, smtp=("127.0.0.1", smtp_port),
                         mail_from="pbx@acme.example", voicemail_dir=str(tmp_path / "vm"))
    return Controller(config).start()


def place(controller: Controller, caller: str, callee: str) -> object:
    host, port = controller.esl_address
    table = {"101": Endpoint(), "102": Endpoint(), "103": Endpoint()}
    return FakeSwitch(host, port, endpoints=table, time_scale=0.02).place_call(
        internal(caller, callee))


def notified(app: Pbx) -> list[object]:
    return [e for _, e in app.events_after(0) if type(e).__name__ == "CallNotified"]


def test_matching_call_e_mails_the_user_and_is_recorded(
    office: Pbx, smtp: SmtpServer, tmp_path: Path
) -> None:
    controller = running(office, smtp.port, tmp_path)
    try:
        call = place(controller, "101", "102")
        assert call.bridged_to == "102"  # type: ignore[attr-defined]
        [mail] = wait_until(smtp.messages, timeout=10, what="the notify e-mail")
        assert mail["To"] == "bob@acme.example" and mail["From"] == "pbx@acme.example"
        assert mail["Subject"] == "Call from Alice Jansen (101) for Bob de Vries (102)"
        text = mail.get_content()
        assert "Alice Jansen (101) is calling Bob de Vries (102)." in text
        assert " CET" in text or " CEST" in text  # the enterprise's time zone, not UTC
        [event] = wait_until(lambda: notified(office), what="CallNotified")
        assert (event.caller, event.to) == ("101", "bob@acme.example")
        assert event.call_id == call.call_uuid  # type: ignore[attr-defined]
    finally:
        controller.stop()


def test_non_matching_caller_sends_nothing(
    office: Pbx, smtp: SmtpServer, tmp_path: Path
) -> None:
    office.add_user(None, "201", "Zed")
    user_services.remove_notify(office, None, "102", "10X")
    user_services.add_notify(office, None, "102", "20X")
    controller = running(office, smtp.port, tmp_path)
    try:
        call = place(controller, "101", "102")
        assert call.bridged_to == "102"  # type: ignore[attr-defined]
        controller.notify.wait(timeout=5)
        assert controller.notify.pending == [] and smtp.messages() == []
    finally:
        controller.stop()


def test_a_mail_relay_that_never_answers_does_not_delay_the_call(
    office: Pbx, tmp_path: Path
) -> None:
    with socket.socket() as blackhole:  # accepts the connection, never says hello
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)
        controller = running(office, blackhole.getsockname()[1], tmp_path)
        try:
            call = place(controller, "101", "102")
            assert call.bridged_to == "102"  # type: ignore[attr-defined]
            assert call.hangup_cause == "NORMAL_CLEARING"  # type: ignore[attr-defined]
            # The call has ended while the e-mail is still waiting for the relay.
            assert [g for g in controller.notify.pending if not g.dead]
            assert notified(office) == []
        finally:
            gevent.killall(controller.notify.pending, timeout=2)
            controller.stop()
