"""Audit of the event log: a tamper-evident hash chain, the configuration at a moment, export.

**The chain.** Every stored event gets a link in ``event_chain(position, hash)`` (in the
events database, beside ``pbx_events``)::

    link(n) = SHA-256( link(n-1) | id, version, len(originator), len(topic) | originator
                       | topic | state )

over the row exactly as stored (notification id, originator id and version, topic, state
bytes), starting from a fixed genesis value. The :class:`Sealer` follows the log (``pbx
serve``'s worker runs it like the projections; ``pbx events seal`` runs it once) and
appends the links of new events; every ``checkpoint_every`` events it also writes the
link to ``event_checkpoints`` (for off-site keeping: ``pbx events checkpoints``).

:func:`verify` recomputes the chain from the genesis over the log as it is now and compares
it with the sealed links; the first position where they part is named, with what happened
there: a *changed* event (its hash differs), an *inserted* one (a notification id the chain
does not know, or a forged row with the later events moved up), a *deleted* one (a sealed
position missing from the log, or the later events moved down). Checkpoints, and
checkpoints kept elsewhere, are compared with the recomputed links too.

**State at a moment.** :func:`directory_at` folds a fresh Directory from the configuration
events stamped at or before a moment.

**Export.** :func:`export` writes JSON Lines of the events in a time range.

Reading is done with plain DB-API cursors in large batches and hashing with hashlib, no
domain objects: a million events verify in a few seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import operator
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import IO, Any
from uuid import UUID

import gevent
import gevent.event
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.exc import IntegrityError

from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from projections.directory import TOPICS as DIRECTORY_TOPICS
from projections.directory import Directory

log = logging.getLogger(__name__)

GENESIS = hashlib.sha256(b"pbx event chain v1").digest()
CHECKPOINT_EVERY = 1000
READ_BATCH = 20000  # rows per fetch when reading the log

CHAIN_METADATA = MetaData()
CHAIN = Table(
    "event_chain",
    CHAIN_METADATA,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)
CHECKPOINTS = Table(
    "event_checkpoints",
    CHAIN_METADATA,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("events", BigInteger, nullable=False),  # events sealed up to and including it
    Column("hash", LargeBinary(32), nullable=False),
    Column("sealed_at", String(32), nullable=False),
)

_HEADER = struct.Struct(">qqHI")  # id, version, len(originator), len(topic)
Row = tuple[int, Any, int, Any, Any]  # id, originator_id, version, topic, state


def link(prev: bytes, position: int, originator: bytes, version: int, topic: bytes,
         state: bytes) -> bytes:
    """The chain link of one stored event, given the link before it."""
    return hashlib.sha256(b"".join((
        prev, _HEADER.pack(position, version, len(originator), len(topic)), originator, topic,
        state,
    ))).digest()


def _bytes(value: Any) -> bytes:
    """A column as bytes whatever a tamperer stored in it (SQLite columns hold any type)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, UUID):  # PostgreSQL's uuid column
        return value.bytes
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _row_link(prev: bytes, row: Row, position: int | None = None) -> bytes:
    """``link`` of a raw row (``position`` instead of the row's own id when given)."""
    pos, originator, version, topic, state = row
    if not isinstance(version, int):  # a forged row: hash what is there, it cannot match
        return hashlib.sha256(prev + repr(row).encode()).digest()
    return link(prev, pos if position is None else position, _bytes(originator), version,
                _bytes(topic), _bytes(state))


def events_engine(app: Pbx) -> Engine:
    """The SQLAlchemy engine of the events database (the store's own connections)."""
    datastore = getattr(app.recorder, "datastore", None)
    engine = getattr(datastore, "engine", None)
    if engine is None:
        raise ValidationError("the event log audit needs a SQL store (SQLite or PostgreSQL)")
    return engine  # type: ignore[no-any-return]


def _events_table(app: Pbx) -> str:
    name = getattr(app.recorder, "events_table_name", None) or "pbx_events"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
        raise ValidationError(f"unexpected events table name {name!r}")
    return str(name)


def _placeholder(engine: Engine) -> str:
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def _fetch(cursor: Any, size: int = READ_BATCH) -> Iterator[Any]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- sealing ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int
    events: int
    hash: str  # hex
    sealed_at: str


