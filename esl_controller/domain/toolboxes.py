"""Forwarding toolboxes (OPT-2, "doorschakeltoolbox"): a named, reusable set of forwarding
rules of an enterprise, attached to targets (IVR menus, hunt groups, call centers).

Rules (``RULE_KINDS``), each with a destination:

- ``night``: while ``schedule`` is closed (the night service, when the target has none of
  its own);
- ``always``; ``selective`` (while ``schedule`` is open, for callers matching
  ``from_pattern``): before the target's own routing;
- ``busy``, ``no-answer`` (after ``after_seconds``), ``not-reachable``: when the target
  could not connect the call;

plus ``reject_anonymous`` (callers without a number hear an announcement, then
CALL_REJECTED). A target has at most one toolbox; one toolbox may serve many targets.
The decorated event methods only assign state: validation is in the use cases.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

RULE_KINDS = ("night", "always", "selective", "busy", "no-answer", "not-reachable")
BEFORE_KINDS = ("always", "selective")  # before the target's script (with reject anonymous)
AFTER_KINDS = ("busy", "no-answer", "not-reachable")  # when the target did not connect


class Toolbox(Aggregate):
    """A named forwarding toolbox of an enterprise, identified by (enterprise, name)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "toolbox:" + name.lower())

    @event("ToolboxCreated")
    def __init__(self, enterprise_id: UUID, name: str) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self._clear()

    def _clear(self) -> None:
        self.removed = False
        self.rules: dict[str, dict[str, object]] = {}
        self.reject_anonymous = False
        self.attached: list[UUID] = []

    @event("ToolboxRuleSet")
    def set_rule(
        self,
        kind: str,
        destination: str,
        after_seconds: int | None,
        schedule: str | None,
        from_pattern: str | None,
    ) -> None:
        self.rules[kind] = {
            "destination": destination,
            "after_seconds": after_seconds,
            "schedule": schedule,
            "from_pattern": from_pattern,
        }

    @event("ToolboxRuleCleared")
    def clear_rule(self, kind: str) -> None:
        self.rules.pop(kind, None)

    @event("ToolboxAnonymousRejectionSet")
    def set_reject_anonymous(self, on: bool) -> None:
        self.reject_anonymous = on

    @event("ToolboxAttached")
    def attach(self, target_id: UUID) -> None:
        self.attached.append(target_id)

    @event("ToolboxDetached")
    def detach(self, target_id: UUID) -> None:
        self.attached.remove(target_id)

    @event("ToolboxRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("ToolboxReinstated")
    def reinstate(self, name: str) -> None:
        """The name is used again after the toolbox was removed: a fresh, empty toolbox."""
        self.name = name
        self._clear()
