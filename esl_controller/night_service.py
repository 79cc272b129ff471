"""Use cases of night services (CORE-3) and forwarding toolboxes (OPT-2).

Every use case validates first and writes nothing on bad input. Destinations are checked
like a user's forwarding: a user's or target's extension, ``vm:EXT`` (a user's voicemail
box), or a number the outgoing calling plan allows (premium and international refused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from esl_controller import licences  # package limits (OPT-6)
from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.calling_plan import allows
from esl_controller.domain.night_service import MODES, NightService
from esl_controller.domain.toolboxes import RULE_KINDS, Toolbox
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing.night import NightDecision, night_decision
from projections.directory import EnterpriseView
from projections.night_fold import NightServiceView, ToolboxRule, ToolboxView

TOOLBOX_NAME_RE = re.compile(r"[\w -]{1,40}")
PATTERN_RE = re.compile(r"^(anonymous|\+?[0-9*#X.]{1,20})$")
OFF = "off"  # as a toolbox rule's destination: clear the rule


@dataclass(frozen=True, slots=True)
class Owner:
    """What a night service or toolbox belongs to: a user or a target."""

    id: UUID
    kind: str  # "user" or the target's kind
    label: str  # "user 102 (Bob)", "hunt group Sales (ext. 600)"
    extension: str | None


def resolve_owner(app: Pbx, ent: EnterpriseView, text: str) -> Owner:
    """A user's extension, or a target's extension or name (case-insensitive)."""
    wanted = text.strip()
    directory = app.directory()
    user = directory.user(ent.id, wanted)
    if user is not None:
        return Owner(user.id, "user", f"user {user.extension} ({user.name})", user.extension)
    target = directory.target(ent.id, wanted)
    if target is None:
        named = [t for t in directory.targets_of(ent.id) if t.name.lower() == wanted.lower()]
        if len(named) > 1:
            raise ValidationError(
                f"{wanted!r} names {len(named)} targets ("
                + ", ".join(t.label() for t in named) + "): give the extension")
        target = named[0] if named else None
    if target is None:
        raise NotFoundError(f"no user or target {wanted!r} in {ent.name!r}")
    return Owner(target.id, target.kind, target.label(), target.extension)


def valid_destination(app: Pbx, ent: EnterpriseView, raw: str, owner: Owner | None) -> str:
    """``raw`` as routing will read it: an extension, ``vm:EXT`` or an E.164 number."""
    text = raw.strip()
    if not text:
        raise ValidationError("empty destination: give an extension, vm:EXT or a number")
    directory = app.directory()
    if text.lower().startswith("vm:"):
        box = text[3:].strip()
        if directory.user(ent.id, box) is None:
            raise ValidationError(f"{text!r}: {box!r} is no user of {ent.name!r}")
        return f"vm:{box}"
    if owner is not None and text == owner.extension:
        raise ValidationError(f"{owner.label} cannot send its calls to itself")
    if directory.user(ent.id, text) is not None or directory.target(ent.id, text) is not None:
        return text
    alternate = directory.alternate(ent.id, text) if not text.startswith("+") else None
    if alternate is not None:
        return alternate[0].extension
    e164 = numbers.try_normalise(text, ent.country)
    if e164 is None:
        raise ValidationError(
            f"{text!r} is no extension of {ent.name!r} and no telephone number")
    klass = numbers.classify(e164, ent.country)
    if not allows(klass, directory.calling_plan_for(ent.id)):  # the enterprise's plan
        article = "an" if klass.value[0] in "aeiou" else "a"
        raise ValidationError(
            f"{e164} is {article} {klass.value} number, which the outgoing calling plan "
            "does not allow")
    return e164


def _valid_schedule(app: Pbx, ent: EnterpriseView, name: str) -> str:
    found = app.directory().schedule(ent.id, name)
    if found is None:
        raise ValidationError(f"unknown schedule: {name.strip()!r} (see 'pbx schedule list')")
    return found.name


# -- night service -----------------------------------------------------------------------


def set_night_service(
    app: Pbx,
    enterprise: str | None,
    target: str,
    mode: str,
    to: str | None = None,
    schedule: str | None = None,
) -> tuple[Owner, NightServiceView]:
    """Night service of a user or target on, off or automatic (by schedule).

    ``to`` and ``schedule`` are kept from the current setting when not given, so
    ``night-service Sales on`` switches back to the destination set before."""
    mode = mode.strip().lower()
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}: use on, off or auto")
    ent = app.enterprise(enterprise)
    owner = resolve_owner(app, ent, target)
    current = app.directory().night_service(owner.id)
    destination = (valid_destination(app, ent, to, owner) if to is not None
                   else current.destination if current else None)
    schedule_name = (_valid_schedule(app, ent, schedule) if schedule is not None
                     else current.schedule if current else None)
    if mode in ("on", "auto") and destination is None:
        raise ValidationError(f"night service {mode} needs a destination: give --to DEST")
    if mode == "auto" and schedule_name is None:
        raise ValidationError("automatic night service needs --schedule NAME")
    night_id = NightService.create_id(ent.id, owner.id)
    unchanged = current is not None and (
        (current.mode, current.destination, current.schedule)
        == (mode, destination, schedule_name))
    if not unchanged:
        night: NightService
        try:
            night = app.repository.get(night_id)
            night.set(mode, destination, schedule_name)
        except AggregateNotFoundError:
            night = NightService(ent.id, owner.id, owner.kind, mode, destination, schedule_name)
        app.save(night)
    view = app.directory().night_service(owner.id)
    assert view is not None
    return owner, view


def night_service_status(
    app: Pbx, enterprise: str | None, target: str, at: datetime
) -> tuple[Owner, NightServiceView | None, NightDecision | None]:
    """The night service of a user or target and whether it diverts calls at ``at``."""
    ent = app.enterprise(enterprise)
    owner = resolve_owner(app, ent, target)
    directory = app.directory()
    view = directory.night_service(owner.id)
    if view is None:
        return owner, None, None
    return owner, view, night_decision(directory, ent, view, at)


def list_night_services(app: Pbx, enterprise: str | None) -> list[tuple[str, NightServiceView]]:
    """(owner label, night service) of every configured user and target of the enterprise."""
    ent = app.enterprise(enterprise)
    directory = app.directory()
    found: list[tuple[str, NightServiceView]] = []
    for view in directory.night_services.values():
        if view.enterprise_id != ent.id:
            continue
        user = directory.users.get(view.owner_id)
        target = directory.targets.get(view.owner_id)
        if user is not None:
            found.append((user.extension, view))
        elif target is not None:
            found.append((target.extension or target.name, view))
    return sorted(found, key=lambda f: (len(f[0]), f[0]))


# -- toolboxes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One rule of a toolbox set (``destination``) or cleared (``destination`` is "off")."""

    kind: str
    destination: str
    after_seconds: int | None = None
    schedule: str | None = None
    from_pattern: str | None = None


