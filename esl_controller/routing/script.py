"""The shape every routing script shares."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from esl_controller.routing.actions import Action
from esl_controller.routing.outcomes import Outcome

Script = Generator[Action, Outcome, None]


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Switch-wide routing settings (from ``pbx serve`` options)."""

    gateway: str | None = None
