"""The simulated A-leg channel and the header sets of the events FreeSWITCH fires for it.

Header names and order follow the FreeSWITCH 1.10.12 captures (``outbound-*-transcript.txt``):
event core headers, event-specific leading headers, channel data, caller profile, other leg,
``variable_*`` and event-specific trailing headers.
"""

from __future__ import annotations

import itertools
import time
import uuid as uuidlib
from dataclasses import dataclass, field

__all__ = ["CORE", "Channel", "Leg", "channel_data", "event_headers"]

Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class _Core:
    uuid: str = str(uuidlib.uuid4())
    hostname: str = "fakeswitch"
    ipv4: str = "127.0.0.1"
    ipv6: str = "::1"


CORE = _Core()
_SEQUENCE = itertools.count(1000)

# Event-Calling-File / -Function / -Line-Number per event, as in the captures.
_ORIGIN: dict[str, tuple[str, str, int]] = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", 2021),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3653),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1871),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 613),
}
_STATE_NUMBER = {"CS_EXECUTE": 4, "CS_HANGUP": 10, "CS_REPORTING": 11}


@dataclass
class Leg:
    """The far end of a bridge (B-leg), as shown in ``Other-Leg-*`` headers."""

    uuid: str
    key: str
    channel_name: str
    caller_number: str
    caller_name: str
    destination: str
    created_us: int
    answered_us: int


