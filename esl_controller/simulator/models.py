"""Public data classes of the fake switch: endpoints, call specs and recorded results."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BEHAVIOURS", "CallSpec", "Endpoint", "SimCall"]

BEHAVIOURS = ("answer", "busy", "no-answer", "unregistered", "reject")


@dataclass
class Endpoint:
    """A phone or trunk destination reachable through ``bridge``.

    ``answer_after`` (seconds, scaled) is when it answers, or sends busy / reject;
    ``talk_seconds`` (scaled) is how long it talks before hanging up after an answer.
    """

    behaviour: str = "answer"
    answer_after: float = 0.2
    talk_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown endpoint behaviour {self.behaviour!r}")


@dataclass
class CallSpec:
    """One inbound call that FreeSWITCH hands to the controller through ``socket``.

    With ``auth_user`` and ``domain`` set it comes from an authenticated internal phone,
    otherwise from the public network / trunk. All times are seconds after ``connect``,
    multiplied by the switch's ``time_scale``.
    """

    caller: str
    destination: str
    auth_user: str | None = None
    domain: str | None = None
    caller_name: str = ""
    hangup_after: float | None = None
    # Event-driven hang-ups (load-proof, unlike a time from connect): seconds after the
    # first bridge starts ringing, or after the bridge is up.
    hangup_while_ringing: float | None = None
    hangup_while_talking: float | None = None
    dtmf: list[tuple[float, str]] = field(default_factory=list)
    # The caller speaks this many seconds into each ``record``, then presses # (timed from
    # the recording's start, so it holds on a loaded machine; None: ``dtmf`` ends it).
    talk_into_recording: float | None = None
    hangup_into_recording: float | None = None  # the caller hangs up this far into a record
    # DTMF the caller presses during the conversation: (seconds after the bridge, digit);
    # load-proof in-call codes (call recording, REC-1). Fired as DTMF events only.
    dtmf_while_talking: list[tuple[float, str]] = field(default_factory=list)
    # DTMF the CALLED party presses during the conversation: (seconds after the bridge,
    # digit). It is B-leg DTMF, never a DTMF event of this socket's channel: the controller
    # sees it only through what it bound on the A-leg with ``bind_meta_app ... b ...``
    # (simulator/media.py: the bound app runs, e.g. ``event`` fires its CUSTOM event).
    called_dtmf_while_talking: list[tuple[float, str]] = field(default_factory=list)
    call_uuid: str | None = None
    inject: list[tuple[float, bytes]] = field(default_factory=list)
    close_after_connect: bool = False
    # The caller's phone holds the bridged call (SIP re-INVITE, a=sendonly): (seconds after
    # the answer, seconds held); FreeSWITCH fires CHANNEL_HOLD / CHANNEL_UNHOLD on the A-leg
    # and plays the A-leg's ``hold_music`` to the other party meanwhile.
    hold: list[tuple[float, float]] = field(default_factory=list)
    # The answering phone transfers the caller: (seconds after the answer, destination).
    # Blind (REFER): FreeSWITCH sends the caller's channel through the dialplan again, i.e.
    # a NEW outbound session for the same channel, carrying ``transfer_source``. Attended
    # (REFER with Replaces, after a consultation call): FreeSWITCH bridges the caller to
    # the consulted party itself; the session sees UNBRIDGE and a new CHANNEL_BRIDGE.
    blind_transfer: tuple[float, str] | None = None
    attended_transfer: tuple[float, str] | None = None
    variables: dict[str, str] = field(default_factory=dict)  # extra channel variables
    # The caller is a fax machine sending this many pages when ``rxfax`` runs (0: a human);
    # ``fax_fail_after``: the line breaks after that many pages (OPT-3).
    fax_pages: int = 0
    fax_fail_after: int | None = None

    # The caller hangs up this many seconds into the dialplan's re-attach window, after
    # the controller went away (socket_resume, simulator/resume.py).
    hangup_while_resuming: float | None = None

    @property
    def internal(self) -> bool:
        """True for a call from an authenticated internal SIP phone."""
        return bool(self.auth_user and self.domain)


@dataclass
class SimCall:
    """What happened during one simulated call (for assertions)."""

    call_uuid: str
    commands: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    apps: list[tuple[str, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    bridged_to: str | None = None
    answered: bool = False
    early_media: bool = False
    hangup_cause: str | None = None
    hangup_by: str | None = None
    exit_received: bool = False
    bridge_rang: bool = False  # a bridge has started ringing
    linger_requested: bool = False
    frames_sent: bytes = b""
    closed_cleanly: bool = False
    error: str | None = None
    connected_at: float = 0.0  # time.perf_counter() when the TCP connection was made
    first_sendmsg_at: float | None = None  # ... when the first sendmsg arrived
    hold_music_played: list[str] = field(default_factory=list)  # what the held party heard
    transferred_to: str | None = None  # blind transfer: where the channel went
    after_transfer: SimCall | None = None  # ... and the session that followed it
    # socket_resume (simulator/resume.py): the dialplan actions run after this session's
    # controller went away, and the session of the controller the channel reached then.
    resume_apps: list[tuple[str, str]] = field(default_factory=list)
    resumed: SimCall | None = None
    # Call services (issue 4): intercepted (pickup / park retrieval), barge-in, conference.
    intercepted: str | None = None  # this channel ran intercept on that uuid, connected
    intercepted_by: str | None = None  # ... this channel was taken over by that user
    joined: str | None = None  # this channel joined that uuid's call (three_way)
    barged_by: list[str] = field(default_factory=list)  # who joined this call (three_way)
    conference: str | None = None  # the conference room this channel was in
    conference_size: int = 0  # callers in the room when it joined, itself included
    parked_music: list[str] = field(default_factory=list)  # streams played while waiting
    # Call recording (REC-1): WAV files written by record_session / uuid_record, and what
    # uuid_broadcast played: (path, leg).
    recordings: list[str] = field(default_factory=list)
    broadcasts: list[tuple[str, str]] = field(default_factory=list)
