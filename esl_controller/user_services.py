"""Use cases for a user's own call services: forwarding, DND, identity, intercept ...

Each validates first (nothing is written on bad input), then records one event on the User.
The CLI (``pbx user forward``, ``pbx user dnd``, ``pbx user set``) and the feature access
codes dialled on the phone both come here, so both obey the same rules.
"""

from __future__ import annotations

import re

from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.calling_plan import allows
from esl_controller.domain.users import (
    FORWARD_KINDS,
    IDENTITIES,
    RING_MODES,
    SCREENING_KINDS,
    User,
)
from esl_controller.errors import ValidationError
from projections.directory import UserView

PATTERN_RE = re.compile(r"^(anonymous|\+?[0-9*#X.]{1,20})$")


def destination_for(app: Pbx, enterprise: str | None, owner: UserView, raw: str) -> str:
    """A forwarding/intercept destination: a colleague's extension or an E.164 number the
    user's outgoing calling plan allows (no toll-fraud bypass through forwarding)."""
    ent = app.enterprise(enterprise)
    text = raw.strip()
    if text == owner.extension or (owner.number and text == owner.number):
        raise ValidationError(f"{owner.extension} cannot forward to itself")
    if app.directory().user(ent.id, text) is not None:
        return text
    e164 = numbers.normalise(text, ent.country)
    if e164 == owner.number:
        raise ValidationError(f"{owner.extension} cannot forward to its own number")
    klass = numbers.classify(e164, ent.country)
    if not allows(klass):
        article = "an" if klass.value[0] in "aeiou" else "a"
        raise ValidationError(
            f"{e164} is {article} {klass.value} number, which the outgoing calling plan of "
            f"{owner.extension} does not allow"
        )
    return e164


def _load(app: Pbx, enterprise: str | None, extension: str) -> tuple[UserView, User]:
    view = app.user(enterprise, extension)
    user: User = app.repository.get(view.id)
    return view, user


def forward(
    app: Pbx,
    enterprise: str | None,
    extension: str,
    kind: str,
    destination: str,
    after_seconds: int | None = None,
    schedule: str | None = None,
    from_pattern: str | None = None,
) -> UserView:
    if kind not in FORWARD_KINDS:
        raise ValidationError(f"unknown forwarding kind {kind!r}: use {', '.join(FORWARD_KINDS)}")
    view, user = _load(app, enterprise, extension)
    target = destination_for(app, enterprise, view, destination)
    if after_seconds is not None:
        if kind != "no-answer":
            raise ValidationError("--after applies to no-answer forwarding only")
        if not 5 <= after_seconds <= 120:
            raise ValidationError("--after is 5 to 120 seconds")
    if kind == "selective":
        if schedule is None:
            raise ValidationError("selective forwarding needs --schedule NAME")
        if app.directory().schedule(view.enterprise_id, schedule) is None:
            raise ValidationError(f"unknown schedule: {schedule!r}")
    elif schedule is not None or from_pattern is not None:
        raise ValidationError("--schedule and --from apply to selective forwarding only")
    if from_pattern is not None and not PATTERN_RE.match(from_pattern):
        raise ValidationError(
            f"invalid caller pattern {from_pattern!r}: digits with X or * wildcards, or 'anonymous'"
        )
    user.enable_forwarding(kind, target, after_seconds, schedule, from_pattern)
    app.save(user)
    return app.user(enterprise, extension)


def forward_off(app: Pbx, enterprise: str | None, extension: str, kind: str) -> bool:
    """Switch one forwarding off; False when it was not on (nothing written)."""
    if kind not in FORWARD_KINDS:
        raise ValidationError(f"unknown forwarding kind {kind!r}: use {', '.join(FORWARD_KINDS)}")
    view, user = _load(app, enterprise, extension)
    if view.forward(kind) is None:
        return False
    user.disable_forwarding(kind)
    app.save(user)
    return True


def set_dnd(app: Pbx, enterprise: str | None, extension: str, on: bool) -> UserView:
    view, user = _load(app, enterprise, extension)
    if view.dnd != on:
        user.set_dnd(on)
        app.save(user)
    return app.user(enterprise, extension)


def set_anonymous_rejection(
    app: Pbx, enterprise: str | None, extension: str, on: bool
) -> UserView:
    view, user = _load(app, enterprise, extension)
    if view.anonymous_rejection != on:
        user.set_anonymous_rejection(on)
        app.save(user)
    return app.user(enterprise, extension)


def set_mobile(app: Pbx, enterprise: str | None, extension: str, mobile: str | None) -> UserView:
    view, user = _load(app, enterprise, extension)
    ent = app.enterprise(enterprise)
    e164 = None
    if mobile is not None:
        e164 = numbers.normalise(mobile, ent.country)
        if numbers.classify(e164, ent.country) is not numbers.NumberClass.MOBILE:
            raise ValidationError(f"{e164} is not a mobile number")
    if view.identity == "mobile" and e164 is None:
        raise ValidationError(f"{extension} presents its mobile number: set --identity first")
    if view.mobile != e164:
        user.set_mobile(e164)
        app.save(user)
    return app.user(enterprise, extension)


