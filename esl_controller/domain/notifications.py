"""CallNotification: the record that a call notify e-mail (USR-17) went out.

One small aggregate per (user, call), so the User's own stream does not grow with every
notified call and two notifications never contend for the same aggregate.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


class CallNotification(Aggregate):
    """The e-mail about call ``call_id`` for user ``user_id`` was accepted by the relay."""

    @staticmethod
    def create_id(user_id: UUID, call_id: str) -> UUID:
        return uuid5(user_id, "notified:" + call_id)

    @event("CallNotified")
    def __init__(self, user_id: UUID, call_id: str, caller: str, to: str, at: datetime) -> None:
        self.user_id = user_id
        self.call_id = call_id
        self.caller = caller
        self.to = to
        self.at = at
