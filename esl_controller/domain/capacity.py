"""Call capacity management (GRP-2): at most N simultaneous calls per enterprise or department.

``CapacityLimit`` is the limit of one pool (an enterprise or a department); ``CapacityRefusal``
records one call refused because its pool was full (one small aggregate per refused call, id
from the call's uuid: refusals never contend with each other, and the counter is a fold).
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

POOL_KINDS = ("enterprise", "department")
MAX_LIMIT = 100_000


def pool_key(kind: str, pool_id: UUID) -> str:
    """How the controller's line counter names a pool: ``enterprise:<id>``."""
    return f"{kind}:{pool_id}"


class CapacityLimit(Aggregate):
    """The simultaneous-call limit of one pool."""

    @staticmethod
    def create_id(kind: str, pool_id: UUID) -> UUID:
        return uuid5(pool_id, f"capacity:{kind}")

    @event("CapacityLimitCreated")
    def __init__(self, enterprise_id: UUID, kind: str, pool_id: UUID) -> None:
        self.enterprise_id = enterprise_id
        self.kind = kind
        self.pool_id = pool_id
        self.limit: int | None = None

    @event("CapacityLimitSet")
    def set_limit(self, limit: int | None) -> None:
        self.limit = limit


class CapacityRefusal(Aggregate):
    """One call refused because a pool had no room."""

    @staticmethod
    def create_id(call_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, "capacity-refusal:" + call_id)

    @event("CapacityCallRefused")
    def __init__(self, enterprise_id: UUID, kind: str, pool_id: UUID, call_id: str,
                 limit: int, in_use: int, at: datetime) -> None:
        self.enterprise_id = enterprise_id
        self.kind = kind
        self.pool_id = pool_id
        self.call_id = call_id
        self.limit = limit
        self.in_use = in_use
        self.at = at
