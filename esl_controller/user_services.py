"""Use cases for a user's own call services: forwarding, DND, identity, intercept ...

Each validates first (nothing is written on bad input), then records one event on the User.
The CLI (``pbx user forward``, ``pbx user dnd``, ``pbx user set``) and the feature access
codes dialled on the phone both come here, so both obey the same rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from eventsourcing.domain import Aggregate

from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.calling_plan import allows, plan_class
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.secrets import hash_secret, sip_a1_hash
from esl_controller.domain.users import (
    FORWARD_KINDS,
    IDENTITIES,
    RING_MODES,
    SCREENING_KINDS,
    User,
)
from esl_controller.errors import ValidationError
from projections.directory import EnterpriseView, UserView

PATTERN_RE = re.compile(r"^(anonymous|\+?[0-9*#X.]{1,20})$")


def destination_for(app: Pbx, enterprise: str | None, owner: UserView, raw: str) -> str:
    """A forwarding/intercept destination: a colleague's extension or an E.164 number the
    user's outgoing calling plan allows (no toll-fraud bypass through forwarding)."""
    ent = app.enterprise(enterprise)
    text = raw.strip()
    if text == owner.extension or (owner.number and text == owner.number):
        raise ValidationError(f"{owner.extension} cannot forward to itself")
    directory = app.directory()
    if directory.user(ent.id, text) is not None:
        return text
    alternate = directory.alternate(ent.id, text) if not text.startswith("+") else None
    if alternate is not None:  # an alternate extension (USR-10): its owner's line
        if alternate[0].id == owner.id:
            raise ValidationError(f"{owner.extension} cannot forward to its own alternate {text}")
        return alternate[0].extension
    if directory.target(ent.id, text) is not None:  # a hunt group, menu, group box ...
        return text
    e164 = numbers.normalise(text, ent.country)
    if e164 == owner.number:
        raise ValidationError(f"{owner.extension} cannot forward to its own number")
    klass = numbers.classify(e164, ent.country)
    if not _plan_allows(app, ent, owner, e164, klass):  # the owner's calling plan (GRP-1)
        article = "an" if klass.value[0] in "aeiou" else "a"
        raise ValidationError(
            f"{e164} is {article} {klass.value} number, which the outgoing calling plan of "
            f"{owner.extension} does not allow"
        )
    return e164


def _plan_allows(app: Pbx, ent: EnterpriseView, owner: UserView, e164: str,
                 klass: numbers.NumberClass) -> bool:
    """Does the owner's effective outgoing calling plan allow ``e164`` outright (no PIN can
    be asked when a forwarding or speed dial is used)?"""
    plan = app.directory().calling_plan_for(ent.id, owner.extension)
    home = owner.number or (ent.numbers[0] if ent.numbers else None)
    return allows(plan_class(klass, e164, home), plan)


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


# -- call notify (USR-17) ------------------------------------------------------------------
MAX_NOTIFY_RULES = 20


def add_notify(
    app: Pbx, enterprise: str | None, extension: str, pattern: str,
    schedule: str | None = None, email: str | None = None,
) -> UserView:
    """E-mail the user (or ``email``) when a call from ``pattern`` arrives (while
    ``schedule`` is open, if given). ``*`` matches every caller."""
    from esl_controller.application import EMAIL_RE

    if not PATTERN_RE.match(pattern):
        raise ValidationError(
            f"invalid caller pattern {pattern!r}: digits with X or * wildcards, or 'anonymous'"
        )
    if email is not None and not EMAIL_RE.match(email):
        raise ValidationError(f"invalid e-mail address: {email!r}")
    view, user = _load(app, enterprise, extension)
    if email is None and not view.email:
        raise ValidationError(f"{extension} has no e-mail address: give --email ADDR")
    if schedule is not None and app.directory().schedule(view.enterprise_id, schedule) is None:
        raise ValidationError(f"unknown schedule: {schedule!r}")
    if any(r.pattern == pattern for r in view.notify):
        raise ValidationError(f"{extension} already has the notify rule {pattern}")
    if len(view.notify) >= MAX_NOTIFY_RULES:
        raise ValidationError(f"{extension} has {MAX_NOTIFY_RULES} notify rules already")
    user.add_notify_rule(pattern, schedule, email)
    app.save(user)
    return app.user(enterprise, extension)


