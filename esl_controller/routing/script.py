"""The shape every routing script shares."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from esl_controller.routing.actions import Action
from esl_controller.routing.outcomes import Outcome

Script = Generator[Action, Outcome, None]


DEFAULT_HOLD_MUSIC = "local_stream://moh"  # FreeSWITCH's stock music-on-hold stream


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Switch-wide routing settings (from ``pbx serve`` options)."""

    gateway: str | None = None
    # Music on hold (USR-11): what the other party hears while a phone holds the call;
    # ``hold_music_by_enterprise`` ((enterprise id, stream), ...) overrides it per enterprise.
    hold_music: str = DEFAULT_HOLD_MUSIC
    hold_music_by_enterprise: tuple[tuple[str, str], ...] = ()

    def hold_music_for(self, enterprise_id: str | None) -> str:
        chosen = dict(self.hold_music_by_enterprise).get(enterprise_id or "")
        return chosen or self.hold_music
