"""The Directory's fold of fax lines (OPT-3 fax to e-mail): each line is a target of kind
``fax``, reached by its public number (and its extension, if it has one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from projections.targets import TargetIndex, TargetView

KIND = "fax"
EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.fax:FaxLine": (
        "FaxLineAdded", "FaxLineReinstated", "FaxLineAddressesChanged", "FaxLineRemoved",
    ),
}


@dataclass(frozen=True, slots=True)
class FaxLineView:
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str | None
    numbers: tuple[str, ...]
    email: str
    email2: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "extension": self.extension, "numbers": list(self.numbers),
                "email": self.email, "email2": self.email2, "id": str(self.id)}


class FaxFold(TargetIndex):
    """Fax lines by id, each also a target of kind ``fax``."""

    def __init__(self) -> None:
        super().__init__()
        self.fax_lines: dict[UUID, FaxLineView] = {}
        self._fax_line_enterprise: dict[UUID, UUID] = {}

    def _on_FaxLineAdded(self, line_id: UUID, e: Any) -> None:
        self._fax_line_enterprise[line_id] = UUID(str(e.enterprise_id))
        self._put_fax_line(line_id, e)

    def _on_FaxLineReinstated(self, line_id: UUID, e: Any) -> None:
        self._put_fax_line(line_id, e)

    def _put_fax_line(self, line_id: UUID, e: Any) -> None:
        view = FaxLineView(line_id, self._fax_line_enterprise[line_id], e.name, e.extension,
                           tuple(e.numbers), e.email, e.email2)
        self.fax_lines[line_id] = view
        self._put_target(TargetView(KIND, line_id, view.enterprise_id, view.name,
                                    view.extension, view.numbers))

    def _on_FaxLineAddressesChanged(self, line_id: UUID, e: Any) -> None:
        old = self.fax_lines.get(line_id)
        if old is not None:
            self.fax_lines[line_id] = FaxLineView(old.id, old.enterprise_id, old.name,
                                                  old.extension, old.numbers, e.email, e.email2)

    def _on_FaxLineRemoved(self, line_id: UUID, e: Any) -> None:
        self.fax_lines.pop(line_id, None)
        self._drop_target(line_id)

    def fax_line(self, enterprise_id: UUID, name: str) -> FaxLineView | None:
        wanted = name.strip().lower()
        return next((f for f in self.fax_lines.values()
                     if f.enterprise_id == enterprise_id and f.name.lower() == wanted), None)

    def fax_lines_of(self, enterprise_id: UUID) -> list[FaxLineView]:
        return sorted((f for f in self.fax_lines.values() if f.enterprise_id == enterprise_id),
                      key=lambda f: f.name.lower())

    def _fold_state(self) -> dict[str, Any]:
        return {**super()._fold_state(), "fax_lines": dict(sorted(self.fax_lines.items())),
                "fax_line_enterprises": dict(sorted(self._fax_line_enterprise.items()))}
