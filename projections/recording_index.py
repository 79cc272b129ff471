"""Recording index (REC-3): every recording with its owner, other party, times and length,
the teams that decide who hears it, each listener's labels and favourites, and share links.

A :class:`~projections.tracking.SqlProjection` in the views database, followed by the worker
(``pbx projections rebuild recording_index`` rebuilds it). :func:`search` is the one query:
the caller passes the set of owners the asking user may hear (see
:func:`esl_controller.domain.recording_teams.may_listen`), so nothing outside it is read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    exists,
    select,
)
from sqlalchemy.engine import Connection

from esl_controller.domain.recording_notes import (
    RecordingNote,
    RecordingShare,
    RecordingShareOpening,
    RecordingShareRefusal,
)
from esl_controller.domain.recording_teams import RecordingTeam, TeamAccess
from esl_controller.domain.recordings import Recording
from projections.call_log import to_iso
from projections.tracking import SqlProjection

EVENTS: dict[type, tuple[str, ...]] = {
    Recording: ("RecordingStarted", "RecordingPaused", "RecordingResumed", "RecordingStopped",
                "RecordingKept", "RecordingDiscarded", "RecordingPurged"),
    RecordingNote: ("RecordingNoteOpened", "RecordingLabelled", "RecordingUnlabelled",
                    "RecordingFavourited", "RecordingUnfavourited"),
    RecordingTeam: ("RecordingTeamCreated", "RecordingTeamMemberSet",
                    "RecordingTeamMemberRemoved"),
    RecordingShare: ("RecordingShareCreated", "RecordingShareRevoked"),
    RecordingShareOpening: ("RecordingShareOpened",),
    RecordingShareRefusal: ("RecordingShareRefused",),
}
TOPICS: tuple[str, ...] = tuple(
    f"{cls.__module__}:{cls.__qualname__}.{name}" for cls, names in EVENTS.items()
    for name in names
)

METADATA = MetaData()
RECORDINGS = Table(
    "recording_index_recordings",
    METADATA,
    Column("recording_id", String(36), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("extension", String(16), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("other_party", String(64), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("retention", String(16), nullable=False),
    Column("path", String(400), nullable=False),
    Column("started_at", String(40), nullable=False),  # ISO 8601 UTC: sorts as text
    Column("stopped_at", String(40)),
    Column("seconds", Float, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("kept", Boolean),  # None: not decided
    Column("purged", Boolean, nullable=False),
    Index("recording_index_owner_idx", "enterprise_id", "user_id", "started_at"),
)
NOTES = Table(
    "recording_index_notes",
    METADATA,
    Column("note_id", String(36), primary_key=True),
    Column("recording_id", String(36), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("favourite", Boolean, nullable=False),
    Index("recording_index_notes_idx", "user_id", "recording_id"),
)
LABELS = Table(
    "recording_index_labels",
    METADATA,
    Column("note_id", String(36), primary_key=True),
    Column("label", String(40), primary_key=True),
    Column("recording_id", String(36), nullable=False),
    Column("user_id", String(36), nullable=False),
)
TEAMS = Table(
    "recording_index_teams",
    METADATA,
    Column("team_id", String(36), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("name", String(64), nullable=False),
)
MEMBERS = Table(
    "recording_index_members",
    METADATA,
    Column("team_id", String(36), primary_key=True),
    Column("user_id", String(36), primary_key=True),
    Column("extension", String(16), nullable=False),
    Column("listener", Boolean, nullable=False),
    Column("contributor", Boolean, nullable=False),
)
SHARES = Table(
    "recording_index_shares",
    METADATA,
    Column("share_id", String(36), primary_key=True),
    Column("recording_id", String(36), nullable=False),
    Column("enterprise_id", String(36), nullable=False),
    Column("by_extension", String(16), nullable=False),
    Column("created", String(40), nullable=False),
    Column("expires", String(40), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("opened", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
)


def state_of(paused: bool, stopped: bool, kept: bool | None, purged: bool) -> str:
    if purged:
        return "purged"
    if kept is False:
        return "discarded"
    if not stopped:
        return "paused" if paused else "recording"
    return "kept" if kept else "stopped"


@dataclass(frozen=True, slots=True)
class IndexedRecording:
    """One line of a search: the recording, and the asking listener's own notes on it."""

    recording_id: str
    enterprise_id: str
    user_id: str
    extension: str
    call_id: str
    other_party: str
    direction: str
    mode: str
    started_at: datetime
    seconds: float
    state: str
    path: str
    labels: tuple[str, ...] = ()
    favourite: bool = False
    shares: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["labels"] = list(self.labels)
        return data


