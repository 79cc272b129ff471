"""The incoming-call chain (USR-1): the services a call to a user passes, in order.

DESIGN.md fixes the order. Every service has one interface: a generator over the call that
yields actions if it takes the call and returns True, or yields nothing and returns False
to pass the call on. The first service that takes the call wins; every step is written to
the trace. ``SERVICE_ORDER`` names the complete order; ``SERVICES`` holds the services
built so far at their place in it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from esl_controller.routing import forwarding, screening
from esl_controller.routing.actions import Action
from esl_controller.routing.alerting import alerting, do_not_disturb
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome
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

Service = Callable[[IncomingCall], Generator[Action, Outcome, bool]]

SERVICES: dict[str, Service] = {
    "intercept": screening.intercept,
    "selective-rejection": screening.selective_rejection,
    "anonymous-rejection": screening.anonymous_rejection,
    "selective-acceptance": screening.selective_acceptance,
    "selective-forwarding": forwarding.selective,
    "forward-always": forwarding.always,
    "do-not-disturb": do_not_disturb,
    "alerting": alerting,
}


def incoming_call(call: IncomingCall) -> Script:
    """Pass the call along the chain; the first service that takes it runs it."""
    for name in SERVICE_ORDER:
        service = SERVICES.get(name)
        if service is not None and (yield from service(call)):
            return
    raise AssertionError("alerting always takes the call")  # pragma: no cover
