"""Call-center reports per period (CC-5): one row per queue life, folded from QueueCall events.

Why a SQL read model kept by the worker, not a fold at report time: a report reads the calls
of one queue in a date range, and the QueueCall events of every queue since the beginning
grow with the traffic (several events per call). Folding them all for each report would cost
time in proportion to the whole history; here the worker folds each event once, and a report
is an indexed range query (queue, enqueue time) over finished rows. Like the call log, the
view is rebuilt from zero and compared with the live one by ``pbx projections rebuild
queue_report``.

``queue_lives``: a call's life in one queue (``QueueCallEnqueued`` or ``QueueCallRequeued``
opens one; the id is the QueueCall aggregate's id and the opening event's version), with
when it entered, when it was last offered, when an agent answered (``QueueCallConnected``)
and who, how it ended (answered, abandoned, overflowed, moved) and when, the bounces and the
talk time (from the connection to the end of the conversation). ``queue_open_lives`` maps a
QueueCall aggregate to its open life. No caller numbers are kept (privacy): a report counts.

Figures (``figures``), for the lives that entered the queue in the period:

- offered: all of them; answered, abandoned, overflowed, moved (to another queue by a
  supervisor), waiting (still open);
- wait of an answered call: entry to the agent's answer (``QueueCallConnected``; for calls
  recorded before that event existed, the last offer); wait of an abandoned call: entry to
  the hang-up. Average and p90 of each; p90 by the nearest-rank method (the smallest value
  with at least 90 % of the values at or below it);
- service level: answered within S seconds / offered, in per cent;
- per agent: calls answered and their average talk time (when the answer was recorded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
)
from sqlalchemy.engine import Connection

from projections.tracking import EventSource, Follower, SqlProjection

CALL_TOPIC = "esl_controller.domain.call_centers:QueueCall"
EVENTS = ("QueueCallEnqueued", "QueueCallRequeued", "QueueCallOffered", "QueueCallBounced",
          "QueueCallConnected", "QueueCallAnswered", "QueueCallAbandoned",
          "QueueCallOverflowed", "QueueCallMoved",
          "QueueCallTaken")  # a premium receptionist took it out (RCP-1)
TOPICS: tuple[str, ...] = tuple(f"{CALL_TOPIC}.{name}" for name in EVENTS)
DEFAULT_SERVICE_LEVEL = 20  # seconds: the usual "80/20" service level

METADATA = MetaData()
LIVES = Table(
    "queue_lives",
    METADATA,
    Column("life_id", String(80), primary_key=True),
    Column("queue_id", String(36), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("entered_at", String(40), nullable=False),  # ISO 8601 UTC: sorts as text
    Column("offered_at", String(40)),
    Column("connected_at", String(40)),
    Column("agent", String(16)),
    Column("outcome", String(16)),  # None while open
    Column("ended_at", String(40)),
    Column("bounces", Integer, nullable=False),
    Column("talk", Float),
    Index("queue_lives_period_idx", "queue_id", "entered_at"),
)
OPEN = Table(
    "queue_open_lives",
    METADATA,
    Column("queue_call_id", String(36), primary_key=True),
    Column("life_id", String(80), nullable=False),
)

_OPEN_SELECT = select(OPEN.c.life_id).where(OPEN.c.queue_call_id == bindparam("p_qc"))
_OPEN_DELETE = OPEN.delete().where(OPEN.c.queue_call_id == bindparam("p_qc"))
_OPEN_INSERT = OPEN.insert()
_LIFE_INSERT = LIVES.insert()
_LIFE_DELETE = LIVES.delete().where(LIVES.c.life_id == bindparam("p_life"))
_LIFE_SELECT = LIVES.select().where(LIVES.c.life_id == bindparam("p_life"))
_OFFERED = LIVES.update().where(LIVES.c.life_id == bindparam("p_life")).values(
    offered_at=bindparam("p_at"))
_BOUNCED = LIVES.update().where(LIVES.c.life_id == bindparam("p_life")).values(
    bounces=LIVES.c.bounces + 1)
_CONNECTED = LIVES.update().where(LIVES.c.life_id == bindparam("p_life")).values(
    connected_at=bindparam("p_at"), agent=bindparam("p_agent"))
_ENDED = LIVES.update().where(LIVES.c.life_id == bindparam("p_life")).values(
    outcome=bindparam("p_outcome"), ended_at=bindparam("p_at"))
_ANSWERED = LIVES.update().where(LIVES.c.life_id == bindparam("p_life")).values(
    outcome="answered", ended_at=bindparam("p_at"), agent=bindparam("p_agent"),
    talk=bindparam("p_talk"))
_PERIOD = LIVES.select().where(
    LIVES.c.queue_id == bindparam("p_queue"),
    LIVES.c.entered_at >= bindparam("p_from"),
    LIVES.c.entered_at <= bindparam("p_to"),
).order_by(LIVES.c.entered_at, LIVES.c.life_id)


def to_iso(at: datetime) -> str:
    """UTC ISO 8601 with microseconds: one fixed width, so text order is time order."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class QueueReportProjection(SqlProjection[None]):
    name = "queue_report"
    topics = TOPICS
    metadata = METADATA

    def _open(self, conn: Connection, e: Any) -> list[None]:
        qc = str(e.originator_id)
        life = f"{qc}:{e.originator_version}"
        conn.execute(_OPEN_DELETE, {"p_qc": qc})
        conn.execute(_LIFE_DELETE, {"p_life": life})  # never wedge on a repeat
        conn.execute(_OPEN_INSERT, {"queue_call_id": qc, "life_id": life})
        conn.execute(_LIFE_INSERT, {
            "life_id": life, "queue_id": str(e.queue_id), "call_id": e.call_id,
            "entered_at": to_iso(e.at), "bounces": 0,
        })
        return []

    on_QueueCallEnqueued = _open
    on_QueueCallRequeued = _open

    def _life(self, conn: Connection, e: Any) -> str | None:
        row = conn.execute(_OPEN_SELECT, {"p_qc": str(e.originator_id)}).first()
        return None if row is None else str(row.life_id)

    def on_QueueCallOffered(self, conn: Connection, e: Any) -> list[None]:
        life = self._life(conn, e)
        if life is not None:
            conn.execute(_OFFERED, {"p_life": life, "p_at": to_iso(e.at)})
        return []

    def on_QueueCallBounced(self, conn: Connection, e: Any) -> list[None]:
        life = self._life(conn, e)
        if life is not None:
            conn.execute(_BOUNCED, {"p_life": life})
        return []

    def on_QueueCallConnected(self, conn: Connection, e: Any) -> list[None]:
        life = self._life(conn, e)
        if life is not None:
            conn.execute(_CONNECTED, {"p_life": life, "p_at": to_iso(e.at), "p_agent": e.agent})
        return []

    def on_QueueCallAnswered(self, conn: Connection, e: Any) -> list[None]:
        life = self._life(conn, e)
        if life is None:
            return []
        row = conn.execute(_LIFE_SELECT, {"p_life": life}).first()
        talk = None
        if row is not None and row.connected_at is not None:
            since = datetime.fromisoformat(row.connected_at)
            talk = max(0.0, (e.at - since).total_seconds())
        conn.execute(_ANSWERED, {"p_life": life, "p_at": to_iso(e.at), "p_agent": e.agent,
                                 "p_talk": talk})
        conn.execute(_OPEN_DELETE, {"p_qc": str(e.originator_id)})
        return []

    def _end(self, conn: Connection, e: Any, outcome: str) -> list[None]:
        life = self._life(conn, e)
        if life is not None:
            conn.execute(_ENDED, {"p_life": life, "p_outcome": outcome, "p_at": to_iso(e.at)})
            conn.execute(_OPEN_DELETE, {"p_qc": str(e.originator_id)})
        return []

    def on_QueueCallAbandoned(self, conn: Connection, e: Any) -> list[None]:
        return self._end(conn, e, "abandoned")

    def on_QueueCallOverflowed(self, conn: Connection, e: Any) -> list[None]:
        return self._end(conn, e, "overflowed")

    def on_QueueCallMoved(self, conn: Connection, e: Any) -> list[None]:
        return self._end(conn, e, "moved")

    def on_QueueCallTaken(self, conn: Connection, e: Any) -> list[None]:
        """A premium receptionist took the waiting call out of the queue (RCP-1): the life
        ends, never counted as waiting."""
        return self._end(conn, e, "taken")


