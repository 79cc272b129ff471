"""Recording (REC-1 .. REC-3): one recorded call leg of one user, from start to purge.

Every step is an event, so the recording index, retention and audits read the same story:
started, paused, resumed, stopped, kept or discarded, purged (the evidence stays, the audio
goes). The audio itself is a WAV file FreeSWITCH writes (``record_session`` /
``uuid_record``) under the recordings folder.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

MODES = ("always", "always-pause", "on-demand", "on-demand-start", "never")
RETENTION_CLASSES = {  # class -> (days kept, minutes per user per month or None)
    "90d": (90, None),
    "365d": (365, None),
    "7y-1000": (7 * 365, 1000),
    "7y-3500": (7 * 365, 3500),
}


class Recording(Aggregate):
    """One recording of one call for one user (the contributor)."""

    @staticmethod
    def create_id(call_id: str, user_id: UUID) -> UUID:
        return uuid5(user_id, "recording:" + call_id)

    @event("RecordingStarted")
    def __init__(
        self,
        call_id: str,
        enterprise_id: UUID,
        user_id: UUID,
        extension: str,
        other_party: str,
        direction: str,  # "inbound" | "outbound" | "internal"
        mode: str,
        path: str,
        retention: str,
        at: datetime,
    ) -> None:
        self.call_id = call_id
        self.enterprise_id = enterprise_id
        self.user_id = user_id
        self.extension = extension
        self.other_party = other_party
        self.direction = direction
        self.mode = mode
        self.path = path
        self.retention = retention
        self.started_at = at
        self.paused = False
        self.stopped_at: datetime | None = None
        self.seconds = 0.0
        self.kept: bool | None = None  # None: not decided (on-demand modes)
        self.purged = False

    @event("RecordingPaused")
    def pause(self, at: datetime) -> None:
        self.paused = True

    @event("RecordingResumed")
    def resume(self, at: datetime) -> None:
        self.paused = False

    @event("RecordingStopped")
    def stop(self, at: datetime, seconds: float, reason: str) -> None:
        """``reason``: "call-ended", "user", "monthly-cap" ..."""
        self.stopped_at = at
        self.seconds = seconds

    @event("RecordingKept")
    def keep(self, at: datetime) -> None:
        self.kept = True

    @event("RecordingDiscarded")
    def discard(self, at: datetime) -> None:
        self.kept = False

    @event("RecordingPurged")
    def purge(self, at: datetime, reason: str) -> None:
        """The audio is deleted ("retention", "discarded" ...); this record stays."""
        self.purged = True


def month_of(at: datetime) -> str:
    """The calendar month a recording counts against (``YYYY-MM``, the event's UTC time)."""
    return f"{at.year:04d}-{at.month:02d}"


class RecordingPolicy(Aggregate):
    """A user's recording settings (REC-1, REC-2): mode and retention class."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(user_id, "recording-policy")

    @event("RecordingPolicyCreated")
    def __init__(self, enterprise_id: UUID, user_id: UUID, mode: str, retention: str) -> None:
        self.enterprise_id = enterprise_id
        self.user_id = user_id
        self.mode = mode
        self.retention = retention

    @event("RecordingPolicySet")
    def set(self, mode: str, retention: str) -> None:
        self.mode = mode
        self.retention = retention
