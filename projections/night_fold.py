"""The Directory's fold of night services (CORE-3) and forwarding toolboxes (OPT-2).

A mixin of ``projections.directory.Directory``: routing reads ``night_service(owner_id)``
(a user's or a target's) and ``toolbox_of_target(target_id)`` on every call to a target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from projections.targets import TargetIndex

EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.night_service:NightService": (
        "NightServiceConfigured",
        "NightServiceSet",
    ),
    "esl_controller.domain.toolboxes:Toolbox": (
        "ToolboxCreated",
        "ToolboxRuleSet",
        "ToolboxRuleCleared",
        "ToolboxAnonymousRejectionSet",
        "ToolboxAttached",
        "ToolboxDetached",
        "ToolboxRemoved",
        "ToolboxReinstated",
    ),
}


@dataclass(frozen=True, slots=True)
class NightServiceView:
    """The night service of a user or target (``owner_kind`` "user" or a target kind)."""

    id: UUID
    enterprise_id: UUID
    owner_id: UUID
    owner_kind: str
    mode: str  # on, off, auto
    destination: str | None
    schedule: str | None


@dataclass(frozen=True, slots=True)
class ToolboxRule:
    kind: str  # night, always, selective, busy, no-answer, not-reachable
    destination: str
    after_seconds: int | None = None
    schedule: str | None = None
    from_pattern: str | None = None


@dataclass(frozen=True, slots=True)
class ToolboxView:
    id: UUID
    enterprise_id: UUID
    name: str
    rules: tuple[ToolboxRule, ...] = ()
    reject_anonymous: bool = False
    attached: tuple[UUID, ...] = ()  # target ids, in the order they were attached

    def rule(self, kind: str) -> ToolboxRule | None:
        return next((r for r in self.rules if r.kind == kind), None)


class NightFold(TargetIndex):
    """Night services by owner (user or target) and toolboxes by id and by target."""

    def __init__(self) -> None:
        super().__init__()
        self.night_services: dict[UUID, NightServiceView] = {}  # owner id -> view
        self._night_owner: dict[UUID, UUID] = {}  # aggregate id -> owner id
        self.toolboxes: dict[UUID, ToolboxView] = {}
        self._toolbox_identity: dict[UUID, tuple[UUID, str]] = {}  # id -> (enterprise, name)
        self._toolbox_by_target: dict[UUID, UUID] = {}  # target id -> toolbox id

    # -- night service -------------------------------------------------------------------
    def _on_NightServiceConfigured(self, nid: UUID, e: Any) -> None:
        self._night_owner[nid] = e.owner_id
        self.night_services[e.owner_id] = NightServiceView(
            nid, e.enterprise_id, e.owner_id, e.owner_kind, e.mode, e.destination, e.schedule)

    def _on_NightServiceSet(self, nid: UUID, e: Any) -> None:
        owner = self._night_owner.get(nid)
        old = None if owner is None else self.night_services.get(owner)
        if owner is not None and old is not None:
            self.night_services[owner] = replace(
                old, mode=e.mode, destination=e.destination, schedule=e.schedule)

    def night_service(self, owner_id: UUID) -> NightServiceView | None:
        """The night service configured for a user or target, if any."""
        return self.night_services.get(owner_id)

    # -- toolboxes -----------------------------------------------------------------------
    def _on_ToolboxCreated(self, tid: UUID, e: Any) -> None:
        self._toolbox_identity[tid] = (e.enterprise_id, e.name)
        self.toolboxes[tid] = ToolboxView(tid, e.enterprise_id, e.name)

    def _on_ToolboxReinstated(self, tid: UUID, e: Any) -> None:
        enterprise_id, _ = self._toolbox_identity[tid]
        self._toolbox_identity[tid] = (enterprise_id, e.name)
        self.toolboxes[tid] = ToolboxView(tid, enterprise_id, e.name)

    def _on_ToolboxRemoved(self, tid: UUID, e: Any) -> None:
        old = self.toolboxes.pop(tid, None)
        if old is not None:
            for target_id in old.attached:
                self._toolbox_by_target.pop(target_id, None)

    def _change_toolbox(self, tid: UUID, **changes: Any) -> None:
        old = self.toolboxes.get(tid)
        if old is not None:
            self.toolboxes[tid] = replace(old, **changes)

    def _on_ToolboxRuleSet(self, tid: UUID, e: Any) -> None:
        old = self.toolboxes.get(tid)
        if old is not None:
            rule = ToolboxRule(e.kind, e.destination, e.after_seconds, e.schedule, e.from_pattern)
            kept = tuple(r for r in old.rules if r.kind != e.kind)
            self._change_toolbox(tid, rules=(*kept, rule))

    def _on_ToolboxRuleCleared(self, tid: UUID, e: Any) -> None:
        old = self.toolboxes.get(tid)
        if old is not None:
            self._change_toolbox(tid, rules=tuple(r for r in old.rules if r.kind != e.kind))

    def _on_ToolboxAnonymousRejectionSet(self, tid: UUID, e: Any) -> None:
        self._change_toolbox(tid, reject_anonymous=e.on)

    def _on_ToolboxAttached(self, tid: UUID, e: Any) -> None:
        old = self.toolboxes.get(tid)
        if old is not None:
            self._change_toolbox(tid, attached=(*old.attached, e.target_id))
            self._toolbox_by_target[e.target_id] = tid

    def _on_ToolboxDetached(self, tid: UUID, e: Any) -> None:
        old = self.toolboxes.get(tid)
        if old is not None:
            self._change_toolbox(tid, attached=tuple(t for t in old.attached if t != e.target_id))
            if self._toolbox_by_target.get(e.target_id) == tid:
                del self._toolbox_by_target[e.target_id]

    def toolbox(self, enterprise_id: UUID, name: str) -> ToolboxView | None:
        wanted = name.strip().lower()
        return next((t for t in self.toolboxes.values()
                     if t.enterprise_id == enterprise_id and t.name.lower() == wanted), None)

    def toolboxes_of(self, enterprise_id: UUID) -> list[ToolboxView]:
        return sorted((t for t in self.toolboxes.values() if t.enterprise_id == enterprise_id),
                      key=lambda t: t.name.lower())

    def toolbox_of_target(self, target_id: UUID) -> ToolboxView | None:
        """The toolbox attached to a target, if any."""
        tid = self._toolbox_by_target.get(target_id)
        return None if tid is None else self.toolboxes.get(tid)

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "night_services": dict(sorted(self.night_services.items())),
            "toolboxes": dict(sorted(self.toolboxes.items())),
            "toolbox_by_target": dict(sorted(self._toolbox_by_target.items())),
        }
