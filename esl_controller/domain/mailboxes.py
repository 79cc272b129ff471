"""Mailbox: one user's voicemail box (USR-7): messages, greetings, PIN lockout.

Capacity counts the seconds of the messages kept; a full box takes nothing. Validation,
``now`` and new ids come from the caller (the voicemail service): the decorated event
methods only assign state, because they run again on every replay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

DEFAULT_CAPACITY_SECONDS = 3600  # 60 minutes
DEFAULT_RETENTION_DAYS = 14  # 2 weeks
MAX_PIN_FAILURES = 3
LOCK_MINUTES = 15
GREETING_KINDS = ("busy", "unavailable")


@dataclass(frozen=True, slots=True)
class Message:
    """One kept message; ``status`` is ``new`` until the owner saves it."""

    message_id: str
    caller: str
    caller_name: str
    seconds: float
    path: str
    at: datetime
    status: str = "new"
    mailed_to: str | None = None


@dataclass(frozen=True, slots=True)
class GroupBox:
    """What a group voicemail box (business / department voicemail) adds to a box: its
    name and public numbers, the cc address, and greeting-only mode (``None``: callers
    leave messages; ``"hangup"``; ``"forward:DEST"``)."""

    name: str
    numbers: tuple[str, ...] = ()
    cc: str | None = None
    greeting_only: str | None = None
    removed: bool = False


class Mailbox(Aggregate):
    """The voicemail box of one user, identified by the user's id (``uuid5``)."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(user_id, "mailbox")

    @event("MailboxEnabled")
    def __init__(
        self,
        user_id: UUID,
        enterprise_id: UUID,
        extension: str,
        email: str | None,
        email_audio: bool,
        capacity_seconds: int = DEFAULT_CAPACITY_SECONDS,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.user_id = user_id
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.messages: dict[str, Message] = {}
        self.greetings: dict[str, str] = {}
        self.pin_failures = 0
        self.locked_until: datetime | None = None
        self.keep = True  # False: e-mail only, the message leaves the box once mailed
        self.group: GroupBox | None = None  # set for a group voicemail box (CORE-4, OPT-4)
        self._settings(email, email_audio, capacity_seconds, retention_days)

    def _settings(
        self, email: str | None, email_audio: bool, capacity_seconds: int, retention_days: int
    ) -> None:
        self.enabled = True
        self.email = email
        self.email_audio = email_audio
        self.capacity_seconds = capacity_seconds
        self.retention_days = retention_days

    @event("MailboxReenabled")
    def reenable(
        self, email: str | None, email_audio: bool, capacity_seconds: int, retention_days: int
    ) -> None:
        """Enabled again (or its settings changed); kept messages stay."""
        self._settings(email, email_audio, capacity_seconds, retention_days)

    @event("MailboxDisabled")
    def disable(self) -> None:
        self.enabled = False

    # -- capacity ------------------------------------------------------------------------
    @property
    def seconds_used(self) -> float:
        return sum(m.seconds for m in self.messages.values())

    @property
    def seconds_left(self) -> int:
        return max(0, int(self.capacity_seconds - self.seconds_used))

    @property
    def full(self) -> bool:
        return self.seconds_left < 1

    def counts(self) -> tuple[int, int]:
        """(new, saved) messages."""
        new = sum(1 for m in self.messages.values() if m.status == "new")
        return new, len(self.messages) - new

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def expired(self, now: datetime) -> list[Message]:
        limit = now - timedelta(days=self.retention_days)
        return [m for m in self.messages.values() if m.at < limit]

    # -- messages ------------------------------------------------------------------------
    @event("MessageLeft")
    def leave_message(
        self, message_id: str, caller: str, caller_name: str, seconds: float, path: str,
        at: datetime,
    ) -> None:
        self.messages[message_id] = Message(message_id, caller, caller_name, seconds, path, at)

    @event("MessageMailed")
    def mailed(self, message_id: str, to: str) -> None:
        found = self.messages.get(message_id)
        if found is not None:
            self.messages[message_id] = replace(found, mailed_to=to)

    @event("MessageSaved")
    def save_message(self, message_id: str) -> None:
        self.messages[message_id] = replace(self.messages[message_id], status="saved")

    @event("MessageDeleted")
    def delete_message(self, message_id: str) -> None:
        self.messages.pop(message_id, None)

    @event("MessageForwarded")
    def forward_message(self, message_id: str, to_extension: str, new_message_id: str) -> None:
        """A copy went to a colleague's box (the copy is a MessageLeft there)."""

    @event("MessagePurged")
    def purge_message(self, message_id: str, reason: str) -> None:
        self.messages.pop(message_id, None)

    # -- greetings and PIN ---------------------------------------------------------------
    @event("GreetingRecorded")
    def record_greeting(self, kind: str, path: str) -> None:
        self.greetings[kind] = path

    @event("PinFailed")
    def fail_pin(self, at: datetime) -> None:
        self.pin_failures += 1

    @event("PinAccepted")
    def accept_pin(self, at: datetime) -> None:
        self.pin_failures = 0

    @event("MailboxLocked")
    def lock(self, until: datetime) -> None:
        self.locked_until = until
        self.pin_failures = 0

    # -- e-mail only (USR-7: messages to e-mail, optionally also kept) -------------------
    @event("MailboxDeliveryChanged")
    def set_delivery(self, keep: bool) -> None:
        """``keep`` False: a message leaves the box once it was e-mailed."""
        self.keep = keep

    @event("MessageRemovedAfterMail")
    def remove_mailed(self, message_id: str, to: str) -> None:
        """E-mail only: the message went to ``to``; its audio and its place are freed."""
        self.messages.pop(message_id, None)

    # -- group voicemail (CORE-4 business voicemail, OPT-4 department voicemail) ---------
    @staticmethod
    def group_owner_id(enterprise_id: UUID, name: str) -> UUID:
        """The owner id a group box is keyed by (``create_id`` of it is the box's id)."""
        return uuid5(enterprise_id, f"group-voicemail:{name.strip().lower()}")

    @event("GroupMailboxConfigured")
    def configure_group(
        self, enterprise_id: UUID, name: str, extension: str, numbers: tuple[str, ...], email: str,
        cc: str | None, greeting_only: str | None,
    ) -> None:
        """The box serves a group target: its extension, numbers, addresses and mode."""
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.email = email
        self.group = GroupBox(name, tuple(numbers), cc, greeting_only)

    @event("GroupMailboxRemoved")
    def remove_group(self) -> None:
        """The group box is gone: no extension or number reaches it any more."""
        self.enabled = False
        if self.group is not None:
            self.group = replace(self.group, removed=True)
