"""The ESL frame parser against real captured FreeSWITCH byte streams."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_controller.esl.protocol import Frame, FrameReader, ProtocolError

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl-captures"
LIVE = CAPTURES / "freeswitch-1.10.12"

# Single-frame files (the docs BACKGROUND_JOB has a wrong Content-Length on purpose).
SINGLE_FRAMES = sorted(
    p
    for p in CAPTURES.iterdir()
    if p.suffix in (".event", ".txt", ".json-event", ".xml-event")
    and not p.name.endswith((".transcript.txt", ".stream.txt", ".inner.event"))
    and not p.name.startswith("presence-in-sendevent")
    and p.name != "background-job-docs-example.event"
)
# file -> number of frames in it (counted with grep on the raw bytes by hand)
TRANSCRIPTS = {
    CAPTURES / "outbound-session-bridge-caller-hangup.transcript.txt": 27,
    CAPTURES / "outbound-session-bridge-callee-hangup.transcript.txt": 26,
    CAPTURES / "outbound-session-bridge-caller-cancel-while-ringing.transcript.txt": 22,
    CAPTURES / "outbound-session-bridge-dtmf-features.transcript.txt": 59,
    CAPTURES / "outbound-session-bridge-call-rejected.transcript.txt": 25,
    CAPTURES / "outbound-session-att-xfer-three-way.transcript.txt": 114,
    CAPTURES / "inbound-auth-event-bgapi-background-job.stream.txt": 5,
    LIVE / "outbound-transcript.txt.raw": 18,
    LIVE / "outbound-sipp-transcript.txt.raw": 19,
    LIVE / "outbound-linger-transcript.txt.raw": 19,
    LIVE / "outbound-bridge-transcript.txt.raw": 13,
    LIVE / "inbound-originate-cmd.txt.raw": 5,
    LIVE / "inbound-bridge-originate-cmd.txt.raw": 5,
    LIVE / "inbound-bridge-originate-events.txt.raw": 70,
    LIVE / "inbound-bridge-sip-events.txt.raw": 85,
    LIVE / "inbound-loopback-socket-events.txt.raw": 57,
    LIVE / "inbound-outbound-bridge-events.txt.raw": 78,
}


def frames_of(data: bytes) -> list[Frame]:
    return list(FrameReader(io.BytesIO(data)))


def chunked(data: bytes, sizes: list[int]) -> Callable[[int], bytes]:
    """A read callable that hands out ``data`` in the given chunk sizes (then the rest)."""
    pieces: list[bytes] = []
    pos = 0
    for size in sizes:
        pieces.append(data[pos : pos + size])
        pos += size
    pieces.append(data[pos:])
    stream = iter([p for p in pieces if p])

    def read(_n: int) -> bytes:
        return next(stream, b"")

    return read


@pytest.mark.parametrize("path", SINGLE_FRAMES, ids=lambda p: p.name)
def test_every_single_frame_capture_is_exactly_one_frame(path: Path) -> None:
    frames = frames_of(path.read_bytes())
    assert len(frames) == 1
    frame = frames[0]
    assert frame.content_type
    if frame.content_type in ("text/event-plain", "text/event-json"):
        assert frame.event["Event-Name"]


@pytest.mark.parametrize("path", list(TRANSCRIPTS), ids=lambda p: p.name)
def test_every_transcript_parses_into_the_right_number_of_frames(path: Path) -> None:
    frames = frames_of(path.read_bytes())
    assert len(frames) == TRANSCRIPTS[path]
    for frame in frames:
        if frame.is_event:
            assert frame.event["Event-Name"]


def test_caller_hangup_transcript_has_the_documented_event_order() -> None:
    path = CAPTURES / "outbound-session-bridge-caller-hangup.transcript.txt"
    frames = frames_of(path.read_bytes())
    kinds = [f.event["Event-Name"] if f.is_event else f.content_type for f in frames]
    assert kinds[:3] == ["command/reply", "command/reply", "command/reply"]
    assert frames[0].decoded_headers["Event-Name"] == "CHANNEL_DATA"
    assert frames[0].decoded_headers["Reply-Text"] == "+OK\n"
    assert kinds[-8:] == [
        "CHANNEL_HANGUP",
        "text/disconnect-notice",
        "CHANNEL_HANGUP",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_EXECUTE_COMPLETE",
        "command/reply",
        "text/disconnect-notice",
    ]
    assert frames[-1].text.startswith("Disconnected, goodbye.")
    assert frames[-8].event["Hangup-Cause"] == "NORMAL_CLEARING"


def test_connect_reply_is_decoded_channel_data() -> None:
    (frame,) = frames_of((CAPTURES / "outbound-connect-reply.txt").read_bytes())
    data = frame.decoded_headers
    assert data["Channel-Name"] == "sofia/internal/1001@172.16.50.134"
    assert data["Caller-Destination-Number"]
    assert frame.headers["Reply-Text"] == "%2BOK%0A"  # raw headers stay as sent


def test_dtmf_pound_is_decoded() -> None:
    (frame,) = frames_of((CAPTURES / "dtmf-pound.event").read_bytes())
    assert frame.event["DTMF-Digit"] == "#"


def test_background_job_body_is_separated_from_headers() -> None:
    (frame,) = frames_of((CAPTURES / "background-job-originate-error.event").read_bytes())
    assert frame.event["Event-Name"] == "BACKGROUND_JOB"
    assert frame.event_body == "-ERR RECOVERY_ON_TIMER_EXPIRE\n"
    assert "Content-Length" not in frame.event
    assert frame.event["Job-Command-Arg"].startswith("sofia/external/1000@10.10.10.108:5070 &")


def test_duplicate_header_names_keep_the_first_value() -> None:
    event = (
        b"Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: NORMAL_CLEARING\nHangup-Cause: X\n\n"
    )
    data = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(event), event)
    (frame,) = frames_of(data)
    assert frame.event["Hangup-Cause"] == "NORMAL_CLEARING"


def test_encoded_newline_cannot_forge_a_header() -> None:
    event = b"Event-Name: CUSTOM\nvariable_note: line1%0AFake-Header: injected\n\n"
    data = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(event), event)
    (frame,) = frames_of(data)
    assert "Fake-Header" not in frame.event
    assert frame.event["variable_note"] == "line1\nFake-Header: injected"


def test_invalid_utf8_in_a_value_is_replaced_not_fatal() -> None:
    event = b"Event-Name: CUSTOM\nCaller-Caller-ID-Name: Ren%E9\n\n"
    data = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(event), event)
    (frame,) = frames_of(data)
    assert frame.event["Caller-Caller-ID-Name"] == "Ren\ufffd"


def test_json_events_are_understood() -> None:
    (frame,) = frames_of((CAPTURES / "api-event.json-event").read_bytes())
    assert frame.event["Event-Name"] == "API"
    assert frame.event["API-Command"] == "sofia"


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: command/reply\nReply-Text: +OK",  # EOF inside the header block
        b"Content-Length: 100\nContent-Type: api/response\n\n+OK",  # EOF inside the body
    ],
    ids=["header", "body"],
)
def test_truncated_frame_raises_instead_of_hanging(data: bytes) -> None:
    reader = FrameReader(io.BytesIO(data))
    with pytest.raises(ProtocolError, match="middle"):
        reader.read()


@pytest.mark.parametrize(
    "length",
    [b"99999999999", b"-1", b"abc", b"", b"\xd9\xa3"],
    ids=["huge", "neg", "nan", "empty", "arabic3"],
)
def test_bad_content_length_raises(length: bytes) -> None:
    data = b"Content-Type: api/response\nContent-Length: " + length + b"\n\n+OK\n"
    with pytest.raises(ProtocolError):
        FrameReader(io.BytesIO(data)).read()


def test_header_line_without_colon_raises() -> None:
    with pytest.raises(ProtocolError, match="without ':'"):
        FrameReader(io.BytesIO(b"Content-Type: command/reply\ngarbage\n\n")).read()


def test_endless_header_block_raises() -> None:
    endless = iter([b"X-Junk: " + b"a" * 65536] * 1000)
    reader = FrameReader(lambda _n: next(endless, b""), max_header_block=256 * 1024)
    with pytest.raises(ProtocolError, match="longer"):
        reader.read()


def test_clean_eof_at_frame_boundary_returns_none() -> None:
    reader = FrameReader(io.BytesIO((CAPTURES / "command-reply-ok-bye.txt").read_bytes()))
    assert reader.read() is not None
    assert reader.read() is None
    assert reader.read() is None


_STREAM = (CAPTURES / "outbound-session-bridge-caller-hangup.transcript.txt").read_bytes()
_EXPECTED = [(f.headers, f.body) for f in frames_of(_STREAM)]


def test_every_byte_boundary_parses_the_same() -> None:
    data = (LIVE / "outbound-transcript.txt.raw").read_bytes()
    expected = [(f.headers, f.body) for f in frames_of(data)]
    stream = iter(data[i : i + 1] for i in range(len(data)))
    got = [(f.headers, f.body) for f in FrameReader(lambda _n: next(stream, b""))]
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5000), max_size=60))
def test_any_split_of_the_stream_parses_the_same(sizes: list[int]) -> None:
    got = [(f.headers, f.body) for f in FrameReader(chunked(_STREAM, sizes))]
    assert got == _EXPECTED
