"""The virtual on-net extensions part of the Directory fold (USR-22)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from projections.targets import TargetIndex, TargetView

KIND = "virtual-extension"
EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.virtual_extensions:VirtualExtension": (
        "VirtualExtensionAdded",
        "VirtualExtensionReinstated",
        "VirtualExtensionRemoved",
    ),
}


class VirtualFold(TargetIndex):
    """Virtual extensions as targets of kind ``virtual-extension``; the outside number each
    stands for in ``virtual_numbers``."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual_numbers: dict[UUID, str] = {}
        self._virtual_identity: dict[UUID, tuple[UUID, str]] = {}

    def _on_VirtualExtensionAdded(self, vid: UUID, e: Any) -> None:
        self._virtual_identity[vid] = (e.enterprise_id, e.extension)
        self._put_virtual(vid, e.number, e.name)

    def _on_VirtualExtensionReinstated(self, vid: UUID, e: Any) -> None:
        self._put_virtual(vid, e.number, e.name)

    def _put_virtual(self, vid: UUID, number: str, name: str) -> None:
        enterprise_id, extension = self._virtual_identity[vid]
        self.virtual_numbers[vid] = number
        self._put_target(TargetView(KIND, vid, enterprise_id, name, extension))

    def _on_VirtualExtensionRemoved(self, vid: UUID, e: Any) -> None:
        self.virtual_numbers.pop(vid, None)
        self._drop_target(vid)

    def _fold_state(self) -> dict[str, Any]:
        return {**super()._fold_state(),
                "virtual_numbers": dict(sorted(self.virtual_numbers.items()))}
