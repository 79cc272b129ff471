"""The hunt groups part of the Directory fold (CORE-2): configuration and rotation state.

``hunt_groups`` holds each group's configuration as routing reads it; ``hunt_rotations``
what its calls left behind (the member offered last, for circular; when each member's last
answered group call ended and how many it answered, for uniform). Both are folded from the
log only, so a fresh fold equals the live one, and the rotation survives restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.targets import TargetIndex, TargetView

KIND = "hunt-group"
GROUP_TOPIC = "esl_controller.domain.hunt_groups:HuntGroup"
ROTATION_TOPIC = "esl_controller.domain.hunt_groups:HuntGroupRotation"
EVENTS: dict[str, tuple[str, ...]] = {
    GROUP_TOPIC: (
        "HuntGroupCreated",
        "HuntGroupReinstated",
        "HuntGroupRemoved",
        "HuntGroupReconfigured",
        "HuntGroupMemberAdded",
        "HuntGroupMemberRemoved",
        "HuntGroupMemberSignedOut",
        "HuntGroupMemberSignedIn",
    ),
    ROTATION_TOPIC: (
        "HuntGroupRotationStarted",
        "HuntGroupCallOffered",
        "HuntGroupCallAnswered",
    ),
}


@dataclass(frozen=True, slots=True)
class HuntMember:
    extension: str
    weight: int = 1


@dataclass(frozen=True, slots=True)
class HuntGroupView:
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str
    numbers: tuple[str, ...]
    policy: str
    members: tuple[HuntMember, ...]
    member_timeout: int
    total_timeout: int | None
    forwarding: tuple[tuple[str, str], ...] = ()  # (kind, destination), kinds sorted
    signed_out: tuple[str, ...] = ()  # sorted

    def forward(self, kind: str) -> str | None:
        return next((dest for k, dest in self.forwarding if k == kind), None)

    def member_extensions(self) -> tuple[str, ...]:
        return tuple(m.extension for m in self.members)


@dataclass(frozen=True, slots=True)
class HuntRotationView:
    """The group's calls so far: whom circular continues after, how long members idle."""

    last_offered: str | None = None
    idle_since: tuple[tuple[str, datetime], ...] = ()  # (member, end of last answered call)
    answered: tuple[tuple[str, int], ...] = ()  # (member, group calls answered)
    calls: int = field(default=0)  # offers recorded

    def idle_of(self, member: str) -> datetime | None:
        return next((at for m, at in self.idle_since if m == member), None)

    def answered_of(self, member: str) -> int:
        return next((n for m, n in self.answered if m == member), 0)


def _members(raw: Any) -> tuple[HuntMember, ...]:
    return tuple(HuntMember(str(m[0]), int(m[1])) for m in raw)