def set_identity(app: Pbx, enterprise: str | None, extension: str, identity: str) -> UserView:
    if identity not in IDENTITIES:
        raise ValidationError(f"unknown identity {identity!r}: use {', '.join(IDENTITIES)}")
    view, user = _load(app, enterprise, extension)
    if identity == "mobile" and view.mobile is None:
        raise ValidationError(f"{extension} has no mobile number: set --mobile first")
    if identity == "business" and view.number is None:
        ent = app.enterprise(enterprise)
        if not ent.numbers:
            raise ValidationError(f"{extension} has no business number to present")
    if view.identity != identity:
        user.set_identity(identity)
        app.save(user)
    return app.user(enterprise, extension)


def set_intercept(
    app: Pbx, enterprise: str | None, extension: str, destination: str | None
) -> UserView:
    """Intercept every incoming call: ``announcement``, a destination, or None (off)."""
    view, user = _load(app, enterprise, extension)
    target = destination
    if destination not in (None, "announcement"):
        assert destination is not None
        target = destination_for(app, enterprise, view, destination)
    if view.intercept != target:
        user.set_intercept(target)
        app.save(user)
    return app.user(enterprise, extension)


_UNSET = "\0unset"


def update(
    app: Pbx,
    enterprise: str | None,
    extension: str,
    mobile: str | None = _UNSET,
    identity: str | None = None,
    anonymous_rejection: bool | None = None,
    intercept: str | None = _UNSET,
    call_waiting: bool | None = None,
    mobility: bool | None = None,
    ring: str | None = None,
) -> UserView:
    """Several settings at once: all are validated before any is written (one save)."""
    view, user = _load(app, enterprise, extension)
    ent = app.enterprise(enterprise)
    new_mobile = view.mobile
    if mobile != _UNSET:
        new_mobile = None
        if mobile is not None:
            new_mobile = numbers.normalise(mobile, ent.country)
            if numbers.classify(new_mobile, ent.country) is not numbers.NumberClass.MOBILE:
                raise ValidationError(f"{new_mobile} is not a mobile number")
    new_identity = identity or view.identity
    if new_identity not in IDENTITIES:
        raise ValidationError(f"unknown identity {new_identity!r}: use {', '.join(IDENTITIES)}")
    if new_identity == "mobile" and new_mobile is None:
        raise ValidationError(f"{extension} has no mobile number to present: set --mobile")
    if identity == "business" and view.number is None and not ent.numbers:
        raise ValidationError(f"{extension} has no business number to present")
    new_intercept = view.intercept
    if intercept != _UNSET:
        new_intercept = intercept
        if intercept not in (None, "announcement"):
            assert intercept is not None
            new_intercept = destination_for(app, enterprise, view, intercept)
    new_mobility = view.mobility if mobility is None else mobility
    new_ring = ring or view.ring
    if new_ring not in RING_MODES:
        raise ValidationError(f"unknown ring mode {new_ring!r}: use {', '.join(RING_MODES)}")
    if new_mobility and new_mobile is None:
        raise ValidationError(f"{extension} has no mobile number for mobility: set --mobile")
    if ring is not None and not new_mobility:
        raise ValidationError("--ring applies with mobility on")
    if new_mobility and new_mobile is not None:
        other = app.directory().user_with_mobile(new_mobile)
        if other is not None and other.id != view.id:
            raise ValidationError(f"{new_mobile} is the mobile of {other.extension} already")
    if new_mobile != view.mobile:
        user.set_mobile(new_mobile)
    if new_identity != view.identity:
        user.set_identity(new_identity)
    if anonymous_rejection is not None and anonymous_rejection != view.anonymous_rejection:
        user.set_anonymous_rejection(anonymous_rejection)
    if new_intercept != view.intercept:
        user.set_intercept(new_intercept)
    if call_waiting is not None and call_waiting != view.call_waiting:
        user.set_call_waiting(call_waiting)
    if (new_mobility, new_ring) != (view.mobility, view.ring):
        user.set_mobility(new_mobility, new_ring)
    app.save(user)
    return app.user(enterprise, extension)


def set_call_waiting(app: Pbx, enterprise: str | None, extension: str, on: bool) -> UserView:
    return update(app, enterprise, extension, call_waiting=on)


def add_screening(
    app: Pbx, enterprise: str | None, extension: str, kind: str, pattern: str,
    schedule: str | None = None,
) -> UserView:
    """Selective rejection (reject / dont-reject) or acceptance (accept) of callers."""
    if kind not in SCREENING_KINDS:
        raise ValidationError(f"unknown rule {kind!r}: use {', '.join(SCREENING_KINDS)}")
    if not PATTERN_RE.match(pattern):
        raise ValidationError(
            f"invalid caller pattern {pattern!r}: digits with X or * wildcards, or 'anonymous'"
        )
    view, user = _load(app, enterprise, extension)
    if schedule is not None and app.directory().schedule(view.enterprise_id, schedule) is None:
        raise ValidationError(f"unknown schedule: {schedule!r}")
    if any((r.kind, r.pattern) == (kind, pattern) for r in view.screening):
        raise ValidationError(f"{extension} already has the {kind} rule {pattern}")
    if len(view.screening) >= 20:
        raise ValidationError(f"{extension} has 20 screening rules already")
    user.add_screening_rule(kind, pattern, schedule)
    app.save(user)
    return app.user(enterprise, extension)


def remove_screening(
    app: Pbx, enterprise: str | None, extension: str, kind: str, pattern: str
) -> UserView:
    view, user = _load(app, enterprise, extension)
    if not any((r.kind, r.pattern) == (kind, pattern) for r in view.screening):
        raise ValidationError(f"{extension} has no {kind} rule {pattern}")
    user.remove_screening_rule(kind, pattern)
    app.save(user)
    return app.user(enterprise, extension)
