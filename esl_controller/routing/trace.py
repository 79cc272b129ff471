"""The decision trace: why a call went where it went, step by step, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Step:
    """One decision: which service took it, which rule matched, in words."""

    service: str
    rule: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trace:
    """Collects steps while a script runs; the session records new ones as events."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.classification = Classification()
        self._taken = 0

    def add(self, service: str, rule: str, detail: str) -> None:
        self.steps.append(Step(service, rule, detail))

    def take_new(self) -> list[Step]:
        """Steps added since the last call (for recording)."""
        new = self.steps[self._taken :]
        self._taken = len(self.steps)
        return new


@dataclass
class Classification:
    """What the routing decided the call is, for the call log and line state."""

    kind: str = "unclassified"  # internal, inbound, outbound, unknown
    enterprise_id: str | None = None
    caller_user: str | None = None  # extension of the calling user, if internal
    target_user: str | None = None  # extension of the called user, if any
    outcome: str | None = None  # set when a service ended the call itself (voicemail ...)
