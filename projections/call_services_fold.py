"""The Directory's fold of the call services (issue 4 item 5): pickup groups, park slots,
conference rooms, music on hold / ringback / barge-in choices.

Park slots and conference rooms are call targets (kinds ``park`` and ``conference``) in the
one extension namespace; pickup groups and choices are looked up by enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from projections.targets import TargetIndex, TargetView

_TOPIC = "esl_controller.domain.call_services:"
EVENTS: dict[str, tuple[str, ...]] = {
    _TOPIC + "PickupGroup": (
        "PickupGroupCreated", "PickupGroupMembersChanged", "PickupGroupRemoved",
        "PickupGroupReinstated",
    ),
    _TOPIC + "ParkLot": ("ParkLotCreated", "ParkLotChanged", "ParkLotRemoved"),
    _TOPIC + "ConferenceRoom": (
        "ConferenceRoomCreated", "ConferenceRoomReinstated", "ConferenceRoomRemoved",
    ),
    _TOPIC + "CallServiceChoices": (
        "CallServiceChoicesCreated", "CallServiceHoldMusicChosen", "CallServiceRingbackChosen",
        "CallServiceBargeInExemptChanged", "CallServiceBargeInToneChanged",
    ),
    _TOPIC + "InterceptGroup": (
        "InterceptGroupCreated", "InterceptGroupReinstated", "InterceptGroupSwitched",
        "InterceptGroupRemoved",
    ),
    _TOPIC + "InstantGroup": (
        "InstantGroupCreated", "InstantGroupReinstated", "InstantGroupRemoved",
    ),
}


@dataclass(frozen=True, slots=True)
class PickupGroupView:
    id: UUID
    enterprise_id: UUID
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParkLotView:
    id: UUID
    enterprise_id: UUID
    low: int
    high: int
    recall_seconds: int

    def slots(self) -> list[str]:
        return [str(n) for n in range(self.low, self.high + 1)]


@dataclass(frozen=True, slots=True)
class ConferenceRoomView:
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str
    pin_hash: str | None
    max_members: int


@dataclass(frozen=True, slots=True)
class ChoicesView:
    enterprise_id: UUID
    extension: str | None
    hold_music: str | None = None
    ringback: str | None = None
    barge_in_exempt: bool = False
    barge_in_tone: bool = True  # enterprise-wide: a warning tone when someone barges in


@dataclass(frozen=True, slots=True)
class InterceptGroupView:
    id: UUID
    enterprise_id: UUID
    name: str
    members: tuple[str, ...]  # extensions of users or targets; () is the whole enterprise
    destination: str  # "announcement", an extension, vm:EXT or a number
    on: bool = True


@dataclass(frozen=True, slots=True)
class InstantGroupView:
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str
    members: tuple[str, ...]


def slot_id(lot_id: UUID, slot: str) -> UUID:
    """The target id of one park slot."""
    return uuid5(lot_id, "slot:" + slot)


class CallServicesFold(TargetIndex):
    def __init__(self) -> None:
        super().__init__()
        self.pickup_groups: dict[UUID, PickupGroupView] = {}
        self._pickup_identity: dict[UUID, UUID] = {}  # group id -> enterprise id
        self.park_lots: dict[UUID, ParkLotView] = {}
        self._lot_identity: dict[UUID, UUID] = {}  # lot id -> enterprise id
        self.conference_rooms: dict[UUID, ConferenceRoomView] = {}
        self._room_identity: dict[UUID, tuple[UUID, str]] = {}
        self.choices: dict[UUID, ChoicesView] = {}
        self.intercept_groups: dict[UUID, InterceptGroupView] = {}
        self._intercept_identity: dict[UUID, UUID] = {}
        self.instant_groups: dict[UUID, InstantGroupView] = {}
        self._instant_identity: dict[UUID, tuple[UUID, str]] = {}

    # -- pickup groups ---------------------------------------------------------------------
    def _on_PickupGroupCreated(self, gid: UUID, e: Any) -> None:
        self._pickup_identity[gid] = e.enterprise_id
        self.pickup_groups[gid] = PickupGroupView(gid, e.enterprise_id, e.name, tuple(e.members))

    def _on_PickupGroupReinstated(self, gid: UUID, e: Any) -> None:
        self.pickup_groups[gid] = PickupGroupView(gid, self._pickup_identity[gid], e.name,
                                                  tuple(e.members))

    def _on_PickupGroupMembersChanged(self, gid: UUID, e: Any) -> None:
        old = self.pickup_groups.get(gid)
        if old is not None:
            self.pickup_groups[gid] = PickupGroupView(gid, old.enterprise_id, old.name,
                                                      tuple(e.members))

    def _on_PickupGroupRemoved(self, gid: UUID, e: Any) -> None:
        self.pickup_groups.pop(gid, None)

    def pickup_groups_of(self, enterprise_id: UUID) -> list[PickupGroupView]:
        return sorted((g for g in self.pickup_groups.values() if g.enterprise_id == enterprise_id),
                      key=lambda g: g.name.lower())

    def pickup_group_of(self, enterprise_id: UUID, extension: str) -> PickupGroupView | None:
        """The pickup group ``extension`` belongs to (a user is in at most one)."""
        return next((g for g in self.pickup_groups_of(enterprise_id) if extension in g.members),
                    None)

    # -- park slots ------------------------------------------------------------------------
    def _on_ParkLotCreated(self, lid: UUID, e: Any) -> None:
        self._lot_identity[lid] = e.enterprise_id
        self._put_lot(ParkLotView(lid, e.enterprise_id, e.low, e.high, e.recall_seconds))

    def _on_ParkLotChanged(self, lid: UUID, e: Any) -> None:
        enterprise_id = self._lot_identity[lid]
        self._put_lot(ParkLotView(lid, enterprise_id, e.low, e.high, e.recall_seconds))

    def _on_ParkLotRemoved(self, lid: UUID, e: Any) -> None:
        old = self.park_lots.pop(lid, None)
        if old is not None:
            for slot in old.slots():
                self._drop_target(slot_id(lid, slot))

    def _put_lot(self, lot: ParkLotView) -> None:
        old = self.park_lots.get(lot.id)
        if old is not None:
            for slot in old.slots():
                self._drop_target(slot_id(lot.id, slot))
        self.park_lots[lot.id] = lot
        for slot in lot.slots():
            self._put_target(TargetView("park", slot_id(lot.id, slot), lot.enterprise_id,
                                        f"slot {slot}", slot))

    def park_lot(self, enterprise_id: UUID) -> ParkLotView | None:
        return next((p for p in self.park_lots.values() if p.enterprise_id == enterprise_id),
                    None)

    # -- conference rooms --------------------------------------------------------------------
    def _on_ConferenceRoomCreated(self, rid: UUID, e: Any) -> None:
        self._room_identity[rid] = (e.enterprise_id, e.name)
        self._put_room(rid, e.extension, e.pin_hash, e.max_members)

    def _on_ConferenceRoomReinstated(self, rid: UUID, e: Any) -> None:
        self._put_room(rid, e.extension, e.pin_hash, e.max_members)

    def _put_room(self, rid: UUID, extension: str, pin_hash: str | None, most: int) -> None:
        enterprise_id, name = self._room_identity[rid]
        self.conference_rooms[rid] = ConferenceRoomView(rid, enterprise_id, name, extension,
                                                        pin_hash, most)
        self._put_target(TargetView("conference", rid, enterprise_id, name, extension))

    def _on_ConferenceRoomRemoved(self, rid: UUID, e: Any) -> None:
        self.conference_rooms.pop(rid, None)
        self._drop_target(rid)

    def conference_rooms_of(self, enterprise_id: UUID) -> list[ConferenceRoomView]:
        return sorted((r for r in self.conference_rooms.values()
                       if r.enterprise_id == enterprise_id), key=lambda r: r.name.lower())

    # -- music on hold, ringback, barge-in exemption ---------------------------------------
    def _on_CallServiceChoicesCreated(self, cid: UUID, e: Any) -> None:
        self.choices[cid] = ChoicesView(e.enterprise_id, e.extension)

    def _change_choices(self, cid: UUID, **changes: Any) -> None:
        old = self.choices.get(cid)
        if old is not None:
            fields = {"hold_music": old.hold_music, "ringback": old.ringback,
                      "barge_in_exempt": old.barge_in_exempt,
                      "barge_in_tone": old.barge_in_tone, **changes}
            self.choices[cid] = ChoicesView(old.enterprise_id, old.extension, **fields)

    def _on_CallServiceHoldMusicChosen(self, cid: UUID, e: Any) -> None:
        self._change_choices(cid, hold_music=e.media)

    def _on_CallServiceRingbackChosen(self, cid: UUID, e: Any) -> None:
        self._change_choices(cid, ringback=e.media)

    def _on_CallServiceBargeInExemptChanged(self, cid: UUID, e: Any) -> None:
        self._change_choices(cid, barge_in_exempt=e.on)

    def _on_CallServiceBargeInToneChanged(self, cid: UUID, e: Any) -> None:
        self._change_choices(cid, barge_in_tone=e.on)

    def barge_in_tone(self, enterprise_id: UUID) -> bool:
        found = self.choices_of(enterprise_id, None)
        return found is None or found.barge_in_tone

    def choices_of(self, enterprise_id: UUID, extension: str | None) -> ChoicesView | None:
        for found in self.choices.values():
            if found.enterprise_id == enterprise_id and found.extension == extension:
                return found
        return None

    def hold_music_of(self, enterprise_id: UUID, extension: str | None,
                      dialled: str | None = None) -> str | None:
        """The user's own music on hold, else the one of the group that was ``dialled`` (a
        hunt group's extension), else the enterprise's, else None (the switch's)."""
        return self._chosen(enterprise_id, extension, "hold_music", dialled)

    def ringback_of(self, enterprise_id: UUID, extension: str | None,
                    dialled: str | None = None) -> str | None:
        """What callers hear while ``extension`` rings: that user's choice, else the one of
        the group that was ``dialled`` (a hunt group's extension), else the enterprise's."""
        return self._chosen(enterprise_id, extension, "ringback", dialled)

    def _chosen(self, enterprise_id: UUID, extension: str | None, what: str,
                dialled: str | None = None) -> str | None:
        for ext in (*(e for e in (extension, dialled) if e), None):
            found = self.choices_of(enterprise_id, ext)
            value = getattr(found, what) if found is not None else None
            if value:
                return str(value)
        return None

    def barge_in_exempt(self, enterprise_id: UUID, extension: str) -> bool:
        found = self.choices_of(enterprise_id, extension)
        return bool(found and found.barge_in_exempt)

    # -- intercept groups ------------------------------------------------------------------
    def _on_InterceptGroupCreated(self, gid: UUID, e: Any) -> None:
        self._intercept_identity[gid] = e.enterprise_id
        self._on_InterceptGroupReinstated(gid, e)

    def _on_InterceptGroupReinstated(self, gid: UUID, e: Any) -> None:
        self.intercept_groups[gid] = InterceptGroupView(
            gid, self._intercept_identity[gid], e.name, tuple(e.members), e.destination)

    def _on_InterceptGroupSwitched(self, gid: UUID, e: Any) -> None:
        old = self.intercept_groups.get(gid)
        if old is not None:
            self.intercept_groups[gid] = InterceptGroupView(
                gid, old.enterprise_id, old.name, old.members, old.destination, e.on)

    def _on_InterceptGroupRemoved(self, gid: UUID, e: Any) -> None:
        self.intercept_groups.pop(gid, None)

    def intercept_groups_of(self, enterprise_id: UUID) -> list[InterceptGroupView]:
        return sorted((g for g in self.intercept_groups.values()
                       if g.enterprise_id == enterprise_id), key=lambda g: g.name.lower())

    def intercepting(self, enterprise_id: UUID, extension: str) -> InterceptGroupView | None:
        """The active intercept group covering ``extension`` (a member, or the enterprise)."""
        groups = [g for g in self.intercept_groups_of(enterprise_id) if g.on]
        return (next((g for g in groups if extension in g.members), None)
                or next((g for g in groups if not g.members), None))

    # -- instant groups --------------------------------------------------------------------
    def _on_InstantGroupCreated(self, gid: UUID, e: Any) -> None:
        self._instant_identity[gid] = (e.enterprise_id, e.name)
        self._on_InstantGroupReinstated(gid, e)

    def _on_InstantGroupReinstated(self, gid: UUID, e: Any) -> None:
        enterprise_id, name = self._instant_identity[gid]
        self.instant_groups[gid] = InstantGroupView(gid, enterprise_id, name, e.extension,
                                                    tuple(e.members))
        self._put_target(TargetView("instant-group", gid, enterprise_id, name, e.extension))

    def _on_InstantGroupRemoved(self, gid: UUID, e: Any) -> None:
        self.instant_groups.pop(gid, None)
        self._drop_target(gid)

    def instant_groups_of(self, enterprise_id: UUID) -> list[InstantGroupView]:
        return sorted((g for g in self.instant_groups.values()
                       if g.enterprise_id == enterprise_id), key=lambda g: g.name.lower())

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "pickup_groups": dict(sorted(self.pickup_groups.items())),
            "park_lots": dict(sorted(self.park_lots.items())),
            "conference_rooms": dict(sorted(self.conference_rooms.items())),
            "choices": dict(sorted(self.choices.items())),
            "intercept_groups": dict(sorted(self.intercept_groups.items())),
            "instant_groups": dict(sorted(self.instant_groups.items())),
        }
