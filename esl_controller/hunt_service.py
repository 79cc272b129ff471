"""Hunt groups (CORE-2): the administration use cases and the ``hunt`` service of the calls.

``HuntGroups`` validates, then records: nothing is written on bad input (unknown members,
an extension or number already given out, a bad policy, weights on a group that is not
weighted, forwarding to a destination that does not exist or that the calling plan blocks).
The CLI (``pbx hunt-group``) and the sign-in / sign-out feature codes both come here.

``HuntService.handle`` answers the routing script's ``Command("hunt", NAME, args)``:

- ``next``: bring the controller's directory up to date (so a call right after another sees
  its offer) and supply the seed of the weighted policy;
- ``offered`` / ``answered``: record ``HuntGroupCallOffered`` / ``HuntGroupCallAnswered``
  on the group's rotation, then fold them into the directory at once;
- ``sign-out`` / ``sign-in``: the calling user (``*35`` / ``*36`` + group extension).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from esl_controller import licences  # package limits (OPT-6)
from esl_controller.application import NAME_RE, Pbx
from esl_controller.domain import numbers
from esl_controller.domain.calling_plan import allows
from esl_controller.domain.hunt_groups import (
    DEFAULT_MEMBER_TIMEOUT,
    DEFAULT_WEIGHT,
    MAX_MEMBERS,
    MEMBER_TIMEOUT_RANGE,
    POLICIES,
    TOTAL_TIMEOUT_RANGE,
    WEIGHT_RANGE,
    HuntGroup,
    HuntGroupRotation,
)
from esl_controller.domain.mailboxes import Mailbox
from esl_controller.errors import NotFoundError, PbxError, ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.hunt_group import MemberState, hunt_order, member_states
from esl_controller.routing.outcomes import CommandResult
from projections.directory import Directory, EnterpriseView
from projections.hunt_groups_fold import HuntGroupView, HuntRotationView

log = logging.getLogger(__name__)

SAVE_RETRIES = 3


class HuntGroups:
    """The use cases of ``pbx hunt-group``: validate against the directory, then record."""

    def __init__(self, app: Pbx) -> None:
        self.app = app

    # -- reading -------------------------------------------------------------------------
    def group(self, enterprise: str | None, name: str) -> HuntGroupView:
        """The group called ``name`` (or with extension ``name``)."""
        ent = self.app.enterprise(enterprise)
        directory = self.app.directory()
        found = directory.hunt_group_named(ent.id, name)
        if found is None:
            target = directory.target(ent.id, name.strip())
            found = directory.hunt_groups.get(target.id) if target is not None else None
        if found is None:
            raise NotFoundError(f"no hunt group {name.strip()!r} in {ent.name!r}")
        return found

    def groups(self, enterprise: str | None) -> list[HuntGroupView]:
        return self.app.directory().hunt_groups_of(self.app.enterprise(enterprise).id)

    def states(self, group: HuntGroupView,
               busy: Callable[[str, str], bool] | None = None) -> list[MemberState]:
        return member_states(self.app.directory(), group, busy)

    def next_members(self, group: HuntGroupView) -> list[str]:
        """Circular and uniform: the order the next call will be offered in (before the
        members that are unavailable then are skipped)."""
        rotation = self.app.directory().hunt_rotations.get(group.id, HuntRotationView())
        return hunt_order(group, rotation, 0)

    # -- changing ------------------------------------------------------------------------
    def add(
        self,
        enterprise: str | None,
        name: str,
        extension: str,
        policy: str,
        members: Sequence[str],
        numbers_: Sequence[str] = (),
        member_timeout: int = DEFAULT_MEMBER_TIMEOUT,
        no_answer: str | None = None,
        after: int | None = None,
        busy: str | None = None,
        not_reachable: str | None = None,
    ) -> HuntGroupView:
        ent = self.app.enterprise(enterprise)
        name = name.strip()
        if not NAME_RE.match(name):
            raise ValidationError(f"invalid hunt group name: {name!r}")
        directory = self.app.directory()
        existing = directory.hunt_group_named(ent.id, name)
        if existing is not None:
            raise ValidationError(f"hunt group {existing.name} already exists in {ent.name!r}")
        policy = policy.strip().lower()
        if policy not in POLICIES:
            raise ValidationError(f"unknown policy {policy!r}: use {', '.join(POLICIES)}")
        licences.check_allowed(self.app, ent.name, "hunt-group",  # package limits (OPT-6)
                               len(directory.targets_of(ent.id, "hunt-group")))
        extension = self.app.check_extension_free(ent, extension)
        e164s: list[str] = []
        for raw in numbers_:
            e164 = self.app.check_number_free(ent, raw)
            if e164 in e164s:
                raise ValidationError(f"number {e164} is given twice")
            e164s.append(e164)
        parsed = self._members(ent, members, policy)
        _check_range("member timeout", member_timeout, MEMBER_TIMEOUT_RANGE)
        if after is not None:
            _check_range("group no-answer time (--after)", after, TOTAL_TIMEOUT_RANGE)
        forwarding: dict[str, str] = {}
        for kind, raw_dest in (("no-answer", no_answer), ("busy", busy),
                               ("not-reachable", not_reachable)):
            if raw_dest is not None:
                forwarding[kind] = self.destination(ent, raw_dest, extension, e164s)
        config: dict[str, Any] = dict(
            name=name, extension=extension, numbers=e164s, policy=policy,
            members=[[m, w] for m, w in parsed], member_timeout=member_timeout,
            total_timeout=after, forwarding=forwarding,
        )
        group_id = HuntGroup.create_id(ent.id, name)
        try:
            group: HuntGroup = self.app.repository.get(group_id)
            group.reinstate(**config)
        except AggregateNotFoundError:
            group = HuntGroup(ent.id, **config)
        self.app.save(group)
        return self.group(ent.name, name)

    def _members(self, ent: EnterpriseView, raw: Sequence[str], policy: str
                 ) -> list[tuple[str, int]]:
        """``EXT`` or, for a weighted group, ``EXT:WEIGHT``: existing users, each once."""
        found: list[tuple[str, int]] = []
        for item in raw:
            text = item.strip()
            if not text:
                continue
            ext, sep, weight_text = text.partition(":")
            weight = self._weight(policy, int(weight_text) if weight_text.isdigit() else None,
                                  bad=sep != "" and not weight_text.isdigit(), text=text)
            ext = self._member_user(ent, ext.strip())
            if ext in (m for m, _ in found):
                raise ValidationError(f"member {ext} is listed twice")
            found.append((ext, weight))
        if not found:
            raise ValidationError("a hunt group needs at least one member (--members EXT,...)")
        if len(found) > MAX_MEMBERS:
            raise ValidationError(f"a hunt group has at most {MAX_MEMBERS} members")
        return found

    def _member_user(self, ent: EnterpriseView, extension: str) -> str:
        if self.app.directory().user(ent.id, extension) is None:
            raise ValidationError(f"unknown member: no user with extension {extension!r} in "
                                  f"{ent.name!r}")
        return extension

    @staticmethod
    def _weight(policy: str, weight: int | None, bad: bool = False, text: str = "") -> int:
        if bad:
            raise ValidationError(f"invalid member {text!r}: use EXT or EXT:WEIGHT")
        if weight is None:
            return DEFAULT_WEIGHT
        if policy != "weighted":
            raise ValidationError(f"weights apply to weighted groups only; this one is {policy}")
        _check_range("weight", weight, WEIGHT_RANGE)
        return weight

    def destination(self, ent: EnterpriseView, raw: str, own_extension: str,
                    own_numbers: Sequence[str] = ()) -> str:
        """A forwarding destination: ``vm:EXT``, an extension (user or target) other than the
        group's, or a number the outgoing calling plan allows (stored in E.164)."""
        text = raw.strip()
        directory = self.app.directory()
        if text.startswith("vm:"):
            owner = directory.user(ent.id, text[3:])
            if owner is None:
                raise ValidationError(f"no user {text[3:]!r} for the voicemail destination "
                                      f"{text!r}")
            try:
                box: Mailbox = self.app.repository.get(Mailbox.create_id(owner.id))
            except AggregateNotFoundError:
                box = None  # type: ignore[assignment]
            if box is None or not box.enabled:
                raise ValidationError(f"{owner.extension} has no voicemail box for {text!r}: "
                                      f"pbx voicemail enable {owner.extension}")
            return text
        if text == own_extension:
            raise ValidationError(f"the hunt group cannot forward to itself ({text})")
        if directory.user(ent.id, text) is not None or directory.target(ent.id, text):
            return text
        if text.isdigit() and ent.in_plan(text) and not text.startswith("0"):
            raise ValidationError(f"forwarding destination {text} is no user or group of "
                                  f"{ent.name!r}")
        try:
            e164 = numbers.normalise(text, ent.country)
        except ValidationError:
            raise ValidationError(f"forwarding destination {text!r} is no extension, vm:EXT "
                                  "or telephone number") from None
        if e164 in own_numbers:
            raise ValidationError(f"the hunt group cannot forward to its own number {e164}")
        klass = numbers.classify(e164, ent.country)
        if not allows(klass, directory.calling_plan_for(ent.id)):  # the enterprise's plan
            article = "an" if klass.value[0] in "aeiou" else "a"
            raise ValidationError(f"{e164} is {article} {klass.value} number, which the "
                                  "outgoing calling plan does not allow")
        return e164

    FORWARDS = {"no_answer": "no-answer", "busy": "busy", "not_reachable": "not-reachable"}

    def set(self, enterprise: str | None, name: str, changes: dict[str, Any]
            ) -> HuntGroupView:
        """Change a group's hunting in place (``pbx hunt-group set``): ``policy``,
        ``member_timeout``, ``after`` (the whole hunt's bound; None: none) and the
        ``no_answer`` / ``busy`` / ``not_reachable`` destinations (None: none). Checked as
        ``add`` checks them; one ``HuntGroupReconfigured`` event. Members keep their
        weights (used again if the group becomes weighted)."""
        view, group = self._load(enterprise, name)
        ent = self.app.directory().enterprises[view.enterprise_id]
        unknown = sorted(set(changes) - {"policy", "member_timeout", "after", *self.FORWARDS})
        if unknown:
            raise ValidationError(f"not a hunt group setting: {', '.join(unknown)}")
        if not changes:
            raise ValidationError("nothing to change: give at least one setting")
        policy = str(changes.get("policy", group.policy)).strip().lower()
        if policy not in POLICIES:
            raise ValidationError(f"unknown policy {policy!r}: use {', '.join(POLICIES)}")
        member_timeout = int(changes.get("member_timeout", group.member_timeout))
        _check_range("member timeout", member_timeout, MEMBER_TIMEOUT_RANGE)
        after = changes["after"] if "after" in changes else group.total_timeout
        if after is not None:
            _check_range("group no-answer time (--after)", after, TOTAL_TIMEOUT_RANGE)
        forwarding = dict(group.forwarding)
        for key, kind in self.FORWARDS.items():
            if key not in changes:
                continue
            if changes[key] is None:
                forwarding.pop(kind, None)
            else:
                forwarding[kind] = self.destination(ent, changes[key], view.extension,
                                                    view.numbers)
        if (policy, member_timeout, after, forwarding) == (
                group.policy, group.member_timeout, group.total_timeout, group.forwarding):
            raise ValidationError(f"hunt group {view.name} has these settings already")
        group.reconfigure(policy, member_timeout, after, forwarding)
        self.app.save(group)
        return self.group(ent.name, view.name)

    def _load(self, enterprise: str | None, name: str) -> tuple[HuntGroupView, HuntGroup]:
        view = self.group(enterprise, name)
        group: HuntGroup = self.app.repository.get(view.id)
        return view, group

    def add_member(self, enterprise: str | None, name: str, extension: str,
                   weight: int | None = None) -> HuntGroupView:
        view, group = self._load(enterprise, name)
        ent = self.app.directory().enterprises[view.enterprise_id]
        extension = self._member_user(ent, extension.strip())
        if extension in view.member_extensions():
            raise ValidationError(f"{extension} is already a member of hunt group {view.name}")
        if len(view.members) >= MAX_MEMBERS:
            raise ValidationError(f"a hunt group has at most {MAX_MEMBERS} members")
        group.add_member(extension, self._weight(view.policy, weight))
        self.app.save(group)
        return self.group(ent.name, view.name)

    def remove_member(self, enterprise: str | None, name: str, extension: str) -> HuntGroupView:
        view, group = self._load(enterprise, name)
        extension = extension.strip()
        if extension not in view.member_extensions():
            raise ValidationError(f"{extension} is no member of hunt group {view.name}")
        if len(view.members) == 1:
            raise ValidationError(f"{extension} is the last member of hunt group {view.name}: "
                                  "remove the group instead")
        group.remove_member(extension)
        self.app.save(group)
        return self.group(self.app.enterprises_name(view.enterprise_id), view.name)

    def remove(self, enterprise: str | None, name: str) -> HuntGroupView:
        view, group = self._load(enterprise, name)
        group.remove()
        self.app.save(group)
        self.app.directory()
        return view

    def sign(self, enterprise: str | None, name: str, extension: str, out: bool
             ) -> HuntGroupView:
        """A member signs out of (``out``) or back in to a group: signed out, never offered."""
        view, group = self._load(enterprise, name)
        extension = extension.strip()
        if extension not in view.member_extensions():
            raise ValidationError(f"{extension} is no member of hunt group {view.name}")
        if out and extension in view.signed_out:
            raise ValidationError(f"{extension} is already signed out of {view.name}")
        if not out and extension not in view.signed_out:
            raise ValidationError(f"{extension} is already signed in to {view.name}")
        if out:
            group.sign_out(extension)
        else:
            group.sign_in(extension)
        self.app.save(group)
        return self.group(self.app.enterprises_name(view.enterprise_id), view.name)


