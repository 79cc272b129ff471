"""Receptionist console (RCP-1): a user with a licence who watches colleagues' lines and acts
on their calls.

``Receptionist`` is one receptionist (a user), identified by the user's id: the licence
(entry: 8 monitored users, standard: 30, premium: unlimited and queue handling), the users
they monitor (extensions), the call center queues a premium receptionist handles, and every
action they took on a call (pick up, transfer, park, take a caller out of a queue), kept as
an event naming who did what to which call. Validation happens in the use cases
(esl_controller.receptionist); the event methods only assign state.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

# licence -> the most users it may monitor (None: unlimited)
LICENCES: dict[str, int | None] = {"entry": 8, "standard": 30, "premium": None}
QUEUE_HANDLING = frozenset({"premium"})  # licences that may handle call center queues
ACTIONS = ("pickup", "transfer", "park", "take")  # take: a waiting queue call (premium)


class Receptionist(Aggregate):
    """One receptionist of an enterprise."""

    @staticmethod
    def create_id(user_id: UUID) -> UUID:
        return uuid5(user_id, "receptionist")

    @event("ReceptionistAdded")
    def __init__(self, enterprise_id: UUID, user_id: UUID, extension: str, licence: str) -> None:
        self.enterprise_id = enterprise_id
        self.user_id = user_id
        self.extension = extension
        self.licence = licence
        self.monitored: list[str] = []
        self.actions_taken = 0

    @event("ReceptionistLicenceChanged")
    def change_licence(self, licence: str) -> None:
        self.licence = licence

    @event("ReceptionistMonitorSet")
    def monitor(self, extensions: list[str]) -> None:
        """The complete list of monitored users, in the order given."""
        self.monitored = list(extensions)

    @event("ReceptionistActionTaken")
    def take_action(
        self, action: str, call_id: str, on_behalf_of: str, destination: str, command: str,
        at: datetime,
    ) -> None:
        """``action`` in ACTIONS on call ``call_id`` of monitored user ``on_behalf_of``;
        ``command`` is the api command sent to FreeSWITCH."""
        self.actions_taken += 1

    @event("ReceptionistQueuesSet")
    def give_queues(self, queue_ids: list[str]) -> None:
        """The call center queues a premium receptionist handles (ids, in the order given;
        empty: none)."""
        self.queue_ids = list(queue_ids)

    @property
    def queues(self) -> list[str]:
        """The ids of the queues the receptionist handles (premium licence)."""
        return list(getattr(self, "queue_ids", []))

    @property
    def limit(self) -> int | None:
        return LICENCES[self.licence]

    @property
    def queue_handling(self) -> bool:
        return self.licence in QUEUE_HANDLING
