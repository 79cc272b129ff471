"""Bulk rebuild of the SQL read models: read the log once, fold in memory, write once.

The live path (:class:`~projections.tracking.Follower`) folds event by event through SQL, as
it must: each batch commits with its tracking position and hands over side effects. A
rebuild from zero needs none of that. A projection that offers a :class:`BulkFold`
(``SqlProjection.bulk_fold``) is rebuilt here instead:

* the stored events of every projection being rebuilt are read in ONE pass over the log,
  in pages by notification id, through a plain DB-API cursor; each state is decoded once with
  ``json.loads`` (no domain event objects) and handed to every fold whose projection follows
  that topic, as a plain dict (:func:`uuid_text`, :func:`iso_text` read its typed values);
* each fold keeps its tables as Python dicts, keyed by their primary keys, doing exactly what
  the projection's SQL handlers do (an upsert is an assignment, a delete a ``pop``);
* at the end the rows are written with ``executemany`` into empty in-memory copies of the
  tables (SQLite ``TEMP``), and ONE short transaction swaps them in and moves the tracking
  row: readers see the old view until that commit, never a half-built one. A crash before it
  leaves the old view and position untouched (the staging is in memory and simply vanishes),
  so the durability pragmas need not be relaxed: the swap is one ordinary WAL commit.
  PostgreSQL: the same in one transaction (``DELETE``, ``INSERT`` in pages, tracking).

A fold must handle every event its projection has an ``on_<Event>`` handler for; if the
projection gains a handler its fold lacks, :func:`fold_for` refuses the fold and the rebuild
takes the per-event path (``esl_controller.audit.fast_rebuild``), so a new handler can never
be silently skipped. ``pbx projections rebuild`` compares the result with the live view.
"""

from __future__ import annotations

import dataclasses
import json
import json.scanner
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from sqlalchemy import Table, update
from sqlalchemy.schema import CreateIndex, CreateTable

if TYPE_CHECKING:
    from projections.tracking import Follower

READ_PAGE = 50000  # events per page read from the log
WRITE_PAGE = 20000  # rows per executemany

Fields = dict[str, Any]
Handler = Callable[[str, Fields], None]


def uuid_text(value: Any) -> str | None:
    """A UUID field of a raw event state (``{"_type_": "uuid_hex", ...}``) as ``str(UUID)``."""
    if value is None:
        return None
    if isinstance(value, dict):
        kind, data = value.get("_type_"), value.get("_data_")
        if kind == "uuid_hex" and isinstance(data, str) and len(data) == 32:
            return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
        raise ValueError(f"not a UUID: {value!r}")
    return str(UUID(str(value)))


def iso_text(value: Any) -> str:
    """A datetime field of a raw event state as ``projections.call_log.to_iso`` writes it:
    UTC, microseconds, one fixed width."""
    if isinstance(value, dict) and value.get("_type_") == "datetime_iso":
        text = value["_data_"]
        if len(text) == 32 and text.endswith("+00:00") and text[19] == ".":
            return str(text)  # already UTC with microseconds
        at = datetime.fromisoformat(text)
    elif isinstance(value, datetime):
        at = value
    else:
        raise ValueError(f"not a date and time: {value!r}")
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class BulkFold:
    """A projection's fold into Python dicts. Subclasses define ``on_<Event>(originator,
    fields)`` for every event their projection handles and :meth:`rows`."""

    def handles(self) -> set[str]:
        return {name[3:] for name in dir(self) if name.startswith("on_")}

    def handler(self, name: str) -> Handler | None:
        found: Handler | None = getattr(self, "on_" + name, None)
        return found

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """table name -> its rows, each a tuple in the table's column order."""
        raise NotImplementedError


def fold_for(projection: Any) -> BulkFold | None:
    """The projection's bulk fold, or None when it has none or the fold misses one of the
    projection's handlers."""
    make = getattr(projection, "bulk_fold", None)
    fold = make() if callable(make) else None
    if not isinstance(fold, BulkFold):
        return None
    handled = {name[3:] for name in dir(type(projection)) if name.startswith("on_")}
    if handled - fold.handles():
        return None
    return fold


@dataclasses.dataclass
class _Target:
    follower: Follower[Any]
    fold: BulkFold
    folded: int = 0


def rebuild(app: Any, followers: Sequence[Follower[Any]]) -> dict[str, int] | None:
    """Rebuild every one of ``followers``' read models from zero in one pass over the log;
    returns projection name -> events folded. None (and nothing done) when one of them
    has no complete bulk fold: rebuild those one by one instead."""
    targets: list[_Target] = []
    for follower in followers:
        fold = fold_for(follower.projection)
        if fold is None:
            return None
        targets.append(_Target(follower, fold))
    if not targets:
        return {}
    end = _fold_log(app, targets)
    for target in targets:
        _write(target.follower, target.fold.rows(), end)
    return {t.follower.projection.name: t.folded for t in targets}


def _dispatch(topics: Sequence[str], targets: Sequence[_Target]
              ) -> dict[str, tuple[list[tuple[_Target, Handler]], Fields]]:
    """topic -> (the folds taking it with their handler, the event class's field defaults)."""
    from eventsourcing.utils import resolve_topic

    found: dict[str, tuple[list[tuple[_Target, Handler]], Fields]] = {}
    for topic in topics:
        name = topic.rsplit(".", 1)[-1]
        takers: list[tuple[_Target, Handler]] = []
        for target in targets:
            handler = target.fold.handler(name)
            if handler is not None and topic in target.follower.projection.topics:
                takers.append((target, handler))
        if not takers:
            continue
        defaults: Fields = {}
        try:
            cls = resolve_topic(topic)
        except Exception:  # noqa: BLE001 - a topic no code defines now: never stored
            cls = None
        if cls is not None and dataclasses.is_dataclass(cls):
            for field in dataclasses.fields(cls):
                if field.default is not dataclasses.MISSING:
                    defaults[field.name] = field.default
        found[topic] = (takers, defaults)
    return found


