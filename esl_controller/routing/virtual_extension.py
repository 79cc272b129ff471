"""Virtual on-net extensions (USR-22): an outside number dialled as an extension.

A colleague dialling the extension places an ordinary outgoing call to the number: their
own calling plan and caller identity apply, so the short dial never bypasses either. A call
sent there by forwarding, a menu or a group goes out under the enterprise's plan.
"""

from __future__ import annotations

from dataclasses import replace

from esl_controller.domain.numbers import national_format
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.script import Script
from esl_controller.routing.targets import TargetCall, external, refuse, register
from projections.virtual_fold import KIND


@register(KIND)
def virtual_extension(call: TargetCall) -> Script:
    number = call.where.directory.virtual_numbers.get(call.target.id)
    if number is None:
        call.trace.add("virtual extension", "gone", f"{call.target.label()} no longer exists")
        yield from refuse(call.trace, HangupCause.UNALLOCATED_NUMBER)
        return
    why = f"{call.target.extension} is virtual extension {call.target.name}"
    call.trace.add("virtual extension", "outside number",
                   f"{why} for {national_format(number)}")
    if call.caller is not None and call.diverted_by is None:
        from esl_controller.routing.route import placed_by_user

        yield from placed_by_user(replace(call.ctx, destination=number), call.where, call.trace)
        return
    yield from external(call, number, why)