class HuntGroupsFold(TargetIndex):
    """Directory mixin: hunt groups by id, their rotation state, and their target entries."""

    def __init__(self) -> None:
        super().__init__()
        self.hunt_groups: dict[UUID, HuntGroupView] = {}
        self.hunt_rotations: dict[UUID, HuntRotationView] = {}  # by group id
        self._hunt_identity: dict[UUID, UUID] = {}  # group id -> enterprise id
        self._rotation_group: dict[UUID, UUID] = {}  # rotation id -> group id

    # -- configuration -------------------------------------------------------------------
    def _on_HuntGroupCreated(self, gid: UUID, e: Any) -> None:
        self._hunt_identity[gid] = e.enterprise_id
        self._put_hunt_group(gid, e)

    def _on_HuntGroupReinstated(self, gid: UUID, e: Any) -> None:
        self._put_hunt_group(gid, e)

    def _put_hunt_group(self, gid: UUID, e: Any) -> None:
        view = HuntGroupView(
            id=gid,
            enterprise_id=self._hunt_identity[gid],
            name=e.name,
            extension=e.extension,
            numbers=tuple(e.numbers),
            policy=e.policy,
            members=_members(e.members),
            member_timeout=e.member_timeout,
            total_timeout=e.total_timeout,
            forwarding=tuple(sorted(e.forwarding.items())),
        )
        self.hunt_groups[gid] = view
        self.hunt_rotations[gid] = HuntRotationView()  # a new group starts afresh
        self._put_target(TargetView(KIND, gid, view.enterprise_id, view.name, view.extension,
                                    view.numbers))

    def _on_HuntGroupRemoved(self, gid: UUID, e: Any) -> None:
        self.hunt_groups.pop(gid, None)
        self.hunt_rotations.pop(gid, None)
        self._drop_target(gid)

    def _change_hunt_group(self, gid: UUID, **changes: Any) -> None:
        view = self.hunt_groups.get(gid)
        if view is not None:
            self.hunt_groups[gid] = replace(view, **changes)

    def _on_HuntGroupReconfigured(self, gid: UUID, e: Any) -> None:
        self._change_hunt_group(gid, policy=e.policy, member_timeout=e.member_timeout,
                                total_timeout=e.total_timeout,
                                forwarding=tuple(sorted(e.forwarding.items())))

    def _on_HuntGroupMemberAdded(self, gid: UUID, e: Any) -> None:
        view = self.hunt_groups.get(gid)
        if view is not None:
            kept = tuple(m for m in view.members if m.extension != e.extension)
            self._change_hunt_group(gid, members=(*kept, HuntMember(e.extension, e.weight)))

    def _on_HuntGroupMemberRemoved(self, gid: UUID, e: Any) -> None:
        view = self.hunt_groups.get(gid)
        if view is not None:
            self._change_hunt_group(
                gid,
                members=tuple(m for m in view.members if m.extension != e.extension),
                signed_out=tuple(x for x in view.signed_out if x != e.extension),
            )

    def _on_HuntGroupMemberSignedOut(self, gid: UUID, e: Any) -> None:
        view = self.hunt_groups.get(gid)
        if view is not None:
            self._change_hunt_group(gid, signed_out=tuple(sorted({*view.signed_out,
                                                                  e.extension})))

    def _on_HuntGroupMemberSignedIn(self, gid: UUID, e: Any) -> None:
        view = self.hunt_groups.get(gid)
        if view is not None:
            self._change_hunt_group(
                gid, signed_out=tuple(x for x in view.signed_out if x != e.extension))

    # -- rotation ------------------------------------------------------------------------
    def _on_HuntGroupRotationStarted(self, rid: UUID, e: Any) -> None:
        self._rotation_group[rid] = e.group_id

    def _rotation_of(self, rid: UUID) -> tuple[UUID, HuntRotationView] | None:
        gid = self._rotation_group.get(rid)
        if gid is None or gid not in self.hunt_groups:
            return None
        return gid, self.hunt_rotations.get(gid, HuntRotationView())

    def _on_HuntGroupCallOffered(self, rid: UUID, e: Any) -> None:
        found = self._rotation_of(rid)
        if found is not None:
            gid, rotation = found
            self.hunt_rotations[gid] = replace(rotation, last_offered=e.member,
                                               calls=rotation.calls + 1)

    def _on_HuntGroupCallAnswered(self, rid: UUID, e: Any) -> None:
        found = self._rotation_of(rid)
        if found is not None:
            gid, rotation = found
            idle = tuple(sorted((*((m, at) for m, at in rotation.idle_since if m != e.member),
                                 (e.member, e.at))))
            count = rotation.answered_of(e.member) + 1
            answered = tuple(sorted((*((m, n) for m, n in rotation.answered if m != e.member),
                                     (e.member, count))))
            self.hunt_rotations[gid] = replace(rotation, idle_since=idle, answered=answered)

    # -- lookups -------------------------------------------------------------------------
    def hunt_group_named(self, enterprise_id: UUID, name: str) -> HuntGroupView | None:
        wanted = name.strip().lower()
        return next((g for g in self.hunt_groups.values()
                     if g.enterprise_id == enterprise_id and g.name.lower() == wanted), None)

    def hunt_groups_of(self, enterprise_id: UUID) -> list[HuntGroupView]:
        return sorted((g for g in self.hunt_groups.values() if g.enterprise_id == enterprise_id),
                      key=lambda g: g.name.lower())

    def hunt_groups_with_member(self, enterprise_id: UUID, extension: str
                                ) -> list[HuntGroupView]:
        return [g for g in self.hunt_groups_of(enterprise_id)
                if extension in g.member_extensions()]

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "hunt_groups": dict(sorted(self.hunt_groups.items())),
            "hunt_rotations": dict(sorted(self.hunt_rotations.items())),
        }
