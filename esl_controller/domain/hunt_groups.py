"""Hunt groups (CORE-2): one extension / number ringing several users by a policy.

``HuntGroup`` is the configuration an operator writes: name, extension, public numbers, the
policy, the ordered members (with weights for the weighted policy), the per-member no-answer
timer, the group's own busy / no-answer / not-reachable forwarding, and which members signed
out of the group. ``HuntGroupRotation`` is where the group's calls leave their mark: which
member was offered a call (circular continues after the last one) and which member answered
one and when that call ended (uniform offers the member idle longest first, counting only
this group's calls). Two aggregates, so the configuration stays short to load however many
calls the group takes; both survive a restart and a rebuild because they are events.

Validation, ``now`` and the checks against the directory happen in the callers (the
``HuntGroups`` use cases and the ``hunt`` service); the decorated methods only assign state.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

POLICIES = ("regular", "circular", "uniform", "simultaneous", "weighted")
DEFAULT_POLICY = "regular"
DEFAULT_MEMBER_TIMEOUT = 15  # seconds a member rings before the hunt moves on
MEMBER_TIMEOUT_RANGE = (5, 120)
TOTAL_TIMEOUT_RANGE = (5, 600)  # the group's no-answer time (--after)
WEIGHT_RANGE = (1, 100)
DEFAULT_WEIGHT = 1
MAX_MEMBERS = 50
FORWARD_KINDS = ("no-answer", "busy", "not-reachable")


def group_key(name: str) -> str:
    """Hunt group names are unique per enterprise, case-insensitively."""
    return name.strip().lower()


class HuntGroup(Aggregate):
    """One hunt group of an enterprise, identified by (enterprise, name)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "hunt-group:" + group_key(name))

    @event("HuntGroupCreated")
    def __init__(
        self,
        enterprise_id: UUID,
        name: str,
        extension: str,
        numbers: list[str],
        policy: str,
        members: list[list[str | int]],
        member_timeout: int,
        total_timeout: int | None,
        forwarding: dict[str, str],
    ) -> None:
        self.enterprise_id = enterprise_id
        self._configure(name, extension, numbers, policy, members, member_timeout,
                        total_timeout, forwarding)

    def _configure(
        self,
        name: str,
        extension: str,
        numbers: list[str],
        policy: str,
        members: list[list[str | int]],
        member_timeout: int,
        total_timeout: int | None,
        forwarding: dict[str, str],
    ) -> None:
        self.removed = False
        self.name = name
        self.extension = extension
        self.numbers = list(numbers)
        self.policy = policy
        self.members: list[tuple[str, int]] = [(str(m[0]), int(m[1])) for m in members]
        self.member_timeout = member_timeout
        self.total_timeout = total_timeout
        self.forwarding = dict(forwarding)
        self.signed_out: set[str] = set()

    @event("HuntGroupReinstated")
    def reinstate(
        self,
        name: str,
        extension: str,
        numbers: list[str],
        policy: str,
        members: list[list[str | int]],
        member_timeout: int,
        total_timeout: int | None,
        forwarding: dict[str, str],
    ) -> None:
        """The name is given to a hunt group again after it was removed."""
        self._configure(name, extension, numbers, policy, members, member_timeout,
                        total_timeout, forwarding)

    @event("HuntGroupReconfigured")
    def reconfigure(self, policy: str, member_timeout: int, total_timeout: int | None,
                    forwarding: dict[str, str]) -> None:
        """New hunting settings (``pbx hunt-group set``); name, numbers, members stay."""
        self.policy = policy
        self.member_timeout = member_timeout
        self.total_timeout = total_timeout
        self.forwarding = dict(forwarding)

    @event("HuntGroupRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("HuntGroupMemberAdded")
    def add_member(self, extension: str, weight: int) -> None:
        self.members = [m for m in self.members if m[0] != extension] + [(extension, weight)]

    @event("HuntGroupMemberRemoved")
    def remove_member(self, extension: str) -> None:
        self.members = [m for m in self.members if m[0] != extension]
        self.signed_out.discard(extension)

    @event("HuntGroupMemberSignedOut")
    def sign_out(self, extension: str) -> None:
        self.signed_out.add(extension)

    @event("HuntGroupMemberSignedIn")
    def sign_in(self, extension: str) -> None:
        self.signed_out.discard(extension)

    def member_extensions(self) -> list[str]:
        return [m[0] for m in self.members]


class HuntGroupRotation(Aggregate):
    """What a hunt group's calls leave behind for its next call: offers and answers."""

    @staticmethod
    def create_id(group_id: UUID) -> UUID:
        return uuid5(group_id, "rotation")

    @event("HuntGroupRotationStarted")
    def __init__(self, group_id: UUID) -> None:
        self.group_id = group_id
        self.last_offered: str | None = None
        self.idle_since: dict[str, datetime] = {}
        self.answered: dict[str, int] = {}

    @event("HuntGroupCallOffered")
    def offered(self, member: str, at: datetime) -> None:
        self.last_offered = member

    @event("HuntGroupCallAnswered")
    def answered_by(self, member: str, at: datetime) -> None:
        """``member`` answered a call of this group; the conversation ended at ``at`` (the
        controller learns both when the bridge returns), so the member is idle since then."""
        self.idle_since[member] = at
        self.answered[member] = self.answered.get(member, 0) + 1