def remove_notify(app: Pbx, enterprise: str | None, extension: str, pattern: str) -> UserView:
    view, user = _load(app, enterprise, extension)
    if not any(r.pattern == pattern for r in view.notify):
        raise ValidationError(f"{extension} has no notify rule {pattern}")
    user.remove_notify_rule(pattern)
    app.save(user)
    return app.user(enterprise, extension)


# -- speed dial (USR-12) -------------------------------------------------------------------
SPEED_DIAL_SLOT_RE = re.compile(r"^([2-9]|[0-9]{2})$")


def speed_dial_target(app: Pbx, enterprise: str | None, owner: UserView, raw: str) -> str:
    """A speed dial's number: a colleague's extension, or an E.164 number the user's
    outgoing calling plan allows (checked again when the slot is dialled)."""
    ent = app.enterprise(enterprise)
    text = raw.strip()
    if text == owner.extension:
        raise ValidationError(f"{owner.extension} cannot speed-dial itself")
    if app.directory().user(ent.id, text) is not None:
        return text
    e164 = numbers.try_normalise(text, ent.country)
    if e164 is None:
        raise ValidationError(f"{raw!r} is no extension of {ent.name} and no valid number")
    klass = numbers.classify(e164, ent.country)
    if not _plan_allows(app, ent, owner, e164, klass):  # the owner's calling plan (GRP-1)
        article = "an" if klass.value[0] in "aeiou" else "a"
        raise ValidationError(
            f"{e164} is {article} {klass.value} number, which the outgoing calling plan of "
            f"{owner.extension} does not allow"
        )
    return e164


def set_speed_dial(
    app: Pbx, enterprise: str | None, extension: str, slot: str, number: str
) -> UserView:
    """Slot ``2``..``9`` (8 short entries) or ``00``..``99`` (100 entries) dials ``number``."""
    if not SPEED_DIAL_SLOT_RE.match(slot):
        raise ValidationError(
            f"invalid speed dial slot {slot!r}: one digit 2-9, or two digits 00-99"
        )
    view, user = _load(app, enterprise, extension)
    target = speed_dial_target(app, enterprise, view, number)
    if dict(view.speed_dials).get(slot) != target:
        user.set_speed_dial(slot, target)
        app.save(user)
    return app.user(enterprise, extension)


def remove_speed_dial(app: Pbx, enterprise: str | None, extension: str, slot: str) -> UserView:
    if not SPEED_DIAL_SLOT_RE.match(slot):
        raise ValidationError(
            f"invalid speed dial slot {slot!r}: one digit 2-9, or two digits 00-99"
        )
    view, user = _load(app, enterprise, extension)
    if slot not in dict(view.speed_dials):
        raise ValidationError(f"{extension} has no speed dial in slot {slot}")
    user.remove_speed_dial(slot)
    app.save(user)
    return app.user(enterprise, extension)


# -- privacy (USR-19) --------------------------------------------------------------------
def set_privacy(app: Pbx, enterprise: str | None, extension: str, on: bool) -> UserView:
    """Privacy on: the user leaves the phone book, other phones' busy lamps and pickup."""
    view, user = _load(app, enterprise, extension)
    if view.privacy != on:
        user.set_privacy(on)
        app.save(user)
    return app.user(enterprise, extension)


# -- ringing extras: alternate numbers (USR-10), priority alert (USR-18), shared call
# -- appearance (USR-21), per-number schedules (USR-9) -------------------------------------
MAX_ALTERNATES = 10
MAX_PRIORITY_ALERTS = 20
MAX_DEVICES = 10
DEVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")


