"""Busy lamp field: each user's line state (idle, ringing, busy), folded from call events.

One row per (enterprise, extension, call) in ``blf_lines``, so the state survives restarts:

* the calling user is busy from ``CallOffered`` until ``CallEnded``;
* a called user (the routed target, or any user of the enterprise among the alerted
  targets) rings from ``CallAlerting``, is busy once ``CallAnswered`` names them, and is idle
  again at ``CallEnded`` (or when a later alerting or an answer elsewhere stops the ringing);
* a user with several calls shows busy if any is busy, else ringing if any rings, else idle;
* a user on do not disturb (``DoNotDisturbChanged``) with no call shows ``dnd``: a lamp that is
  on (``confirmed``, rpid ``dnd``, which mod_sofia renders as busy); a call still shows ringing
  or busy over it, and the lamp returns to dnd when the call ends. DND is kept as a row of
  ``blf_lines`` with its own dialog id (:func:`dnd_dialog_id`), so it folds like a call.

Every change of a user's state is a :class:`LineChange` side effect, which the follower
hands over after the commit; :func:`presence_headers` turns it into a ``PRESENCE_IN``.
``direction`` follows FreeSWITCH's ``presence-call-direction``: ``outbound`` for the user who
placed the call (the dialog's initiator), ``inbound`` for the user being called.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import Boolean, Column, Engine, MetaData, String, Table, bindparam, select
from sqlalchemy.engine import Connection

from esl_controller.domain.calls import Call
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.users import User
from projections.bulk import BulkFold, uuid_text
from projections.tracking import EventSource, SqlProjection, make_engine

IDLE, DND, RINGING, BUSY = "idle", "dnd", "ringing", "busy"
RANK = {IDLE: 0, DND: 1, RINGING: 2, BUSY: 3}
ANSWER_STATE = {RINGING: "early", BUSY: "confirmed", DND: "confirmed", IDLE: "terminated"}
STATUS = {RINGING: "Ringing", BUSY: "On The Phone", DND: "Do Not Disturb", IDLE: "Available"}
RPID = {DND: "dnd"}  # mod_sofia's translate_rpid shows "dnd" as busy; the others: unknown

EVENTS: dict[type[Any], tuple[str, ...]] = {
    Enterprise: ("EnterpriseCreated",),
    User: ("UserCreated", "UserReinstated", "UserRemoved", "DoNotDisturbChanged",
           "PrivacyChanged"),
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


PRIVATE = Table(  # users with privacy on (USR-19): their lamp is never published
    "blf_private",
    METADATA,
    Column("enterprise_id", String(36), primary_key=True),
    Column("extension", String(16), primary_key=True),
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
        "rpid": RPID.get(change.state, "unknown"),
        "unique-id": change.call_id,
        "event_count": str(event_count),
    }


def park_slot_headers(slot: str, domain: str, occupied: bool, call_id: str) -> dict[str, str]:
    """PRESENCE_IN for the lamp of park slot ``slot`` (issue 4): phones watch
    ``park+SLOT@DOMAIN`` (mod_valet_parking's naming); it is on (confirmed) while a call
    waits on the slot, off when it was retrieved, recalled or hung up."""
    change = LineChange("", f"park+{slot}", domain, BUSY if occupied else IDLE, call_id,
                        "inbound")
    return presence_headers(change)


def _combined(states: Iterable[str]) -> str:
    return max(states, key=RANK.__getitem__, default=IDLE)


def dnd_dialog_id(enterprise_id: str, extension: str) -> str:
    """The dialog id (``unique-id``) of a user's DND lamp: stable, so a rebuild equals live."""
    return str(uuid5(UUID(enterprise_id), "blf-dnd:" + extension))


# Every statement is built once: building and cache-keying a Core statement per event costs
# far more than running it. Parameters are bound by name at execution.
_DOMAIN_DELETE = DOMAINS.delete().where(DOMAINS.c.enterprise_id == bindparam("p_ent"))
_DOMAIN_INSERT = DOMAINS.insert()
_DOMAIN_SELECT = select(DOMAINS.c.domain).where(DOMAINS.c.enterprise_id == bindparam("p_ent"))
_USER_DELETE = USERS.delete().where(USERS.c.user_id == bindparam("p_user"))
_USER_INSERT = USERS.insert()
_USER_ACTIVATE = (
    USERS.update()
    .where(USERS.c.user_id == bindparam("p_user"))
    .values(active=bindparam("p_active"))
)
_USER_SELECT = select(USERS.c.enterprise_id, USERS.c.extension, USERS.c.active).where(
    USERS.c.user_id == bindparam("p_user")
)
_USERS_ACTIVE = select(USERS.c.user_id).where(
    USERS.c.user_id.in_(bindparam("p_users", expanding=True)), USERS.c.active.is_(True)
)
_CALL_DELETE = CALLS.delete().where(CALLS.c.call_id == bindparam("p_call"))
_CALL_INSERT = CALLS.insert()
_CALL_ROUTE = (
    CALLS.update()
    .where(CALLS.c.call_id == bindparam("p_call"))
    .values(target_user=bindparam("p_target"))
)
_CALL_SELECT = CALLS.select().where(CALLS.c.call_id == bindparam("p_call"))
_CALL_LINES = (
    select(LINES.c.enterprise_id, LINES.c.extension, LINES.c.state)
    .where(LINES.c.call_id == bindparam("p_call"))
    .order_by(LINES.c.extension)
)
_USER_LINES = select(LINES.c.call_id, LINES.c.state, LINES.c.direction).where(
    LINES.c.enterprise_id == bindparam("p_ent"), LINES.c.extension == bindparam("p_ext")
)
_LINE_KEY = (
    LINES.c.enterprise_id == bindparam("p_ent"),
    LINES.c.extension == bindparam("p_ext"),
    LINES.c.call_id == bindparam("p_call"),
)
_LINE_DELETE = LINES.delete().where(*_LINE_KEY)
_LINE_UPDATE = LINES.update().where(*_LINE_KEY).values(state=bindparam("p_state"))
_LINE_INSERT = LINES.insert()
_PRIVATE_KEY = (
    PRIVATE.c.enterprise_id == bindparam("p_ent"),
    PRIVATE.c.extension == bindparam("p_ext"),
)
_PRIVATE_SELECT = select(PRIVATE.c.extension).where(*_PRIVATE_KEY)
_PRIVATES_ALL = select(PRIVATE.c.enterprise_id, PRIVATE.c.extension)
_PRIVATE_DELETE = PRIVATE.delete().where(*_PRIVATE_KEY)
_PRIVATE_INSERT = PRIVATE.insert()
_ENTERPRISE_LINES = select(LINES.c.extension, LINES.c.state).where(
    LINES.c.enterprise_id == bindparam("p_ent")
)


class BlfProjection(SqlProjection[LineChange]):
    name = "blf"
    topics = TOPICS
    metadata = METADATA

    def __init__(self) -> None:
        # enterprise id -> SIP domain, as read from (or just written to) ``blf_domains`` of
        # ``_domains_engine``. A domain never changes once its enterprise exists, so the map
        # is exactly what the table holds; it is dropped with the tables (rebuild) and
        # refilled from them on demand (restart).
        self._domains: dict[str, str] = {}
        self._domains_engine: Engine | None = None
        # (enterprise id, extension) of the private users (USR-19): ``blf_private`` of
        # ``_domains_engine``, read once, then kept in step with every write to it.
        self._privates: set[tuple[str, str]] | None = None

    def create_tables(self, conn: Connection) -> None:
        self._domains.clear()
        self._privates = None
        super().create_tables(conn)

    def drop_tables(self, conn: Connection) -> None:
        self._domains.clear()
        self._privates = None
        super().drop_tables(conn)

    def forget_cached(self) -> None:
        """A rolled-back batch may have left the caches ahead of the tables: reread them."""
        self._domains.clear()
        self._privates = None

    def bulk_fold(self) -> BlfBulk:
        return BlfBulk()

    # -- configuration -------------------------------------------------------------------
    def on_EnterpriseCreated(self, conn: Connection, e: Any) -> list[LineChange]:
        key = str(e.originator_id)
        conn.execute(_DOMAIN_DELETE, {"p_ent": key})
        conn.execute(_DOMAIN_INSERT, {"enterprise_id": key, "domain": e.domain})
        self._domain_cache(conn)[key] = e.domain
        return []

    def on_UserCreated(self, conn: Connection, e: Any) -> list[LineChange]:
        key = str(e.originator_id)
        conn.execute(_USER_DELETE, {"p_user": key})
        conn.execute(
            _USER_INSERT,
            {
                "user_id": key,
                "enterprise_id": str(e.enterprise_id),
                "extension": e.extension,
                "active": True,
            },
        )
        return []

    def on_UserReinstated(self, conn: Connection, e: Any) -> list[LineChange]:
        return self._activate(conn, e.originator_id, True)

    def on_UserRemoved(self, conn: Connection, e: Any) -> list[LineChange]:
        return self._activate(conn, e.originator_id, False)

    def _activate(self, conn: Connection, user_id: UUID, active: bool) -> list[LineChange]:
        """A removed user's DND lamp goes off; a reinstated user starts without DND (the
        aggregate resets its services), so both clear the DND row."""
        conn.execute(_USER_ACTIVATE, {"p_user": str(user_id), "p_active": active})
        changes = self._dnd(conn, user_id, False)
        user = conn.execute(_USER_SELECT, {"p_user": str(user_id)}).first()
        if user is not None:  # either way the user starts without privacy
            key = {"p_ent": str(user.enterprise_id), "p_ext": str(user.extension)}
            conn.execute(_PRIVATE_DELETE, key)
            self._private_set(conn).discard((key["p_ent"], key["p_ext"]))
        return changes

    def on_DoNotDisturbChanged(self, conn: Connection, e: Any) -> list[LineChange]:
        return self._dnd(conn, e.originator_id, bool(e.on))

    def _dnd(self, conn: Connection, user_id: UUID, on: bool) -> list[LineChange]:
        user = conn.execute(_USER_SELECT, {"p_user": str(user_id)}).first()
        if user is None or (on and not user.active):
            return []
        ent, extension = str(user.enterprise_id), str(user.extension)
        dialog = dnd_dialog_id(ent, extension)
        return self._set(conn, ent, extension, dialog, DND if on else None)

    def on_PrivacyChanged(self, conn: Connection, e: Any) -> list[LineChange]:
        """Privacy on: watchers see the lamp go dark (idle) and stay so; off: they see the
        user's real state again."""
        user = conn.execute(_USER_SELECT, {"p_user": str(e.originator_id)}).first()
        if user is None:
            return []
        ent, extension = str(user.enterprise_id), str(user.extension)
        key = {"p_ent": ent, "p_ext": extension}
        # The table, not the cache, decides: a batch rolled back leaves the cache ahead.
        was_private = conn.execute(_PRIVATE_SELECT, key).first() is not None
        if bool(e.on) == was_private:
            return []
        if e.on:
            conn.execute(_PRIVATE_INSERT, {"enterprise_id": ent, "extension": extension})
            self._private_set(conn).add((ent, extension))
        else:
            conn.execute(_PRIVATE_DELETE, key)
            self._private_set(conn).discard((ent, extension))
        rows = conn.execute(_USER_LINES, key).all()
        state = _combined(row.state for row in rows)
        if state == IDLE:
            return []
        shown = next(row for row in rows if row.state == state)
        return [LineChange(ent, extension, self._domain(conn, ent), IDLE if e.on else state,
                           shown.call_id, shown.direction)]

    def _private(self, conn: Connection, ent: str, extension: str) -> bool:
        return (ent, extension) in self._private_set(conn)

    def _private_set(self, conn: Connection) -> set[tuple[str, str]]:
        self._domain_cache(conn)  # a new engine drops what was read from the old one
        if self._privates is None:
            rows = conn.execute(_PRIVATES_ALL).all()
            self._privates = {(str(r.enterprise_id), str(r.extension)) for r in rows}
        return self._privates

    # -- calls ---------------------------------------------------------------------------
    def on_CallOffered(self, conn: Connection, e: Any) -> list[LineChange]:
        if e.enterprise_id is None:
            return []
        key, ent = str(e.originator_id), str(e.enterprise_id)
        conn.execute(_CALL_DELETE, {"p_call": key})
        conn.execute(
            _CALL_INSERT,
            {"call_id": key, "enterprise_id": ent, "caller_user": e.caller_user},
        )
        if e.caller_user is None:
            return []
        return self._set(conn, ent, e.caller_user, key, BUSY, "outbound")

    def on_CallRouted(self, conn: Connection, e: Any) -> list[LineChange]:
        conn.execute(_CALL_ROUTE, {"p_call": str(e.originator_id), "p_target": e.target_user})
        return []

    def on_CallAlerting(self, conn: Connection, e: Any) -> list[LineChange]:
        call = self._call(conn, e.originator_id)
        if call is None:
            return []
        ringing = self._callees(conn, call, e.targets)
        changes: list[LineChange] = []
        present: set[str] = set()
        for row in self._rows(conn, call.call_id):
            if row.state == RINGING and row.extension not in ringing:
                changes += self._set(conn, call.enterprise_id, row.extension, call.call_id, None)
                if row.enterprise_id == call.enterprise_id:
                    continue  # that cleared the row
            present.add(row.extension)
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
        if self._callees(conn, call, [e.by]):
            changes += self._set(conn, call.enterprise_id, e.by, call.call_id, BUSY)
        return changes

    def on_CallEnded(self, conn: Connection, e: Any) -> list[LineChange]:
        key = str(e.originator_id)
        changes: list[LineChange] = []
        for row in self._rows(conn, key):
            changes += self._set(conn, row.enterprise_id, row.extension, key, None)
        conn.execute(_CALL_DELETE, {"p_call": key})
        return changes

    # -- helpers -------------------------------------------------------------------------
    def _call(self, conn: Connection, call_id: UUID) -> Any:
        return conn.execute(_CALL_SELECT, {"p_call": str(call_id)}).first()

    def _rows(self, conn: Connection, call_id: str) -> list[Any]:
        return list(conn.execute(_CALL_LINES, {"p_call": call_id}).all())

    def _callees(self, conn: Connection, call: Any, extensions: Iterable[str]) -> set[str]:
        """Those of ``extensions`` who are called by ``call``: its routed target, or an active
        user of its enterprise (never the caller)."""
        found: set[str] = set()
        lookup: dict[str, str] = {}
        enterprise: UUID | None = None
        for extension in extensions:
            if extension == call.caller_user:
                continue
            if extension == call.target_user:
                found.add(extension)
                continue
            if enterprise is None:
                enterprise = UUID(call.enterprise_id)
            lookup[str(User.create_id(enterprise, extension))] = extension
        if lookup:
            rows = conn.execute(_USERS_ACTIVE, {"p_users": list(lookup)})
            found.update(lookup[row.user_id] for row in rows)
        return found

    def _domain_cache(self, conn: Connection) -> dict[str, str]:
        if conn.engine is not self._domains_engine:
            self._domains.clear()
            self._privates = None
            self._domains_engine = conn.engine
        return self._domains

    def _domain(self, conn: Connection, ent: str) -> str:
        cache = self._domain_cache(conn)
        domain = cache.get(ent)
        if domain is None:
            row = conn.execute(_DOMAIN_SELECT, {"p_ent": ent}).first()
            if row is None:
                return ""  # not cached: the enterprise may still be created
            domain = cache[ent] = str(row.domain)
        return domain

    def _set(
        self,
        conn: Connection,
        ent: str,
        extension: str,
        call_id: str,
        state: str | None,
        direction: str = "inbound",
    ) -> list[LineChange]:
        """Set (or with None, clear) one call's row; a LineChange if the user's state moved.

        One read of the user's rows gives the state before, the call's own row and (with
        the write applied in memory) the state after."""
        rows = conn.execute(_USER_LINES, {"p_ent": ent, "p_ext": extension}).all()
        before = _combined(row.state for row in rows)
        others = [row.state for row in rows if row.call_id != call_id]
        old = next((row for row in rows if row.call_id == call_id), None)
        key = {"p_ent": ent, "p_ext": extension, "p_call": call_id}
        if old is not None:
            direction = old.direction
            if state is None:
                conn.execute(_LINE_DELETE, key)
            elif state != old.state:
                conn.execute(_LINE_UPDATE, key | {"p_state": state})
        elif state is not None:
            conn.execute(
                _LINE_INSERT,
                {
                    "enterprise_id": ent,
                    "extension": extension,
                    "call_id": call_id,
                    "state": state,
                    "direction": direction,
                },
            )
        after = _combined(others if state is None else [*others, state])
        if after == before or self._private(conn, ent, extension):
            return []
        if after == DND and state != DND:  # a call ended: the lamp shows the DND dialog again
            dnd = next(row for row in rows if row.state == DND and row.call_id != call_id)
            call_id, direction = dnd.call_id, dnd.direction
        return [LineChange(ent, extension, self._domain(conn, ent), after, call_id, direction)]


class BlfBulk(BulkFold):
    """:class:`BlfProjection`'s handlers over Python dicts, for a rebuild from zero
    (:mod:`projections.bulk`). A rebuild hands over no presence, so only the rows are kept:
    the same inserts, updates and deletes, keyed as the tables are."""

    def __init__(self) -> None:
        self.domains: dict[str, str] = {}  # enterprise id -> domain
        self.users: dict[str, list[Any]] = {}  # user id -> [enterprise id, extension, active]
        self.calls: dict[str, list[Any]] = {}  # call id -> [enterprise, caller_user, target]
        # call id (or DND dialog id) -> (enterprise id, extension) -> [state, direction]
        self.lines: dict[str, dict[tuple[str, str], list[str]]] = {}
        self.private: set[tuple[str, str]] = set()
        self._ids: dict[tuple[str, str], str] = {}  # (enterprise, extension) -> user id
        self._dialogs: dict[tuple[str, str], str] = {}  # (enterprise, extension) -> DND dialog

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            DOMAINS.name: list(self.domains.items()),
            USERS.name: [(key, *user) for key, user in self.users.items()],
            CALLS.name: [(key, *call) for key, call in self.calls.items()],
            LINES.name: [(ent, ext, call, state, direction)
                         for call, rows in self.lines.items()
                         for (ent, ext), (state, direction) in rows.items()],
            PRIVATE.name: sorted(self.private),
        }

    def on_EnterpriseCreated(self, key: str, d: dict[str, Any]) -> None:
        self.domains[key] = d["domain"]

    def on_UserCreated(self, key: str, d: dict[str, Any]) -> None:
        self.users[key] = [uuid_text(d["enterprise_id"]), d["extension"], True]

    def on_UserReinstated(self, key: str, d: dict[str, Any]) -> None:
        self._activate(key, True)

    def on_UserRemoved(self, key: str, d: dict[str, Any]) -> None:
        self._activate(key, False)

    def _activate(self, key: str, active: bool) -> None:
        user = self.users.get(key)
        if user is not None:
            user[2] = active
        self._dnd(key, False)
        if user is not None:
            self.private.discard((user[0], user[1]))

    def on_DoNotDisturbChanged(self, key: str, d: dict[str, Any]) -> None:
        self._dnd(key, bool(d["on"]))

    def _dnd(self, key: str, on: bool) -> None:
        user = self.users.get(key)
        if user is None or (on and not user[2]):
            return
        ent, extension = user[0], user[1]
        dialog = self._dialogs.get((ent, extension))
        if dialog is None:
            dialog = self._dialogs[ent, extension] = dnd_dialog_id(ent, extension)
        self._set(ent, extension, dialog, DND if on else None)

    def on_PrivacyChanged(self, key: str, d: dict[str, Any]) -> None:
        user = self.users.get(key)
        if user is None:
            return
        who = (user[0], user[1])
        if bool(d["on"]):
            self.private.add(who)
        else:
            self.private.discard(who)

    def on_CallOffered(self, key: str, d: dict[str, Any]) -> None:
        ent = uuid_text(d["enterprise_id"])
        if ent is None:
            return
        caller = d["caller_user"]
        self.calls[key] = [ent, caller, None]
        if caller is not None:
            self._set(ent, caller, key, BUSY, "outbound")

    def on_CallRouted(self, key: str, d: dict[str, Any]) -> None:
        call = self.calls.get(key)
        if call is not None:
            call[2] = d["target_user"]

    def on_CallAlerting(self, key: str, d: dict[str, Any]) -> None:
        call = self.calls.get(key)
        if call is None:
            return
        ent = call[0]
        ringing = self._callees(call, d["targets"])
        present: set[str] = set()
        for (row_ent, extension), (state, _direction) in self._rows(key):
            if state == RINGING and extension not in ringing:
                self._set(ent, extension, key, None)
                if row_ent == ent:
                    continue
            present.add(extension)
        for target in sorted(ringing - present):
            self._set(ent, target, key, RINGING)

    def on_CallAnswered(self, key: str, d: dict[str, Any]) -> None:
        call = self.calls.get(key)
        if call is None:
            return
        ent, by = call[0], d["by"]
        for (_row_ent, extension), (state, _direction) in self._rows(key):
            if state == RINGING and extension != by:
                self._set(ent, extension, key, None)
        if self._callees(call, [by]):
            self._set(ent, by, key, BUSY)

    def on_CallEnded(self, key: str, d: dict[str, Any]) -> None:
        self.lines.pop(key, None)
        self.calls.pop(key, None)

    def _rows(self, call_id: str) -> list[tuple[tuple[str, str], list[str]]]:
        """The call's rows as ``_CALL_LINES`` reads them (by extension), before any write."""
        rows = self.lines.get(call_id)
        if not rows:
            return []
        return sorted(((k, list(v)) for k, v in rows.items()), key=lambda kv: kv[0][1])

    def _callees(self, call: list[Any], extensions: Iterable[str]) -> set[str]:
        ent, caller, target = call
        found: set[str] = set()
        for extension in extensions:
            if extension == caller:
                continue
            if extension == target:
                found.add(extension)
                continue
            user_id = self._ids.get((ent, extension))
            if user_id is None:
                user_id = self._ids[ent, extension] = str(User.create_id(UUID(ent), extension))
            user = self.users.get(user_id)
            if user is not None and user[2]:
                found.add(extension)
        return found

    def _set(self, ent: str, extension: str, call_id: str, state: str | None,
             direction: str = "inbound") -> None:
        rows = self.lines.get(call_id)
        if rows is not None and (ent, extension) in rows:
            if state is None:
                del rows[ent, extension]
                if not rows:
                    del self.lines[call_id]
            else:
                rows[ent, extension][0] = state
        elif state is not None:
            if rows is None:
                rows = self.lines[call_id] = {}
            rows[ent, extension] = [state, direction]


def line_states(engine: Engine | Connection, enterprise_id: str | UUID) -> dict[str, str]:
    """extension -> state for users with a call in progress or on DND (absent users are
    idle)."""
    params = {"p_ent": str(enterprise_id)}
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(_ENTERPRISE_LINES, params).all()
    else:
        rows = engine.execute(_ENTERPRISE_LINES, params).all()
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
