"""Per-listener notes on recordings (labels, favourites), share links and their accesses.

* :class:`RecordingNote`: one per (recording, listener): labels and a favourite mark that
  only that listener sees.
* :class:`RecordingShare`: a playback link. Its token is shown once; only the token's SHA-256
  is stored (the token is 256 random bits: it cannot be guessed, and a stolen log or
  database does not give it away). The share's id is derived from that hash, so the HTTP
  server finds a share from a token without any index.
* :class:`RecordingShareOpening` / :class:`RecordingShareRefusal`: one aggregate of one event
  per request to ``GET /play/TOKEN`` (concurrent plays never conflict); a refusal names its
  reason and never the token.
* :class:`RecordingAccessRefusal`: a listener asked for what they may not hear (CLI).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

SHARE_NAMESPACE = uuid5(NAMESPACE_URL, "pbx:recording-share")
TOKEN_PREFIX = "rec_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RecordingNote(Aggregate):
    """One listener's labels and favourite mark on one recording."""

    @staticmethod
    def create_id(recording_id: UUID, user_id: UUID) -> UUID:
        return uuid5(recording_id, "note:" + str(user_id))

    @event("RecordingNoteOpened")
    def __init__(self, recording_id: UUID, user_id: UUID, extension: str) -> None:
        self.recording_id = recording_id
        self.user_id = user_id
        self.extension = extension
        self.labels: list[str] = []
        self.favourite = False

    @event("RecordingLabelled")
    def label(self, label: str, at: datetime) -> None:
        if label not in self.labels:
            self.labels.append(label)

    @event("RecordingUnlabelled")
    def unlabel(self, label: str, at: datetime) -> None:
        if label in self.labels:
            self.labels.remove(label)

    @event("RecordingFavourited")
    def mark_favourite(self, at: datetime) -> None:
        self.favourite = True

    @event("RecordingUnfavourited")
    def unmark_favourite(self, at: datetime) -> None:
        self.favourite = False


class RecordingShare(Aggregate):
    """An expiring playback link to one recording, made by one listener."""

    @staticmethod
    def create_id(token_hash: str) -> UUID:
        return uuid5(SHARE_NAMESPACE, token_hash)

    @event("RecordingShareCreated")
    def __init__(self, recording_id: UUID, enterprise_id: UUID, by_user_id: UUID,
                 by_extension: str, team_id: UUID | None, token_hash: str,
                 expires: datetime, at: datetime) -> None:
        self.recording_id = recording_id
        self.enterprise_id = enterprise_id
        self.by_user_id = by_user_id
        self.by_extension = by_extension
        self.team_id = team_id  # the team that let them hear it; None: their own recording
        self.token_hash = token_hash
        self.expires = expires
        self.created = at
        self.revoked = False

    @event("RecordingShareRevoked")
    def revoke(self, by_extension: str, at: datetime) -> None:
        self.revoked = True


class RecordingShareOpening(Aggregate):
    """One playback through a share link (a new id for every request)."""

    @event("RecordingShareOpened")
    def __init__(self, share_id: UUID, recording_id: UUID, remote: str, range_: str,
                 at: datetime) -> None:
        self.share_id = share_id
        self.recording_id = recording_id
        self.remote = remote
        self.range_ = range_
        self.at = at


class RecordingShareRefusal(Aggregate):
    """One refused request to a share link: ``reason`` is e.g. unknown-token, expired,
    revoked, purged, discarded, no-audio, access-withdrawn."""

    @event("RecordingShareRefused")
    def __init__(self, share_id: UUID | None, recording_id: UUID | None, reason: str,
                 remote: str, at: datetime) -> None:
        self.share_id = share_id
        self.recording_id = recording_id
        self.reason = reason
        self.remote = remote
        self.at = at


class RecordingAccessRefusal(Aggregate):
    """A user asked (search, label, share ...) for recordings they may not hear."""

    @event("RecordingAccessRefused")
    def __init__(self, enterprise_id: UUID, extension: str, action: str, subject: str,
                 reason: str, at: datetime) -> None:
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.action = action
        self.subject = subject
        self.reason = reason
        self.at = at