class Sealer:
    """Appends the chain links of new events; one batch per short write transaction.

    Several sealers (the worker, ``pbx events seal``) may run at once: the primary key on
    ``event_chain.position`` lets only one of them write a position; the other retries.
    """

    def __init__(self, app: Pbx, checkpoint_every: int = CHECKPOINT_EVERY,
                 batch: int = 1000) -> None:
        if checkpoint_every < 1 or batch < 1:
            raise ValueError("checkpoint_every and batch must be positive")
        self.app = app
        self.engine = events_engine(app)
        self.table = _events_table(app)
        self.checkpoint_every = checkpoint_every
        self.batch = batch
        self._stopped = gevent.event.Event()
        self._head: tuple[int, bytes, int] | None = None  # (position, link, events sealed)
        CHAIN_METADATA.create_all(self.engine, checkfirst=True)
        ph = _placeholder(self.engine)
        topic = "CAST(topic AS BLOB)" if self.engine.dialect.name == "sqlite" else "topic"
        self._select = (f"SELECT id, originator_id, originator_version, {topic}, state "
                        f"FROM {self.table} WHERE id > {ph} ORDER BY id LIMIT {ph}")

    def head(self) -> tuple[int, bytes, int]:
        """(last sealed position, its link, how many events are sealed)."""
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT position, hash FROM event_chain ORDER BY position DESC LIMIT 1"
            )).first()
            if row is None:
                return 0, GENESIS, 0
            cp = conn.execute(text(
                "SELECT position, events FROM event_checkpoints WHERE position <= :p "
                "ORDER BY position DESC LIMIT 1"), {"p": int(row[0])}).first()
            since, base = (0, 0) if cp is None else (int(cp[0]), int(cp[1]))
            after = conn.execute(text("SELECT count(*) FROM event_chain WHERE position > :p"),
                                 {"p": since}).scalar_one()
            return int(row[0]), bytes(row[1]), base + int(after)

    def seal(self) -> int:
        """Seal every event not sealed yet; returns how many were sealed."""
        total = conflicts = 0
        while True:
            try:
                count = self._seal_batch()
            except IntegrityError:
                # another sealer wrote these positions first: start again from its head;
                # conflicting again and again means rows that do not fit the chain
                conflicts += 1
                if conflicts > 5:
                    raise ValidationError("the chain tables hold links or checkpoints that do "
                                          "not fit the chain: run 'pbx events verify'") from None
                continue
            conflicts = 0
            if count == 0:
                return total
            total += count

    def _seal_batch(self) -> int:
        if self._head is None:
            self._head = self.head()
        position, prev, sealed = self._head
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(self._select, (position, self.batch))
            rows = cursor.fetchall()
            cursor.close()
        finally:
            raw.close()
        if not rows:
            return 0
        links: list[tuple[int, bytes]] = []
        checkpoints: list[tuple[int, int, bytes, str]] = []
        stamp = _now()
        every = self.checkpoint_every
        sha = hashlib.sha256
        pack = _HEADER.pack
        join = b"".join
        for row in rows:
            pos, originator, version, topic, state = row
            try:
                prev = sha(join((prev, pack(pos, version, len(originator), len(topic)),
                                 originator, topic, state))).digest()
            except (TypeError, struct.error):  # PostgreSQL's uuid / str columns
                prev = _row_link(prev, row)
            sealed += 1
            links.append((pos, prev))
            if sealed % every == 0:
                checkpoints.append((pos, sealed, prev, stamp))
        ph = _placeholder(self.engine)
        self._head = None  # re-read after a failure (another sealer may have moved on)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO event_chain (position, hash) VALUES ({ph}, {ph})", links)
            if checkpoints:
                conn.exec_driver_sql(
                    f"INSERT INTO event_checkpoints (position, events, hash, sealed_at) "
                    f"VALUES ({ph}, {ph}, {ph}, {ph})", checkpoints)
        self._head = (links[-1][0], prev, sealed)
        return len(rows)

    def run(self, poll_interval: float = 0.05) -> None:
        """Follow the log until :meth:`stop` (run it in a greenlet)."""
        self._stopped.clear()
        while not self._stopped.is_set():
            try:
                count = self._seal_batch()
            except IntegrityError:  # another sealer got there first: look again soon
                self._stopped.wait(poll_interval)
                continue
            except Exception as exc:  # noqa: BLE001 - the log's writer held the lock ...
                log.warning("sealer: %s; retrying", exc)
                self._stopped.wait(max(poll_interval, 0.5))
                continue
            if count:
                gevent.sleep(0)
            else:
                self._stopped.wait(poll_interval)

    def finish(self) -> None:
        """Seal what is left (on shutdown); a failure is logged, the next start seals it."""
        try:
            self.seal()
        except Exception as exc:  # noqa: BLE001
            log.warning("sealer: %s; the rest is sealed on the next start", exc)

    def stop(self) -> None:
        self._stopped.set()


