"""Fidelity of the simulator's frames against real FreeSWITCH captures."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from esl_controller.simulator import frames
from esl_controller.simulator.dialstring import continues_after, parse_dial_string
from esl_controller.simulator.events import Channel, Leg, channel_data, event_headers
from esl_controller.simulator.wire import (
    CommandReader,
    Frame,
    FrameReader,
    parse_event_body,
    parse_headers,
    url_encode,
)

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl-captures"
FS1012 = CAPTURES / "freeswitch-1.10.12"
# The docs BACKGROUND_JOB example has an outer Content-Length longer than its text (SOURCES.md).
DOCS_SHORT = CAPTURES / "background-job-docs-example.event"
EVENT_FILES = sorted(p for p in CAPTURES.glob("*.event") if "inner" not in p.name and p != DOCS_SHORT)
STREAMS = sorted(CAPTURES.glob("*.transcript.txt")) + sorted(FS1012.glob("*.raw")) + [
    CAPTURES / "inbound-auth-event-bgapi-background-job.stream.txt"]


def read_all(data: bytes) -> tuple[list[Frame], bytes]:
    reader = FrameReader()
    found = reader.feed(data)
    return found, bytes(reader.buffer)


def captured_events() -> list[list[tuple[str, str]]]:
    """Raw (still encoded) header lists of every captured plain event."""
    result = []
    for path in [*EVENT_FILES, *STREAMS]:
        for frame in read_all(path.read_bytes())[0]:
            if frame.content_type == "text/event-plain":
                end = frame.body.find(b"\n\n")
                result.append(parse_headers(frame.body[:end]))
    return result


def test_url_encoder_reproduces_every_captured_value() -> None:
    checked = 0
    for headers in captured_events():
        for _name, value in headers:
            if value == "_undef_":
                continue
            assert url_encode(unquote_to_bytes(value)) == value
            checked += 1
    assert checked > 10000


@pytest.mark.parametrize("decoded,encoded", [
    ("+OK\n", "%2BOK%0A"),
    ("sofia/internal/1001@172.16.50.134", "sofia/internal/1001%40172.16.50.134"),
    ("#", "%23"),
    ("tone_stream://%(500,500,440);loops=2", "tone_stream%3A//%25(500,500,440)%3Bloops%3D2"),
    ("100%41", "100%41"),
    ("-._~!$'()*,/", "-._~!$'()*,/"),
    ("é", "%C3%A9"),
])
def test_url_encoder_rules(decoded: str, encoded: str) -> None:
    assert url_encode(decoded) == encoded


@pytest.mark.parametrize("name,built", [
    ("command-reply-event-listener-enabled.txt",
     frames.command_reply("+OK event listener enabled plain")),
    ("command-reply-will-linger.txt", frames.command_reply("+OK will linger")),
    ("command-reply-ok-sendmsg.txt", frames.command_reply("+OK")),
    ("command-reply-ok-bye.txt", frames.command_reply("+OK bye")),
    ("command-reply-auth-accepted.txt", frames.command_reply("+OK accepted")),
    ("command-reply-bgapi-job-uuid.txt", frames.command_reply(
        "+OK Job-UUID: 43e14ab9-38b1-4187-9f08-e13f35136bb2",
        [("Job-UUID", "43e14ab9-38b1-4187-9f08-e13f35136bb2")])),
    ("api-response-ok.txt", frames.api_response("+OK\n")),
    ("api-response-ok-success.txt", frames.api_response("+OK Success\n")),
    ("auth-request.txt", frames.auth_request()),
    ("disconnect-notice-linger.txt", frames.disconnect_linger(
        "78b86350-4fb8-4d2b-a629-1eeafd7d2f74", "sofia/internal/1001@172.16.50.134", -1)),
    ("disconnect-notice-disconnect.txt",
     frames.disconnect_final("78b86350-4fb8-4d2b-a629-1eeafd7d2f74")),
])
def test_replies_and_notices_are_byte_identical(name: str, built: bytes) -> None:
    assert built == (CAPTURES / name).read_bytes()


def test_events_in_myevents_stream_replies_match_1_10_12() -> None:
    raw = (FS1012 / "outbound-linger-transcript.txt.raw").read_bytes()
    assert frames.command_reply("+OK Events Enabled") in raw
    assert frames.command_reply("+OK will linger") in raw
    notice = next(f for f in read_all(raw)[0] if f.get("Content-Disposition") == "linger")
    built = frames.disconnect_linger(notice.get("Controlled-Session-UUID") or "",
                                     notice.get("Channel-Name") or "", -1)
    assert built == notice.raw
    raw = (FS1012 / "outbound-bridge-transcript.txt.raw").read_bytes()
    final = next(f for f in read_all(raw)[0] if f.get("Content-Disposition") == "disconnect")
    assert frames.disconnect_final(final.get("Controlled-Session-UUID") or "") == final.raw


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_event_plain_reserializes_captured_events(path: Path) -> None:
    data = path.read_bytes()
    (frame,), rest = read_all(data)
    headers, body = parse_event_body(frame.body)
    if body:
        headers = [h for h in headers if h[0] != "Content-Length"]
    assert frames.event_plain(headers, body or None) == frame.raw and rest == b""


@pytest.mark.parametrize("path", [CAPTURES / "outbound-connect-reply.txt", FS1012 /
                                  "outbound-sipp-transcript.txt.raw"], ids=lambda p: p.name)
def test_connect_reply_reserializes(path: Path) -> None:
    first = read_all(path.read_bytes())[0][0]
    decoded = [(k, unquote_to_bytes(v).decode("utf-8", "replace")) for k, v in first.headers]
    assert decoded[-4:] == [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"),
                            ("Socket-Mode", "async"), ("Control", "full")]
    assert frames.connect_reply(decoded[:-4]) == first.raw


@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.name)
def test_reader_parses_every_stream(path: Path) -> None:
    data = path.read_bytes()
    found, rest = read_all(data)
    assert found and rest == b""
    assert b"".join(f.raw for f in found).strip(b"\n") == data.strip(b"\n")
    for frame in found:
        if frame.content_type == "text/event-plain":
            headers, _ = frame.event()
            assert "Event-Name" in dict(headers)
    byte_reader = FrameReader()
    one_by_one = [f for i in range(0, len(data), 97) for f in byte_reader.feed(data[i : i + 97])]
    assert [f.raw for f in one_by_one] == [f.raw for f in found]


def test_reader_keeps_short_docs_frame_pending() -> None:
    found, rest = read_all(DOCS_SHORT.read_bytes())
    assert found == [] and rest.startswith(b"Content-Length: 625")
    headers, body = parse_event_body(rest.split(b"\n\n", 1)[1])
    assert dict(headers)["Event-Name"] == "BACKGROUND_JOB" and body.startswith(b"+OK ")


def _chan() -> Channel:
    chan = Channel(uuid="a-uuid", channel_name="sofia/internal/101@acme.example",
                   caller_number="101", caller_name="Alice", destination="102",
                   context="default", username="101", presence_id="101@acme.example")
    chan.variables.update({"uuid": "a-uuid", "current_application": "socket"})
    return chan


def _captured_by_name() -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for path in sorted(FS1012.glob("outbound-*.raw")):
        connect = read_all(path.read_bytes())[0][0]
        result.setdefault("CHANNEL_DATA", [k for k, _ in connect.headers])
        for frame in read_all(path.read_bytes())[0]:
            if frame.content_type == "text/event-plain":
                names = [k for k, _ in frame.event()[0]]
                result.setdefault(names and frame.event()[0][0][1], names)
    for path in EVENT_FILES:
        frame = read_all(path.read_bytes())[0][0]
        names = [k for k, _ in frame.event()[0]]
        result.setdefault(frame.event()[0][0][1], names)
    return result


@pytest.mark.parametrize("name", ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_ANSWER",
                                  "CHANNEL_PROGRESS_MEDIA", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
                                  "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
                                  "CHANNEL_PARK", "CHANNEL_DATA"])
def test_simulated_events_have_captured_header_order(name: str) -> None:
    chan = _chan()
    chan.media = name not in ("CHANNEL_PARK", "CHANNEL_DATA")
    bridge = [("Bridge-A-Unique-ID", "a"), ("Bridge-B-Unique-ID", "b")]
    lead = {"CHANNEL_BRIDGE": bridge, "CHANNEL_UNBRIDGE": bridge,
            "CHANNEL_HANGUP_COMPLETE": [("Hangup-Cause", "NORMAL_CLEARING")]}.get(name)
    trail = {"CHANNEL_EXECUTE": [("Application", "answer"), ("Application-UUID", "u")],
             "CHANNEL_EXECUTE_COMPLETE": [("Application", "answer"),
                                          ("Application-Response", "_none_"),
                                          ("Application-UUID", "u")],
             "DTMF": [("DTMF-Digit", "#"), ("DTMF-Duration", "2000")]}.get(name)
    if name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_UNBRIDGE"):
        chan.hangup_cause, chan.answer_state = "NORMAL_CLEARING", "hangup"
    if name in ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "DTMF"):
        chan.other = Leg("b", "102", "sofia/internal/102", "101", "Alice", "102", 1, 2)
    if name == "CHANNEL_DATA":
        built = frames.connect_reply(channel_data(chan))
        ours = [k for k, _ in parse_headers(built[:-2])]
    else:
        built = frames.event_plain(event_headers(chan, name, lead, trail))
        (frame,), _ = read_all(built)
        assert int(frame.get("Content-Length") or 0) == len(frame.body)
        ours = [k for k, _ in frame.event()[0]]
    theirs = _captured_by_name()[name]
    common = [k for k in theirs if k in ours and not k.startswith("variable_")]
    assert len(common) > 40
    assert [k for k in ours if k in common] == common
    key = {"Event-Name", "Unique-ID", "Channel-Name", "Answer-State", "Caller-Caller-ID-Number"}
    assert key <= set(common)


def test_command_reader_handles_bodies_and_crlf() -> None:
    reader = CommandReader()
    got = reader.feed(b"\r\nsendmsg\r\ncall-command: execute\r\ncontent-length: 5\r\n\r\nhel")
    assert got == []
    cmd, bye = reader.feed(b"loexit\n\n")
    assert cmd.line == "sendmsg" and cmd.body == b"hello"
    assert cmd.headers["call-command"] == "execute" and bye.line == "exit"


def test_dial_string_parsing_and_failure_handling() -> None:
    dial = parse_dial_string(
        "{call_timeout=20,hangup_after_bridge=true,origination_caller_id_name=Alice}"
        "user/102@acme.example,[leg_timeout=5]sofia/gateway/trunk/+31612345678|error/user_busy")
    assert dial.var("call_timeout") == "20"
    assert [[t.key for t in g] for g in dial.groups] == [["102", "+31612345678"], ["USER_BUSY"]]
    assert dial.groups[0][1].variables == {"leg_timeout": "5"}
    assert continues_after("NO_ANSWER", {}) and not continues_after("USER_BUSY", {})
    assert continues_after("USER_BUSY", {"continue_on_fail": "true"})
    assert continues_after("USER_BUSY", {"continue_on_fail": "USER_BUSY,NO_ANSWER"})
