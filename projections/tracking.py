"""SQL projections that follow the notification log: exactly once, resumable, rebuildable.

A projection's view tables live in the same database as the event log (same URL). A
:class:`Follower` reads notifications after the tracked position, folds them into the view
and moves the tracking row (projection name -> last notification id) in ONE transaction, so
a crash loses nothing and repeats nothing.

Why our own tracking table rather than eventsourcing-sqlalchemy's ``TrackingRecorder``: the
recorder works on ORM sessions and keeps one row per processed notification, while our views
are written with SQLAlchemy Core on plain connections; one row per projection, moved with a
conditional ``UPDATE ... WHERE position = <expected>``, gives the same atomicity, doubles as
an optimistic lock (two followers of one projection, e.g. two processes, cannot both apply a
batch) and makes a rebuild a single reset.

SQLite: each connection uses WAL and a busy timeout. pysqlite opens a transaction on the
first write; the tracking ``UPDATE`` is issued first, so the whole batch (reads included)
runs under the write lock. sqlite3 calls do not yield to gevent: a batch must never yield
(``process`` does plain SQL only), and batches are kept short so the hub is not held long.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import gevent
import gevent.event
from eventsourcing.domain import DomainEvent
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    select,
)
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from esl_controller.store import DEFAULT_BUSY_TIMEOUT, sqlite_path, views_url

log = logging.getLogger(__name__)

E = TypeVar("E")

TRACKING_METADATA = MetaData()
TRACKING = Table(
    "projection_tracking",
    TRACKING_METADATA,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
# Built once (see the projections): parameters are bound by name at execution.
_POSITION_SELECT = select(TRACKING.c.position).where(TRACKING.c.name == bindparam("p_name"))
_TRACKING_INSERT = TRACKING.insert()
_TRACKING_MOVE = (
    TRACKING.update()
    .where(TRACKING.c.name == bindparam("p_name"), TRACKING.c.position == bindparam("p_start"))
    .values(position=bindparam("p_end"))
)
_TRACKING_RESET = TRACKING.update().where(TRACKING.c.name == bindparam("p_name")).values(position=0)


class TrackingConflictError(Exception):
    """Another follower moved the projection's position while this batch was processed."""


class EventSource(Protocol):
    """What a follower needs from the application (``esl_controller.application.Pbx``)."""

    db_url: str

    def notifications(
        self, after: int = ..., limit: int = ..., topics: Sequence[str] = ...
    ) -> Any: ...

    @property
    def mapper(self) -> Any: ...


def make_engine(url: str) -> Engine:
    """An engine on the read models' database (:func:`views_url` of the log's URL); SQLite
    files get WAL and a busy timeout."""
    if url.startswith("sqlite") and sqlite_path(url) is None:
        raise ValueError("SQL projections need a SQLite file or PostgreSQL, not a memory database")
    url = views_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    timeout = float(os.environ.get("PBX_SQLITE_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT))
    engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False})

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class SqlProjection(Generic[E]):
    """A fold of events into SQL tables. Subclasses set ``name`` and ``topics``.

    ``process`` runs inside the follower's transaction and returns side effects (e.g.
    presence pushes) that are delivered only after the commit.
    """

    name: str = ""
    topics: tuple[str, ...] = ()
    metadata: MetaData = MetaData()

    def create_tables(self, conn: Connection) -> None:
        self.metadata.create_all(conn, checkfirst=True)

    def drop_tables(self, conn: Connection) -> None:
        self.metadata.drop_all(conn, checkfirst=True)

    def process(self, conn: Connection, event: DomainEvent) -> list[E]:
        handler = getattr(self, "on_" + type(event).__name__, None)
        if handler is None:
            return []
        effects: list[E] = handler(conn, event)
        return effects

    def forget_cached(self) -> None:
        """A batch was rolled back: drop whatever was cached from its writes."""

    def bulk_fold(self) -> Any:
        """A fresh :class:`projections.bulk.BulkFold` doing what the handlers do, in memory,
        for a rebuild from zero; None: rebuilds fold event by event."""
        return None

    def state(self, conn: Connection) -> Any:
        """Plain, comparable data: every table's rows, sorted."""
        return {
            table.name: sorted(tuple(row) for row in conn.execute(table.select()))
            for table in self.metadata.sorted_tables
        }


