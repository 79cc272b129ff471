"""``FakeSwitch``: plays FreeSWITCH's outbound ``socket`` app against a controller.

Each :meth:`FakeSwitch.place_call` opens one TCP connection to the controller (as the
dialplan ``socket host:port async full`` would), then follows ESL-NOTES A.2-A.6.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import replace

from gevent import socket as gsocket

from .models import CallSpec, Endpoint, SimCall
from .resume import continue_dialplan
from .session import OutboundSession

__all__ = ["CallSpec", "Endpoint", "FakeSwitch", "SimCall"]

log = logging.getLogger(__name__)


def _connect(host: str, port: int, timeout: float) -> gsocket.socket:
    """``create_connection``, minus the thread-pool ``getaddrinfo`` for an IP-literal host."""
    try:
        family = gsocket.AF_INET6 if ipaddress.ip_address(host).version == 6 else gsocket.AF_INET
    except ValueError:
        return gsocket.create_connection((host, port), timeout=timeout)
    sock = gsocket.socket(family, gsocket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class FakeSwitch:
    """A protocol-faithful FreeSWITCH stand-in for outbound ESL sessions.

    ``endpoints`` maps an endpoint key (``EXT`` of ``user/EXT@DOMAIN``, ``NUM`` of
    ``sofia/gateway/GW/NUM``) to its behaviour; a missing user is unregistered, a missing
    gateway number answers. Scripted timings (answer, talk, hangup, DTMF, playback, linger)
    are multiplied by ``time_scale``. ``controller_host`` / ``controller_port`` may change
    while calls run: a channel's later ``socket`` (the dialplan's re-attach window after its
    controller went away, ``resume.py``) connects to the address set then.
    """

    def __init__(self, controller_host: str, controller_port: int,
                 endpoints: dict[str, Endpoint] | None = None,
                 time_scale: float = 1.0) -> None:
        self.controller_host = controller_host
        self.controller_port = controller_port
        self.endpoints: dict[str, Endpoint] = dict(endpoints or {})
        self.time_scale = time_scale
        self.channels: dict[str, OutboundSession] = {}  # live sessions (call services)
        self.conferences: dict[str, list[str]] = {}  # room -> channel uuids in it

    def place_call(self, spec: CallSpec, timeout: float = 30) -> SimCall:
        """Run one call to completion (blocking this greenlet) and return what happened."""
        try:
            sock = _connect(self.controller_host, self.controller_port, timeout)
        except OSError as exc:
            log.warning("cannot reach controller %s:%s: %s",
                        self.controller_host, self.controller_port, exc)
            return SimCall(call_uuid=spec.call_uuid or "", error=f"connect failed: {exc}")
        sock.settimeout(None)
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        connected_at = time.perf_counter()
        session = OutboundSession(sock, spec, self.endpoints, self.time_scale)
        session.call.connected_at = connected_at
        session.registry, session.conferences = self.channels, self.conferences
        self.channels[session.chan.uuid] = session
        try:
            call = session.run(timeout)
        finally:
            if self.channels.get(session.chan.uuid) is session:
                del self.channels[session.chan.uuid]
        if session.resuming:  # the controller went away: the dialplan goes on (resume.py)
            continue_dialplan(self, session, timeout)
        if call.transferred_to is not None:
            # Blind transfer: the same channel runs the dialplan again -> socket -> a new
            # session with the transfer's destination and ``transfer_source`` set.
            call.after_transfer = self.place_call(replace(
                spec, destination=call.transferred_to, call_uuid=call.call_uuid,
                blind_transfer=None, attended_transfer=None, hangup_after=None, hold=[],
                variables={**spec.variables, **session.transfer_variables},
            ), timeout)
        return call