# -- the report -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueueLife:
    call_id: str
    entered_at: datetime
    outcome: str | None
    ended_at: datetime | None
    offered_at: datetime | None
    connected_at: datetime | None
    agent: str | None
    bounces: int
    talk: float | None

    @property
    def wait(self) -> float | None:
        """Seconds from entry to the agent's answer (answered) or to the hang-up
        (abandoned); None otherwise."""
        if self.outcome == "answered":
            answered = self.connected_at or self.offered_at or self.ended_at
            return None if answered is None else max(
                0.0, (answered - self.entered_at).total_seconds())
        if self.outcome == "abandoned" and self.ended_at is not None:
            return max(0.0, (self.ended_at - self.entered_at).total_seconds())
        return None


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent: str
    answered: int
    average_talk: float | None


@dataclass(frozen=True, slots=True)
class QueueReport:
    start: datetime
    end: datetime
    service_level_seconds: int
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    moved: int = 0
    waiting: int = 0
    bounced: int = 0  # offers that rang out and came back to the queue
    average_wait: float | None = None
    p90_wait: float | None = None
    average_abandon_wait: float | None = None
    p90_abandon_wait: float | None = None
    answered_in_time: int = 0
    service_level: float | None = None  # per cent of offered
    agents: tuple[AgentFigures, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(),
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "overflowed": self.overflowed, "moved": self.moved, "waiting": self.waiting,
            "bounced": self.bounced, "average_wait": self.average_wait,
            "p90_wait": self.p90_wait, "average_abandon_wait": self.average_abandon_wait,
            "p90_abandon_wait": self.p90_abandon_wait,
            "service_level_seconds": self.service_level_seconds,
            "answered_in_time": self.answered_in_time, "service_level": self.service_level,
            "agents": [{"agent": a.agent, "answered": a.answered,
                        "average_talk": a.average_talk} for a in self.agents],
        }


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: the smallest value with at least 90 % of the values
    at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _average(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def figures(lives: Sequence[QueueLife], start: datetime, end: datetime,
            service_level: int = DEFAULT_SERVICE_LEVEL) -> QueueReport:
    """The report of these queue lives (those that entered the queue in the period)."""
    outcomes = [life.outcome for life in lives]
    answered = [life for life in lives if life.outcome == "answered"]
    waits = [w for w in (life.wait for life in answered) if w is not None]
    abandoned = [w for w in (life.wait for life in lives if life.outcome == "abandoned")
                 if w is not None]
    in_time = sum(1 for w in waits if w <= service_level)
    talks: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for life in answered:
        agent = life.agent or "?"
        counts[agent] = counts.get(agent, 0) + 1
        if life.talk is not None:
            talks.setdefault(agent, []).append(life.talk)
    agents = tuple(AgentFigures(a, counts[a], _average(talks.get(a, [])))
                   for a in sorted(counts))
    return QueueReport(
        start=start, end=end, service_level_seconds=service_level, offered=len(lives),
        answered=len(answered), abandoned=outcomes.count("abandoned"),
        overflowed=outcomes.count("overflowed"), moved=outcomes.count("moved"),
        waiting=outcomes.count(None), bounced=sum(life.bounces for life in lives),
        average_wait=_average(waits), p90_wait=_rounded(p90(waits)),
        average_abandon_wait=_average(abandoned), p90_abandon_wait=_rounded(p90(abandoned)),
        answered_in_time=in_time,
        service_level=round(100.0 * in_time / len(lives), 1) if lives else None,
        agents=agents,
    )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def lives(conn_or_engine: Connection | Engine, queue_id: UUID, start: datetime,
          end: datetime) -> list[QueueLife]:
    """The queue's lives that entered it from ``start`` to ``end`` (both included)."""
    params = {"p_queue": str(queue_id), "p_from": to_iso(start), "p_to": to_iso(end)}
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            rows = conn.execute(_PERIOD, params).all()
    else:
        rows = conn_or_engine.execute(_PERIOD, params).all()
    return [
        QueueLife(
            call_id=r.call_id, entered_at=datetime.fromisoformat(r.entered_at),
            outcome=r.outcome, ended_at=_moment(r.ended_at), offered_at=_moment(r.offered_at),
            connected_at=_moment(r.connected_at), agent=r.agent, bounces=int(r.bounces),
            talk=None if r.talk is None else float(r.talk),
        )
        for r in rows
    ]


def read_report(app: EventSource, queue_id: UUID, start: datetime, end: datetime,
                service_level: int = DEFAULT_SERVICE_LEVEL) -> QueueReport:
    """The report for the CLI: folds what the log holds first (the view has no side
    effects, so catching up from another process is harmless), then reads."""
    follower = Follower(app, QueueReportProjection())
    try:
        follower.catch_up()
        found = lives(follower.engine, queue_id, start, end)
    finally:
        follower.close()
    return figures(found, start, end, service_level)
