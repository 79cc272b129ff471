"""eventsourcing-sqlalchemy, with a leaner append path for SQLite.

The stock recorder builds one ORM object per stored event and flushes the unit of work;
at hundreds of call setups per second that ORM bookkeeping was a third of the controller's
CPU. On SQLite we insert the same rows with one Core ``INSERT ... RETURNING id`` (an
executemany); PostgreSQL keeps the stock path (its table lock and NOTIFY). Same tables,
same columns, same optimistic-concurrency index, same errors. The log's last position is
read as ``MAX(id)`` (both databases).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.factory import Factory as SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session


class ApplicationRecorder(SQLAlchemyApplicationRecorder):
    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        engine = self.datastore.engine
        if engine is None or engine.dialect.name != "sqlite" or not stored_events:
            return super()._insert_stored_events(session, stored_events, **kwargs)
        table = self.events_record_cls.__table__
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [row[0] for row in session.execute(statement, rows)]


    def max_notification_id(self) -> int | None:
        # The stock query loads the newest record as an ORM object, its event state
        # included, to read its id; every catch-up asks this (the queue dispatcher many
        # times a second). MAX(id) on the primary key reads the index only.
        with self.transaction(commit=False) as session:
            found = session.execute(select(func.max(self.events_record_cls.__table__.c.id)))
            value = found.scalar()
            return None if value is None else int(value)


class Factory(SQLAlchemyFactory):
    application_recorder_class = ApplicationRecorder
