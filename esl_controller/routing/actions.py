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


@dataclass(frozen=True, slots=True)
class SharedDevice:
    """A shared call appearance (USR-21): SIP account ``EXT-NAME`` ringing as user EXT."""

    extension: str
    name: str
    domain: str

    def dial_string(self) -> str:
        return f"user/{self.extension}-{self.name}@{self.domain}"

    def label(self) -> str:
        return f"{self.extension}-{self.name}"


Target = UserDevices | GatewayNumber | SharedDevice


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
    diversion: str | None = None  # SIP Diversion header when the call was forwarded
    privacy: bool = False  # withhold the caller's number (CLIR)
    answered_as: str | None = None  # record the answer as this user's (mobility: any leg)
    alert_info: str | None = None  # distinctive ring (Alert-Info), e.g. alternate numbers
    auto_answer: bool = False  # intercom (USR-20): the phone answers by itself, speaker on
    # call centers (CC-2): the service asked while the legs ring whether to withdraw them
    # (``Services.ring_watch``); a withdrawn ring ends as ``Rang(RingResult.WITHDRAWN)``
    watch: str | None = None


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call with a cause."""

    cause: HangupCause


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller to ``path`` (a WAV file) until silence, ``#`` or ``max_seconds``."""

    path: str
    max_seconds: int
    silence_seconds: int = 5


@dataclass(frozen=True, slots=True)
class CollectDigits:
    """Play ``prompt`` and collect DTMF digits (``play_and_get_digits``)."""

    prompt: str
    min_digits: int
    max_digits: int
    timeout_seconds: int = 5
    terminators: str = "#"
    tries: int = 1


@dataclass(frozen=True, slots=True)
class Command:
    """Ask a stateful service (voicemail, hot desking ...) to do something with the log.

    Scripts stay pure: they name the service and the command; the session hands it to the
    service registered under ``service`` and sends back a :class:`CommandResult`.
    """

    service: str
    name: str
    args: tuple[tuple[str, str], ...] = ()

    def arg(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.args if k == key), default)


@dataclass(frozen=True, slots=True)
class Execute:
    """Run one dialplan application on the caller's channel until it returns (call
    services, issue 4): ``intercept UUID`` (pickup, retrieving a parked call),
    ``three_way UUID`` (barge-in), ``conference ROOM@default``, ``playback`` of hold music
    while parked. ``variables`` are set on the channel first (``multiset``); when the
    channel is bridged meanwhile, the answer is recorded as ``answered_as``'s."""

    app: str
    arg: str
    variables: tuple[tuple[str, str], ...] = ()
    answered_as: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiveFax:
    """Receive a fax into ``path`` (a TIFF file) with mod_spandsp's ``rxfax`` (OPT-3)."""

    path: str


Action = (Answer | PreAnswer | Playback | Ring | Hangup | Record | CollectDigits | Command
          | Execute | ReceiveFax)
