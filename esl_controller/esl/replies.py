"""Commands and their replies, shared by the outbound and inbound connections.

FreeSWITCH answers commands strictly in the order it received them, so a reply resolves
the oldest waiting command. Several commands may go out in one write (pipelining); a
command whose wait timed out stays queued so that its late reply is consumed in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event

from esl_controller.esl.protocol import Frame


def send_in_order(
    sock: Any,
    lock: Any,
    pending: list[gevent.event.AsyncResult],
    raw: bytes,
    count: int,
    gone: Callable[[str], Exception],
) -> list[gevent.event.AsyncResult]:
    """Queue ``count`` reply slots and write ``raw`` (that many commands) in one go."""
    results = [gevent.event.AsyncResult() for _ in range(count)]
    with lock:
        pending.extend(results)
        try:
            sock.sendall(raw)
        except OSError as exc:
            for result in results:
                if result in pending:
                    pending.remove(result)
            raise gone(f"send failed: {exc}") from None
    return results


def wait_replies(
    results: list[gevent.event.AsyncResult],
    labels: list[str],
    timeout: float | None,
    timed_out: Callable[[str], Exception],
) -> list[Frame]:
    """The reply frames, in order, within one deadline for all of them."""
    deadline = None if timeout is None else time.monotonic() + timeout
    frames: list[Frame] = []
    for label, result in zip(labels, results, strict=True):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            frames.append(result.get(timeout=left))
        except gevent.Timeout:
            raise timed_out(f"no reply to {label!r} within {timeout}s") from None
    return frames
