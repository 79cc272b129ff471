"""The outgoing calling plan: which destination classes a user may call (or forward to).

Premium and international destinations are blocked by default (toll fraud is the classic
PBX attack); emergency numbers are always allowed.
"""

from __future__ import annotations

from esl_controller.domain.numbers import NumberClass

DEFAULT_ALLOWED = frozenset(
    {NumberClass.EMERGENCY, NumberClass.NATIONAL, NumberClass.MOBILE, NumberClass.SERVICE}
)


def allows(klass: NumberClass, allowed: frozenset[NumberClass] = DEFAULT_ALLOWED) -> bool:
    return klass is NumberClass.EMERGENCY or klass in allowed
