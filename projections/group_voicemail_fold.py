"""The Directory's fold of group voicemail boxes (CORE-4 business, OPT-4 department voicemail).

A group box is a voicemail ``Mailbox`` keyed by a group owner id instead of a user; its
``GroupMailboxConfigured`` events put it in the target index as kind ``group-voicemail``
(its extension and public numbers reach it), ``GroupMailboxRemoved`` takes it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from projections.targets import TargetIndex, TargetView

KIND = "group-voicemail"
EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.mailboxes:Mailbox": ("GroupMailboxConfigured", "GroupMailboxRemoved"),
}


@dataclass(frozen=True, slots=True)
class GroupVoicemailView:
    """What routing needs of a group box; ``id`` is the Mailbox's id (and the target's)."""

    id: UUID
    enterprise_id: UUID
    name: str
    extension: str
    numbers: tuple[str, ...]
    email: str
    cc: str | None
    greeting_only: str | None  # None: messages; "hangup"; "forward:DEST"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "extension": self.extension, "numbers": list(self.numbers),
            "email": self.email, "cc": self.cc,
            "mode": "messages" if self.greeting_only is None else
            f"greeting only, then {self.greeting_only.replace(':', ' to ', 1)}",
            "id": str(self.id),
        }


class GroupVoicemailFold(TargetIndex):
    """Group voicemail boxes by id, each also a target of kind ``group-voicemail``."""

    def __init__(self) -> None:
        super().__init__()
        self.group_voicemails: dict[UUID, GroupVoicemailView] = {}

    def _on_GroupMailboxConfigured(self, box_id: UUID, e: Any) -> None:
        enterprise_id = UUID(str(e.enterprise_id))
        view = GroupVoicemailView(
            box_id, enterprise_id, e.name, e.extension, tuple(e.numbers), e.email, e.cc,
            e.greeting_only,
        )
        self.group_voicemails[box_id] = view
        self._put_target(TargetView(KIND, box_id, enterprise_id, e.name, e.extension,
                                    view.numbers))

    def _on_GroupMailboxRemoved(self, box_id: UUID, e: Any) -> None:
        self.group_voicemails.pop(box_id, None)
        self._drop_target(box_id)

    def group_voicemail(self, enterprise_id: UUID, name: str) -> GroupVoicemailView | None:
        wanted = name.strip().lower()
        return next((g for g in self.group_voicemails.values()
                     if g.enterprise_id == enterprise_id and g.name.lower() == wanted), None)

    def group_voicemails_of(self, enterprise_id: UUID) -> list[GroupVoicemailView]:
        return sorted((g for g in self.group_voicemails.values()
                       if g.enterprise_id == enterprise_id), key=lambda g: g.name.lower())

    def _fold_state(self) -> dict[str, Any]:
        return {**super()._fold_state(),
                "group_voicemails": dict(sorted(self.group_voicemails.items()))}
