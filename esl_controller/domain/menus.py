"""IVR menus (OPT-1, "keuzemenu"): a greeting, then one DTMF key picks where the call goes.

A ``Menu`` is identified by (enterprise, name) through ``uuid5``. It has a business-hours
variant and, optionally, an after-hours variant (its own greeting and key map) that applies
while the menu's schedule is closed. Each key (0-9, ``*``, ``#``) of a variant does one
:class:`KeyAction`. The decorated event methods only assign state: validation (destinations
exist, no loops, at most 150 menus) is done by the use cases before they are called.

:func:`loop_path` is the pure graph check that makes menu loops impossible to configure.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

KEYS = "0123456789*#"
MAX_MENUS = 150  # per enterprise (OPT-1)
DEFAULT_TIMEOUT = 5  # seconds the caller has to press a key after the greeting
DEFAULT_RETRIES = 3  # tries (greeting + wait) before the menu gives up
MAX_TIMEOUT = 60
MAX_RETRIES = 9
NAME_RE = re.compile(r"^[A-Za-z][\w -]{0,39}$")
BUSINESS, AFTER_HOURS = "business", "after-hours"
VARIANTS = (BUSINESS, AFTER_HOURS)


class KeyAction(enum.Enum):
    """What a key does. ``destination`` of a MenuKey is what the action needs."""

    MENU = "menu"  # a sub-menu, by name
    USER = "user"  # a user's extension: their incoming-call services apply
    GROUP = "group"  # a hunt group, call center or other target, by extension
    VOICEMAIL = "voicemail"  # vm:EXT of a user, or a group voicemail target's extension
    NUMBER = "number"  # an external number (E.164), under the outgoing calling plan
    REPEAT = "repeat"  # play this menu again
    OPERATOR = "operator"  # the menu's operator destination
    DESTINATION = "destination"  # any destination text (EXT, vm:EXT, number)

    @property
    def needs_destination(self) -> bool:
        return self not in (KeyAction.REPEAT, KeyAction.OPERATOR)


@dataclass(frozen=True, slots=True)
class MenuKey:
    """One key of one variant of a menu."""

    key: str
    action: KeyAction
    destination: str | None = None

    def describe(self) -> str:
        if self.action is KeyAction.REPEAT:
            return "repeat the menu"
        if self.action is KeyAction.OPERATOR:
            return "the operator"
        return f"{self.action.value} {self.destination}"


def key_order(key: str) -> int:
    """Keys as they sit on a keypad's label order: 1-9, 0, *, #."""
    return "1234567890*#".index(key)


class Menu(Aggregate):
    """One IVR menu of an enterprise."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "menu:" + name.strip().lower())

    @event("MenuCreated")
    def __init__(
        self,
        enterprise_id: UUID,
        name: str,
        extension: str | None,
        numbers: list[str],
        timeout: int,
        retries: int,
        operator: str | None,
        schedule: str | None,
    ) -> None:
        self.enterprise_id = enterprise_id
        self._configure(name, extension, numbers, timeout, retries, operator, schedule)

    def _configure(self, name: str, extension: str | None, numbers: list[str], timeout: int,
                   retries: int, operator: str | None, schedule: str | None) -> None:
        self.name = name
        self.extension = extension
        self.numbers = list(numbers)
        self.timeout = timeout
        self.retries = retries
        self.operator = operator
        self.schedule = schedule
        self.removed = False
        self.keys: dict[str, dict[str, tuple[str, str | None]]] = {v: {} for v in VARIANTS}
        self.greetings: dict[str, str | None] = {v: None for v in VARIANTS}

    @event("MenuReinstated")
    def reinstate(self, name: str, extension: str | None, numbers: list[str], timeout: int,
                  retries: int, operator: str | None, schedule: str | None) -> None:
        """The name is used again after the menu was removed: a fresh, empty menu."""
        self._configure(name, extension, numbers, timeout, retries, operator, schedule)

    @event("MenuSettingsChanged")
    def change(self, timeout: int, retries: int, operator: str | None,
               schedule: str | None) -> None:
        self.timeout = timeout
        self.retries = retries
        self.operator = operator
        self.schedule = schedule

    @event("MenuKeySet")
    def set_key(self, variant: str, key: str, action: str, destination: str | None) -> None:
        self.keys[variant][key] = (action, destination)

    @event("MenuKeyRemoved")
    def remove_key(self, variant: str, key: str) -> None:
        self.keys[variant].pop(key, None)

    @event("MenuGreetingSet")
    def set_greeting(self, variant: str, greeting: str | None) -> None:
        self.greetings[variant] = greeting

    @event("MenuRemoved")
    def remove(self) -> None:
        self.removed = True


def loop_path(start: str, goal: str, submenus: Callable[[str], Iterable[str]]) -> list[str] | None:
    """The sub-menu path from ``start`` to ``goal`` (both included), or None.

    A key of menu ``goal`` to sub-menu ``start`` would loop exactly when such a path exists
    (``start == goal`` included). ``submenus(m)`` gives the menus m's keys lead to, names
    compared case-insensitively. Breadth first: the shortest loop is the one reported.
    """
    wanted = goal.lower()
    paths: dict[str, list[str]] = {start.lower(): [start]}
    queue = [start]
    while queue:
        current = queue.pop(0)
        path = paths[current.lower()]
        if current.lower() == wanted:
            return path
        for nxt in submenus(current):
            if nxt.lower() not in paths:
                paths[nxt.lower()] = [*path, nxt]
                queue.append(nxt)
    return None