def checkpoints(app: Pbx) -> list[Checkpoint]:
    """The stored checkpoints, in log order."""
    engine = events_engine(app)
    CHAIN_METADATA.create_all(engine, checkfirst=True)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT position, events, hash, sealed_at FROM event_checkpoints ORDER BY position"
        )).all()
    return [Checkpoint(int(r[0]), int(r[1]), bytes(r[2]).hex(), str(r[3])) for r in rows]


CHECKPOINT_LINE = re.compile(r"^\s*(\d+)\s+(?:(\d+)\s+)?([0-9a-f]{64})\b")


def parse_checkpoints(lines: Iterable[str]) -> dict[int, bytes]:
    """Checkpoints kept elsewhere: lines of ``pbx events checkpoints`` (``POSITION [EVENTS]
    HASH ...``); other lines (the header) are skipped."""
    found: dict[int, bytes] = {}
    for line in lines:
        match = CHECKPOINT_LINE.match(line)
        if match:
            found[int(match[1])] = bytes.fromhex(match[3])
    if not found:
        raise ValidationError("no checkpoints found in the file (lines of POSITION ... HASH)")
    return found


# -- verifying --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong at the first bad position."""

    position: int
    kind: str  # changed, inserted, deleted, checkpoint
    detail: str

    def line(self) -> str:
        return f"position {self.position}: {self.kind} event: {self.detail}" \
            if self.kind != "checkpoint" else f"position {self.position}: {self.detail}"


@dataclass(slots=True)
class Report:
    events: int = 0  # rows in the log
    sealed: int = 0  # of which sealed and checked against the chain
    unsealed: int = 0  # after the last sealed position (not sealed yet)
    checkpoints: int = 0  # stored checkpoints matched
    offsite: int = 0  # checkpoints kept elsewhere matched
    last_sealed: int = 0
    head: bytes = GENESIS
    finding: Finding | None = None

    @property
    def intact(self) -> bool:
        return self.finding is None

    def summary(self) -> str:
        parts = [f"{self.sealed} sealed events intact up to position {self.last_sealed}"]
        if self.unsealed:
            parts.append(f"{self.unsealed} newer event(s) not sealed yet")
        parts.append(f"{self.checkpoints} checkpoint(s) match")
        if self.offsite:
            parts.append(f"{self.offsite} off-site checkpoint(s) match")
        return "chain intact: " + "; ".join(parts) + f"; head {self.head.hex()[:16]}"


def verify(app: Pbx, offsite: dict[int, bytes] | None = None) -> Report:
    """Recompute the chain over the log and compare it with the sealed links.

    Stops at the first bad position (``report.finding``). One pass over the log joined to
    the chain by position (SQLite finds each link by its primary key), plus one query for
    the first sealed position missing from the log."""
    engine = events_engine(app)
    CHAIN_METADATA.create_all(engine, checkfirst=True)
    table = _events_table(app)
    report = Report()
    ph = _placeholder(engine)
    topic = "CAST(e.topic AS BLOB)" if engine.dialect.name == "sqlite" else "e.topic"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT position, hash FROM event_checkpoints")
        stored_cps = {int(p): bytes(h) for p, h in cur.fetchall()}
        cur.execute("SELECT max(position) FROM event_chain")
        top = cur.fetchone()
        report.last_sealed = int(top[0] or 0) if top else 0
        cur.execute(f"SELECT min(c.position) FROM event_chain c WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {table} e WHERE e.id = c.position)")
        gap = cur.fetchone()
        first_deleted = int(gap[0]) if gap and gap[0] is not None else None

        def next_link(position: int) -> tuple[int, bytes] | None:
            cur.execute(f"SELECT position, hash FROM event_chain WHERE position > {ph} "
                        f"ORDER BY position LIMIT 1", (position,))
            found = cur.fetchone()
            return None if found is None else (int(found[0]), bytes(found[1]))

        rows_cur = raw.cursor()
        rows_cur.execute(f"SELECT e.id, e.originator_id, e.originator_version, {topic}, "
                         f"e.state, c.hash FROM {table} e "
                         f"LEFT JOIN event_chain c ON c.position = e.id ORDER BY e.id")
        _walk(report, _fetch(rows_cur), first_deleted, stored_cps, offsite or {}, next_link)
        rows_cur.close()
        cur.close()
    finally:
        raw.close()
    return report