class Follower(Generic[E]):
    """Keeps one projection current with the application's notification log."""

    def __init__(
        self,
        app: EventSource,
        projection: SqlProjection[E],
        batch: int = 500,
        sink: Callable[[E], None] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.app = app
        self.projection = projection
        self.batch = batch
        self.sink = sink
        self.engine = engine if engine is not None else make_engine(app.db_url)
        self._stopped = gevent.event.Event()
        self._setup()

    def _setup(self) -> None:
        TRACKING_METADATA.create_all(self.engine, checkfirst=True)
        with self.engine.begin() as conn:
            self.projection.create_tables(conn)
        try:
            with self.engine.begin() as conn:
                if self._read_position(conn) is None:
                    conn.execute(_TRACKING_INSERT, {"name": self.projection.name, "position": 0})
        except IntegrityError:
            pass  # another process inserted the row first: that is all we wanted

    def _read_position(self, conn: Connection) -> int | None:
        row = conn.execute(_POSITION_SELECT, {"p_name": self.projection.name}).first()
        return None if row is None else int(row.position)

    @property
    def position(self) -> int:
        """The last notification id folded into the view."""
        with self.engine.connect() as conn:
            return self._read_position(conn) or 0

    def catch_up(self, until: int | None = None) -> int:
        """Process every notification after the tracked position (up to ``until``)."""
        return self._catch_up(until, deliver=True)

    def _catch_up(self, until: int | None, deliver: bool) -> int:
        total = 0
        while True:
            count = self._step(until, deliver)
            if count == 0:
                return total
            total += count

    def _step(self, until: int | None, deliver: bool) -> int:
        """One batch in one transaction; returns how many notifications it covered."""
        start = self.position
        limit = self.batch
        if until is not None:
            if start >= until:
                return 0
            limit = min(limit, until - start)
        batch = self.app.notifications(start, limit, self.projection.topics)
        batch = [n for n in batch if until is None or n.id <= until]
        if not batch:
            return 0
        events = [(n.id, self.app.mapper.to_domain_event(n)) for n in batch]
        end = events[-1][0]
        effects: list[E] = []
        try:
            with self.engine.begin() as conn:
                moved = conn.execute(
                    _TRACKING_MOVE,
                    {"p_name": self.projection.name, "p_start": start, "p_end": end},
                )
                if moved.rowcount != 1:
                    raise TrackingConflictError(
                        f"projection {self.projection.name!r} moved past {start} meanwhile"
                    )
                for _position, event in events:
                    effects.extend(self.projection.process(conn, event))
        except BaseException:
            self.projection.forget_cached()  # the tables were rolled back; caches follow
            raise
        if deliver and self.sink is not None:
            for effect in effects:
                self.sink(effect)
        return len(events)

    def rebuild(self) -> int:
        """Drop the view, reset tracking and replay the log from zero (no side effects);
        returns how many events were folded."""
        with self.engine.begin() as conn:
            conn.execute(_TRACKING_RESET, {"p_name": self.projection.name})
            self.projection.drop_tables(conn)
            self.projection.create_tables(conn)
        return self._catch_up(None, deliver=False)

    def state(self) -> Any:
        with self.engine.connect() as conn:
            return self.projection.state(conn)

    def run(self, poll_interval: float = 0.05) -> None:
        """Follow the log until :meth:`stop` (run it in a greenlet)."""
        self._stopped.clear()
        while not self._stopped.is_set():
            try:
                count = self._step(None, deliver=True)
            except TrackingConflictError as exc:
                log.info("projection %s: %s; retrying", self.projection.name, exc)
                count = 0
            except Exception:
                log.exception("projection %s failed; retrying", self.projection.name)
                self._stopped.wait(max(poll_interval, 1.0))
                continue
            if count:
                gevent.sleep(0)  # a backlog: let calls run between batches
            else:
                self._stopped.wait(poll_interval)

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        self.stop()
        self.engine.dispose()
