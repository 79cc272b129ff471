"""Call log per user, as a fold over call events (in the manner of wazo-call-logd).

While a call is in progress its facts are kept in ``call_log_active`` (so a restart mid-call
resumes exactly); at ``CallEnded`` the entries users see are written to ``call_log_entries``:

* the internal caller (``CallOffered.caller_user``) gets a *placed* entry;
* the called user (``CallRouted.target_user``) gets *received* when they answered, else
  *missed* (caller cancel, busy, no answer, not reachable, answered elsewhere).

User names are folded too (``call_log_users``), so an entry names the other party as they
were called at the time of the call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from itertools import product
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    select,
)
from sqlalchemy.engine import Connection

from esl_controller.domain.calls import Call
from esl_controller.domain.users import User
from projections.bulk import BulkFold, iso_text, uuid_text
from projections.tracking import EventSource, Follower, SqlProjection

KINDS = ("placed", "received", "missed")
CALL_EVENTS = ("CallOffered", "CallRouted", "CallAnswered", "CallEnded", "CallNumberDialled")
USER_EVENTS = ("UserCreated", "UserReinstated")
TOPICS: tuple[str, ...] = tuple(
    f"{Call.__module__}:{Call.__qualname__}.{name}" for name in CALL_EVENTS
) + tuple(f"{User.__module__}:{User.__qualname__}.{name}" for name in USER_EVENTS)
# privacy (issue 6): retention runs delete rows as this projection folds them, so a rebuild
# purges the same rows (the topic is spelled out: esl_controller.privacy imports this module)
PURGE_TOPIC = "esl_controller.privacy:CallLogPurge.CallLogPurged"
TOPICS += (PURGE_TOPIC,)

METADATA = MetaData()
ENTRIES = Table(
    "call_log_entries",
    METADATA,
    Column("call_id", String(36), primary_key=True),
    Column("extension", String(16), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("other_number", String(255), nullable=False),  # sealed when an outsider's
    Column("other_name", String(80)),
    Column("started_at", String(40), nullable=False),  # ISO 8601, UTC: sorts as text
    Column("answered", Boolean, nullable=False),
    Column("duration", Float, nullable=False),
    Column("talk", Float, nullable=False),
    Column("cause", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Index("call_log_entries_user_idx", "enterprise_id", "extension", "started_at"),
)
ACTIVE = Table(
    "call_log_active",
    METADATA,
    Column("call_id", String(36), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("caller", String(255), nullable=False),  # outsiders' numbers stay sealed here
    Column("caller_user", String(16)),
    Column("destination", String(255), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("target_user", String(16)),
    Column("answered_by", String(255)),
)
USERS = Table(
    "call_log_users",
    METADATA,
    Column("user_id", String(36), primary_key=True),
    Column("name", String(80), nullable=False),
)


@dataclass(frozen=True, slots=True)
class CallLogEntry:
    """One line of a user's call list."""

    call_id: str
    enterprise_id: str
    extension: str
    kind: str
    other_number: str
    other_name: str | None
    started_at: datetime
    answered: bool
    duration: float
    talk: float
    cause: str
    outcome: str

    @property
    def other_party(self) -> str:
        """``Bob Dupont (102)`` when the name is known, else the number."""
        if self.other_name:
            return f"{self.other_name} ({self.other_number})"
        return self.other_number

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        return data