def _walk(report: Report, rows: Iterator[Any], first_deleted: int | None,
          stored_cps: dict[int, bytes], offsite: dict[int, bytes],
          next_link: Callable[[int], tuple[int, bytes] | None]) -> None:
    """The verify loop over (id, originator, version, topic, state, sealed link or None)
    in log order; ``first_deleted``: the first sealed position missing from the log."""
    prev = GENESIS
    last_sealed = report.last_sealed
    sha = hashlib.sha256
    pack = _HEADER.pack
    join = b"".join
    count = sealed = unsealed = cps = offs = 0
    finding: Finding | None = None
    for row in rows:
        position, originator, version, topic, state, stored = row
        if first_deleted is not None and position > first_deleted:
            break
        count += 1
        try:
            h = sha(join((prev, pack(position, version, len(originator), len(topic)),
                          originator, topic, state))).digest()
        except (TypeError, struct.error):  # not the types we stored: a tampered row
            h = _row_link(prev, row[:5])
        if stored is None:
            if position <= last_sealed:
                finding = Finding(position, "inserted",
                                  "a notification id the chain does not know")
                break
            prev = h  # after the last seal: not sealed yet, but the chain's future
            unsealed += 1
            continue
        if h != stored:
            finding = _diagnose(prev, row, bytes(stored), rows, next_link)
            break
        sealed += 1
        if position in stored_cps:
            if stored_cps[position] != h:
                finding = Finding(position, "checkpoint",
                                  "the stored checkpoint differs from the chain "
                                  "(the checkpoints table was changed)")
                break
            cps += 1
        if position in offsite:
            if offsite[position] != h:
                finding = Finding(
                    position, "checkpoint",
                    "differs from the off-site checkpoint: the log and its chain up to here "
                    "were rewritten")
                break
            offs += 1
        prev = h
    if finding is None and first_deleted is not None:
        finding = Finding(first_deleted, "deleted", "a sealed position is missing from the log")
    if finding is None:
        report.head = prev
        beyond = sorted(p for p in (*stored_cps, *offsite) if p > last_sealed)
        if beyond:
            finding = Finding(
                beyond[0], "checkpoint",
                "a checkpoint names a position that is no longer sealed: the chain was cut "
                "back (and events at the end of the log may have been deleted)")
    report.events, report.sealed, report.unsealed = count, sealed, unsealed
    report.checkpoints, report.offsite, report.finding = cps, offs, finding


def _diagnose(prev: bytes, row: Any, stored: bytes, rows: Iterator[Any],
              next_link: Callable[[int], tuple[int, bytes] | None]) -> Finding:
    """The event at ``row``'s position does not hash to its sealed link: say why.

    Moved rows are recognised by hashing them at the position they were sealed at:
    the row after this one sealed here means a forged row was put in before it; this row
    sealed at the next sealed position means the sealed event here was deleted and the
    later ones moved down."""
    position = int(row[0])
    following = next(rows, None)
    if following is not None and _row_link(prev, following[:5], position) == stored:
        return Finding(position, "inserted",
                       "a row not in the chain; the sealed events from here on were moved "
                       "up by one")
    after = next_link(position)
    if after is not None and _row_link(stored, row[:5], after[0]) == after[1]:
        return Finding(position, "deleted",
                       "the sealed event is gone; the later events were moved down by one")
    return Finding(position, "changed", "its hash differs from the sealed chain")


