"""Privacy use cases: erase a person (crypto-shredding) and purge the call log past retention.

* :func:`erase_person` destroys the person's key (see :mod:`esl_controller.personal`) and
  records ``PersonErased`` with the person hash and the time, never the number. No stored
  event changes: every sealed value about the person reads ``[erased]`` from then on.
* :func:`purge_call_log` records ``CallLogPurged`` (how many rows, up to when); the call log
  projection deletes the rows when it folds that event, so a rebuild from zero purges the
  same rows again and equals the live read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from sqlalchemy import func, select

from esl_controller import personal
from esl_controller.domain.numbers import try_normalise
from esl_controller.errors import NotFoundError, ValidationError

MAX_RETENTION_DAYS = 36500


class PersonErasure(Aggregate):
    """One erasure request carried out (GDPR art. 17): the evidence, not the person."""

    @event("PersonErased")
    def __init__(self, person_hash: str, enterprise_id: UUID | None, at: datetime) -> None:
        self.person_hash = person_hash
        self.enterprise_id = enterprise_id
        self.at = at


class CallLogPurge(Aggregate):
    """One retention run over the call log read model."""

    @event("CallLogPurged")
    def __init__(self, before: datetime, rows: int, at: datetime) -> None:
        self.before = before
        self.rows = rows
        self.at = at


@dataclass(frozen=True, slots=True)
class Erased:
    number: str
    person_hash: str
    erasure_id: UUID
    at: datetime


@dataclass(frozen=True, slots=True)
class Purged:
    rows: int
    before: datetime
    purge_id: UUID


def erase_person(app: Any, raw_number: str, enterprise: str | None = None,
                 now: datetime | None = None) -> Erased:
    """Destroy the key of the person with ``raw_number``; one ``PersonErased`` event.

    ``enterprise`` (optional) names the enterprise the request came through; it must exist.
    A number nobody has a key for (never seen, or erased already) is refused.
    """
    number = try_normalise(raw_number, "NL")
    if number is None:
        raise ValidationError(f"not a valid telephone number: {raw_number!r}")
    enterprise_id = app.enterprise(enterprise).id if enterprise is not None else None
    store = personal.keys(app)
    person_hash = store.person_hash(number)
    if store.key(person_hash) is None:
        raise NotFoundError(f"no personal data held for {number} (unknown or already erased)")
    at = now or datetime.now(UTC)
    erasure = PersonErasure(person_hash, enterprise_id, at)
    app.save(erasure)  # the evidence first: a crash before the delete leaves it retryable
    store.erase(person_hash)
    return Erased(number, person_hash, erasure.id, at)


def purge_call_log(app: Any, older_than_days: int, now: datetime | None = None) -> Purged:
    """Delete call log rows of calls that started more than ``older_than_days`` ago."""
    from projections.call_log import ENTRIES, CallLogProjection, to_iso
    from projections.tracking import Follower

    if older_than_days < 0 or older_than_days > MAX_RETENTION_DAYS:
        raise ValidationError(
            f"--older-than must be 0 to {MAX_RETENTION_DAYS} days, not {older_than_days}")
    at = now or datetime.now(UTC)
    before = at - timedelta(days=older_than_days)
    follower = Follower(app, CallLogProjection())
    try:
        follower.catch_up()
        with follower.engine.connect() as conn:
            rows = int(conn.execute(
                select(func.count()).select_from(ENTRIES).where(
                    ENTRIES.c.started_at < to_iso(before))
            ).scalar_one())
        purge = CallLogPurge(before, rows, at)
        app.save(purge)
        follower.catch_up()  # the projection deletes the rows as it folds the event
    finally:
        follower.close()
    return Purged(rows, before, purge.id)
