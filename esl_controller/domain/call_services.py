"""Call services of an enterprise (issue 4 item 5): pickup groups, park lots, conference
rooms, and the music-on-hold / ringback / barge-in choices of an enterprise or a user.

Ids come from natural keys (``uuid5``); validation happens in
:mod:`esl_controller.call_services` before any event; the ``@event`` methods only assign
state because they run again on every replay. Event names carry the aggregate's name:
the Directory dispatches ``_on_<EventName>``.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

MAX_CONFERENCE_MEMBERS = 16  # USR-11: the user plus up to 15 other parties
DEFAULT_PARK_RECALL = 60


class PickupGroup(Aggregate):
    """Colleagues who may answer each other's ringing calls with ``*8`` (USR-13)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "pickup-group:" + name.strip().lower())

    @event("PickupGroupCreated")
    def __init__(self, enterprise_id: UUID, name: str, members: tuple[str, ...]) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self.members = members
        self.removed = False

    @event("PickupGroupMembersChanged")
    def change_members(self, members: tuple[str, ...]) -> None:
        self.members = members

    @event("PickupGroupRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("PickupGroupReinstated")
    def reinstate(self, name: str, members: tuple[str, ...]) -> None:
        self.name = name
        self.members = members
        self.removed = False


class ParkLot(Aggregate):
    """The numbered park slots of one enterprise (USR-14): extensions LOW..HIGH."""

    @staticmethod
    def create_id(enterprise_id: UUID) -> UUID:
        return uuid5(enterprise_id, "park-lot")

    @event("ParkLotCreated")
    def __init__(self, enterprise_id: UUID, low: int, high: int, recall_seconds: int) -> None:
        self.enterprise_id = enterprise_id
        self.low = low
        self.high = high
        self.recall_seconds = recall_seconds
        self.removed = False

    @event("ParkLotChanged")
    def change(self, low: int, high: int, recall_seconds: int) -> None:
        self.low = low
        self.high = high
        self.recall_seconds = recall_seconds
        self.removed = False

    @event("ParkLotRemoved")
    def remove(self) -> None:
        self.removed = True


class ConferenceRoom(Aggregate):
    """A dial-in conference room (USR-11 N-way): extension, optional PIN, at most 16."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "conference:" + name.strip().lower())

    @event("ConferenceRoomCreated")
    def __init__(self, enterprise_id: UUID, name: str, extension: str, pin_hash: str | None,
                 max_members: int) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self._configure(extension, pin_hash, max_members)

    def _configure(self, extension: str, pin_hash: str | None, max_members: int) -> None:
        self.extension = extension
        self.pin_hash = pin_hash
        self.max_members = max_members
        self.removed = False

    @event("ConferenceRoomReinstated")
    def reinstate(self, extension: str, pin_hash: str | None, max_members: int) -> None:
        self._configure(extension, pin_hash, max_members)

    @event("ConferenceRoomRemoved")
    def remove(self) -> None:
        self.removed = True


class CallServiceChoices(Aggregate):
    """Music on hold, ringback and barge-in choices of an enterprise (``extension`` None),
    of one user, or (ringback) of a group such as a hunt group (its extension)."""

    @staticmethod
    def create_id(enterprise_id: UUID, extension: str | None) -> UUID:
        return uuid5(enterprise_id, "call-service-choices:" + (extension or ""))

    @event("CallServiceChoicesCreated")
    def __init__(self, enterprise_id: UUID, extension: str | None) -> None:
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.hold_music: str | None = None
        self.ringback: str | None = None
        self.barge_in_exempt = False
        self.barge_in_tone = True

    @event("CallServiceHoldMusicChosen")
    def choose_hold_music(self, media: str | None) -> None:
        self.hold_music = media

    @event("CallServiceRingbackChosen")
    def choose_ringback(self, media: str | None) -> None:
        self.ringback = media

    @event("CallServiceBargeInExemptChanged")
    def set_barge_in_exempt(self, on: bool) -> None:
        self.barge_in_exempt = on

    @event("CallServiceBargeInToneChanged")
    def set_barge_in_tone(self, on: bool) -> None:
        """Enterprise-wide: do the parties hear a tone when a colleague barges in."""
        self.barge_in_tone = on


class InterceptGroup(Aggregate):
    """Intercept group: while on, every call to its members (users or targets; no members:
    the whole enterprise) is intercepted to an announcement or a destination."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "intercept-group:" + name.strip().lower())

    @event("InterceptGroupCreated")
    def __init__(self, enterprise_id: UUID, name: str, members: tuple[str, ...],
                 destination: str) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self.members = members
        self.destination = destination
        self.on = True
        self.removed = False

    @event("InterceptGroupReinstated")
    def reinstate(self, name: str, members: tuple[str, ...], destination: str) -> None:
        self.name = name
        self.members = members
        self.destination = destination
        self.on = True
        self.removed = False

    @event("InterceptGroupSwitched")
    def switch(self, on: bool) -> None:
        self.on = on

    @event("InterceptGroupRemoved")
    def remove(self) -> None:
        self.removed = True


class InstantGroup(Aggregate):
    """Instant group call: dialling its extension calls all members at once and joins
    everyone who answers into one conference with the caller."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "instant-group:" + name.strip().lower())

    @event("InstantGroupCreated")
    def __init__(self, enterprise_id: UUID, name: str, extension: str,
                 members: tuple[str, ...]) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self.extension = extension
        self.members = members
        self.removed = False

    @event("InstantGroupReinstated")
    def reinstate(self, extension: str, members: tuple[str, ...]) -> None:
        self.extension = extension
        self.members = members
        self.removed = False

    @event("InstantGroupRemoved")
    def remove(self) -> None:
        self.removed = True
