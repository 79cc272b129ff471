"""Manager/assistant (MA-1): a manager's assistants, the calls they screen, and the switch.

``ExecutiveAssistants`` is one manager's set-up, identified by the manager's user id: the
assistants (extensions, in the order they were added), the filter that picks the calls the
assistants take (all, external only, or calls from selected number patterns) and whether
screening is on. Validation happens in the use cases (esl_controller.assistants); the
decorated event methods only assign state, because they run again on every replay.
"""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

MAX_ASSISTANTS = 5
FILTER_KINDS = ("all", "external", "numbers")
# One number pattern of a ``numbers:`` filter, as the other screening services read them
# (routing.criteria): digits (an optional +), X or . for any one digit, a trailing * for
# any rest.
PATTERN_RE = re.compile(r"^\+?[0-9X.]{1,20}\*?$")


class ExecutiveAssistants(Aggregate):
    """The assistants of one manager (a user)."""

    @staticmethod
    def create_id(manager_id: UUID) -> UUID:
        return uuid5(manager_id, "executive-assistants")

    @event("ExecutiveAssistantsCreated")
    def __init__(self, enterprise_id: UUID, manager_id: UUID, manager_extension: str) -> None:
        self.enterprise_id = enterprise_id
        self.manager_id = manager_id
        self.manager_extension = manager_extension
        self.assistants: list[str] = []
        self.filter_kind = "all"
        self.patterns: list[str] = []
        self.screening = True

    @event("ExecutiveAssistantAdded")
    def add(self, extension: str) -> None:
        self.assistants.append(extension)

    @event("ExecutiveAssistantRemoved")
    def remove(self, extension: str) -> None:
        self.assistants.remove(extension)

    @event("ExecutiveFilterSet")
    def set_filter(self, kind: str, patterns: list[str]) -> None:
        self.filter_kind = kind
        self.patterns = list(patterns)

    @event("ExecutiveScreeningSet")
    def set_screening(self, on: bool, by: str) -> None:
        """``by``: "cli" or the feature code the manager dialled."""
        self.screening = on


def parse_filter(text: str) -> tuple[str, list[str]]:
    """``all``, ``external`` or ``numbers:PATTERN,...`` -> (kind, patterns).

    Raises ValueError with a one-line reason."""
    raw = text.strip()
    kind, _, rest = raw.partition(":")
    kind = kind.strip().lower()
    if kind not in FILTER_KINDS:
        raise ValueError(f"unknown filter {raw!r}: use all, external or numbers:PATTERN,...")
    if kind != "numbers":
        if rest.strip():
            raise ValueError(f"filter {kind!r} takes no patterns")
        return kind, []
    patterns = [p.strip().upper() for p in rest.split(",") if p.strip()]
    if not patterns:
        raise ValueError("filter numbers: needs at least one pattern, e.g. numbers:+3120*")
    for pattern in patterns:
        if not PATTERN_RE.fullmatch(pattern):
            raise ValueError(f"bad number pattern {pattern!r}: digits, X for any "
                             "one digit, a trailing * for any rest")
    return kind, patterns
