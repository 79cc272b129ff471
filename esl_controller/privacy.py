"""Privacy use cases: erase a person (crypto-shredding) and purge the call log past retention.

* :func:`erase_person` destroys the person's key (see :mod:`esl_controller.personal`) and
  records ``PersonErased`` with the person hash and the time, never the number. No stored
  event changes: every sealed value about the person reads ``[erased]`` from then on: the
  call events and call log, the caller number and name of voicemail messages, the sender
  number and station id of faxes, the other party of recordings (all sealed when recorded).
  What is kept and what goes with the erasure:

  - voicemail messages the person LEFT are deleted (audio file and place in the box,
    ``MessagePurged`` reason ``erased``; ``PersonErased`` lists them): their voice is their
    personal data, not the box owner's;
  - received faxes are kept: a document sent to the business is the recipient's
    correspondence (a letter, an order); only who sent it is erased;
  - call recordings are kept until their retention class expires: the recorded user's
    (their employer's) record, often kept by legal obligation (GDPR art. 17(3)(b)); the
    other party's number in them reads ``[erased]``.
* :func:`purge_call_log` records ``CallLogPurged`` (how many rows, up to when); the call log
  projection deletes the rows when it folds that event, so a rebuild from zero purges the
  same rows again and equals the live read model.
"""

from __future__ import annotations

import os
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
    def __init__(self, person_hash: str, enterprise_id: UUID | None, at: datetime,
                 voicemail_messages: tuple[str, ...] = ()) -> None:
        """``voicemail_messages``: ``<box id>/<message id>`` of the messages the person left,
        deleted with the erasure (events before this field existed have none)."""
        self.person_hash = person_hash
        self.enterprise_id = enterprise_id
        self.at = at
        self.voicemail_messages = tuple(voicemail_messages)


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
    voicemail_messages: int = 0  # messages the person left, deleted (audio and place)


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
    messages = _messages_left_by(app, person_hash, number)
    erasure = PersonErasure(person_hash, enterprise_id, at,
                            tuple(f"{box}/{message}" for box, message in messages))
    app.save(erasure)  # the evidence first: a crash before the delete leaves it retryable
    deleted = _delete_messages(app, messages)
    store.erase(person_hash)
    return Erased(number, person_hash, erasure.id, at, deleted)


def _about(value: object, person_hash: str, number: str) -> bool:
    """Whether a stored caller value is the person's: sealed under their hash, or (stored
    before sealing existed) their number in clear."""
    if not isinstance(value, str) or not value:
        return False
    if personal.is_sealed(value):
        return value.startswith(f"{personal.PREFIX}{person_hash}:")
    return try_normalise(value, "NL") == number


def _messages_left_by(app: Any, person_hash: str, number: str) -> list[tuple[UUID, str]]:
    """The voicemail messages (box id, message id) the person left that are still kept:
    their voice is their personal data, so the audio goes with the erasure."""
    from esl_controller.domain.mailboxes import Mailbox

    topic = f"{Mailbox.__module__}:{Mailbox.__qualname__}.MessageLeft"
    left = [(e.originator_id, e.message_id) for _pos, e in app.events_after(0, [topic])
            if _about(e.caller, person_hash, number)]
    kept: list[tuple[UUID, str]] = []
    boxes: dict[UUID, Any] = {}
    for box_id, message_id in left:
        box = boxes.get(box_id) or app.repository.get(box_id)
        boxes[box_id] = box
        if message_id in box.messages:
            kept.append((box_id, message_id))
    return kept


def _delete_messages(app: Any, messages: list[tuple[UUID, str]]) -> int:
    """Each message leaves its box (``MessagePurged``, reason ``erased``) and its audio file
    is deleted; returns how many."""
    by_box: dict[UUID, list[str]] = {}
    for box_id, message_id in messages:
        by_box.setdefault(box_id, []).append(message_id)
    count = 0
    for box_id, ids in by_box.items():
        box = app.repository.get(box_id)
        paths = [box.messages[m].path for m in ids if m in box.messages]
        for message_id in ids:
            if message_id in box.messages:
                box.purge_message(message_id, "erased")
                count += 1
        app.save(box)
        for path in paths:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
    return count


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