def _alternate_of(app: Pbx, enterprise: str | None, view: UserView, raw: str) -> str:
    """``raw`` as an alternate number of ``view``: a free extension of the plan, or an
    E.164 number nobody on the exchange owns."""
    ent = app.enterprise(enterprise)
    directory = app.directory()
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) <= 6:  # an extension
        if not ent.in_plan(text):
            raise ValidationError(
                f"extension {text!r} is outside the plan of {ent.name!r} "
                f"({ent.extension_low}-{ent.extension_high})"
            )
        if text in numbers.EMERGENCY_NUMBERS:
            raise ValidationError(f"extension {text} is an emergency number")
        taken = directory.user(ent.id, text)
        if taken is not None:
            raise ValidationError(f"extension {text} is already taken by {taken.name}")
        other = directory.alternate(ent.id, text)
        if other is not None:
            raise ValidationError(f"{text} is alternate number {other[1]} of "
                                  f"{other[0].extension} already")
        target = directory.target(ent.id, text)
        if target is not None:
            raise ValidationError(f"extension {text} is already taken by {target.label()}")
        return text
    e164 = numbers.normalise(text, ent.country)
    owner = directory.user_with_number(e164)
    if owner is not None:
        raise ValidationError(f"number {e164} already belongs to {owner.extension} "
                              f"({owner.name})")
    target = directory.target_with_number(e164)
    if target is not None:
        raise ValidationError(f"number {e164} already belongs to {target.label()}")
    enterprise_owner = directory.enterprise_with_number(e164)
    if enterprise_owner is not None and enterprise_owner.id != ent.id:
        raise ValidationError(f"number {e164} already belongs to {enterprise_owner.name!r}")
    if directory.user_with_mobile(e164) is not None or e164 == view.mobile:
        raise ValidationError(f"number {e164} is a mobile number of a user")
    return e164


def add_alternate(
    app: Pbx, enterprise: str | None, extension: str, raw: str, ring: int | None = None
) -> tuple[UserView, str]:
    """Alternate number (USR-10): ``raw`` reaches the user too; ring 2 and 3 are
    distinctive. Without ``ring`` the 2nd and 3rd alternate get ring 2 and 3, others 1."""
    view, user = _load(app, enterprise, extension)
    if len(view.alternates) >= MAX_ALTERNATES:
        raise ValidationError(f"{extension} has {MAX_ALTERNATES} alternate numbers already: "
                              f"no more than {MAX_ALTERNATES}")
    if ring is not None and ring not in (1, 2, 3):
        raise ValidationError(f"invalid ring {ring}: use 1 (normal), 2 or 3 (distinctive)")
    number = _alternate_of(app, enterprise, view, raw)
    place = len(view.alternates) + 1
    chosen = ring if ring is not None else (place if place in (2, 3) else 1)
    to_save: list[Aggregate] = []
    ent = app.enterprise(enterprise)
    if number.startswith("+") and number not in ent.numbers:  # the enterprise owns it too
        owned: Enterprise = app.repository.get(ent.id)
        owned.assign_number(number)
        to_save.append(owned)
    user.add_alternate_number(number, chosen)
    app.save(*to_save, user)
    return app.user(enterprise, extension), number


def remove_alternate(app: Pbx, enterprise: str | None, extension: str, raw: str) -> str:
    """Remove an alternate number (given as added, or in any national/E.164 form)."""
    view, user = _load(app, enterprise, extension)
    text = raw.strip()
    wanted = {text}
    e164 = numbers.try_normalise(text, app.enterprise(enterprise).country)
    if e164 is not None:
        wanted.add(e164)
    found = next((a.number for a in view.alternates if a.number in wanted), None)
    if found is None:
        raise ValidationError(f"{text} is no alternate number of {extension}")
    user.remove_alternate_number(found)
    app.save(user)
    return found


