"""Call targets that are not users: hunt groups, IVR menus, group voicemail, park slots ...

Every such target has a ``kind`` (the routing script that serves it), may hold an extension
of its enterprise's plan and public numbers, and shares the one extension namespace with the
users. The Directory keeps one index over all of them (``Directory.target``), so routing,
forwarding, menu keys and toolboxes reach any of them the same way, and no two things ever
get the same extension or number.

Each feature folds its own configuration in a mixin of the Directory (``projections/*_fold``
modules) and calls ``_put_target`` / ``_drop_target`` to keep the index current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class TargetView:
    """One non-user target: ``kind`` names its routing script (``routing.targets``)."""

    kind: str  # "hunt-group", "menu", "group-voicemail", ...
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str | None = None
    numbers: tuple[str, ...] = ()

    def label(self) -> str:
        """How traces and errors name it: ``hunt group Sales (ext. 600)``."""
        what = self.kind.replace("-", " ")
        return f"{what} {self.name}" + (f" (ext. {self.extension})" if self.extension else "")


class TargetIndex:
    """The index of non-user targets by id, (enterprise, extension) and public number."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: dict[UUID, TargetView] = {}
        self._target_by_ext: dict[tuple[UUID, str], UUID] = {}
        self._target_by_number: dict[str, UUID] = {}

    def _put_target(self, view: TargetView) -> None:
        self._drop_target(view.id)
        self.targets[view.id] = view
        if view.extension:
            self._target_by_ext[(view.enterprise_id, view.extension)] = view.id
        for number in view.numbers:
            self._target_by_number[number] = view.id

    def _drop_target(self, target_id: UUID) -> None:
        old = self.targets.pop(target_id, None)
        if old is None:
            return
        if old.extension:
            self._target_by_ext.pop((old.enterprise_id, old.extension), None)
        for number in old.numbers:
            self._target_by_number.pop(number, None)

    def target(self, enterprise_id: UUID, extension: str) -> TargetView | None:
        tid = self._target_by_ext.get((enterprise_id, extension))
        return None if tid is None else self.targets.get(tid)

    def target_with_number(self, e164: str) -> TargetView | None:
        tid = self._target_by_number.get(e164)
        return None if tid is None else self.targets.get(tid)

    def targets_of(self, enterprise_id: UUID, kind: str | None = None) -> list[TargetView]:
        found = [t for t in self.targets.values()
                 if t.enterprise_id == enterprise_id and (kind is None or t.kind == kind)]
        return sorted(found, key=lambda t: (t.kind, t.name.lower()))

    def _fold_state(self) -> dict[str, Any]:
        """Each fold adds its own part: ``{**super()._fold_state(), "mine": ...}``."""
        return {"targets": dict(sorted(self.targets.items()))}
