"""VirtualExtension (USR-22): an external number dialable as an extension of the plan."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


class VirtualExtension(Aggregate):
    """Extension ``extension`` of an enterprise stands for the outside number ``number``."""

    @staticmethod
    def create_id(enterprise_id: UUID, extension: str) -> UUID:
        return uuid5(enterprise_id, "virtual-extension:" + extension)

    @event("VirtualExtensionAdded")
    def __init__(self, enterprise_id: UUID, extension: str, number: str, name: str) -> None:
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.number = number
        self.name = name
        self.removed = False

    @event("VirtualExtensionReinstated")
    def reinstate(self, number: str, name: str) -> None:
        self.number = number
        self.name = name
        self.removed = False

    @event("VirtualExtensionRemoved")
    def remove(self) -> None:
        self.removed = True
