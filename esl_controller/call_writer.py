"""Group commit: calls' events are appended by one writer greenlet, many calls per transaction.

Each call's greenlet hands its Call aggregate to the writer and (usually) waits for the
commit; whatever is queued while one transaction runs goes into the next one together.
That keeps a burst of call setups to a few SQLite commits instead of one per step, and
keeps every blocking sqlite3 call in one place.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
import gevent.lock
from gevent.event import AsyncResult
from gevent.queue import Empty, Queue

from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.errors import StoreUnavailableError

log = logging.getLogger(__name__)


class CallWriter:
    """Appends Call aggregates' pending events in batches (group commit)."""

    def __init__(self, app: Pbx, max_batch: int = 256) -> None:
        self.app = app
        datastore = getattr(app.recorder, "datastore", None)
        if getattr(datastore, "write_lock", None) is not None:
            # eventsourcing-sqlalchemy serialises SQLite writers with threading.Semaphore;
            # monkey-patched, its release() yields to the hub (Condition._is_owned), so every
            # commit waited a whole hub cycle under load. A gevent semaphore does not yield.
            datastore.write_lock = gevent.lock.Semaphore()
        self.max_batch = max_batch
        self._queue: Queue[tuple[Call, AsyncResult | None]] = Queue()
        self._greenlet: gevent.Greenlet | None = None
        self.appended = 0
        self.commits = 0
        self.failures = 0

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued, then stop."""
        if self._greenlet is not None:
            self._queue.put((None, None))  # type: ignore[arg-type]
            self._greenlet.join(timeout)
            self._greenlet.kill()
            self._greenlet = None

    def save(self, call: Call, timeout: float = 10.0) -> None:
        """Append the call's pending events; wait for the commit.

        Raises StoreUnavailableError when the store refused or did not answer in time.
        """
        result: AsyncResult = AsyncResult()
        self._queue.put((call, result))
        try:
            result.get(timeout=timeout)
        except gevent.Timeout:
            raise StoreUnavailableError("the event store did not commit in time") from None

    def save_later(self, call: Call) -> None:
        """Queue the call's pending events without waiting (a later save() flushes them)."""
        self._queue.put((call, None))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except Empty:
                    break
            stopping = any(call is None for call, _ in batch)
            batch = [(c, r) for c, r in batch if c is not None]
            if batch:
                self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[tuple[Call, AsyncResult | None]]) -> None:
        unique: dict[Any, Call] = {}
        for call, _ in batch:
            unique[call.id] = call
        try:
            recordings = self.app.save(*unique.values())
        except Exception as exc:  # noqa: BLE001 - any store failure fails these calls only
            self.failures += 1
            log.error("event store refused %d call(s): %s", len(unique), exc)
            error = StoreUnavailableError(f"event store unavailable: {exc}")
            for _, result in batch:
                if result is not None:
                    result.set_exception(error)
            return
        self.commits += 1
        self.appended += len(recordings)
        for _, result in batch:
            if result is not None:
                result.set(None)
