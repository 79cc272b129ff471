"""Build FreeSWITCH->client frames byte-for-byte as mod_event_socket writes them.

See ESL-NOTES A.1 and A.4 and the captures under ``tests/fixtures/esl-captures``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import starmap

from .wire import url_encode

__all__ = [
    "DISCONNECT_BODY",
    "Headers",
    "api_response",
    "auth_request",
    "command_reply",
    "connect_reply",
    "disconnect_final",
    "disconnect_inbound",
    "disconnect_linger",
    "event_plain",
    "event_plain_block",
    "header_line",
    "serialize_event",
    "serialize_headers",
]

Headers = Sequence[tuple[str, str]]

DISCONNECT_BODY = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


@lru_cache(maxsize=16384)
def header_line(name: str, value: str) -> bytes:
    """One serialized event header line: ``name: <url-encoded value>\\n`` (memoized).

    An empty value is written as ``_undef_``, as ``switch_event_serialize`` does.
    """
    return f"{name}: {url_encode(value) if value != '' else '_undef_'}\n".encode("ascii")


def serialize_headers(headers: Headers) -> bytes:
    """The serialized header lines of ``headers`` (no terminating blank line)."""
    return b"".join(starmap(header_line, headers))


def serialize_event(headers: Headers, body: bytes | None = None) -> bytes:
    """``switch_event_serialize(ev, encode=TRUE)``: URL-encoded headers, blank line or body."""
    head = serialize_headers(headers)
    if body:
        return b"%sContent-Length: %d\n\n%s" % (head, len(body), body)
    return head + b"\n"


def event_plain_block(head: bytes) -> bytes:
    """A body-less ``text/event-plain`` frame from already serialized header lines."""
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s\n" % (len(head) + 1, head)


def event_plain(headers: Headers, body: bytes | None = None) -> bytes:
    """A ``text/event-plain`` frame (outer Content-Length comes first, as FS writes it)."""
    inner = serialize_event(headers, body)
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(inner), inner)


def command_reply(text: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A ``command/reply`` frame; header values are written verbatim (not URL-encoded)."""
    lines = ["Content-Type: command/reply", f"Reply-Text: {text}"]
    lines.extend(f"{name}: {value}" for name, value in extra)
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def api_response(body: str | bytes) -> bytes:
    """An ``api/response`` frame; empty output becomes ``-ERR no reply\\n`` like FS."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    if not data:
        data = b"-ERR no reply\n"
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def auth_request() -> bytes:
    """The greeting of an inbound connection."""
    return b"Content-Type: auth/request\n\n"


def connect_reply(channel_data: Headers, async_mode: bool = True, full: bool = True) -> bytes:
    """Reply to ``connect``: a serialized CHANNEL_DATA header block, no Content-Length."""
    tail = [
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", "async" if async_mode else "static"),
        ("Control", "full" if full else "single-channel"),
    ]
    return serialize_event([*channel_data, *tail])


def disconnect_linger(uuid: str, channel_name: str, linger_time: int) -> bytes:
    """The ``Content-Disposition: linger`` notice (values not URL-encoded)."""
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {uuid}\n"
        "Content-Disposition: linger\n"
        f"Channel-Name: {channel_name}\n"
        f"Linger-Time: {linger_time}\n"
        "Content-Length: 0\n\n"
    ).encode()


def disconnect_final(uuid: str) -> bytes:
    """The final ``Content-Disposition: disconnect`` notice sent before FS closes."""
    head = (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {uuid}\n"
        "Content-Disposition: disconnect\n"
        f"Content-Length: {len(DISCONNECT_BODY)}\n\n"
    ).encode()
    return head + DISCONNECT_BODY


def disconnect_inbound(message: bytes = DISCONNECT_BODY) -> bytes:
    """The disconnect notice of an inbound connection (no session headers)."""
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(message) + message
