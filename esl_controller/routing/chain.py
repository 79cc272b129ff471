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
from esl_controller.routing.actions import Action, Command
from esl_controller.routing.alerting import alerting, do_not_disturb
from esl_controller.routing.assistant import executive_assistant  # MA-1
from esl_controller.routing.criteria import caller_matches, schedule_open
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.intercept_group import user_intercept as _group_intercept
from esl_controller.routing.night import user_night_service  # CORE-3, first of the chain
from esl_controller.routing.outcomes import CommandResult, Outcome
from esl_controller.routing.script import Script

SERVICE_ORDER: tuple[str, ...] = (
    "night-service",
    "intercept",
    "selective-rejection",
    "anonymous-rejection",
    "selective-acceptance",
    "executive-assistant",  # MA-1: after screening (a refused call never rings an
    # assistant), before forwarding (the assistant screens the manager's calls first)
    "selective-forwarding",
    "forward-always",
    "do-not-disturb",
    "alerting",
)

Service = Callable[[IncomingCall], Generator[Action, Outcome, bool]]

SERVICES: dict[str, Service] = {
    "night-service": user_night_service,
    "intercept": _group_intercept,  # the intercept group (issue 4), then USR-15
    "selective-rejection": screening.selective_rejection,
    "anonymous-rejection": screening.anonymous_rejection,
    "selective-acceptance": screening.selective_acceptance,
    "executive-assistant": executive_assistant,  # manager/assistant (MA-1)
    "selective-forwarding": forwarding.selective,
    "forward-always": forwarding.always,
    "do-not-disturb": do_not_disturb,
    "alerting": alerting,
}


def call_notify(call: IncomingCall) -> Generator[Action, Outcome, None]:
    """Call notify (USR-17): e-mail about a matching call; never takes or delays the call.

    The first matching rule wins (one e-mail per call and user). The ``notify`` service
    only queues the e-mail; whatever it answers, the call goes on along the chain.
    """
    for rule in call.user.notify:
        if not caller_matches(call, rule.pattern):
            continue
        is_open = schedule_open(call, rule.schedule)
        if is_open is not True:
            state = "closed" if is_open is False else "unknown"
            call.trace.add("call-notify", "schedule",
                           f"notify rule {rule.pattern} skipped: schedule {rule.schedule} {state}")
            continue
        to = rule.email or call.user.email
        if not to:
            call.trace.add("call-notify", "no-address",
                           f"{call.user.extension} has no e-mail address: nobody notified")
            return
        anonymous = call.anonymous
        result = yield Command("notify", "call", (
            ("enterprise", str(call.enterprise.id)),
            ("extension", call.user.extension),
            ("user_name", call.user.name),
            ("to", to),
            ("call_id", call.ctx.call_id),
            ("caller", "anonymous" if anonymous else call.presented_number),
            ("caller_name", "" if anonymous else call.presented_name),
            ("at", call.now.isoformat() if call.now else ""),
            ("timezone", call.enterprise.timezone),
        ))
        if isinstance(result, CommandResult) and result.ok:
            call.trace.add("call-notify", rule.pattern,
                           f"caller matches {rule.pattern}: e-mail to {to} queued")
        else:
            why = result.value if isinstance(result, CommandResult) else "no answer"
            call.trace.add("call-notify", "failed",
                           f"e-mail to {to} not sent ({why}); the call goes on")
        return


def incoming_call(call: IncomingCall) -> Script:
    """Pass the call along the chain; the first service that takes it runs it.

    Call notify runs first: it only sends an e-mail and never takes the call.
    """
    yield from call_notify(call)
    for name in SERVICE_ORDER:
        service = SERVICES.get(name)
        if service is not None and (yield from service(call)):
            return
    raise AssertionError("alerting always takes the call")  # pragma: no cover