# -- the configuration at a moment ------------------------------------------------------------
def parse_moment(value: str, end_of_day: bool = False) -> datetime:
    """``2026-11-26``, ``2026-11-26 14:05``, ``2026-11-26T14:05:30+01:00`` ... as an aware
    datetime; without an offset the time is UTC (as ``pbx events list`` shows it). A bare
    date is its first moment (or its last with ``end_of_day``)."""
    text_ = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text_):
            day = date.fromisoformat(text_)
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            moment = datetime.fromisoformat(text_.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"not a timestamp: {value!r} (use e.g. 2026-11-26 or 2026-11-26T14:05:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class StateAt:
    directory: Directory
    at: datetime
    position: int  # the last configuration event folded (0: none)
    folded: int  # how many configuration events were folded
    last_at: datetime | None  # when the last folded one happened


def directory_at(app: Pbx, at: datetime) -> StateAt:
    """A fresh Directory folded from the configuration events stamped at or before ``at``."""
    directory = Directory()
    position = folded = 0
    last_at: datetime | None = None
    for pos, event in app.events_after(0, DIRECTORY_TOPICS):
        if event.timestamp > at:
            continue  # events of one aggregate are in time order; others may interleave
        directory.apply(event)
        position, folded, last_at = pos, folded + 1, event.timestamp
    directory.position = position
    return StateAt(directory, at, position, folded, last_at)


# -- export -----------------------------------------------------------------------------------
_TIMESTAMP_PREFIX = re.compile(
    rb'^\{"timestamp":\{"_type_":"datetime_iso","_data_":"([0-9T:.+\-]+)"\}')
HIDDEN = ("hash", "secret")  # secrets and their hashes never leave the store


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _event_fields(event: Any) -> dict[str, Any]:
    skipped = {"originator_id", "originator_version", "originator_topic", "timestamp"}
    return {
        key: _plain(value) for key, value in vars(event).items()
        if key not in skipped and not any(h in key for h in HIDDEN)
    }


def export(app: Pbx, start: datetime, end: datetime, out: IO[str]) -> int:
    """Write the events stamped in [start, end] as JSON Lines; returns how many.

    Each line: position, timestamp, topic, originator, version, data (the event's fields;
    secrets' hashes left out)."""
    if end < start:
        raise ValidationError(f"the range is reversed: --to {end.isoformat()} is before "
                              f"--from {start.isoformat()}")
    engine = events_engine(app)
    table = _events_table(app)
    mapper = app.mapper
    from eventsourcing.persistence import StoredEvent

    written = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(f"SELECT id, originator_id, originator_version, topic, state "
                    f"FROM {table} ORDER BY id")
        for pos, originator, version, topic, state in _fetch(cur):
            state = _bytes(state)
            match = _TIMESTAMP_PREFIX.match(state)
            if match is not None:  # skip events out of range without decoding them
                stamp = datetime.fromisoformat(match[1].decode())
                if not start <= stamp <= end:
                    continue
            oid = originator if isinstance(originator, UUID) else UUID(bytes=_bytes(originator))
            event: Any = mapper.to_domain_event(StoredEvent(oid, version, topic, state))
            if not start <= event.timestamp <= end:
                continue
            out.write(json.dumps({
                "position": pos,
                "timestamp": event.timestamp.isoformat(),
                "topic": topic,
                "originator": str(oid),
                "version": version,
                "data": _event_fields(event),
            }, sort_keys=False) + "\n")
            written += 1
        cur.close()
    finally:
        raw.close()
    return written


def whole_days(start: str, end: str) -> tuple[datetime, datetime]:
    """The export range: ``--to`` as a bare date includes that whole day."""
    return parse_moment(start), parse_moment(end, end_of_day=True)




# -- rebuilding a projection and comparing it with the live one -------------------------------
@dataclass(frozen=True, slots=True)
class RebuildResult:
    name: str
    events: int  # the log's length
    folded: int  # events the projection folded
    seconds: float  # the rebuild from zero
    live_seconds: float  # bringing the live view up to date first
    equal: bool
    size: int  # rows (SQL) or entries (directory) of the rebuilt view
    cpu_seconds: float = 0.0  # processor time of the rebuild (without the live catch-up)

    def line(self) -> str:
        if self.equal:
            return (f"rebuilt {self.name} from {self.events} events: equal to the live view "
                    f"({self.folded} folded, {self.size} rows, {self.seconds:.2f} s)")
        return f"rebuilt {self.name} from {self.events} events: DIFFERS from the live view"


def _size(state: Any) -> int:
    if isinstance(state, dict):
        return sum(len(v) if isinstance(v, dict | list | tuple) else 1 for v in state.values())
    return len(state) if isinstance(state, list | tuple) else 1


def rebuild(app: Pbx, name: str, factory: Any) -> RebuildResult:
    """Rebuild the projection ``name`` (a SqlProjection class, or the Directory) from zero
    and compare it with the live view.

    SQL read models: the live view is its tables as the worker keeps them (first brought up
    to date); they are dropped and folded again from position 0, then compared.

    The directory: the live view is the fold the server keeps (configuration topics only,
    followed as the log grows); the rebuild folds, from zero, every event of the log any
    of its handlers takes, so an event a fold handles but forgot to declare shows up as a
    difference."""
    import time as clock

    if isinstance(factory, type) and issubclass(factory, Directory):
        return _rebuild_directory(app, name, factory)
    from projections.tracking import Follower

    follower = Follower(app, factory())
    try:
        began = clock.perf_counter()
        follower.catch_up()
        live_seconds = clock.perf_counter() - began
        before = follower.state()
        began, cpu = clock.perf_counter(), clock.process_time()
        from projections import bulk  # a bulk fold when the projection has one (issue 6)

        done = bulk.rebuild(app, [follower])
        folded = (fast_rebuild(app, follower) if done is None
                  else done[str(follower.projection.name)])
        seconds, cpu = clock.perf_counter() - began, clock.process_time() - cpu
        after = follower.state()
    finally:
        follower.engine.dispose()
    return RebuildResult(name, app.last_position(), int(folded or 0), seconds, live_seconds,
                         before == after, _size(after), cpu)


def rebuild_in_processes(db_url: str, names: Sequence[str], jobs: int,
                         meanwhile: Callable[[], None] | None = None) -> list[RebuildResult]:
    """Rebuild several projections at once, each in its own ``pbx projections rebuild NAME``
    process (they share nothing but the log they read), ``jobs`` at a time; ``meanwhile``
    runs in this process once the first ones are started."""
    import os
    import subprocess
    import sys
    from dataclasses import fields

    pending = list(names)
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    results: dict[str, RebuildResult] = {}
    env = dict(os.environ)
    while pending or running:
        while pending and len(running) < max(1, jobs):
            name = pending.pop(0)
            argv = [sys.executable, "-c", "from commands.main import main; main()",
                    "--db", db_url, "projections", "rebuild", name, "--json"]
            running.append((name, subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)))
        if meanwhile is not None:
            meanwhile()
            meanwhile = None
        if not running:
            break
        name, proc = running.pop(0)
        out, _err = proc.communicate()
        try:
            data = json.loads(out)[0]
        except (ValueError, IndexError, KeyError):
            raise ValidationError(f"rebuilding {name} failed (exit status {proc.returncode})"
                                  ) from None
        results[name] = RebuildResult(**{f.name: data[f.name] for f in fields(RebuildResult)})
    if meanwhile is not None:  # nothing to start
        meanwhile()
    return [results[name] for name in names]


