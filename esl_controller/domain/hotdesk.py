"""Hot desking (USR-8): shared phones a user logs in on with extension + PIN.

``HotDesk`` is one shared phone: its own SIP account (password stored as scrypt + A1 hash),
the time of day it logs its user out automatically, and who is logged in on it now.
``HotDeskAccess`` is one user's record of hot-desk login attempts: wrong PINs in a row and
the lock that follows the third. Validation, ``now`` and secrets' salts come from the caller
(the hot-desk service); the decorated event methods only assign state, because they run
again on every replay. :func:`next_logout` is the pure date maths of the automatic logout.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

DEFAULT_AUTO_LOGOUT = "00:00"
MAX_PIN_FAILURES = 3
LOCK_MINUTES = 15
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Why a login ended (HotDeskLoggedOut.reason).
LOGOUT_REASONS = {
    "user": "the user dialled the logout code",
    "auto": "automatic logout at the phone's time of day",
    "moved": "the user logged in on another phone",
    "replaced": "another user logged in on this phone",
    "removed": "the phone was removed",
    "user-removed": "the user no longer exists",
}


class HotDesk(Aggregate):
    """One hot-desk phone of an enterprise, identified by (enterprise, name)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "hotdesk:" + name)

    @event("HotDeskAdded")
    def __init__(
        self,
        enterprise_id: UUID,
        name: str,
        sip_password_hash: str,
        sip_a1_hash: str,
        auto_logout: str,
    ) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self._configure(sip_password_hash, sip_a1_hash, auto_logout)

    def _configure(self, sip_password_hash: str, sip_a1_hash: str, auto_logout: str) -> None:
        self.removed = False
        self.sip_password_hash = sip_password_hash
        self.sip_a1_hash = sip_a1_hash
        self.auto_logout = auto_logout
        self.user_id: UUID | None = None
        self.extension: str | None = None
        self.since: datetime | None = None

    @event("HotDeskReinstated")
    def reinstate(self, sip_password_hash: str, sip_a1_hash: str, auto_logout: str) -> None:
        """The name is given to a hot-desk phone again after it was removed."""
        self._configure(sip_password_hash, sip_a1_hash, auto_logout)

    @event("HotDeskRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("HotDeskLoggedIn")
    def log_in(self, user_id: UUID, extension: str, at: datetime) -> None:
        self.user_id = user_id
        self.extension = extension
        self.since = at

    @event("HotDeskLoggedOut")
    def log_out(self, user_id: UUID, extension: str, reason: str, at: datetime) -> None:
        """``reason`` is a key of :data:`LOGOUT_REASONS`."""
        self.user_id = None
        self.extension = None
        self.since = None


class HotDeskAccess(Aggregate):
    """One user's hot-desk login attempts: wrong PINs in a row, and the lock."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(user_id, "hotdesk-access")

    @event("HotDeskAccessOpened")
    def __init__(self, user_id: UUID) -> None:
        self.user_id = user_id
        self.failures = 0
        self.locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    @event("HotDeskPinFailed")
    def fail_pin(self, device: str, at: datetime) -> None:
        self.failures += 1

    @event("HotDeskPinAccepted")
    def accept_pin(self, device: str, at: datetime) -> None:
        self.failures = 0

    @event("HotDeskLoginLocked")
    def lock(self, until: datetime) -> None:
        self.locked_until = until
        self.failures = 0


def parse_hhmm(text: str) -> time | None:
    """``HH:MM`` (24 h) -> time, or None when it is not one."""
    match = HHMM_RE.fullmatch(text.strip())
    return time(int(match[1]), int(match[2])) if match else None


def next_logout(since: datetime, hhmm: str, timezone: str) -> datetime:
    """The first ``hhmm`` wall-clock time in ``timezone`` strictly after ``since`` (UTC).

    On the night a clock change skips ``hhmm`` the logout happens at the same UTC offset
    as before the change (zoneinfo's reading of a time that does not exist).
    """
    at = parse_hhmm(hhmm)
    if at is None:
        raise ValueError(f"not a time of day: {hhmm!r}")
    zone = ZoneInfo(timezone)
    local = since.astimezone(zone)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, at, tzinfo=zone)
        if candidate.astimezone(since.tzinfo) > since:
            return candidate.astimezone(since.tzinfo)
        day += timedelta(days=1)
    raise AssertionError("a time of day recurs within three days")  # pragma: no cover
