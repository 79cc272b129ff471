"""The Directory's fold of call recording (REC-1, REC-2): policies and monthly minutes.

A mixin of ``projections.directory.Directory``: the call session reads
``recording_policy(user_id)`` when a call is bridged, and ``recorded_seconds(user_id,
month)`` (the seconds a user's recordings took that month, from RecordingStarted /
RecordingStopped) to enforce the monthly cap of the 7-year classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from esl_controller.domain.recordings import month_of
from projections.targets import TargetIndex

EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.recordings:RecordingPolicy": (
        "RecordingPolicyCreated",
        "RecordingPolicySet",
    ),
    "esl_controller.domain.recordings:Recording": (
        "RecordingStarted",
        "RecordingStopped",
    ),
}


@dataclass(frozen=True, slots=True)
class RecordingPolicyView:
    user_id: UUID
    enterprise_id: UUID
    mode: str
    retention: str


class RecordingFold(TargetIndex):
    """Recording policies by user; recorded seconds by (user, month)."""

    def __init__(self) -> None:
        super().__init__()
        self.recording_policies: dict[UUID, RecordingPolicyView] = {}  # user id -> policy
        self.recorded: dict[tuple[UUID, str], float] = {}  # (user id, YYYY-MM) -> seconds
        self._recording_open: dict[UUID, tuple[UUID, str]] = {}  # started, not stopped
        self._policy_user: dict[UUID, UUID] = {}  # policy id -> user id

    def _on_RecordingPolicyCreated(self, pid: UUID, e: Any) -> None:
        self._policy_user[pid] = e.user_id
        self.recording_policies[e.user_id] = RecordingPolicyView(
            e.user_id, e.enterprise_id, e.mode, e.retention)

    def _on_RecordingPolicySet(self, pid: UUID, e: Any) -> None:
        user_id = self._policy_user[pid]
        view = self.recording_policies[user_id]
        self.recording_policies[user_id] = RecordingPolicyView(
            user_id, view.enterprise_id, e.mode, e.retention)

    def _on_RecordingStarted(self, rid: UUID, e: Any) -> None:
        self._recording_open[rid] = (e.user_id, month_of(e.at))

    def _on_RecordingStopped(self, rid: UUID, e: Any) -> None:
        opened = self._recording_open.pop(rid, None)
        if opened is not None:
            self.recorded[opened] = self.recorded.get(opened, 0.0) + float(e.seconds)

    # -- reads ---------------------------------------------------------------------------
    def recording_policy(self, user_id: UUID) -> RecordingPolicyView | None:
        return self.recording_policies.get(user_id)

    def recorded_seconds(self, user_id: UUID, month: str) -> float:
        return self.recorded.get((user_id, month), 0.0)

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "recording_policies": dict(sorted(self.recording_policies.items())),
            "recorded": dict(sorted(self.recorded.items(), key=lambda kv: (str(kv[0][0]),
                                                                           kv[0][1]))),
            "recording_open": dict(sorted(self._recording_open.items())),
        }

