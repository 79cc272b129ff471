"""The simulated A-leg channel and the header sets of the events FreeSWITCH fires for it.

Header names and order follow the FreeSWITCH 1.10.12 captures (``outbound-*-transcript.txt``):
event core headers, event-specific leading headers, channel data, caller profile, other leg,
``variable_*`` and event-specific trailing headers.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import starmap
from typing import Any

from .frames import event_plain_block, header_line, serialize_headers

__all__ = ["CORE", "Channel", "Leg", "Variables", "channel_data", "connect_frame",
           "event_frame", "event_headers"]

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
    "CHANNEL_HOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", 1183),
    "CHANNEL_UNHOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", 1183),
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


class Variables(dict[str, str]):
    """Channel variables that keep each ``variable_<name>`` header line serialized.

    A plain ``dict`` in every respect, except that every mutation also updates a parallel
    dict of serialized lines in the same (insertion) order, so the variable block of an
    event is one ``b"".join`` instead of re-encoding every value.
    """

    __slots__ = ("_lines",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lines: dict[str, bytes] = {k: _var_line(k, v) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:  # copy / deepcopy / pickle: rebuild the lines
        return (Variables, (dict(self),))

    def block(self) -> bytes:
        """The serialized ``variable_*`` header lines."""
        return b"".join(self._lines.values())

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self._lines[key] = _var_line(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        del self._lines[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Variables:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, key: str, default: str = "") -> str:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self._lines.pop(key, None)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, str]:
        item = super().popitem()
        del self._lines[item[0]]
        return item

    def clear(self) -> None:
        super().clear()
        self._lines.clear()


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
    variables: dict[str, str] = field(default_factory=Variables)
    # Serialized header blocks keyed on the fields they are built from (see ``_block``).
    _blocks: dict[str, tuple[Any, bytes]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

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

    # ------------------------------------------------------------ serialized blocks
    # Each block is the serialization of one of the pair lists above, cached until one of the
    # fields it is built from changes (the key holds exactly those fields).

    def _block(self, slot: str, key: Any, build: Any) -> bytes:
        hit = self._blocks.get(slot)
        if hit is not None and hit[0] == key:
            return hit[1]
        block: bytes = serialize_headers(build())
        self._blocks[slot] = (key, block)
        return block

    def basic_block(self) -> bytes:
        """Serialized :meth:`basic`."""
        key = (self.state, self.call_state, self.state_number, self.channel_name, self.uuid,
               self.presence_id, self.answer_state, self.hangup_cause, bool(self.media))
        return self._block("basic", key, self.basic)

    def caller_profile_block(self, prefix: str) -> bytes:
        """Serialized :meth:`caller_profile`."""
        key = (self.username, self.caller_name, self.caller_number, self.destination,
               self.uuid, self.context, self.channel_name, self.created_us, self.answered_us,
               self.progress_media_us, self.hangup_us, self.bridged_us)
        return self._block(prefix, key, lambda: self.caller_profile(prefix))

    def other_leg_block(self, other: Leg) -> bytes:
        """Serialized :meth:`other_leg` (``originatee``)."""
        key = (self.username, self.context, other.caller_name, other.caller_number,
               other.destination, other.uuid, other.channel_name, other.created_us,
               other.answered_us)
        return self._block("other", key, lambda: self.other_leg(other))

    def var_block(self) -> bytes:
        """Serialized :meth:`var_pairs`."""
        variables = self.variables
        if type(variables) is Variables:
            return variables.block()
        return b"".join(starmap(_var_line, variables.items()))  # a plain dict was assigned


@lru_cache(maxsize=16384)
def _var_line(name: str, value: str) -> bytes:
    return header_line(f"variable_{name}", value)


def _host_pairs() -> Pairs:
    return [
        ("Core-UUID", CORE.uuid),
        ("FreeSWITCH-Hostname", CORE.hostname),
        ("FreeSWITCH-Switchname", CORE.hostname),
        ("FreeSWITCH-IPv4", CORE.ipv4),
        ("FreeSWITCH-IPv6", CORE.ipv6),
    ]


def _date_pairs(now: float) -> Pairs:
    return [
        ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
        ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
    ]


def _origin_pairs(name: str) -> Pairs:
    file, func, line = _ORIGIN.get(name, ("switch_channel.c", "switch_channel_event", 1))
    return [
        ("Event-Calling-File", file),
        ("Event-Calling-Function", func),
        ("Event-Calling-Line-Number", str(line)),
    ]


def _core_headers(name: str, now: float | None = None, seq: int | None = None) -> Pairs:
    now = time.time() if now is None else now
    seq = next(_SEQUENCE) if seq is None else seq
    return [
        ("Event-Name", name),
        *_host_pairs(),
        *_date_pairs(now),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
        *_origin_pairs(name),
        ("Event-Sequence", str(seq)),
    ]


_host_cache: list[Any] = [None, b""]  # [CORE it was built from, serialized host headers]
_date_cache: list[Any] = [None, b""]  # [whole second, serialized Event-Date-Local/-GMT]


def _name_block(name: str) -> bytes:
    if _host_cache[0] is not CORE:
        _host_cache[1] = serialize_headers(_host_pairs())
        _host_cache[0] = CORE
    return header_line("Event-Name", name) + _host_cache[1]


@lru_cache(maxsize=64)
def _origin_block(name: str) -> bytes:
    return serialize_headers(_origin_pairs(name))


def _core_block(name: str, now: float | None = None, seq: int | None = None) -> bytes:
    """Serialized :func:`_core_headers` (same ``time.time()`` / sequence consumption)."""
    now = time.time() if now is None else now
    seq = next(_SEQUENCE) if seq is None else seq
    second = math.floor(now)  # localtime()/gmtime() floor a float timestamp to the second
    if _date_cache[0] != second:
        _date_cache[1] = serialize_headers(_date_pairs(second))
        _date_cache[0] = second
    return b"%s%sEvent-Date-Timestamp: %d\n%sEvent-Sequence: %d\n" % (
        _name_block(name), _date_cache[1], int(now * 1_000_000), _origin_block(name), seq)


def channel_data(chan: Channel) -> Pairs:
    """The CHANNEL_DATA headers of the ``connect`` reply (before the command/reply tail)."""
    return [
        *_core_headers("CHANNEL_DATA"),
        *chan.caller_profile("Channel"),
        *chan.basic(),
        *chan.caller_profile("Caller"),
        *chan.var_pairs(),
    ]


_CONNECT_TAIL = {
    (async_mode, full): serialize_headers([
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", "async" if async_mode else "static"),
        ("Control", "full" if full else "single-channel"),
    ]) + b"\n"
    for async_mode in (True, False) for full in (True, False)
}


def connect_frame(chan: Channel, async_mode: bool = True, full: bool = True,
                  now: float | None = None, seq: int | None = None) -> bytes:
    """``frames.connect_reply(channel_data(chan))`` built from cached serialized blocks."""
    return b"".join((
        _core_block("CHANNEL_DATA", now, seq),
        chan.caller_profile_block("Channel"),
        chan.basic_block(),
        chan.caller_profile_block("Caller"),
        chan.var_block(),
        _CONNECT_TAIL[bool(async_mode), bool(full)],
    ))


def event_headers(
    chan: Channel, name: str, lead: Pairs | None = None, trail: Pairs | None = None,
    now: float | None = None, seq: int | None = None,
) -> Pairs:
    """Headers of a channel event ``name`` fired on ``chan``.

    ``lead`` goes right after the core headers (Bridge-A/B-Unique-ID, the first Hangup-Cause of
    CHANNEL_HANGUP_COMPLETE); ``trail`` after the variables (Application-*, DTMF-*).
    DTMF events carry no ``variable_*`` headers (``switch_channel_event_set_basic_data`` only).
    """
    pairs = _core_headers(name, now, seq)
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


def event_frame(
    chan: Channel, name: str, lead: Pairs | None = None, trail: Pairs | None = None,
    now: float | None = None, seq: int | None = None,
) -> bytes:
    """``frames.event_plain(event_headers(...))``, byte for byte, from cached serialized blocks.

    Only the core headers, the variables and ``lead`` / ``trail`` are serialized per event;
    the basic data, caller profile and other-leg blocks are reused until their fields change.
    """
    parts = [_core_block(name, now, seq)]
    if lead:
        parts.append(serialize_headers(lead))
    parts.append(chan.basic_block())
    parts.append(chan.caller_profile_block("Caller"))
    if chan.other is not None:
        parts.append(chan.other_leg_block(chan.other))
    if name != "DTMF":
        parts.append(chan.var_block())
    if trail:
        parts.append(serialize_headers(trail))
    return event_plain_block(b"".join(parts))


def set_state(chan: Channel, state: str) -> None:
    """Move the channel to ``state`` (CS_EXECUTE / CS_HANGUP / CS_REPORTING)."""
    chan.state = state if state != "CS_HANGUP" else "CS_EXECUTE"
    chan.state_number = _STATE_NUMBER[state]
    if state == "CS_REPORTING":
        chan.state = "CS_REPORTING"
        chan.call_state = "HANGUP"
