"""The Directory's fold of managers' assistants (MA-1).

A mixin of ``projections.directory.Directory``: routing reads ``executive(manager_id)`` on
every call to a user (the chain's ``executive-assistant`` step) and ``managers_of`` when an
assistant places a call on a manager's behalf.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from projections.targets import TargetIndex

EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.assistants:ExecutiveAssistants": (
        "ExecutiveAssistantsCreated",
        "ExecutiveAssistantAdded",
        "ExecutiveAssistantRemoved",
        "ExecutiveFilterSet",
        "ExecutiveScreeningSet",
    ),
}


@dataclass(frozen=True, slots=True)
class ExecutiveView:
    """One manager's assistants, filter and screening switch."""

    id: UUID
    enterprise_id: UUID
    manager_id: UUID
    manager_extension: str
    assistants: tuple[str, ...] = ()
    filter_kind: str = "all"  # all, external, numbers
    patterns: tuple[str, ...] = ()
    screening: bool = True

    @property
    def filter_text(self) -> str:
        if self.filter_kind == "numbers":
            return "numbers:" + ",".join(self.patterns)
        return self.filter_kind


class AssistantsFold(TargetIndex):
    """Managers' assistants by manager (user) id."""

    def __init__(self) -> None:
        super().__init__()
        self.executives: dict[UUID, ExecutiveView] = {}  # manager id -> view
        self._executive_manager: dict[UUID, UUID] = {}  # aggregate id -> manager id

    def _on_ExecutiveAssistantsCreated(self, aid: UUID, e: Any) -> None:
        self._executive_manager[aid] = e.manager_id
        self.executives[e.manager_id] = ExecutiveView(
            aid, e.enterprise_id, e.manager_id, e.manager_extension)

    def _change_executive(self, aid: UUID, **changes: Any) -> None:
        manager = self._executive_manager.get(aid)
        old = None if manager is None else self.executives.get(manager)
        if manager is not None and old is not None:
            self.executives[manager] = replace(old, **changes)

    def _on_ExecutiveAssistantAdded(self, aid: UUID, e: Any) -> None:
        manager = self._executive_manager.get(aid)
        old = None if manager is None else self.executives.get(manager)
        if old is not None:
            self._change_executive(aid, assistants=(*old.assistants, e.extension))

    def _on_ExecutiveAssistantRemoved(self, aid: UUID, e: Any) -> None:
        manager = self._executive_manager.get(aid)
        old = None if manager is None else self.executives.get(manager)
        if old is not None:
            kept = tuple(a for a in old.assistants if a != e.extension)
            self._change_executive(aid, assistants=kept)

    def _on_ExecutiveFilterSet(self, aid: UUID, e: Any) -> None:
        self._change_executive(aid, filter_kind=e.kind, patterns=tuple(e.patterns))

    def _on_ExecutiveScreeningSet(self, aid: UUID, e: Any) -> None:
        self._change_executive(aid, screening=bool(e.on))

    def executive(self, manager_id: UUID) -> ExecutiveView | None:
        """The assistants set-up of a manager, if any."""
        return self.executives.get(manager_id)

    def managers_of(self, enterprise_id: UUID, assistant: str) -> list[ExecutiveView]:
        """The managers ``assistant`` (an extension) assists, by manager extension."""
        found = [v for v in self.executives.values()
                 if v.enterprise_id == enterprise_id and assistant in v.assistants]
        return sorted(found, key=lambda v: (len(v.manager_extension), v.manager_extension))

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "executives": dict(sorted(self.executives.items())),
        }