def add_priority_alert(
    app: Pbx, enterprise: str | None, extension: str, pattern: str, schedule: str | None = None
) -> UserView:
    """Priority alert (USR-18): callers matching ``pattern`` (while ``schedule`` is open)
    ring with a distinctive ring."""
    if not PATTERN_RE.match(pattern):
        raise ValidationError(
            f"invalid caller pattern {pattern!r}: digits with X or * wildcards, or 'anonymous'"
        )
    view, user = _load(app, enterprise, extension)
    if schedule is not None and app.directory().schedule(view.enterprise_id, schedule) is None:
        raise ValidationError(f"unknown schedule: {schedule!r}")
    if any(r.pattern == pattern for r in view.priority_alerts):
        raise ValidationError(f"{extension} already has the priority alert {pattern}")
    if len(view.priority_alerts) >= MAX_PRIORITY_ALERTS:
        raise ValidationError(f"{extension} has {MAX_PRIORITY_ALERTS} priority alerts already")
    user.add_priority_alert(pattern, schedule)
    app.save(user)
    return app.user(enterprise, extension)


def remove_priority_alert(
    app: Pbx, enterprise: str | None, extension: str, pattern: str
) -> UserView:
    view, user = _load(app, enterprise, extension)
    if not any(r.pattern == pattern for r in view.priority_alerts):
        raise ValidationError(f"{extension} has no priority alert {pattern}")
    user.remove_priority_alert(pattern)
    app.save(user)
    return app.user(enterprise, extension)


def add_device(
    app: Pbx, enterprise: str | None, extension: str, name: str, password: str
) -> str:
    """Shared call appearance (USR-21): a SIP account ``EXT-NAME`` that rings with the
    user's desk phone and calls as the user. Returns the SIP user name."""
    view, user = _load(app, enterprise, extension)
    if not DEVICE_NAME_RE.match(name):
        raise ValidationError(
            f"invalid device name {name!r}: 1 to 16 lower-case letters and digits, "
            "starting with a letter"
        )
    if any(d.name == name for d in view.devices):
        raise ValidationError(f"{extension} has a device {name!r} already")
    if len(view.devices) >= MAX_DEVICES:
        raise ValidationError(f"{extension} has {MAX_DEVICES} devices already: "
                              f"no more than {MAX_DEVICES}")
    if len(password) < 8:
        raise ValidationError("a SIP password needs at least 8 characters")
    username = f"{extension}-{name}"
    domain = app.enterprise(enterprise).domain
    user.add_device(name, hash_secret(password, os.urandom(16)),
                    sip_a1_hash(username, domain, password))
    app.save(user)
    return username


def remove_device(app: Pbx, enterprise: str | None, extension: str, name: str) -> str:
    view, user = _load(app, enterprise, extension)
    if not any(d.name == name for d in view.devices):
        raise ValidationError(f"{extension} has no device {name!r}")
    user.remove_device(name)
    app.save(user)
    return f"{extension}-{name}"


def set_leg_schedules(
    app: Pbx, enterprise: str | None, extension: str,
    legs: Mapping[str, str | None], check_only: bool = False,
) -> UserView:
    """Per-number schedules (USR-9): ``legs`` maps "desk" (desk phones and shared devices)
    and/or "mobile" to the schedule while which that leg rings (None: always); a leg not
    given keeps its schedule. ``check_only``: validate, write nothing."""
    unknown = set(legs) - {"desk", "mobile"}
    if unknown:
        raise ValidationError(f"unknown leg {sorted(unknown)[0]!r}: use desk or mobile")
    view, user = _load(app, enterprise, extension)
    directory = app.directory()
    chosen = {"desk": view.desk_schedule, "mobile": view.mobile_schedule}
    for leg, name in legs.items():
        if name is not None:
            found = directory.schedule(view.enterprise_id, name)
            if found is None:
                raise ValidationError(f"unknown schedule for --{leg}-schedule: {name!r}")
            name = found.name
        chosen[leg] = name
    if check_only:
        return view
    if (chosen["desk"], chosen["mobile"]) != (view.desk_schedule, view.mobile_schedule):
        user.set_leg_schedules(chosen["desk"], chosen["mobile"])
        app.save(user)
    return app.user(enterprise, extension)