def _fold_log(app: Any, targets: Sequence[_Target]) -> int:
    """Feed every event of the targets' topics to their folds, up to the log's last
    notification id at the start, which it returns (the position the folds are at)."""
    from esl_controller.audit import _events_table, _placeholder, events_engine

    topics = sorted({t for target in targets for t in target.follower.projection.topics})
    dispatch = _dispatch(topics, targets)
    wanted = sorted(dispatch)
    top = int(app.last_position())
    if not wanted:
        return top
    engine = events_engine(app)
    ph = _placeholder(engine)
    table = _events_table(app)
    sql = (f"SELECT id, originator_id, topic, state FROM {table} "
           f"WHERE id > {ph} AND id <= {ph} AND topic IN ({', '.join([ph] * len(wanted))}) "
           f"ORDER BY id LIMIT {READ_PAGE}")
    mapper = app.mapper
    cipher, compressor = getattr(mapper, "cipher", None), getattr(mapper, "compressor", None)
    scan: Any = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))
    last: Any = None
    key = ""
    after = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        while True:
            cursor.execute(sql, [after, top, *wanted])
            rows = cursor.fetchall()
            if not rows:
                break
            for _position, originator, topic, state in rows:
                takers, defaults = dispatch[topic]
                if cipher is not None:
                    state = cipher.decrypt(state)
                if compressor is not None:
                    state = compressor.decompress(state)
                fields, _end = scan(state.decode() if isinstance(state, bytes | bytearray)
                                    else bytes(state).decode(), 0)
                if defaults:
                    fields = defaults | fields
                if originator != last:  # a call's events mostly come together
                    last = originator
                    if isinstance(originator, UUID):
                        key = str(originator)
                    else:
                        h = bytes(originator).hex()
                        key = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
                for target, handler in takers:
                    handler(key, fields)
                    target.folded += 1
            after = int(rows[-1][0])
            if len(rows) < READ_PAGE:
                break
        cursor.close()
    finally:
        raw.close()
    return top


def _write(follower: Follower[Any], rows: dict[str, list[tuple[Any, ...]]], end: int) -> None:
    """Put ``rows`` in place of the projection's tables and its position at ``end``, in one
    transaction."""
    from projections.tracking import TRACKING

    projection = follower.projection
    engine = follower.engine
    tables: list[Table] = list(projection.metadata.sorted_tables)
    unknown = set(rows) - {t.name for t in tables}
    if unknown:
        raise ValueError(f"bulk fold of {projection.name} wrote unknown tables {sorted(unknown)}")
    move = update(TRACKING).where(TRACKING.c.name == projection.name).values(position=end)
    projection.forget_cached()
    try:
        if engine.dialect.name != "sqlite":
            with engine.begin() as conn:
                for table in reversed(tables):
                    conn.execute(table.delete())
                for table in tables:
                    names = [c.name for c in table.columns]
                    found = rows.get(table.name, [])
                    for start in range(0, len(found), WRITE_PAGE):
                        conn.execute(table.insert(), [dict(zip(names, row, strict=True))
                                                      for row in found[start:start + WRITE_PAGE]])
                conn.execute(move)
            return
        _write_sqlite(engine, tables, rows, move)
    finally:
        projection.forget_cached()


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _write_sqlite(engine: Any, tables: list[Table], rows: dict[str, list[tuple[Any, ...]]],
                  move: Any) -> None:
    """Stage the rows in TEMP (memory) copies of the tables, then swap them in."""
    if any(not _NAME.fullmatch(t.name) or any(not _NAME.fullmatch(c.name) for c in t.columns)
           for t in tables):
        raise ValueError("unexpected table or column name")

    def staging(table: Table) -> str:  # no keys, no indexes: plain appends
        columns = ", ".join(f"{c.name} {c.type.compile(dialect=engine.dialect)}"
                            for c in table.columns)
        return f"CREATE TABLE temp.{table.name} ({columns})"

    def create(table: Table) -> str:
        sql = str(CreateTable(table).compile(dialect=engine.dialect)).strip()
        return sql.replace("CREATE TABLE ", "CREATE TABLE main.", 1)

    def indexes(table: Table) -> list[str]:
        return [re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX main.",
                       str(CreateIndex(index).compile(dialect=engine.dialect)).strip(), count=1)
                for index in table.indexes]

    names = [t.name for t in tables]
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA temp_store=MEMORY")
        conn.commit()
        try:
            with conn.begin():
                for name in names:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
                for table in tables:
                    conn.exec_driver_sql(staging(table))
                cursor = conn.connection.dbapi_connection.cursor()
                for table in tables:
                    columns = [c.name for c in table.columns]
                    insert = (f"INSERT INTO temp.{table.name} ({', '.join(columns)}) "
                              f"VALUES ({', '.join('?' * len(columns))})")
                    cursor.executemany(insert, rows.get(table.name, []))
                cursor.close()
            with conn.begin():  # the swap: the old view until this commits
                for name in reversed(names):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS main.{name}")
                for table in tables:  # rows in key order, then the other indexes built once
                    conn.exec_driver_sql(create(table))
                    key = [c.name for c in table.primary_key.columns]
                    order = f" ORDER BY {', '.join(key)}" if key else ""
                    conn.exec_driver_sql(f"INSERT INTO main.{table.name} "
                                         f"SELECT * FROM temp.{table.name}{order}")
                    for statement in indexes(table):
                        conn.exec_driver_sql(statement)
                conn.execute(move)
        finally:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                for name in reversed(names):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
