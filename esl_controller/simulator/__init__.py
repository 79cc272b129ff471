"""A protocol-faithful FreeSWITCH stand-in (outbound ``socket`` sessions and inbound ESL).

Self-contained: raw gevent sockets only; does not import greenswitch or the controller.
"""

from __future__ import annotations

from .inbound import FakeInboundESL, wait_for
from .models import CallSpec, Endpoint, SimCall
from .switch import FakeSwitch

__all__ = ["CallSpec", "Endpoint", "FakeInboundESL", "FakeSwitch", "SimCall", "wait_for"]