def _check_range(what: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValidationError(f"the {what} is {low} to {high}, not {value}")


class HuntService:
    """The ``hunt`` service of the call sessions (see the module docstring)."""

    def __init__(
        self,
        app: Pbx,
        directory: Callable[[], Directory],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        seeds: random.Random | None = None,
    ) -> None:
        self.app = app
        self.directory = directory  # the controller's live directory, which routing reads
        self.clock = clock
        self.seeds = seeds or random.Random()
        self.groups = HuntGroups(app)
        self._rotations: dict[UUID, HuntGroupRotation] = {}  # by group id, kept loaded

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        try:
            if command.name == "next":
                self._catch_up()
                return CommandResult(True, str(self.seeds.getrandbits(32)))
            if command.name in ("offered", "answered"):
                self._record(UUID(command.arg("group")), command.name, command.arg("member"))
                return CommandResult(True, "")
            if command.name in ("sign-out", "sign-in"):
                return self._sign(command, ctx)
        except (PbxError, ValueError) as exc:
            log.warning("call %s: hunt %s failed: %s", ctx.call_id, command.name, exc)
            return CommandResult(False, str(exc))
        return CommandResult(False, f"unknown command {command.name!r}")

    def _catch_up(self) -> None:
        self.app.catch_up(self.directory())

    def _record(self, group_id: UUID, what: str, member: str) -> None:
        for _attempt in range(SAVE_RETRIES):
            rotation = self._rotation(group_id)
            if what == "offered":
                rotation.offered(member, self.clock())
            else:
                rotation.answered_by(member, self.clock())
            try:
                self.app.save(rotation)
            except RecordConflictError:  # another controller wrote it: load it again
                self._rotations.pop(group_id, None)
                continue
            self._catch_up()
            return
        raise ValidationError(f"hunt group rotation {group_id}: too many concurrent writes")

    def _rotation(self, group_id: UUID) -> HuntGroupRotation:
        rotation = self._rotations.get(group_id)
        if rotation is None:
            try:
                rotation = self.app.repository.get(HuntGroupRotation.create_id(group_id))
            except AggregateNotFoundError:
                rotation = HuntGroupRotation(group_id)
            assert rotation is not None
            self._rotations[group_id] = rotation
        return rotation

    def _sign(self, command: Command, ctx: CallContext) -> CommandResult:
        directory = self.app.directory()
        ent = directory.enterprise_for_domain(ctx.domain or "")
        if ent is None or ctx.auth_user is None:
            return CommandResult(False, "not a user of this exchange")
        ext = ctx.auth_user
        device = directory.device_owner(ent.id, ext)  # a shared device acts as its user
        ext = device[0].extension if device is not None else ext
        group = directory.target(ent.id, command.arg("group"))
        if group is None or group.id not in directory.hunt_groups:
            return CommandResult(False, f"{command.arg('group')!r} is no hunt group")
        view = self.groups.sign(ent.name, group.name, ext, command.name == "sign-out")
        self._catch_up()
        return CommandResult(True, view.name)
