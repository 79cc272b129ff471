"""The incoming-call chain (USR-1): the services a call to a user passes, in order.

DESIGN.md fixes the order. Each service is a function ``(IncomingCall) -> Script | None``:
it returns a script when it takes the call, or None to pass it on. The first service that
takes the call wins; every step is written to the trace. ``SERVICE_ORDER`` names the
complete order; ``SERVICES`` holds the services built so far, each at its place in that
order, and later issues add theirs to the table.
"""

from __future__ import annotations

from collections.abc import Callable

from esl_controller.routing.alerting import alerting
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.script import Script

SERVICE_ORDER: tuple[str, ...] = (
    "intercept",
    "selective-rejection",
    "anonymous-rejection",
    "selective-acceptance",
    "selective-forwarding",
    "forward-always",
    "do-not-disturb",
    "alerting",
)


Service = Callable[[IncomingCall], Script | None]


SERVICES: dict[str, Service] = {"alerting": alerting}


def incoming_call(call: IncomingCall) -> Script:
    """Pass the call along the chain; the first service that takes it runs it."""
    for name in SERVICE_ORDER:
        service = SERVICES.get(name)
        if service is None:
            continue
        script = service(call)
        if script is not None:
            yield from script
            return
    raise AssertionError("alerting always takes the call")  # pragma: no cover