def to_iso(at: datetime) -> str:
    """UTC ISO 8601 with microseconds: one fixed width, so text order is time order."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# Every statement is built once: building and cache-keying a Core statement per event costs
# far more than running it. Parameters are bound by name at execution.
_USER_DELETE = USERS.delete().where(USERS.c.user_id == bindparam("p_user"))
_USER_INSERT = USERS.insert()
_USER_NAMES = select(USERS.c.user_id, USERS.c.name).where(
    USERS.c.user_id.in_(bindparam("p_users", expanding=True))
)
_ACTIVE_DELETE = ACTIVE.delete().where(ACTIVE.c.call_id == bindparam("p_call"))
_ACTIVE_INSERT = ACTIVE.insert()
_ACTIVE_SELECT = ACTIVE.select().where(ACTIVE.c.call_id == bindparam("p_call"))
_ACTIVE_ROUTE = (
    ACTIVE.update()
    .where(ACTIVE.c.call_id == bindparam("p_call"))
    .values(target_user=bindparam("p_target"))
)
_ACTIVE_ANSWER = (
    ACTIVE.update()
    .where(ACTIVE.c.call_id == bindparam("p_call"))
    .values(answered_by=bindparam("p_by"))
)
_ENTRIES_INSERT = ENTRIES.insert()
_ACTIVE_DIALLED = (  # redial, call return, speed dial: the number the code stood for
    ACTIVE.update()
    .where(ACTIVE.c.call_id == bindparam("p_call"))
    .values(destination=bindparam("p_number"))
)


def _entries_query(by_enterprise: bool, by_extension: bool, by_kind: bool) -> Select[Any]:
    query = ENTRIES.select()
    if by_enterprise:
        query = query.where(ENTRIES.c.enterprise_id == bindparam("p_ent"))
    if by_extension:
        query = query.where(ENTRIES.c.extension == bindparam("p_ext"))
    if by_kind:
        query = query.where(ENTRIES.c.kind == bindparam("p_kind"))
    return query.order_by(
        ENTRIES.c.started_at.desc(), ENTRIES.c.call_id.desc(), ENTRIES.c.kind
    ).limit(bindparam("p_limit", type_=Integer))


# (by enterprise, by extension, by kind) -> the query
_ENTRIES_QUERIES: dict[tuple[bool, bool, bool], Select[Any]] = {
    (ent, ext, kind): _entries_query(ent, ext, kind)
    for ent, ext, kind in product((False, True), repeat=3)
}


class CallLogProjection(SqlProjection[None]):
    name = "call_log"
    topics = TOPICS
    metadata = METADATA

    def bulk_fold(self) -> CallLogBulk:
        return CallLogBulk()

    def on_UserCreated(self, conn: Connection, e: Any) -> list[None]:
        self._put_name(conn, e.originator_id, e.name)
        return []

    def on_UserReinstated(self, conn: Connection, e: Any) -> list[None]:
        self._put_name(conn, e.originator_id, e.name)
        return []

    def _put_name(self, conn: Connection, user_id: UUID, name: str) -> None:
        key = str(user_id)
        conn.execute(_USER_DELETE, {"p_user": key})
        conn.execute(_USER_INSERT, {"user_id": key, "name": name})

    def on_CallOffered(self, conn: Connection, e: Any) -> list[None]:
        if e.enterprise_id is None:
            return []  # nobody of ours to log it for
        key = str(e.originator_id)
        conn.execute(_ACTIVE_DELETE, {"p_call": key})  # never wedge on a repeat
        conn.execute(
            _ACTIVE_INSERT,
            {
                "call_id": key,
                "enterprise_id": str(e.enterprise_id),
                "caller": e.caller,
                "caller_user": e.caller_user,
                "destination": e.destination,
                "started_at": to_iso(e.at),
            },
        )
        return []

    def on_CallRouted(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_ACTIVE_ROUTE, {"p_call": str(e.originator_id), "p_target": e.target_user})
        return []

    def on_CallAnswered(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_ACTIVE_ANSWER, {"p_call": str(e.originator_id), "p_by": e.by})
        return []

    def on_CallNumberDialled(self, conn: Connection, e: Any) -> list[None]:
        conn.execute(_ACTIVE_DIALLED, {"p_call": str(e.originator_id), "p_number": e.number})
        return []

    def on_CallLogPurged(self, conn: Connection, e: Any) -> list[None]:
        """Retention (privacy): rows of calls started before ``e.before`` go."""
        conn.execute(ENTRIES.delete().where(ENTRIES.c.started_at < to_iso(e.before)))
        return []

    def on_CallEnded(self, conn: Connection, e: DomainEvent) -> list[None]:
        key = str(e.originator_id)
        call = conn.execute(_ACTIVE_SELECT, {"p_call": key}).first()
        if call is None:
            return []
        conn.execute(_ACTIVE_DELETE, {"p_call": key})
        ended: Any = e
        names = self._names(
            conn, UUID(call.enterprise_id), call.caller_user, call.target_user, call.answered_by
        )
        common = {
            "call_id": key,
            "enterprise_id": call.enterprise_id,
            "started_at": call.started_at,
            "duration": float(ended.duration),
            "cause": ended.cause,
            "outcome": ended.outcome,
        }
        rows: list[dict[str, Any]] = []
        if call.caller_user is not None:
            callee = call.target_user
            rows.append(
                common
                | {
                    "extension": call.caller_user,
                    "kind": "placed",
                    "other_number": callee if callee is not None else call.destination,
                    "other_name": names.get(callee),
                    "answered": call.answered_by is not None,
                    "talk": float(ended.talk),
                }
            )
        if call.target_user is not None:
            received = call.answered_by == call.target_user
            caller = call.caller_user
            rows.append(
                common
                | {
                    "extension": call.target_user,
                    "kind": "received" if received else "missed",
                    "other_number": caller if caller is not None else call.caller,
                    "other_name": names.get(caller),
                    "answered": received,
                    "talk": float(ended.talk) if received else 0.0,
                }
            )
        elsewhere = call.answered_by
        if (
            elsewhere is not None
            and elsewhere not in (call.target_user, call.caller_user)
            and elsewhere in names
        ):
            # Forwarded (or picked up) by a colleague: it is a received call for them.
            caller = call.caller_user
            rows.append(
                common
                | {
                    "extension": elsewhere,
                    "kind": "received",
                    "other_number": caller if caller is not None else call.caller,
                    "other_name": names.get(caller),
                    "answered": True,
                    "talk": float(ended.talk),
                }
            )
        if rows:
            conn.execute(_ENTRIES_INSERT, rows)
        return []

    def _names(
        self, conn: Connection, enterprise: UUID, *extensions: str | None
    ) -> dict[str | None, str]:
        """extension -> the user's name, for those of ``extensions`` that name a user: one
        query for both parties."""
        wanted = {
            str(User.create_id(enterprise, ext)): ext for ext in extensions if ext is not None
        }
        if not wanted:
            return {}
        rows = conn.execute(_USER_NAMES, {"p_users": list(wanted)})
        return {wanted[row.user_id]: str(row.name) for row in rows}


class CallLogBulk(BulkFold):
    """:class:`CallLogProjection`'s handlers over Python dicts, for a rebuild from zero
    (:mod:`projections.bulk`): the same rows, keyed as the tables are."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}  # user id -> name
        # call id -> [enterprise, caller, caller_user, destination, started_at, target_user,
        #             answered_by]
        self.active: dict[str, list[Any]] = {}
        self.entries: dict[tuple[str, str, str], tuple[Any, ...]] = {}  # (call, ext, kind)
        self._ids: dict[tuple[str, str], str] = {}  # (enterprise, extension) -> user id

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            USERS.name: list(self.users.items()),
            ACTIVE.name: [(key, *call) for key, call in self.active.items()],
            ENTRIES.name: list(self.entries.values()),
        }

    def on_UserCreated(self, key: str, d: dict[str, Any]) -> None:
        self.users[key] = d["name"]

    def on_UserReinstated(self, key: str, d: dict[str, Any]) -> None:
        self.users[key] = d["name"]

    def on_CallOffered(self, key: str, d: dict[str, Any]) -> None:
        ent = uuid_text(d["enterprise_id"])
        if ent is None:
            return
        self.active[key] = [ent, d["caller"], d["caller_user"], d["destination"],
                            iso_text(d["at"]), None, None]

    def on_CallRouted(self, key: str, d: dict[str, Any]) -> None:
        call = self.active.get(key)
        if call is not None:
            call[5] = d["target_user"]

    def on_CallAnswered(self, key: str, d: dict[str, Any]) -> None:
        call = self.active.get(key)
        if call is not None:
            call[6] = d["by"]

    def on_CallNumberDialled(self, key: str, d: dict[str, Any]) -> None:
        call = self.active.get(key)
        if call is not None:
            call[3] = d["number"]

    def on_CallLogPurged(self, key: str, d: dict[str, Any]) -> None:
        before = iso_text(d["before"])
        self.entries = {k: row for k, row in self.entries.items() if not row[6] < before}

    def on_CallEnded(self, key: str, d: dict[str, Any]) -> None:
        call = self.active.pop(key, None)
        if call is None:
            return
        ent, caller, caller_user, destination, started_at, target_user, answered_by = call
        names: dict[str | None, str] = {}
        for extension in (caller_user, target_user, answered_by):
            if extension is not None:
                user_id = self._ids.get((ent, extension))
                if user_id is None:
                    user_id = str(User.create_id(UUID(ent), extension))
                    self._ids[ent, extension] = user_id
                name = self.users.get(user_id)
                if name is not None:
                    names[extension] = name
        duration, talk = float(d["duration"]), float(d["talk"])
        cause, outcome = d["cause"], d["outcome"]
        made: list[tuple[Any, ...]] = []
        if caller_user is not None:
            made.append((key, caller_user, "placed", ent,
                         target_user if target_user is not None else destination,
                         names.get(target_user), started_at, answered_by is not None,
                         duration, talk, cause, outcome))
        if target_user is not None:
            received = answered_by == target_user
            made.append((key, target_user, "received" if received else "missed", ent,
                         caller_user if caller_user is not None else caller,
                         names.get(caller_user), started_at, received, duration,
                         talk if received else 0.0, cause, outcome))
        if (answered_by is not None and answered_by not in (target_user, caller_user)
                and answered_by in names):
            made.append((key, answered_by, "received", ent,
                         caller_user if caller_user is not None else caller,
                         names.get(caller_user), started_at, True, duration, talk, cause,
                         outcome))
        for row in made:
            if (row[0], row[1], row[2]) in self.entries:  # the table's key refuses it
                raise ValueError(f"call log: a second {row[2]} entry for call {key}")
            self.entries[row[0], row[1], row[2]] = row


