"""Busy lamp field: each user's line state (idle, ringing, busy), folded from call events.

One row per (enterprise, extension, call) in ``blf_lines``, so the state survives restarts:

* the calling user is busy from ``CallOffered`` until ``CallEnded``;
* a called user (the routed target, or any user of the enterprise among the alerted
  targets) rings from ``CallAlerting``, is busy once ``CallAnswered`` names them, and is idle
  again at ``CallEnded`` (or when a later alerting or an answer elsewhere stops the ringing);
* a user with several calls shows busy if any is busy, else ringing if any rings, else idle.

Every change of a user's state is a :class:`LineChange` side effect, which the follower
hands over after the commit; :func:`presence_headers` turns it into a ``PRESENCE_IN``.
``direction`` follows FreeSWITCH's ``presence-call-direction``: ``outbound`` for the user who
placed the call (the dialog's initiator), ``inbound`` for the user being called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, Column, Engine, MetaData, String, Table
from sqlalchemy.engine import Connection

from esl_controller.domain.calls import Call
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.users import User
from projections.tracking import EventSource, SqlProjection, make_engine

IDLE, RINGING, BUSY = "idle", "ringing", "busy"
RANK = {IDLE: 0, RINGING: 1, BUSY: 2}
ANSWER_STATE = {RINGING: "early", BUSY: "confirmed", IDLE: "terminated"}
STATUS = {RINGING: "Ringing", BUSY: "On The Phone", IDLE: "Available"}

EVENTS: dict[type[Any], tuple[str, ...]] = {
    Enterprise: ("EnterpriseCreated",),
    User: ("UserCreated", "UserReinstated", "UserRemoved"),
    Call: ("CallOffered", "CallRouted", "CallAlerting", "CallAnswered", "CallEnded"),
}
TOPICS: tuple[str, ...] = tuple(
    f"{cls.__module__}:{cls.__qualname__}.{name}" for cls, names in EVENTS.items() for name in names
)

METADATA = MetaData()
DOMAINS = Table(
    "blf_domains",
    METADATA,
    Column("enterprise_id", String(36), primary_key=True),
    Column("domain", String(253), nullable=False),
)
USERS = Table(
    "blf_users",
    METADATA,
    Column("user_id", String(36), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("extension", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
)
CALLS = Table(
    "blf_calls",
    METADATA,
    Column("call_id", String(36), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("caller_user", String(16)),
    Column("target_user", String(16)),
)
LINES = Table(
    "blf_lines",
    METADATA,
    Column("enterprise_id", String(36), primary_key=True),
    Column("extension", String(16), primary_key=True),
    Column("call_id", String(36), primary_key=True),
    Column("state", String(8), nullable=False),
    Column("direction", String(8), nullable=False),
)


@dataclass(frozen=True, slots=True)
class LineChange:
    """A user's lamp changed: what to tell the phones watching ``extension@domain``."""

    enterprise_id: str
    extension: str
    domain: str
    state: str
    call_id: str
    direction: str


def presence_headers(change: LineChange, event_count: int = 1) -> dict[str, str]:
    """The ``sendevent PRESENCE_IN`` headers mod_sofia needs for a BLF dialog NOTIFY."""
    entity = f"{change.extension}@{change.domain}"
    return {
        "proto": "sip",
        "from": entity,
        "login": entity,
        "event_type": "presence",
        "alt_event_type": "dialog",
        "Presence-Call-Direction": change.direction,
        "answer-state": ANSWER_STATE[change.state],
        "status": STATUS[change.state],
        "rpid": "unknown",
        "unique-id": change.call_id,
        "event_count": str(event_count),
    }


def _combined(states: list[str]) -> str:
    return max(states, key=RANK.__getitem__, default=IDLE)


