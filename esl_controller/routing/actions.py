"""What a routing script asks the switch to do. Executed by esl.session."""

from __future__ import annotations

from dataclasses import dataclass

from esl_controller.routing.causes import HangupCause


@dataclass(frozen=True, slots=True)
class UserDevices:
    """All registered devices of one user (``user/EXT@DOMAIN``)."""

    extension: str
    domain: str

    def dial_string(self) -> str:
        return f"user/{self.extension}@{self.domain}"

    def label(self) -> str:
        return self.extension


@dataclass(frozen=True, slots=True)
class GatewayNumber:
    """An external number reached through a SIP gateway (``sofia/gateway/NAME/E164``)."""

    gateway: str
    number: str

    def dial_string(self) -> str:
        return f"sofia/gateway/{self.gateway}/{self.number}"

    def label(self) -> str:
        return self.number


Target = UserDevices | GatewayNumber


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the caller (200 OK)."""


@dataclass(frozen=True, slots=True)
class PreAnswer:
    """Open early media (183) so an announcement is heard without answering."""


@dataclass(frozen=True, slots=True)
class Playback:
    """Play a file or tone stream to the caller."""

    media: str


@dataclass(frozen=True, slots=True)
class Ring:
    """Ring the targets simultaneously for ``timeout`` seconds; bridge the first to answer."""

    targets: tuple[Target, ...]
    timeout: int
    caller_id_number: str
    caller_id_name: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call with a cause."""

    cause: HangupCause


Action = Answer | PreAnswer | Playback | Ring | Hangup