def entries(
    conn_or_engine: Connection | Engine,
    enterprise_id: str | UUID | None,
    extension: str | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> list[CallLogEntry]:
    """Finished calls as users see them, newest first."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown call log kind {kind!r}: use one of {', '.join(KINDS)}")
    query = _ENTRIES_QUERIES[enterprise_id is not None, extension is not None, kind is not None]
    params = {
        "p_ent": None if enterprise_id is None else str(enterprise_id),
        "p_ext": extension,
        "p_kind": kind,
        "p_limit": limit,
    }
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            rows = conn.execute(query, params).all()
    else:
        rows = conn_or_engine.execute(query, params).all()
    return [
        CallLogEntry(
            call_id=r.call_id,
            enterprise_id=r.enterprise_id,
            extension=r.extension,
            kind=r.kind,
            other_number=r.other_number,
            other_name=r.other_name,
            started_at=datetime.fromisoformat(r.started_at),
            answered=bool(r.answered),
            duration=float(r.duration),
            talk=float(r.talk),
            cause=r.cause,
            outcome=r.outcome,
        )
        for r in rows
    ]


def read_entries(
    app: EventSource,
    enterprise_id: str | UUID | None,
    extension: str | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> list[CallLogEntry]:
    """:func:`entries` for the CLI: folds what the log holds first (the call log has no side
    effects, so catching up from another process is harmless), then reads."""
    follower = Follower(app, CallLogProjection())
    try:
        follower.catch_up()
        found = entries(follower.engine, enterprise_id, extension, kind, limit)
    finally:
        follower.close()
    # privacy (issue 6): outsiders' numbers are stored sealed; opened here, "[erased]"
    # once the person's key is destroyed
    from esl_controller import personal

    return [
        replace(e, other_number=personal.open_(app, e.other_number),
                other_name=personal.open_optional(app, e.other_name))
        if personal.PREFIX in e.other_number or personal.PREFIX in (e.other_name or "")
        else e
        for e in found
    ]