def _rebuild_directory(app: Pbx, name: str, factory: type[Directory]) -> RebuildResult:
    import time as clock

    began = clock.perf_counter()
    live = app.directory()
    live_seconds = clock.perf_counter() - began
    top = live.position
    began, cpu = clock.perf_counter(), clock.process_time()
    engine = events_engine(app)
    with engine.connect() as conn:
        topics = [str(t) for (t,) in conn.execute(text(
            f"SELECT DISTINCT topic FROM {_events_table(app)}"))]
    handled = [t for t in topics if hasattr(factory, "_on_" + t.rsplit(".", 1)[-1])]
    rebuilt = factory()
    folded = 0
    for _position, event in app.events_after(0, handled, top):
        rebuilt.apply(event)
        folded += 1
    rebuilt.position = top
    seconds, cpu = clock.perf_counter() - began, clock.process_time() - cpu
    after = rebuilt.state()
    return RebuildResult(name, top, folded, seconds, live_seconds, live.state() == after,
                         _size(after), cpu)


# -- the fast rebuild path --------------------------------------------------------------------
# A rebuild replays hundreds of thousands of events through a projection's handlers, each of
# which runs a few prebuilt Core statements. SQLAlchemy's per-execution bookkeeping (tens of
# microseconds) then costs far more than SQLite itself. During a rebuild the handlers get a
# connection that compiles each prebuilt statement once and runs it straight on the DB-API
# cursor of the same transaction; anything it does not know how to run (a statement built
# per event, Python-side column defaults, an empty IN list ...) goes through SQLAlchemy as
# usual. The rebuilt tables are then compared with the live ones, which the worker keeps
# through plain SQLAlchemy: the check covers this path too.
_UNSET = object()


class _Plan:
    """One compiled statement: SQL text, where each positional value comes from, and how
    result values are converted."""

    __slots__ = ("sql", "getters", "expanding", "row", "processors", "statement", "keys",
                 "many", "get")

    def __init__(self, statement: Any, sql: str | None, getters: list[tuple[str, Any, Any]],
                 expanding: frozenset[str], row: Any, processors: list[Any] | None) -> None:
        self.statement = statement  # kept alive: the cache is keyed by its id
        self.sql = sql
        self.getters = getters  # (bind name, default or _UNSET, bind processor or None)
        self.expanding = expanding
        self.row = row
        self.processors = processors
        self.keys: frozenset[str] = frozenset()
        self.many = False
        # the common case (every value from the parameters, nothing to convert): itemgetter
        self.get: Callable[[dict[str, Any]], Any] | None = None
        if not expanding and all(d is _UNSET and p is None for _n, d, p in getters):
            names = [n for n, _d, _p in getters]
            if len(names) == 1:
                only = names[0]
                self.get = lambda params: (params[only],)
            elif names:
                self.get = operator.itemgetter(*names)
            else:
                self.get = lambda params: ()


