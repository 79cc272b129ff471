"""Refused audit, privacy and webhook commands, recorded as events (issue 6 item 7).

A command of an auditor or administrator that is refused (a timestamp that does not parse, an
export range reversed, an erasure of a number nobody holds data of ...) answers with one line
and exit status 2 and changes NOTHING of the configuration. What it does add is one
``AuditRequestRefused`` event, so an auditor sees the attempt in the log: the command, the
reason, the OS user who ran it and the time. That is the one deliberate exception to "bad
input leaves the store unchanged": the configuration is unchanged, the audit trail gains an
entry. No secret and no personal data in clear is recorded: the values of options that carry
either are replaced before the reason is kept (a number by its person hash, a secret by
``[secret]``).

Refusals that already record their own event are not recorded twice: recording access
(``RecordingAccessRefused``) and share links (``RecordingShareRefused``).
"""

from __future__ import annotations

import functools
import getpass
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate, event

from esl_controller import personal
from esl_controller.domain.numbers import try_normalise
from esl_controller.errors import PbxError, ValidationError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
MAX_REASON = 300


class AuditRequestRefusal(Aggregate):
    """One refused audit, privacy or webhook command (its own aggregate: one event)."""

    @event("AuditRequestRefused")
    def __init__(self, command: str, reason: str, by: str, at: datetime) -> None:
        self.command = command
        self.reason = reason
        self.by = by
        self.at = at


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def scrubbed(app: Any, text: str, numbers: Iterable[str] = (),
             secrets: Iterable[str] = ()) -> str:
    """``text`` without the given numbers (each spelling: by ``person <hash>``) and secrets."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    for raw in numbers:
        if not raw or not raw.strip():
            continue
        e164 = try_normalise(raw, "NL")
        label = (f"person {personal.keys(app).person_hash(e164)[:12]}" if e164 is not None
                 else "[number]")
        forms = {raw, raw.strip(), *(personal.spellings(e164) if e164 is not None else ())}
        for form in sorted((f for f in forms if f), key=len, reverse=True):
            text = text.replace(form, label)
    return text


def record_refusal(app: Any, command: str, reason: str, now: datetime | None = None
                   ) -> AuditRequestRefusal:
    """Append ``AuditRequestRefused``; ``reason`` must already be scrubbed."""
    refusal = AuditRequestRefusal(command, reason[:MAX_REASON], _who(),
                                  now or datetime.now(UTC))
    app.save(refusal)
    log.info("audit: refused %s: %s", command, reason)
    return refusal


def refusals_recorded(command: str, numbers: tuple[str, ...] = (),
                      secrets: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorate a CLI callback taking ``app`` first: a ``PbxError`` it raises (bad input) is
    recorded as ``AuditRequestRefused`` and raised on. ``numbers`` / ``secrets`` name the
    keyword arguments whose values are personal numbers / secrets, kept out of the reason."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(app: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return func(app, *args, **kwargs)
            except PbxError as exc:
                from esl_controller.recording_access import AccessRefusedError

                # recording access refusals record RecordingAccessRefused themselves
                if isinstance(exc, ValidationError) and not isinstance(exc, AccessRefusedError):
                    reason = scrubbed(app, str(exc),
                                      [str(kwargs.get(n) or "") for n in numbers],
                                      [str(kwargs.get(s) or "") for s in secrets])
                    try:
                        record_refusal(app, command, reason)
                    except Exception:  # boundary: the refusal is answered even so
                        log.exception("audit: could not record the refusal of %s", command)
                raise

        return wrapper  # type: ignore[return-value]

    return decorate