def get_toolbox(app: Pbx, enterprise: str | None, name: str) -> ToolboxView:
    ent = app.enterprise(enterprise)
    found = app.directory().toolbox(ent.id, name)
    if found is None:
        raise NotFoundError(f"no toolbox named {name.strip()!r} in {ent.name!r}")
    return found


def list_toolboxes(app: Pbx, enterprise: str | None) -> list[ToolboxView]:
    ent = app.enterprise(enterprise)
    return app.directory().toolboxes_of(ent.id)


def add_toolbox(
    app: Pbx,
    enterprise: str | None,
    name: str,
    changes: tuple[RuleChange, ...] = (),
    reject_anonymous: bool | None = None,
) -> ToolboxView:
    """A new toolbox, with its first rules; a removed name may be used again."""
    ent = app.enterprise(enterprise)
    name = name.strip()
    if not TOOLBOX_NAME_RE.fullmatch(name):
        raise ValidationError(
            f"invalid toolbox name {name!r}: 1 to 40 letters, digits, spaces, '-' or '_'")
    if app.directory().toolbox(ent.id, name) is not None:
        raise ValidationError(f"toolbox {name!r} already exists in {ent.name!r}")
    licences.check_allowed(app, ent.name, "toolbox",  # package limits (OPT-6)
                           len(app.directory().toolboxes_of(ent.id)))
    rules = _valid_changes(app, ent, changes, ())
    box: Toolbox
    try:
        box = app.repository.get(Toolbox.create_id(ent.id, name))
        box.reinstate(name)
    except AggregateNotFoundError:
        box = Toolbox(ent.id, name)
    _record(box, rules, reject_anonymous)
    app.save(box)
    return get_toolbox(app, ent.name, name)


def change_toolbox(
    app: Pbx,
    enterprise: str | None,
    name: str,
    changes: tuple[RuleChange, ...] = (),
    reject_anonymous: bool | None = None,
) -> ToolboxView:
    """Set or clear rules of a toolbox; refused when nothing would change."""
    ent = app.enterprise(enterprise)
    found = get_toolbox(app, ent.name, name)
    rules = _valid_changes(app, ent, changes, found.attached)
    new = [r for r in rules if _differs(found, r)]
    anonymous = (reject_anonymous if reject_anonymous is not None
                 and reject_anonymous != found.reject_anonymous else None)
    if not new and anonymous is None:
        raise ValidationError(f"nothing to change in toolbox {found.name!r}")
    box: Toolbox = app.repository.get(found.id)
    _record(box, tuple(new), anonymous)
    app.save(box)
    return get_toolbox(app, ent.name, found.name)