@dataclass
class Channel:
    """State of the simulated A-leg (the channel controlled through the outbound socket)."""

    uuid: str
    channel_name: str
    caller_number: str
    caller_name: str
    destination: str
    context: str
    username: str
    presence_id: str
    created_us: int = field(default_factory=lambda: int(time.time() * 1_000_000))
    call_state: str = "RINGING"
    answer_state: str = "ringing"
    state: str = "CS_EXECUTE"
    state_number: int = 4
    media: bool = False
    hangup_cause: str | None = None
    answered_us: int = 0
    progress_media_us: int = 0
    hangup_us: int = 0
    bridged_us: int = 0
    other: Leg | None = None
    last_other: Leg | None = None
    variables: dict[str, str] = field(default_factory=dict)

    def caller_profile(self, prefix: str) -> Pairs:
        """The caller-profile headers (``Caller-*`` or, in CHANNEL_DATA, ``Channel-*``)."""
        p = prefix
        return [
            (f"{p}-Direction", "inbound"),
            (f"{p}-Logical-Direction", "inbound"),
            (f"{p}-Username", self.username),
            (f"{p}-Dialplan", "XML"),
            (f"{p}-Caller-ID-Name", self.caller_name),
            (f"{p}-Caller-ID-Number", self.caller_number),
            (f"{p}-Orig-Caller-ID-Name", self.caller_name),
            (f"{p}-Orig-Caller-ID-Number", self.caller_number),
            (f"{p}-Network-Addr", "127.0.0.1"),
            (f"{p}-ANI", self.caller_number),
            (f"{p}-Destination-Number", self.destination),
            (f"{p}-Unique-ID", self.uuid),
            (f"{p}-Source", "mod_sofia"),
            (f"{p}-Context", self.context),
            (f"{p}-Channel-Name", self.channel_name),
            (f"{p}-Profile-Index", "1"),
            (f"{p}-Profile-Created-Time", str(self.created_us)),
            (f"{p}-Channel-Created-Time", str(self.created_us)),
            (f"{p}-Channel-Answered-Time", str(self.answered_us)),
            (f"{p}-Channel-Progress-Time", "0"),
            (f"{p}-Channel-Progress-Media-Time", str(self.progress_media_us)),
            (f"{p}-Channel-Hangup-Time", str(self.hangup_us)),
            (f"{p}-Channel-Transfer-Time", "0"),
            (f"{p}-Channel-Resurrect-Time", "0"),
            (f"{p}-Channel-Bridged-Time", str(self.bridged_us)),
            (f"{p}-Channel-Last-Hold", "0"),
            (f"{p}-Channel-Hold-Accum", "0"),
            (f"{p}-Screen-Bit", "true"),
            (f"{p}-Privacy-Hide-Name", "false"),
            (f"{p}-Privacy-Hide-Number", "false"),
        ]

    def basic(self) -> Pairs:
        """``switch_channel_event_set_basic_data``: state, names, ids, answer state, codecs."""
        pairs: Pairs = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(self.state_number)),
            ("Channel-Name", self.channel_name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", "inbound"),
            ("Presence-Call-Direction", "inbound"),
            ("Channel-HIT-Dialplan", "true"),
            ("Channel-Presence-ID", self.presence_id),
            ("Channel-Call-UUID", self.uuid),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause:
            pairs.append(("Hangup-Cause", self.hangup_cause))
        if self.media:
            pairs += [
                ("Channel-Read-Codec-Name", "PCMU"),
                ("Channel-Read-Codec-Rate", "8000"),
                ("Channel-Read-Codec-Bit-Rate", "64000"),
                ("Channel-Write-Codec-Name", "PCMU"),
                ("Channel-Write-Codec-Rate", "8000"),
                ("Channel-Write-Codec-Bit-Rate", "64000"),
            ]
        return pairs

    def other_leg(self, other: Leg, other_type: str = "originatee") -> Pairs:
        """``Other-Type`` and ``Other-Leg-*`` headers describing the B-leg."""
        return [
            ("Other-Type", other_type),
            ("Other-Leg-Direction", "outbound"),
            ("Other-Leg-Logical-Direction", "inbound"),
            ("Other-Leg-Username", self.username),
            ("Other-Leg-Dialplan", "XML"),
            ("Other-Leg-Caller-ID-Name", other.caller_name),
            ("Other-Leg-Caller-ID-Number", other.caller_number),
            ("Other-Leg-Orig-Caller-ID-Name", other.caller_name),
            ("Other-Leg-Orig-Caller-ID-Number", other.caller_number),
            ("Other-Leg-Callee-ID-Name", "Outbound Call"),
            ("Other-Leg-Callee-ID-Number", other.destination),
            ("Other-Leg-Network-Addr", "127.0.0.1"),
            ("Other-Leg-ANI", other.caller_number),
            ("Other-Leg-Destination-Number", other.destination),
            ("Other-Leg-Unique-ID", other.uuid),
            ("Other-Leg-Source", "mod_sofia"),
            ("Other-Leg-Context", self.context),
            ("Other-Leg-Channel-Name", other.channel_name),
            ("Other-Leg-Profile-Created-Time", str(other.created_us)),
            ("Other-Leg-Channel-Created-Time", str(other.created_us)),
            ("Other-Leg-Channel-Answered-Time", str(other.answered_us)),
            ("Other-Leg-Channel-Progress-Time", str(other.created_us)),
            ("Other-Leg-Channel-Progress-Media-Time", "0"),
            ("Other-Leg-Channel-Hangup-Time", "0"),
            ("Other-Leg-Channel-Transfer-Time", "0"),
            ("Other-Leg-Channel-Resurrect-Time", "0"),
            ("Other-Leg-Channel-Bridged-Time", "0"),
            ("Other-Leg-Channel-Last-Hold", "0"),
            ("Other-Leg-Channel-Hold-Accum", "0"),
            ("Other-Leg-Screen-Bit", "true"),
            ("Other-Leg-Privacy-Hide-Name", "false"),
            ("Other-Leg-Privacy-Hide-Number", "false"),
        ]

    def var_pairs(self) -> Pairs:
        """All channel variables as ``variable_<name>`` headers."""
        return [(f"variable_{k}", v) for k, v in self.variables.items()]


def _core_headers(name: str) -> Pairs:
    now = time.time()
    file, func, line = _ORIGIN.get(name, ("switch_channel.c", "switch_channel_event", 1))
    return [
        ("Event-Name", name),
        ("Core-UUID", CORE.uuid),
        ("FreeSWITCH-Hostname", CORE.hostname),
        ("FreeSWITCH-Switchname", CORE.hostname),
        ("FreeSWITCH-IPv4", CORE.ipv4),
        ("FreeSWITCH-IPv6", CORE.ipv6),
        ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
        ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
        ("Event-Calling-File", file),
        ("Event-Calling-Function", func),
        ("Event-Calling-Line-Number", str(line)),
        ("Event-Sequence", str(next(_SEQUENCE))),
    ]


def channel_data(chan: Channel) -> Pairs:
    """The CHANNEL_DATA headers of the ``connect`` reply (before the command/reply tail)."""
    return [
        *_core_headers("CHANNEL_DATA"),
        *chan.caller_profile("Channel"),
        *chan.basic(),
        *chan.caller_profile("Caller"),
        *chan.var_pairs(),
    ]


def event_headers(
    chan: Channel, name: str, lead: Pairs | None = None, trail: Pairs | None = None
) -> Pairs:
    """Headers of a channel event ``name`` fired on ``chan``.

    ``lead`` goes right after the core headers (Bridge-A/B-Unique-ID, the first Hangup-Cause of
    CHANNEL_HANGUP_COMPLETE); ``trail`` after the variables (Application-*, DTMF-*).
    DTMF events carry no ``variable_*`` headers (``switch_channel_event_set_basic_data`` only).
    """
    pairs = _core_headers(name)
    if lead:
        pairs += lead
    pairs += chan.basic()
    pairs += chan.caller_profile("Caller")
    if chan.other is not None:
        pairs += chan.other_leg(chan.other)
    if name != "DTMF":
        pairs += chan.var_pairs()
    if trail:
        pairs += trail
    return pairs


def set_state(chan: Channel, state: str) -> None:
    """Move the channel to ``state`` (CS_EXECUTE / CS_HANGUP / CS_REPORTING)."""
    chan.state = state if state != "CS_HANGUP" else "CS_EXECUTE"
    chan.state_number = _STATE_NUMBER[state]
    if state == "CS_REPORTING":
        chan.state = "CS_REPORTING"
        chan.call_state = "HANGUP"
