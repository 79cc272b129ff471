"""Fax to e-mail (OPT-3): the routing script, reading rxfax's variables, the fax service
turning a real multi-page TIFF into a PDF, and the use cases' validation."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from esl_controller import fax as use_cases
from esl_controller.application import Pbx
from esl_controller.domain.fax import Fax
from esl_controller.errors import ValidationError
from esl_controller.esl.media import fax_result
from esl_controller.fax import FaxService, received_faxes, tiff_to_pdf
from esl_controller.routing.actions import Action, Answer, Command, Hangup, ReceiveFax
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, FaxReceived, Outcome
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.simulator.media import _write_tiff
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALL = "00000000-0000-4000-8000-00000000fa00"


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    use_cases.add_fax_line(pbx, None, "Office fax", "020 7654322", "fax@acme.example",
                           email2="archive@acme.example", extension="690")
    return pbx


@pytest.fixture
def service(app: Pbx, tmp_path: Path) -> FaxService:
    return FaxService(app, tmp_path / "fax", clock=lambda: NOW)


def from_network(dialled: str = "+31207654322") -> CallContext:
    return CallContext(CALL, "sofia/external/x", "+31301234567", "", dialled,
                       Origin.EXTERNAL)


def run(app: Pbx, ctx: CallContext, sent: Callable[[str], FaxReceived],
        commands: Callable[[Command], CommandResult]) -> tuple[list[Action], Trace]:
    directory = Directory()
    app.catch_up(directory)
    trace = Trace()
    script = route_call(ctx, directory, RoutingSettings(gateway="trunk"), trace, NOW)
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            assert len(actions) < 30
            outcome: Outcome = Done()
            if isinstance(action, Command):
                outcome = commands(action)
            else:
                actions.append(action)
                if isinstance(action, ReceiveFax):
                    outcome = sent(action.path)
            action = script.send(outcome)
    except StopIteration:
        pass
    return actions, trace


def story(trace: Trace) -> str:
    return " | ".join(step.detail for step in trace.steps)


def machine(pages: int) -> Callable[[str], FaxReceived]:
    """A fax machine that sends ``pages`` pages: a real TIFF where rxfax writes it."""

    def send(path: str) -> FaxReceived:
        _write_tiff(path, pages, "+31301234567")
        return FaxReceived(path, pages, True, "OK", "0", "+31301234567")

    return send


CTX = from_network()


def handled(service: FaxService) -> Callable[[Command], CommandResult]:
    return lambda command: service.handle(command, CTX)


def pdf_pages(path: Path) -> int:
    return len(pikepdf.open(io.BytesIO(path.read_bytes())).pages)


# -- the script and the service -------------------------------------------------------------
def test_a_fax_is_answered_received_and_kept_as_a_pdf_of_every_page(
        app: Pbx, service: FaxService) -> None:
    actions, trace = run(app, from_network(), machine(3), handled(service))
    assert [type(a) for a in actions] == [Answer, ReceiveFax, Hangup]
    receive = actions[1]
    assert isinstance(receive, ReceiveFax) and receive.path.endswith(".tif")
    assert actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)
    line = app.directory().fax_line(app.enterprise(None).id, "Office fax")
    assert line is not None
    [fax] = received_faxes(app, line.id)
    assert fax.ok and fax.pages == 3 and fax.caller == "+31301234567"
    assert fax.failure is None
    pdf = Path(receive.path).with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf_pages(pdf) == 3
    assert not Path(receive.path).exists()  # the PDF holds the pages losslessly
    assert "3 page(s) received from +31301234567: kept as PDF, not e-mailed: no mail relay" \
        in story(trace)
    assert trace.classification.outcome == "fax"


def test_the_extension_reaches_the_fax_line_too(app: Pbx, service: FaxService) -> None:
    ctx = CallContext(CALL, "sofia/internal/101", "101", "Alice", "690", Origin.INTERNAL,
                      "acme.example", "101")
    actions, _ = run(app, ctx, machine(1), handled(service))
    assert any(isinstance(a, ReceiveFax) for a in actions)


def test_a_failed_reception_is_recorded_failed_and_no_pdf_is_made(
        app: Pbx, service: FaxService) -> None:
    def broken(path: str) -> FaxReceived:
        return FaxReceived(path, 0, False, "The call dropped prematurely", "49")

    actions, trace = run(app, from_network(), broken, handled(service))
    assert actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)
    line = app.directory().fax_line(app.enterprise(None).id, "Office fax")
    assert line is not None
    [fax] = received_faxes(app, line.id)
    assert not fax.ok and fax.status == "failed"
    assert fax.failure == "reception failed: The call dropped prematurely"
    receive = actions[1]
    assert isinstance(receive, ReceiveFax)
    assert not Path(receive.path).with_suffix(".pdf").exists()
    assert "no fax received (The call dropped prematurely): recorded as failed" in story(trace)
    assert trace.classification.outcome == "fax failed"


def test_reporting_the_same_call_twice_records_one_fax(app: Pbx, service: FaxService) -> None:
    line = app.directory().fax_line(app.enterprise(None).id, "Office fax")
    assert line is not None
    prepared = service.handle(Command("fax", "prepare", (("line", str(line.id)),)),
                              CTX)
    path = prepared.value.removeprefix("path=")
    _write_tiff(path, 2, "x")
    report = Command("fax", "received", (("line", str(line.id)), ("call", CALL),
                                         ("path", path), ("ok", "1"), ("pages", "2")))
    first = service.handle(report, CTX)
    again = service.handle(report, CTX)
    assert first.ok and again == first
    assert len(received_faxes(app, line.id)) == 1
    assert first.value == f"fax={Fax.create_id(line.id, CALL)};mail=off"  # no mail relay


def test_a_path_outside_the_line_folder_is_refused(app: Pbx, service: FaxService,
                                                   tmp_path: Path) -> None:
    line = app.directory().fax_line(app.enterprise(None).id, "Office fax")
    assert line is not None
    report = Command("fax", "received", (("line", str(line.id)), ("call", CALL),
                                         ("path", str(tmp_path / "elsewhere.tif")),
                                         ("ok", "1")))
    assert not service.handle(report, CTX).ok
    assert received_faxes(app, line.id) == []


def test_without_the_fax_service_the_call_fails_clearly(app: Pbx) -> None:
    actions, trace = run(app, from_network(), machine(1), lambda c: CommandResult(False))
    assert actions[-1] == Hangup(HangupCause.NORMAL_TEMPORARY_FAILURE)
    assert not any(isinstance(a, ReceiveFax) for a in actions)
    assert "cannot receive faxes on this controller" in story(trace)


def test_tiff_to_pdf_keeps_every_page_at_its_fax_resolution(tmp_path: Path) -> None:
    tiff = tmp_path / "in.tif"
    _write_tiff(str(tiff), 4, "x")
    with Image.open(tiff) as image:
        assert getattr(image, "n_frames", 1) == 4 and image.info["dpi"] == (204.0, 98.0)
    pdf = tiff_to_pdf(tiff)
    assert pdf_pages(pdf) == 4
    with pikepdf.open(io.BytesIO(pdf.read_bytes())) as document:
        box = document.pages[0].mediabox
        width, height = float(box[2]), float(box[3])
    assert abs(width - 1728 / 204 * 72) < 1 and abs(height - 1143 / 98 * 72) < 1  # A4-ish


# -- FreeSWITCH's variables ------------------------------------------------------------------
def test_rxfax_completion_variables_become_the_outcome() -> None:
    ok = fax_result("/f.tif", {
        "variable_fax_success": "1", "variable_fax_result_code": "0",
        "variable_fax_result_text": "OK", "variable_fax_document_transferred_pages": "2",
        "variable_fax_document_total_pages": "2", "variable_fax_remote_station_id": "+3130",
    })
    assert ok == FaxReceived("/f.tif", 2, True, "OK", "0", "+3130")
    # FusionPBX's example of a dropped call (fax_retry.lua)
    dropped = fax_result("/f.tif", {
        "variable_fax_success": "0", "variable_fax_result_code": "49",
        "variable_fax_result_text": "The call dropped prematurely",
        "variable_fax_document_transferred_pages": "0",
    })
    assert not dropped.ok and dropped.pages == 0 and dropped.code == "49"
    assert fax_result("/f.tif", {}) == FaxReceived("/f.tif", 0, False, "no fax result")


# -- the use cases ---------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (("Fax 2", "020 7654322", "a@acme.example"), "already belongs to fax Office fax"),
    (("Fax 2", "020 1234567", "a@acme.example"), "already belongs to another user"),
    (("Fax 2", "020 7654323", "nope"), "invalid e-mail address"),
    (("office FAX", "020 7654323", "a@acme.example"), "already exists"),
])
def test_bad_fax_lines_are_refused_and_nothing_is_written(
        app: Pbx, args: tuple[str, str, str], message: str) -> None:
    before = app.last_position()
    with pytest.raises(ValidationError, match=message):
        use_cases.add_fax_line(app, None, *args)
    assert app.last_position() == before


def test_second_address_must_differ_and_changes_fold_the_same_after_a_rebuild(
        app: Pbx) -> None:
    with pytest.raises(ValidationError, match="second e-mail address is the same"):
        use_cases.change_fax_line(app, None, "Office fax", email2="FAX@acme.example")
    changed = use_cases.change_fax_line(app, None, "Office fax", email2=None)
    assert changed.email2 is None
    rebuilt = Directory()
    app.catch_up(rebuilt)
    assert rebuilt.state() == app.directory().state()
    use_cases.remove_fax_line(app, None, "Office fax")
    assert app.directory().target_with_number("+31207654322") is None
    assert app.directory().target(app.enterprise(None).id, "690") is None
