"""The simulator's cached serialization must produce exactly the bytes of the plain path."""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest

from esl_controller.simulator import frames
from esl_controller.simulator.dialstring import _split
from esl_controller.simulator.events import (
    Channel,
    Leg,
    Variables,
    _core_headers,
    channel_data,
    connect_frame,
    event_frame,
    event_headers,
    set_state,
)

NAMES = ["CHANNEL_PARK", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PROGRESS_MEDIA",
         "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP",
         "CHANNEL_HANGUP_COMPLETE", "DTMF", "SOME_OTHER_EVENT"]


def _chan() -> Channel:
    chan = Channel(uuid="a-uuid", channel_name="sofia/internal/101@acme.example",
                   caller_number="101", caller_name="Zoë <Alice> & co", destination="102",
                   context="default", username="101", presence_id="101@acme.example",
                   created_us=1_700_000_000_123_456)
    chan.variables.update({"uuid": "a-uuid", "current_application": "socket", "empty": ""})
    return chan


def _same(chan: Channel, name: str, now: float, seq: int, lead=None, trail=None) -> None:
    slow = frames.event_plain(event_headers(chan, name, lead, trail, now=now, seq=seq))
    assert event_frame(chan, name, lead, trail, now=now, seq=seq) == slow


def test_event_frame_matches_plain_path_through_a_call() -> None:
    chan = _chan()
    clock = itertools.count()
    lead = [("Bridge-A-Unique-ID", "a-uuid"), ("Bridge-B-Unique-ID", "b uuid")]
    trail = [("Application", "set"), ("Application-Data", "x=a b%41%zz:é"), ("DTMF-Digit", "#")]
    for step in range(40):
        for name in NAMES:
            now = 1_700_000_000.25 + next(clock) * 0.37
            _same(chan, name, now, step)
            _same(chan, name, now, step, lead=lead, trail=trail)
        # mutate every input of the cached blocks, one after another
        chan.variables[f"v{step % 7}"] = f"value {step} & \x01 ü"
        if step == 3:
            chan.media, chan.progress_media_us = True, 5
        if step == 5:
            chan.answered_us, chan.answer_state, chan.call_state = 7, "answered", "ACTIVE"
        if step == 8:
            chan.other = Leg("b-uuid", "102", "sofia/internal/102", "101", "Al ice", "102", 1, 2)
            chan.bridged_us = 9
        if step == 12:
            chan.other.caller_name = "Changed"  # type: ignore[union-attr]
        if step == 15:
            chan.other = None
            del chan.variables["v1"]
        if step == 20:
            chan.hangup_cause, chan.answer_state, chan.hangup_us = "NORMAL_CLEARING", "hangup", 11
            set_state(chan, "CS_HANGUP")
        if step == 25:
            set_state(chan, "CS_REPORTING")
            chan.variables = {"plain": "dict assigned", "x": ""}  # falls back to the slow join
        if step == 30:
            chan.caller_name, chan.channel_name = "", "sofia/external/x@trunk"


def test_connect_frame_matches_plain_path() -> None:
    chan = _chan()
    for async_mode, full in itertools.product((True, False), repeat=2):
        for now in (0.0, 1_700_000_000.999_999, 1_700_000_001.0):
            chan.variables["n"] = str(now)
            body = channel_data(chan)[len(_core_headers("CHANNEL_DATA", now, 0)):]
            slow = frames.connect_reply(
                [*_core_headers("CHANNEL_DATA", now, 42), *body], async_mode, full)
            assert connect_frame(chan, async_mode, full, now=now, seq=42) == slow


def test_variables_is_a_dict_with_lines_in_sync() -> None:
    plain: dict[str, str] = {}
    tracked = Variables()
    ops = [
        lambda d: d.update({"a": "1", "b": "x y"}),
        lambda d: d.__setitem__("c", "ü&"),
        lambda d: d.update([("a", "2"), ("d", "")], e="5"),
        lambda d: d.__delitem__("b"),
        lambda d: d.__setitem__("b", "again"),
        lambda d: d.setdefault("a", "ignored"),
        lambda d: d.setdefault("f", "new"),
        lambda d: d.pop("c"),
        lambda d: d.pop("missing", None),
        lambda d: d.__ior__({"g": "7"}),
        lambda d: d.popitem(),
    ]
    for op in ops:
        op(plain)
        op(tracked)
        assert tracked == plain and list(tracked) == list(plain)
        assert tracked.block() == frames.serialize_headers(
            [(f"variable_{k}", v) for k, v in plain.items()])
    for clone in (copy.copy(tracked), copy.deepcopy(tracked), pickle.loads(pickle.dumps(tracked))):
        assert type(clone) is Variables and clone.block() == tracked.block()
        clone["z"] = "only in the clone"
        assert "z" not in tracked and b"variable_z" not in tracked.block()
    tracked.clear()
    assert tracked.block() == b"" and tracked == {}


@pytest.mark.parametrize("text", ["a,b,,c", "", "a|b", "{x=1,y=2}a,b", "a\\,b,c", "[v=1]a,b]",
                                  "<x>a,b", "a,b\\", "ab"])
def test_split_fast_path(text: str) -> None:
    def slow(text: str, sep: str) -> list[str]:
        parts, depth, cur, i = [], 0, [], 0
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 2
                continue
            depth += ch in "{[<"
            depth = max(0, depth - (ch in "}]>"))
            if ch == sep and depth == 0:
                parts.append("".join(cur))
                cur = []
            else:
                cur.append(ch)
            i += 1
        return [*parts, "".join(cur)]

    for sep in ",|":
        assert _split(text, sep) == slow(text, sep)
