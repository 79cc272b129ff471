"""Recording accounts and teams (REC-3): who may hear whose recordings.

A team belongs to one enterprise and has members; each member is a *listener* (hears every
recording of the team's contributors), a *contributor* (is recorded, hears only their own)
or both. Everybody hears their own recordings. The whole access rule is :func:`may_listen`,
a pure function of the listener, the recording's owner and the teams.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

ROLES = ("listener", "contributor", "both")


class RecordingTeam(Aggregate):
    """A named team of listeners and contributors in one enterprise."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "recording-team:" + name.casefold())

    @event("RecordingTeamCreated")
    def __init__(self, enterprise_id: UUID, name: str) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        # user id -> (extension, listener, contributor)
        self.members: dict[UUID, tuple[str, bool, bool]] = {}

    @event("RecordingTeamMemberSet")
    def set_member(self, user_id: UUID, extension: str, listener: bool,
                   contributor: bool) -> None:
        self.members[user_id] = (extension, listener, contributor)

    @event("RecordingTeamMemberRemoved")
    def remove_member(self, user_id: UUID) -> None:
        self.members.pop(user_id, None)

    def access(self) -> TeamAccess:
        return TeamAccess(
            enterprise_id=self.enterprise_id,
            name=self.name,
            listeners=frozenset(u for u, (_e, li, _c) in self.members.items() if li),
            contributors=frozenset(u for u, (_e, _l, co) in self.members.items() if co),
        )


@dataclass(frozen=True, slots=True)
class TeamAccess:
    """What :func:`may_listen` needs of a team."""

    enterprise_id: UUID
    name: str
    listeners: frozenset[UUID]
    contributors: frozenset[UUID]


@dataclass(frozen=True, slots=True)
class RecordingOwner:
    """Whose recording it is (the recorded user) and in which enterprise."""

    enterprise_id: UUID
    user_id: UUID


def may_listen(user: UUID, recording: RecordingOwner, teams: Iterable[TeamAccess]) -> bool:
    """May ``user`` hear ``recording``? Their own: always. A colleague's: only as a listener
    of a team of the recording's enterprise in which the colleague is a contributor."""
    if user == recording.user_id:
        return True
    return any(
        team.enterprise_id == recording.enterprise_id
        and user in team.listeners
        and recording.user_id in team.contributors
        for team in teams
    )


def granting_team(user: UUID, recording: RecordingOwner,
                  teams: Iterable[TeamAccess]) -> TeamAccess | None:
    """The first team that lets ``user`` hear a colleague's ``recording`` (None: none)."""
    for team in teams:
        if may_listen(user, recording, [team]) and user != recording.user_id:
            return team
    return None