@dataclass(frozen=True)
class Query:
    """Search filters; None means "any". Dates are UTC instants, ``until`` exclusive."""

    owners: Collection[str]  # user ids whose recordings the asker may hear
    user_id: str | None = None
    numbers: tuple[str, ...] = ()  # the other party is one of these (or ends with one)
    since: datetime | None = None
    until: datetime | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    label: str | None = None
    favourites: bool = False
    include_discarded: bool = False
    limit: int = 100


_REC_DELETE = RECORDINGS.delete().where(RECORDINGS.c.recording_id == bindparam("p_id"))
_REC_INSERT = RECORDINGS.insert()


def _rec_update(**values: Any) -> Any:
    return RECORDINGS.update().where(RECORDINGS.c.recording_id == bindparam("p_id")).values(
        **{k: bindparam("v_" + k) for k in values})


_REC_PAUSE = _rec_update(paused=True)
_REC_STOP = _rec_update(stopped_at="", seconds=0.0, paused=False)
_REC_KEEP = _rec_update(kept=True)
_REC_PURGE = _rec_update(purged=True)
_NOTE_INSERT = NOTES.insert()
_NOTE_DELETE = NOTES.delete().where(NOTES.c.note_id == bindparam("p_note"))
_NOTE_SELECT = NOTES.select().where(NOTES.c.note_id == bindparam("p_note"))
_NOTE_FAVOURITE = NOTES.update().where(NOTES.c.note_id == bindparam("p_note")).values(
    favourite=bindparam("v_favourite"))
_LABEL_DELETE = LABELS.delete().where(LABELS.c.note_id == bindparam("p_note"),
                                      LABELS.c.label == bindparam("p_label"))
_LABEL_INSERT = LABELS.insert()
_TEAM_DELETE = TEAMS.delete().where(TEAMS.c.team_id == bindparam("p_team"))
_TEAM_INSERT = TEAMS.insert()
_MEMBER_DELETE = MEMBERS.delete().where(MEMBERS.c.team_id == bindparam("p_team"),
                                        MEMBERS.c.user_id == bindparam("p_user"))
_MEMBER_INSERT = MEMBERS.insert()
_SHARE_DELETE = SHARES.delete().where(SHARES.c.share_id == bindparam("p_share"))
_SHARE_INSERT = SHARES.insert()
_SHARE_REVOKE = SHARES.update().where(SHARES.c.share_id == bindparam("p_share")).values(
    revoked=True)
_SHARE_OPENED = SHARES.update().where(SHARES.c.share_id == bindparam("p_share")).values(
    opened=SHARES.c.opened + 1)
_SHARE_REFUSED = SHARES.update().where(SHARES.c.share_id == bindparam("p_share")).values(
    refused=SHARES.c.refused + 1)


