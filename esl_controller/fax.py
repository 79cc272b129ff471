"""Fax to e-mail (OPT-3): fax lines (use cases) and the ``fax`` service of the call sessions.

A call to a fax line runs ``rxfax`` into a TIFF file the service names (``prepare``); when
the reception ends the script reports it (``received``): the service records a ``Fax``
(``FaxReceived``), converts the TIFF losslessly to PDF with img2pdf and mails it to the
line's address and optional second address in a greenlet with retries (``FaxMailed``, or
``FaxFailed`` when the mail is given up). A failed reception (``fax_success`` 0, or no
page) is recorded as failed and only a plain notice is mailed: never an empty PDF.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

import gevent
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from esl_controller import (
    licences,  # package limits (OPT-6)
    personal,  # privacy: an outside sender's number sealed
)
from esl_controller.application import EMAIL_RE, NAME_RE, Pbx
from esl_controller.domain.fax import Fax, FaxLine
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from esl_controller.voicemail import Mailer
from projections.directory import EnterpriseView
from projections.fax_fold import FaxLineView

log = logging.getLogger(__name__)

DEFAULT_FAX_DIR = "var/fax"
FAX_TOPIC = f"{Fax.__module__}:{Fax.__qualname__}.FaxReceived"
SAVE_RETRIES = 3
UNCHANGED: object = object()


# -- use cases ----------------------------------------------------------------------------------
def add_fax_line(app: Pbx, enterprise: str | None, name: str, number: str, email: str,
                 email2: str | None = None, extension: str | None = None) -> FaxLineView:
    """A new fax line (a removed name may be used again)."""
    ent = app.enterprise(enterprise)
    directory = app.directory()
    name = name.strip()
    if not NAME_RE.match(name):
        raise ValidationError(f"invalid fax line name {name!r}: 1 to 64 letters, digits, "
                              "spaces or .&'-")
    if directory.fax_line(ent.id, name) is not None:
        raise ValidationError(f"fax line {name!r} already exists in {ent.name!r}")
    licences.check_allowed(app, ent.name, "fax",  # package limits (OPT-6)
                           len(directory.targets_of(ent.id, "fax")))
    e164 = app.check_number_free(ent, number)
    ext = app.check_extension_free(ent, extension) if extension is not None else None
    email, email2 = _valid_addresses(email, email2)
    line_id = FaxLine.create_id(ent.id, name)
    line: FaxLine
    try:
        line = app.repository.get(line_id)
        line.reinstate(name, ext, (e164,), email, email2)
    except AggregateNotFoundError:
        line = FaxLine(ent.id, name, ext, (e164,), email, email2)
    app.save(line)
    return _view(app, ent, name)


def change_fax_line(app: Pbx, enterprise: str | None, name: str, email: str | None = None,
                    email2: str | None | object = UNCHANGED) -> FaxLineView:
    """New address and/or second address (``email2`` None: no second address)."""
    ent, found = _find(app, enterprise, name)
    second = found.email2 if email2 is UNCHANGED else email2
    assert second is None or isinstance(second, str)
    new = _valid_addresses(found.email if email is None else email, second)
    if new == (found.email, found.email2):
        raise ValidationError(f"fax line {found.name} already has these addresses")
    line: FaxLine = app.repository.get(found.id)
    line.change_addresses(*new)
    app.save(line)
    return _view(app, ent, found.name)


def remove_fax_line(app: Pbx, enterprise: str | None, name: str) -> FaxLineView:
    _, found = _find(app, enterprise, name)
    line: FaxLine = app.repository.get(found.id)
    line.remove()
    app.save(line)
    return found


def fax_lines(app: Pbx, enterprise: str | None) -> list[FaxLineView]:
    return app.directory().fax_lines_of(app.enterprise(enterprise).id)


def fax_line(app: Pbx, enterprise: str | None, name: str) -> FaxLineView:
    return _find(app, enterprise, name)[1]


def received_faxes(app: Pbx, line_id: UUID) -> list[Fax]:
    """The faxes a line received, oldest first."""
    return sorted((f for f in _all_faxes(app) if f.line_id == line_id), key=lambda f: f.at)


RETENTION_DAYS_RANGE = (1, 36500)


def purge_faxes(app: Pbx, older_than_days: int, now: datetime | None = None) -> list[Fax]:
    """Retention of received faxes: the TIFF and PDF of every fax received more than
    ``older_than_days`` ago are deleted and ``FaxPurged`` recorded (who sent it, when and
    how many pages stay, as the call log keeps a call); returns the faxes purged."""
    low, high = RETENTION_DAYS_RANGE
    if not low <= older_than_days <= high:
        raise ValidationError(f"--older-than is {low} to {high} days, not {older_than_days}")
    before = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    purged: list[Fax] = []
    for _, event in app.events_after(0, [FAX_TOPIC]):
        fax: Fax = app.repository.get(event.originator_id)
        if fax.at >= before or getattr(fax, "purged_at", None) is not None:
            continue
        for path in {fax.path, fax.pdf or "", str(Path(fax.path).with_suffix(".pdf"))}:
            if path:
                _remove(Path(path))
        fax.purge(now or datetime.now(UTC), f"retention: received before {before:%Y-%m-%d}")
        app.save(fax)
        purged.append(fax)
    if purged:
        log.info("fax: purged %d fax(es) received before %s", len(purged), before)
    return purged


def _all_faxes(app: Pbx) -> Iterator[Fax]:
    for _, event in app.events_after(0, [FAX_TOPIC]):
        fax: Fax = app.repository.get(event.originator_id)
        yield personal.opened_aggregate(app, fax)  # privacy: the sender's number opened


def _find(app: Pbx, enterprise: str | None, name: str) -> tuple[EnterpriseView, FaxLineView]:
    ent = app.enterprise(enterprise)
    found = app.directory().fax_line(ent.id, name)
    if found is None:
        raise NotFoundError(f"no fax line {name.strip()!r} in {ent.name!r}")
    return ent, found


def _view(app: Pbx, ent: EnterpriseView, name: str) -> FaxLineView:
    found = app.directory().fax_line(ent.id, name)
    assert found is not None
    return found


def _valid_addresses(email: str, email2: str | None) -> tuple[str, str | None]:
    email = email.strip()
    email2 = email2.strip() if email2 else None
    for address in (email, email2):
        if address is not None and not EMAIL_RE.match(address):
            raise ValidationError(f"invalid e-mail address: {address!r}")
    if email2 is not None and email2.lower() == email.lower():
        raise ValidationError("the second e-mail address is the same as the first")
    return email, email2


# -- the service --------------------------------------------------------------------------------
def tiff_pages(path: Path) -> int:
    """How many pages (frames) the TIFF holds; 0 when it is missing or no image."""
    from PIL import Image, UnidentifiedImageError  # heavy: only where a fax arrives

    try:
        with Image.open(path) as image:
            return int(getattr(image, "n_frames", 1))
    except (OSError, UnidentifiedImageError):
        return 0


def tiff_to_pdf(tiff: Path) -> Path:
    """The PDF beside ``tiff``: every page, losslessly (img2pdf embeds the CCITT data)."""
    import img2pdf  # heavy (pikepdf): only where a fax arrives

    pdf = tiff.with_suffix(".pdf")
    try:
        pdf.write_bytes(img2pdf.convert(str(tiff)))
    except img2pdf.ImageOpenError as exc:
        raise ValueError(str(exc)) from exc
    return pdf


class FaxService:
    """The ``fax`` service of the call sessions: files, conversion, mail, events."""

    def __init__(self, app: Pbx, storage: Path, mailer: Mailer | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.storage = Path(storage).absolute()
        self.mailer = mailer
        self.clock = clock
        self.pending_mail: list[gevent.Greenlet] = []

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        try:
            line: FaxLine = self.app.repository.get(UUID(command.arg("line")))
        except (AggregateNotFoundError, ValueError):
            return CommandResult(False, "no such fax line")
        if line.removed:
            return CommandResult(False, "no such fax line")
        try:
            if command.name == "prepare":
                folder = self.folder(line)
                folder.mkdir(parents=True, exist_ok=True)
                return CommandResult(True, f"path={folder / f'{uuid.uuid4()}.tif'}")
            if command.name == "received":
                return self._received(line, command)
        except (OSError, ValueError) as exc:
            log.warning("call %s: fax %s failed: %s", ctx.call_id, command.name, exc)
            return CommandResult(False, str(exc))
        return CommandResult(False, f"unknown command {command.name!r}")

    def folder(self, line: FaxLine) -> Path:
        return self.storage / str(line.enterprise_id) / str(line.id)

    def _received(self, line: FaxLine, command: Command) -> CommandResult:
        tiff = Path(command.arg("path")).absolute()
        if tiff.parent != self.folder(line):
            raise ValueError(f"{command.arg('path')!r} is not in the fax line's folder")
        call_id = command.arg("call")
        fax_id = Fax.create_id(line.id, call_id)
        try:
            self.app.repository.get(fax_id)
            return CommandResult(True, self._answer(fax_id))  # reported before: once is enough
        except AggregateNotFoundError:
            pass
        ok = command.arg("ok") == "1"
        pages = tiff_pages(tiff) if ok else 0
        caller, station = personal.sealed_caller(  # privacy: an outside sender sealed
            self.app, self.app.directory(), command.arg("caller"), command.arg("station"))
        fax = Fax(line.id, line.enterprise_id, call_id, caller, str(tiff),
                  pages, ok, command.arg("code"), command.arg("reason"),
                  station, self.clock())
        pdf: Path | None = None
        if not ok:
            fax.fail(f"reception failed: {command.arg('reason') or 'no fax result'}")
        elif pages == 0:
            fax.fail("reception failed: no page arrived")
        else:
            try:
                pdf = tiff_to_pdf(tiff)
            except (OSError, ValueError) as exc:
                fax.fail(f"the TIFF could not be converted to PDF: {exc}")
        self.app.save(fax)
        log.info("fax %s on line %s from %s: %s, %d page(s)", fax.id, line.name,
                 personal.open_(self.app, fax.caller),
                 "received" if fax.failure is None else fax.failure, pages)
        if pdf is not None:
            _remove(tiff)  # the PDF holds the same images, losslessly
        self._mail(line, fax, pdf)
        return CommandResult(True, self._answer(fax.id))

    def _answer(self, fax_id: UUID) -> str:
        """``fax=ID;mail=on|off``: off when no mail relay is configured."""
        return f"fax={fax_id};mail={'on' if self.mailer is not None else 'off'}"

    def _mail(self, line: FaxLine, fax: Fax, pdf: Path | None) -> None:
        if self.mailer is None:
            log.warning("fax %s for %s: no mail relay configured, nothing sent", fax.id,
                        line.name)
            return
        who = personal.open_(self.app, fax.caller) or "anonymous"
        to = ", ".join(line.addresses)
        if pdf is None:  # a notice, never an empty document
            mail = self.mailer.text(to, f"Fax from {who} NOT received",
                                    f"A fax from {who} to {line.name} could not be received "
                                    f"at {fax.at:%Y-%m-%d %H:%M} UTC: {fax.failure}.\n")
            self._send(mail, None, None)
            return
        mail = self.mailer.text(to, f"Fax from {who}, {fax.pages} page(s)",
                                f"{who} sent a fax of {fax.pages} page(s) to {line.name} at "
                                f"{fax.at:%Y-%m-%d %H:%M} UTC. The document is attached.\n")
        mail.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                            filename=f"fax-{fax.at:%Y%m%d-%H%M%S}.pdf")
        fax_id, addresses = fax.id, line.addresses

        def mailed() -> None:
            self._record(fax_id, lambda f: f.mailed(addresses, str(pdf)))

        def given_up() -> None:
            self._record(fax_id, lambda f: f.fail(f"the e-mail to {to} could not be sent"))

        self._send(mail, mailed, given_up)

    def _send(self, mail: EmailMessage, on_sent: Callable[[], None] | None,
              on_failed: Callable[[], None] | None) -> None:
        assert self.mailer is not None
        self.pending_mail = [g for g in self.pending_mail if not g.dead]
        self.pending_mail.append(self.mailer.send_later(mail, on_sent or _nothing, on_failed))

    def _record(self, fax_id: UUID, change: Callable[[Fax], None]) -> None:
        for _ in range(SAVE_RETRIES):
            try:
                fresh: Fax = self.app.repository.get(fax_id)
                change(fresh)
                self.app.save(fresh)
                return
            except RecordConflictError:
                continue

    def wait_mail(self, timeout: float) -> None:
        """Wait for the e-mails in flight (tests, shutdown)."""
        gevent.joinall(self.pending_mail, timeout=timeout)


def _nothing() -> None:
    return None


def _remove(path: Path) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
