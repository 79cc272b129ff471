"""IVR menus (OPT-1): answer, play the greeting while collecting one key, act on it.

The menu's schedule picks the variant: while it is closed and the menu has an after-hours
variant, that variant's greeting and keys apply (else the business-hours ones). A key sends
the caller on through ``targets.reach`` without inhibiting anything (a menu transfer is not
a diversion: the user's own services apply) or, for a sub-menu, into that menu.

No key within the timeout, or a key that does nothing here, uses up one try (an unknown
key is answered with "that was an invalid entry"); the greeting plays again. After the last
try the call goes to the menu's operator, or, with none, the caller hears "goodbye" and the
call ends. ``repeat`` replays the greeting without using a try, at most ``MAX_REPEATS``
times per visit (after that it counts as an invalid key, so no call circles forever).
"""

from __future__ import annotations

from esl_controller.domain.menus import AFTER_HOURS, BUSINESS, KeyAction, MenuKey
from esl_controller.domain.schedules import decide
from esl_controller.routing import targets
from esl_controller.routing.actions import Answer, CollectDigits, Hangup, Playback
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import Digits
from esl_controller.routing.script import Script
from esl_controller.routing.targets import TargetCall
from projections.menus_fold import KIND, MenuView

# FreeSWITCH's stock sounds (relative to sound_prefix).
DEFAULT_GREETING = "ivr/ivr-welcome.wav"
INVALID = "ivr/ivr-that_was_an_invalid_entry.wav"
GOODBYE = "voicemail/vm-goodbye.wav"
MAX_REPEATS = 5
SERVICE = "menu"


@targets.register(KIND)
def menu_call(call: TargetCall) -> Script:
    directory = call.where.directory
    menu = directory.menus.get(call.target.id)
    if menu is None:
        call.trace.add(SERVICE, "gone", f"{call.target.label()} no longer exists")
        yield from targets.refuse(call.trace, HangupCause.UNALLOCATED_NUMBER)
        return
    variant_name = _variant(call, menu)
    variant = menu.variant(variant_name)
    greeting = variant.greeting or DEFAULT_GREETING
    hours = "after-hours" if variant_name == AFTER_HOURS else "business-hours"
    label = f"menu {menu.name}"
    call.trace.add(SERVICE, "greeting", f"{label}: caller hears the {hours} greeting "
                   f"({'stock' if variant.greeting is None else 'own'})")
    yield Answer()
    failures = repeats = 0
    while True:
        outcome = yield CollectDigits(greeting, 1, 1, menu.timeout, terminators="", tries=1)
        pressed = outcome.value if isinstance(outcome, Digits) else ""
        key = variant.key(pressed) if pressed else None
        if key is not None and key.action is KeyAction.REPEAT and repeats < MAX_REPEATS:
            repeats += 1
            call.trace.add(SERVICE, f"key {pressed}",
                           f"{label}: caller pressed {pressed} -> repeat the menu")
            continue
        if key is not None and key.action is not KeyAction.REPEAT:
            yield from _act(call, menu, key)
            return
        failures += 1
        tries = f"try {failures} of {menu.retries}"
        if not pressed:
            call.trace.add(SERVICE, "no key",
                           f"{label}: no key pressed within {menu.timeout} s ({tries})")
        else:
            call.trace.add(SERVICE, "invalid key",
                           f"{label}: caller pressed {pressed}, which does nothing here ({tries})")
        if failures >= menu.retries:
            break
        if pressed:
            yield Playback(INVALID)
    if menu.operator:
        call.trace.add(SERVICE, "to operator",
                       f"{label}: no choice after {menu.retries} tries -> operator {menu.operator}")
        yield from targets.reach(call, menu.operator, f"{label} operator", inhibit=False)
        return
    call.trace.add(SERVICE, "goodbye", f"{label}: no choice after {menu.retries} tries and no "
                   "operator: caller hears goodbye, call ends")
    yield Playback(GOODBYE)
    yield Hangup(HangupCause.NORMAL_CLEARING)


def _variant(call: TargetCall, menu: MenuView) -> str:
    """Which key map applies now: after hours only with a schedule that says closed and an
    after-hours variant configured."""
    if menu.schedule is None or not menu.after_hours.configured:
        return BUSINESS
    label = f"menu {menu.name}"
    schedule = call.where.directory.schedule(call.enterprise.id, menu.schedule)
    if schedule is None or call.where.now is None:
        call.trace.add(SERVICE, "business hours", f"{label}: schedule {menu.schedule} cannot "
                       "be read now: the business-hours keys apply")
        return BUSINESS
    decision = decide(schedule.hours, schedule.holidays, call.enterprise.timezone,
                      call.where.now)
    if decision.open:
        call.trace.add(SERVICE, "business hours",
                       f"{label}: schedule {schedule.name} is {decision.reason}")
        return BUSINESS
    call.trace.add(SERVICE, "after hours", f"{label}: schedule {schedule.name} is "
                   f"{decision.reason}: the after-hours keys apply")
    return AFTER_HOURS


def _act(call: TargetCall, menu: MenuView, key: MenuKey) -> Script:
    directory = call.where.directory
    label = f"menu {menu.name}"
    dest = menu.operator if key.action is KeyAction.OPERATOR else key.destination
    if key.action is KeyAction.MENU:
        sub = directory.menu(call.enterprise.id, dest or "")
        target = None if sub is None else directory.targets.get(sub.id)
        if target is None:
            call.trace.add(SERVICE, f"key {key.key}", f"{label}: caller pressed {key.key} -> "
                           f"menu {dest}, which no longer exists")
            yield from targets.refuse(call.trace, HangupCause.UNALLOCATED_NUMBER)
            return
        call.trace.add(SERVICE, f"key {key.key}",
                       f"{label}: caller pressed {key.key} -> menu {target.name}")
        yield from targets.enter(targets.to_target(call, target))
        return
    call.trace.add(SERVICE, f"key {key.key}",
                   f"{label}: caller pressed {key.key} -> {_describe(call, menu, key)}")
    if not dest:
        yield from targets.refuse(call.trace, HangupCause.UNALLOCATED_NUMBER)
        return
    yield from targets.reach(call, dest, f"{label} key {key.key}", inhibit=False)


def _describe(call: TargetCall, menu: MenuView, key: MenuKey) -> str:
    """The key's destination as it resolves now: ``hunt group Sales (ext. 600)``."""
    if key.action is KeyAction.OPERATOR:
        return f"operator {menu.operator}"
    dest = key.destination or ""
    directory, ent = call.where.directory, call.enterprise
    ext = dest[3:] if dest.startswith("vm:") else dest
    user = directory.user(ent.id, ext)
    if user is not None:
        what = "voicemail of" if dest.startswith("vm:") else "user"
        return f"{what} {user.extension} ({user.name})"
    target = directory.target(ent.id, ext)
    if target is not None:
        return target.label()
    return f"{key.action.value} {dest}"