class BlfProjection(SqlProjection[LineChange]):
    name = "blf"
    topics = TOPICS
    metadata = METADATA

    # -- configuration -------------------------------------------------------------------
    def on_EnterpriseCreated(self, conn: Connection, e: Any) -> list[LineChange]:
        key = str(e.originator_id)
        conn.execute(DOMAINS.delete().where(DOMAINS.c.enterprise_id == key))
        conn.execute(DOMAINS.insert().values(enterprise_id=key, domain=e.domain))
        return []

    def on_UserCreated(self, conn: Connection, e: Any) -> list[LineChange]:
        key = str(e.originator_id)
        conn.execute(USERS.delete().where(USERS.c.user_id == key))
        conn.execute(
            USERS.insert().values(
                user_id=key, enterprise_id=str(e.enterprise_id), extension=e.extension, active=True
            )
        )
        return []

    def on_UserReinstated(self, conn: Connection, e: Any) -> list[LineChange]:
        return self._activate(conn, e.originator_id, True)

    def on_UserRemoved(self, conn: Connection, e: Any) -> list[LineChange]:
        return self._activate(conn, e.originator_id, False)

    def _activate(self, conn: Connection, user_id: UUID, active: bool) -> list[LineChange]:
        conn.execute(USERS.update().where(USERS.c.user_id == str(user_id)).values(active=active))
        return []

    # -- calls ---------------------------------------------------------------------------
    def on_CallOffered(self, conn: Connection, e: Any) -> list[LineChange]:
        if e.enterprise_id is None:
            return []
        key, ent = str(e.originator_id), str(e.enterprise_id)
        conn.execute(CALLS.delete().where(CALLS.c.call_id == key))
        conn.execute(
            CALLS.insert().values(call_id=key, enterprise_id=ent, caller_user=e.caller_user)
        )
        if e.caller_user is None:
            return []
        return self._set(conn, ent, e.caller_user, key, BUSY, "outbound")

    def on_CallRouted(self, conn: Connection, e: Any) -> list[LineChange]:
        query = CALLS.update().where(CALLS.c.call_id == str(e.originator_id))
        conn.execute(query.values(target_user=e.target_user))
        return []

    def on_CallAlerting(self, conn: Connection, e: Any) -> list[LineChange]:
        call = self._call(conn, e.originator_id)
        if call is None:
            return []
        ringing = {t for t in e.targets if self._is_callee(conn, call, t)}
        changes: list[LineChange] = []
        for row in self._rows(conn, call.call_id):
            if row.state == RINGING and row.extension not in ringing:
                changes += self._set(conn, call.enterprise_id, row.extension, call.call_id, None)
        present = {row.extension for row in self._rows(conn, call.call_id)}
        for target in sorted(ringing - present):
            changes += self._set(conn, call.enterprise_id, target, call.call_id, RINGING)
        return changes

    def on_CallAnswered(self, conn: Connection, e: Any) -> list[LineChange]:
        call = self._call(conn, e.originator_id)
        if call is None:
            return []
        changes: list[LineChange] = []
        for row in self._rows(conn, call.call_id):
            if row.state == RINGING and row.extension != e.by:
                changes += self._set(conn, call.enterprise_id, row.extension, call.call_id, None)
        if self._is_callee(conn, call, e.by):
            changes += self._set(conn, call.enterprise_id, e.by, call.call_id, BUSY)
        return changes

    def on_CallEnded(self, conn: Connection, e: Any) -> list[LineChange]:
        key = str(e.originator_id)
        changes: list[LineChange] = []
        for row in self._rows(conn, key):
            changes += self._set(conn, row.enterprise_id, row.extension, key, None)
        conn.execute(CALLS.delete().where(CALLS.c.call_id == key))
        return changes

    # -- helpers -------------------------------------------------------------------------
    def _call(self, conn: Connection, call_id: UUID) -> Any:
        return conn.execute(CALLS.select().where(CALLS.c.call_id == str(call_id))).first()

    def _rows(self, conn: Connection, call_id: str) -> list[Any]:
        query = LINES.select().where(LINES.c.call_id == call_id).order_by(LINES.c.extension)
        return list(conn.execute(query).all())

    def _is_callee(self, conn: Connection, call: Any, extension: str) -> bool:
        if extension == call.caller_user:
            return False
        if extension == call.target_user:
            return True
        user_id = str(User.create_id(UUID(call.enterprise_id), extension))
        query = USERS.select().where(USERS.c.user_id == user_id, USERS.c.active.is_(True))
        return conn.execute(query).first() is not None

    def _state(self, conn: Connection, ent: str, extension: str) -> str:
        query = LINES.select().where(LINES.c.enterprise_id == ent, LINES.c.extension == extension)
        return _combined([row.state for row in conn.execute(query)])

    def _set(
        self,
        conn: Connection,
        ent: str,
        extension: str,
        call_id: str,
        state: str | None,
        direction: str = "inbound",
    ) -> list[LineChange]:
        """Set (or with None, clear) one call's row; a LineChange if the user's state moved."""
        before = self._state(conn, ent, extension)
        key = (LINES.c.enterprise_id == ent, LINES.c.extension == extension)
        where = (*key, LINES.c.call_id == call_id)
        old = conn.execute(LINES.select().where(*where)).first()
        if old is not None:
            direction = old.direction
            conn.execute(LINES.delete().where(*where))
        if state is not None:
            conn.execute(
                LINES.insert().values(
                    enterprise_id=ent,
                    extension=extension,
                    call_id=call_id,
                    state=state,
                    direction=direction,
                )
            )
        after = self._state(conn, ent, extension)
        if after == before:
            return []
        domain = conn.execute(DOMAINS.select().where(DOMAINS.c.enterprise_id == ent)).first()
        return [
            LineChange(
                ent, extension, "" if domain is None else domain.domain, after, call_id, direction
            )
        ]


def line_states(engine: Engine | Connection, enterprise_id: str | UUID) -> dict[str, str]:
    """extension -> state for users with a call in progress (absent users are idle)."""
    query = LINES.select().where(LINES.c.enterprise_id == str(enterprise_id))
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = engine.execute(query).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.extension, []).append(row.state)
    return {extension: _combined(states) for extension, states in sorted(found.items())}


def read_line_states(app: EventSource, enterprise_id: str | UUID) -> dict[str, str]:
    """:func:`line_states` for the CLI. Read only: catching up here would take the presence
    pushes away from the serving process's follower."""
    engine = make_engine(app.db_url)
    try:
        METADATA.create_all(engine, checkfirst=True)
        return line_states(engine, enterprise_id)
    finally:
        engine.dispose()