class _Result:
    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return list(self._rows)

    fetchall = all

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise ValueError(f"expected at most one row, got {len(self._rows)}")
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> list[Any]:
        return [r[0] for r in self._rows]


def _row_type(names: Sequence[str]) -> Any:
    import collections

    base = collections.namedtuple("Row", list(names), rename=True)  # type: ignore[misc]

    class Row(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(names, self, strict=True))

    return Row


class FastConnection:
    """Runs prebuilt Core statements on the DB-API cursor of ``conn``'s transaction
    (SQLite); falls back to ``conn.execute`` for anything else."""

    def __init__(self, conn: Any, cache: dict[int, list[_Plan]]) -> None:
        self._conn = conn
        self.engine = conn.engine
        self.dialect = conn.dialect
        self._cursor = conn.connection.dbapi_connection.cursor()
        self._cache = cache
        self.slow = 0

    def __getattr__(self, name: str) -> Any:  # anything else: the real connection
        return getattr(self._conn, name)

    def execute(self, statement: Any, params: Any = None) -> Any:
        if params is None:
            params = {}
        many = params.__class__ is not dict
        if many:
            if not isinstance(params, list | tuple) or not params \
                    or not isinstance(params[0], dict):
                return self._conn.execute(statement, params or None)
            first = params[0]
            many = len(params) > 1
        else:
            first = params
        plan: _Plan | None = None
        for known in self._cache.get(id(statement), ()):
            if known.many is many and known.keys == first.keys():
                plan = known
                break
        else:
            plan = self._plan(statement, tuple(sorted(first)), many)
            self._cache.setdefault(id(statement), []).append(plan)
        if plan.statement is not statement or plan.sql is None or (many and plan.expanding):
            self.slow += 1
            return self._conn.execute(statement, params)
        cursor = self._cursor
        if many:
            get = plan.get
            cursor.executemany(plan.sql, [get(p) if get is not None else self._args(plan, p)
                                          for p in params])
            return _Result([], cursor.rowcount)
        if plan.get is not None:
            cursor.execute(plan.sql, plan.get(first))
        elif plan.expanding:
            sql, args = self._expand(plan, first)
            if sql is None:
                self.slow += 1
                return self._conn.execute(statement, params)
            cursor.execute(sql, args)
        else:
            cursor.execute(plan.sql, self._args(plan, first))
        if plan.row is None:
            return _Result([], cursor.rowcount)
        raw_rows = cursor.fetchall()
        if not raw_rows:
            return _Result([], -1)
        make = plan.row._make
        processors = plan.processors
        if processors is None:
            return _Result([make(r) for r in raw_rows], -1)
        return _Result([make([v if p is None or v is None else p(v)
                              for p, v in zip(processors, r, strict=True)])
                        for r in raw_rows], -1)

    @staticmethod
    def _args(plan: _Plan, params: dict[str, Any]) -> list[Any]:
        out = []
        for name, default, process in plan.getters:
            value = params.get(name, _UNSET)
            if value is _UNSET:
                if default is _UNSET:
                    raise KeyError(f"no value for bind parameter {name!r}")
                value = default
            out.append(value if process is None or value is None else process(value))
        return out

    @staticmethod
    def _expand(plan: _Plan, params: dict[str, Any]) -> tuple[Any, list[Any]]:
        sql = plan.sql or ""
        args: list[Any] = []
        for name, default, process in plan.getters:
            value = params.get(name, default)
            if value is _UNSET:
                raise KeyError(f"no value for bind parameter {name!r}")
            if process is not None and name not in plan.expanding and value is not None:
                value = process(value)
            if name in plan.expanding:
                values = list(value)
                if not values:
                    return None, []
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(values)), 1)
                args.extend(values)
            else:
                args.append(value)
        return sql, args

    def _plan(self, statement: Any, keys: tuple[str, ...], many: bool) -> _Plan:
        """The plan for running ``statement`` with parameters named ``keys``; a plan
        without SQL (run it through SQLAlchemy) when this path cannot."""
        plan = self._compile(statement, keys, many) or _Plan(statement, None, [],
                                                              frozenset(), None, None)
        plan.keys = frozenset(keys)
        plan.many = many
        return plan

    def _compile(self, statement: Any, keys: tuple[str, ...], many: bool) -> _Plan | None:
        from sqlalchemy.sql.elements import ClauseElement

        if self.dialect.paramstyle != "qmark" or not isinstance(statement, ClauseElement):
            return None
        try:
            compiled: Any = statement.compile(dialect=self.dialect, column_keys=list(keys),
                                              for_executemany=many)
        except Exception:  # noqa: BLE001 - whatever SQLAlchemy needs more for: its own path
            return None
        if (compiled.literal_execute_params
                or getattr(compiled, "insert_prefetch", None)
                or getattr(compiled, "update_prefetch", None)
                or getattr(compiled, "returning", None)
                or compiled.positiontup is None):
            return None
        expanding = frozenset(b.key for b in compiled.post_compile_params)
        if any(not b.expanding for b in compiled.post_compile_params):
            return None
        from sqlalchemy.sql.base import _NoArg

        bind_processors = compiled._bind_processors
        if any(name in bind_processors for name in expanding):
            return None
        getters: list[tuple[str, Any, Any]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.callable is not None:
                return None
            value = bind.value
            fixed = not (bind.required or value is None or isinstance(value, _NoArg))
            getters.append((name, value if fixed else _UNSET, bind_processors.get(name)))
        row = None
        processors: list[Any] | None = None
        if getattr(statement, "is_select", False) or compiled._result_columns:
            columns = compiled._result_columns
            if not columns:
                return None
            row = _row_type([c[0] for c in columns])
            found = [c[3]._cached_result_processor(self.dialect, None) for c in columns]
            processors = found if any(p is not None for p in found) else None
        return _Plan(statement, compiled.string, getters, expanding, row, processors)


def fast_rebuild(app: Pbx, follower: Any, batch: int = 20000) -> int:
    """Fold the whole log into ``follower``'s read model again; returns how many events
    were folded.

    SQLite views: the handlers run through :class:`FastConnection` against in-memory TEMP
    copies of the projection's tables (same DDL: unqualified names find TEMP tables first),
    then one short transaction swaps them in and sets the tracking position. Readers see
    the old view until that commit, never an empty one. Other stores: the follower's own
    rebuild."""
    from eventsourcing.persistence import StoredEvent
    from sqlalchemy import update
    from sqlalchemy.schema import CreateIndex, CreateTable

    from projections.tracking import TRACKING

    projection = follower.projection
    engine = follower.engine
    if engine.dialect.name != "sqlite":
        return int(follower.rebuild())
    tables = list(projection.metadata.sorted_tables)
    names = [t.name for t in tables]
    if any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names):
        return int(follower.rebuild())

    def ddl(schema: str) -> list[str]:
        out = []
        for table in tables:
            create = str(CreateTable(table).compile(dialect=engine.dialect)).strip()
            out.append(create.replace("CREATE TABLE ", f"CREATE TABLE {schema}.", 1))
            for index in table.indexes:
                sql = str(CreateIndex(index).compile(dialect=engine.dialect)).strip()
                out.append(re.sub(r"^CREATE (UNIQUE )?INDEX ", rf"CREATE \1INDEX {schema}.",
                                  sql, count=1))
        return out

    topics = list(projection.topics)
    source = events_engine(app)
    ph = _placeholder(source)
    sql = (f"SELECT id, originator_id, originator_version, topic, state "
           f"FROM {_events_table(app)} "
           + (f"WHERE topic IN ({', '.join([ph] * len(topics))}) " if topics else "")
           + "ORDER BY id")
    to_event = app.mapper.to_domain_event
    process = projection.process
    cache: dict[int, list[_Plan]] = {}
    folded = end = 0
    projection.forget_cached()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA temp_store=MEMORY")
        conn.commit()
        try:
            with conn.begin():
                for name in names:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
                for statement in ddl("temp"):
                    conn.exec_driver_sql(statement)
            raw = source.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(sql, topics)
                while True:
                    rows = cur.fetchmany(batch)
                    if not rows:
                        break
                    with conn.begin():
                        fast = FastConnection(conn, cache)
                        for _pos, originator, version, topic, state in rows:
                            oid = originator if isinstance(originator, UUID) \
                                else UUID(bytes=originator)
                            process(fast, to_event(StoredEvent(oid, version, topic, state)))
                    end = int(rows[-1][0])
                    folded += len(rows)
                cur.close()
            finally:
                raw.close()
            with conn.begin():  # the swap: the old view until this commits
                for name in reversed(names):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS main.{name}")
                for statement in ddl("main"):
                    conn.exec_driver_sql(statement)
                for name in names:
                    conn.exec_driver_sql(f"INSERT INTO main.{name} SELECT * FROM temp.{name}")
                conn.execute(update(TRACKING).where(TRACKING.c.name == projection.name)
                             .values(position=end))
        finally:
            projection.forget_cached()
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                for name in reversed(names):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    return folded