class RecordingIndexProjection(SqlProjection[None]):
    name = "recording_index"
    topics = TOPICS
    metadata = METADATA

    # -- recordings ------------------------------------------------------------------------
    def on_RecordingStarted(self, conn: Connection, e: Any) -> list[None]:
        key = str(e.originator_id)
        conn.execute(_REC_DELETE, {"p_id": key})
        conn.execute(_REC_INSERT, {
            "recording_id": key, "enterprise_id": str(e.enterprise_id),
            "user_id": str(e.user_id), "extension": e.extension, "call_id": e.call_id,
            "other_party": e.other_party, "direction": e.direction, "mode": e.mode,
            "retention": e.retention, "path": e.path, "started_at": to_iso(e.at),
            "stopped_at": None, "seconds": 0.0, "paused": False, "kept": None,
            "purged": False,
        })
        return []

    def on_RecordingPaused(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_REC_PAUSE, {"p_id": str(e.originator_id), "v_paused": True})
        return []

    def on_RecordingResumed(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_REC_PAUSE, {"p_id": str(e.originator_id), "v_paused": False})
        return []

    def on_RecordingStopped(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_REC_STOP, {"p_id": str(e.originator_id), "v_stopped_at": to_iso(e.at),
                                 "v_seconds": float(e.seconds), "v_paused": False})
        return []

    def on_RecordingKept(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_REC_KEEP, {"p_id": str(e.originator_id), "v_kept": True})
        return []

    def on_RecordingDiscarded(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_REC_KEEP, {"p_id": str(e.originator_id), "v_kept": False})
        return []

    def on_RecordingPurged(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_REC_PURGE, {"p_id": str(e.originator_id), "v_purged": True})
        return []

    # -- per-listener notes ----------------------------------------------------------------
    def on_RecordingNoteOpened(self, conn: Connection, e: Any) -> list[None]:
        key = str(e.originator_id)
        conn.execute(_NOTE_DELETE, {"p_note": key})
        conn.execute(_NOTE_INSERT, {"note_id": key, "recording_id": str(e.recording_id),
                                    "user_id": str(e.user_id), "favourite": False})
        return []

    def on_RecordingLabelled(self, conn: Connection, e: Any) -> list[None]:
        note = conn.execute(_NOTE_SELECT, {"p_note": str(e.originator_id)}).first()
        if note is not None:
            conn.execute(_LABEL_DELETE, {"p_note": note.note_id, "p_label": e.label})
            conn.execute(_LABEL_INSERT, {"note_id": note.note_id, "label": e.label,
                                         "recording_id": note.recording_id,
                                         "user_id": note.user_id})
        return []

    def on_RecordingUnlabelled(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_LABEL_DELETE, {"p_note": str(e.originator_id), "p_label": e.label})
        return []

    def on_RecordingFavourited(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_NOTE_FAVOURITE, {"p_note": str(e.originator_id), "v_favourite": True})
        return []

    def on_RecordingUnfavourited(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_NOTE_FAVOURITE, {"p_note": str(e.originator_id), "v_favourite": False})
        return []

    # -- teams -----------------------------------------------------------------------------
    def on_RecordingTeamCreated(self, conn: Connection, e: Any) -> list[None]:
        key = str(e.originator_id)
        conn.execute(_TEAM_DELETE, {"p_team": key})
        conn.execute(_TEAM_INSERT, {"team_id": key, "enterprise_id": str(e.enterprise_id),
                                    "name": e.name})
        return []

    def on_RecordingTeamMemberSet(self, conn: Connection, e: Any) -> list[None]:
        params = {"p_team": str(e.originator_id), "p_user": str(e.user_id)}
        conn.execute(_MEMBER_DELETE, params)
        conn.execute(_MEMBER_INSERT, {"team_id": params["p_team"], "user_id": params["p_user"],
                                      "extension": e.extension, "listener": bool(e.listener),
                                      "contributor": bool(e.contributor)})
        return []

    def on_RecordingTeamMemberRemoved(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_MEMBER_DELETE, {"p_team": str(e.originator_id), "p_user": str(e.user_id)})
        return []

    # -- shares ----------------------------------------------------------------------------
    def on_RecordingShareCreated(self, conn: Connection, e: Any) -> list[None]:
        key = str(e.originator_id)
        conn.execute(_SHARE_DELETE, {"p_share": key})
        conn.execute(_SHARE_INSERT, {
            "share_id": key, "recording_id": str(e.recording_id),
            "enterprise_id": str(e.enterprise_id), "by_extension": e.by_extension,
            "created": to_iso(e.at), "expires": to_iso(e.expires), "revoked": False,
            "opened": 0, "refused": 0,
        })
        return []

    def on_RecordingShareRevoked(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_SHARE_REVOKE, {"p_share": str(e.originator_id)})
        return []

    def on_RecordingShareOpened(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_SHARE_OPENED, {"p_share": str(e.share_id)})
        return []

    def on_RecordingShareRefused(self, conn: Connection, e: Any) -> list[None]:
        if e.share_id is not None:
            conn.execute(_SHARE_REFUSED, {"p_share": str(e.share_id)})
        return []


# -- reading ---------------------------------------------------------------------------------
def teams(conn: Connection, enterprise_id: str | UUID) -> list[TeamAccess]:
    """The enterprise's teams as :func:`may_listen` wants them, by name."""
    found: dict[str, tuple[str, set[UUID], set[UUID]]] = {}
    for row in conn.execute(TEAMS.select().where(TEAMS.c.enterprise_id == str(enterprise_id))):
        found[row.team_id] = (row.name, set(), set())
    if found:
        query = MEMBERS.select().where(MEMBERS.c.team_id.in_(list(found)))
        for m in conn.execute(query):
            _name, listeners, contributors = found[m.team_id]
            if m.listener:
                listeners.add(UUID(m.user_id))
            if m.contributor:
                contributors.add(UUID(m.user_id))
    ent = UUID(str(enterprise_id))
    return sorted(
        (TeamAccess(ent, name, frozenset(li), frozenset(co))
         for name, li, co in found.values()),
        key=lambda t: t.name.casefold(),
    )


def team_members(conn: Connection, enterprise_id: str | UUID,
                 name: str) -> list[tuple[str, bool, bool]] | None:
    """(extension, listener, contributor) of the team called ``name``; None: no such team."""
    row = conn.execute(TEAMS.select().where(TEAMS.c.enterprise_id == str(enterprise_id))
                       .where(TEAMS.c.name == name)).first()
    if row is None:
        return None
    members = conn.execute(MEMBERS.select().where(MEMBERS.c.team_id == row.team_id))
    return sorted((m.extension, bool(m.listener), bool(m.contributor)) for m in members)