def attach_toolbox(app: Pbx, enterprise: str | None, name: str, target: str
                   ) -> tuple[ToolboxView, Owner]:
    """Attach a toolbox to a target (menu, hunt group, call center ...); one per target."""
    ent = app.enterprise(enterprise)
    found = get_toolbox(app, ent.name, name)
    owner = resolve_owner(app, ent, target)
    if owner.kind == "user":
        raise ValidationError(
            f"toolboxes serve menus, hunt groups and call centers, not users: for {owner.label} "
            "use 'pbx user forward'")
    attached = app.directory().toolbox_of_target(owner.id)
    if attached is not None:
        raise ValidationError(
            f"{owner.label} already has toolbox {attached.name!r}"
            + ("" if attached.id == found.id else ": detach it first"))
    for rule in found.rules:
        if owner.extension and rule.destination == owner.extension:
            raise ValidationError(
                f"toolbox {found.name!r} sends {rule.kind} calls to {owner.extension}: "
                f"it cannot serve {owner.label} itself")
    box: Toolbox = app.repository.get(found.id)
    box.attach(owner.id)
    app.save(box)
    return get_toolbox(app, ent.name, found.name), owner


def detach_toolbox(app: Pbx, enterprise: str | None, name: str, target: str
                   ) -> tuple[ToolboxView, Owner]:
    ent = app.enterprise(enterprise)
    found = get_toolbox(app, ent.name, name)
    owner = resolve_owner(app, ent, target)
    if owner.id not in found.attached:
        raise ValidationError(f"toolbox {found.name!r} is not attached to {owner.label}")
    box: Toolbox = app.repository.get(found.id)
    box.detach(owner.id)
    app.save(box)
    return get_toolbox(app, ent.name, found.name), owner


def remove_toolbox(app: Pbx, enterprise: str | None, name: str) -> ToolboxView:
    """Remove a toolbox; the targets it served lose it."""
    found = get_toolbox(app, enterprise, name)
    box: Toolbox = app.repository.get(found.id)
    box.remove()
    app.save(box)
    return found


def _valid_changes(
    app: Pbx, ent: EnterpriseView, changes: tuple[RuleChange, ...], attached: tuple[UUID, ...]
) -> tuple[RuleChange, ...]:
    directory = app.directory()
    served = [t for t in (directory.targets.get(tid) for tid in attached) if t is not None]
    kinds = [c.kind for c in changes]
    if len(set(kinds)) != len(kinds):
        raise ValidationError("each rule once per command")
    valid: list[RuleChange] = []
    for change in changes:
        kind = change.kind
        if kind not in RULE_KINDS:
            raise ValidationError(f"unknown rule {kind!r}: use {', '.join(RULE_KINDS)}")
        if change.destination.strip().lower() == OFF:
            if (change.after_seconds, change.schedule, change.from_pattern) != (None,) * 3:
                raise ValidationError(f"--{kind} off takes no --after, --schedule or --from")
            valid.append(RuleChange(kind, OFF))
            continue
        destination = valid_destination(app, ent, change.destination, None)
        for target in served:
            if target.extension and destination == target.extension:
                raise ValidationError(
                    f"{kind} to {destination} would send calls of {target.label()} to itself")
        after = change.after_seconds
        if after is not None and kind != "no-answer":
            raise ValidationError("--after applies to the no-answer rule only")
        if kind == "no-answer":
            after = 20 if after is None else after
            if not 5 <= after <= 120:
                raise ValidationError("--after is 5 to 120 seconds")
        schedule = change.schedule
        if kind in ("night", "selective"):
            if schedule is None:
                raise ValidationError(f"the {kind} rule needs --schedule NAME")
            schedule = _valid_schedule(app, ent, schedule)
        elif schedule is not None:
            raise ValidationError("--schedule applies to the night and selective rules only")
        pattern = change.from_pattern
        if pattern is not None:
            if kind != "selective":
                raise ValidationError("--from applies to the selective rule only")
            if not PATTERN_RE.match(pattern):
                raise ValidationError(
                    f"invalid caller pattern {pattern!r}: digits with X or * wildcards, "
                    "or 'anonymous'")
        valid.append(RuleChange(kind, destination, after, schedule, pattern))
    return tuple(valid)


def _record(box: Toolbox, rules: tuple[RuleChange, ...], reject_anonymous: bool | None) -> None:
    for rule in rules:
        if rule.destination == OFF:
            if rule.kind in box.rules:
                box.clear_rule(rule.kind)
        else:
            box.set_rule(rule.kind, rule.destination, rule.after_seconds, rule.schedule,
                         rule.from_pattern)
    if reject_anonymous is not None and reject_anonymous != box.reject_anonymous:
        box.set_reject_anonymous(reject_anonymous)


def _differs(found: ToolboxView, change: RuleChange) -> bool:
    current = found.rule(change.kind)
    if change.destination == OFF:
        return current is not None
    return current != ToolboxRule(change.kind, change.destination, change.after_seconds,
                                  change.schedule, change.from_pattern)
