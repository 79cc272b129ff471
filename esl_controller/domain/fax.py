"""Fax to e-mail (OPT-3): fax lines (a target: a public number, optionally an extension) and
the faxes they received.

A ``FaxLine`` is configuration; every reception is its own small ``Fax`` aggregate (keyed by
the line and the call), so a busy line never makes one aggregate grow without end. Event
bodies only assign: validation, clocks and ids come from the fax service.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


class FaxLine(Aggregate):
    """A fax number of an enterprise whose faxes are e-mailed as PDF to one or two addresses."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, f"fax:{name.strip().lower()}")

    @event("FaxLineAdded")
    def __init__(
        self, enterprise_id: UUID, name: str, extension: str | None, numbers: tuple[str, ...],
        email: str, email2: str | None,
    ) -> None:
        self.enterprise_id = enterprise_id
        self._settings(name, extension, numbers, email, email2)

    def _settings(self, name: str, extension: str | None, numbers: tuple[str, ...],
                  email: str, email2: str | None) -> None:
        self.name = name
        self.extension = extension
        self.numbers = tuple(numbers)
        self.email = email
        self.email2 = email2
        self.removed = False

    @event("FaxLineReinstated")
    def reinstate(self, name: str, extension: str | None, numbers: tuple[str, ...],
                  email: str, email2: str | None) -> None:
        """Added again after a removal (same name: same id)."""
        self._settings(name, extension, numbers, email, email2)

    @event("FaxLineAddressesChanged")
    def change_addresses(self, email: str, email2: str | None) -> None:
        self.email = email
        self.email2 = email2

    @event("FaxLineRemoved")
    def remove(self) -> None:
        self.removed = True

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.email, self.email2) if self.email2 else (self.email,)


class Fax(Aggregate):
    """One reception on a fax line: received (ok or not), then mailed or failed."""

    @staticmethod
    def create_id(line_id: UUID, call_id: str) -> UUID:
        return uuid5(line_id, f"fax-call:{call_id}")

    @event("FaxReceived")
    def __init__(
        self, line_id: UUID, enterprise_id: UUID, call_id: str, caller: str, path: str,
        pages: int, ok: bool, result_code: str, result_text: str, remote_station: str,
        at: datetime,
    ) -> None:
        """A reception ended: ``ok`` is FreeSWITCH's ``fax_success``; ``pages`` received."""
        self.line_id = line_id
        self.enterprise_id = enterprise_id
        self.call_id = call_id
        self.caller = caller
        self.path = path
        self.pages = pages
        self.ok = ok
        self.result_code = result_code
        self.result_text = result_text
        self.remote_station = remote_station
        self.at = at
        self.mailed_to: tuple[str, ...] = ()
        self.failure: str | None = None
        self.pdf: str | None = None
        self.purged_at: datetime | None = None

    @event("FaxMailed")
    def mailed(self, to: tuple[str, ...], pdf: str) -> None:
        """The PDF went to ``to`` (the line's address and optional second address)."""
        self.mailed_to = tuple(to)
        self.pdf = pdf

    @event("FaxFailed")
    def fail(self, reason: str) -> None:
        """Reception failed (nothing to mail) or the e-mail was given up."""
        self.failure = reason

    @event("FaxPurged")
    def purge(self, at: datetime, reason: str) -> None:
        """Retention: the TIFF and PDF files were deleted; the record of the fax stays."""
        self.purged_at = at
        self.purge_reason = reason

    @property
    def status(self) -> str:
        if getattr(self, "purged_at", None) is not None:
            return "purged"
        if self.failure is not None:
            return "failed"
        return "mailed" if self.mailed_to else "pending"