def recordings_with_prefix(conn: Connection, enterprise_id: str | UUID,
                           prefix: str) -> list[str]:
    query = select(RECORDINGS.c.recording_id).where(
        RECORDINGS.c.enterprise_id == str(enterprise_id),
        RECORDINGS.c.recording_id.like(prefix.replace("%", "").replace("_", "") + "%"))
    return [r.recording_id for r in conn.execute(query)]


def shares_with_prefix(conn: Connection, enterprise_id: str | UUID,
                       prefix: str) -> list[Any]:
    query = SHARES.select().where(
        SHARES.c.enterprise_id == str(enterprise_id),
        SHARES.c.share_id.like(prefix.replace("%", "").replace("_", "") + "%"))
    return list(conn.execute(query))


def search(conn: Connection, asker_id: str | UUID, query: Query) -> list[IndexedRecording]:
    """Recordings matching ``query`` among ``query.owners``, newest first, with the asker's
    own labels and favourite mark."""
    asker = str(asker_id)
    if not query.owners:
        return []
    r = RECORDINGS
    stmt = select(r).where(r.c.user_id.in_(sorted(query.owners)))
    if not query.include_discarded:
        stmt = stmt.where((r.c.kept.is_(None)) | (r.c.kept.is_(True)))
    if query.user_id is not None:
        stmt = stmt.where(r.c.user_id == query.user_id)
    if query.numbers:
        wanted = [r.c.other_party == n for n in query.numbers]
        wanted += [r.c.other_party.like("%" + n) for n in query.numbers
                   if len(n) >= 6 and n.isdigit()]
        wanted += [r.c.other_party.like(n + "%") for n in query.numbers
                   if n.startswith("pd:v1:")]  # sealed: the person hash it starts with
        clause = wanted[0]
        for more in wanted[1:]:
            clause = clause | more
        stmt = stmt.where(clause)
    if query.since is not None:
        stmt = stmt.where(r.c.started_at >= to_iso(query.since))
    if query.until is not None:
        stmt = stmt.where(r.c.started_at < to_iso(query.until))
    if query.min_seconds is not None:
        stmt = stmt.where(r.c.seconds >= query.min_seconds)
    if query.max_seconds is not None:
        stmt = stmt.where(r.c.seconds <= query.max_seconds)
    if query.label is not None:
        stmt = stmt.where(exists().where(and_(
            LABELS.c.recording_id == r.c.recording_id, LABELS.c.user_id == asker,
            LABELS.c.label == query.label)))
    if query.favourites:
        stmt = stmt.where(exists().where(and_(
            NOTES.c.recording_id == r.c.recording_id, NOTES.c.user_id == asker,
            NOTES.c.favourite.is_(True))))
    stmt = stmt.order_by(r.c.started_at.desc(), r.c.recording_id).limit(query.limit)
    rows = list(conn.execute(stmt))
    ids = [row.recording_id for row in rows]
    labels: dict[str, list[str]] = {}
    favourites: set[str] = set()
    shares: dict[str, int] = {}
    if ids:
        for lab in conn.execute(LABELS.select().where(LABELS.c.user_id == asker,
                                                      LABELS.c.recording_id.in_(ids))):
            labels.setdefault(lab.recording_id, []).append(lab.label)
        for note in conn.execute(NOTES.select().where(NOTES.c.user_id == asker,
                                                      NOTES.c.recording_id.in_(ids))):
            if note.favourite:
                favourites.add(note.recording_id)
        for share in conn.execute(SHARES.select().where(SHARES.c.recording_id.in_(ids),
                                                        SHARES.c.revoked.is_(False))):
            shares[share.recording_id] = shares.get(share.recording_id, 0) + 1
    return [
        IndexedRecording(
            recording_id=row.recording_id, enterprise_id=row.enterprise_id,
            user_id=row.user_id, extension=row.extension, call_id=row.call_id,
            other_party=row.other_party, direction=row.direction, mode=row.mode,
            started_at=datetime.fromisoformat(row.started_at), seconds=float(row.seconds),
            state=state_of(bool(row.paused), row.stopped_at is not None, row.kept,
                           bool(row.purged)),
            path=row.path, labels=tuple(sorted(labels.get(row.recording_id, ()))),
            favourite=row.recording_id in favourites, shares=shares.get(row.recording_id, 0),
        )
        for row in rows
    ]
