"""Fax to e-mail end to end (OPT-3): the controller over TCP, the simulator's rxfax writing a
real multi-page TIFF and setting mod_spandsp's variables, the PDF mailed through a real SMTP
server (aiosmtpd in its own process)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest

from esl_controller import fax as use_cases
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.domain.fax import Fax
from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch, SimCall
from tests.conftest import wait_until
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
    use_cases.add_fax_line(app, None, "Office fax", "020 7654322", "fax@acme.example",
                           email2="archive@acme.example")
    return app


@pytest.fixture
def controller(office: Pbx, smtp: SmtpServer, tmp_path: Path) -> Iterator[Controller]:
    config = ServeConfig(db_url=office.db_url, listen=("127.0.0.1", 0), http=None,
                         poll_interval=0.01, smtp=("127.0.0.1", smtp.port),
                         mail_from="pbx@acme.example", voicemail_dir=str(tmp_path / "vm"),
                         fax_dir=str(tmp_path / "fax"))
    running = Controller(config).start()
    yield running
    running.stop()


def send_fax(controller: Controller, pages: int, **kw: object) -> SimCall:
    host, port = controller.esl_address
    spec = CallSpec("+31301234567", "+31207654322", fax_pages=pages,
                    call_uuid="4f1d2c3b-0000-4000-8000-00000000fa01", **kw)  # type: ignore[arg-type]
    return FakeSwitch(host, port, endpoints={"101": Endpoint()},
                      time_scale=0.02).place_call(spec)


def faxes(controller: Controller) -> list[Fax]:
    line = controller.app.directory().fax_line(controller.app.enterprise(None).id, "Office fax")
    assert line is not None
    return use_cases.received_faxes(controller.app, line.id)


def test_a_three_page_fax_arrives_by_e_mail_as_a_three_page_pdf(
        controller: Controller, smtp: SmtpServer) -> None:
    call = send_fax(controller, 3)
    apps = [app for app, _ in call.apps]
    assert "rxfax" in apps and apps.index("answer") < apps.index("rxfax")
    tiff = next(arg for app, arg in call.apps if app == "rxfax")
    assert tiff.endswith(".tif")
    [mail] = wait_until(smtp.messages, timeout=15, what="the fax e-mail")
    assert mail["Subject"] == "Fax from +31301234567, 3 page(s)"
    assert set(mail["X-RcptTo"].replace(" ", "").split(",")) == {
        "fax@acme.example", "archive@acme.example"}
    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    data = pdf.get_content()
    assert data.startswith(b"%PDF-")
    with pikepdf.open(io.BytesIO(data)) as document:
        assert len(document.pages) == 3
    [fax] = wait_until(lambda: [f for f in faxes(controller) if f.mailed_to],
                       what="FaxMailed recorded")
    assert fax.pages == 3 and fax.ok and fax.status == "mailed"
    assert fax.mailed_to == ("fax@acme.example", "archive@acme.example")
    assert Path(fax.pdf or "").read_bytes() == data
    [step] = [s for s in controller.app.call(call.call_uuid).steps
              if s["rule"] == "fax received"]
    assert step["detail"] == ("3 page(s) received from +31301234567: e-mailed as PDF to "
                              "fax@acme.example and archive@acme.example")


def test_a_broken_transmission_is_recorded_failed_and_only_a_notice_is_mailed(
        controller: Controller, smtp: SmtpServer) -> None:
    call = send_fax(controller, 3, fax_fail_after=1)
    assert call.hangup_by == "caller"
    [mail] = wait_until(smtp.messages, timeout=15, what="the failure notice")
    assert mail["Subject"] == "Fax from +31301234567 NOT received"
    assert "The call dropped prematurely" in mail.get_content()
    assert list(mail.iter_attachments()) == []  # no empty or partial PDF
    [fax] = faxes(controller)
    assert not fax.ok and fax.status == "failed"
    assert fax.failure == "reception failed: The call dropped prematurely"
    assert not Path(fax.path).with_suffix(".pdf").exists()
    steps = [s["rule"] for s in controller.app.call(call.call_uuid).steps]
    assert "fax failed" in steps


def test_a_person_calling_the_fax_number_gets_no_fax_and_the_line_gets_a_notice(
        controller: Controller, smtp: SmtpServer) -> None:
    call = send_fax(controller, 0)  # no fax machine answers: spandsp's T0 runs out
    assert [app for app, _ in call.apps].count("rxfax") == 1
    [mail] = wait_until(smtp.messages, timeout=15, what="the failure notice")
    assert "Timed out waiting for initial communication" in mail.get_content()
    assert list(mail.iter_attachments()) == []
    [fax] = faxes(controller)
    assert fax.status == "failed" and fax.pages == 0
    assert not Path(fax.path).exists()  # nothing was written
