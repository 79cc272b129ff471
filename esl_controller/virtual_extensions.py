"""Use cases of ``pbx virtual-extension`` (USR-22): validate, then record one event."""

from __future__ import annotations

from eventsourcing.application import AggregateNotFoundError

from esl_controller.application import NAME_RE, Pbx
from esl_controller.domain import numbers
from esl_controller.domain.virtual_extensions import VirtualExtension
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing.calling_plan import permitted
from projections.targets import TargetView
from projections.virtual_fold import KIND


def add(app: Pbx, enterprise: str | None, extension: str, number: str, name: str) -> TargetView:
    """Extension ``extension`` dials the outside ``number`` (the enterprise's calling plan
    must allow the number: a short dial is no way around it)."""
    ent = app.enterprise(enterprise)
    extension = app.check_extension_free(ent, extension)
    name = name.strip()
    if not NAME_RE.match(name):
        raise ValidationError(f"invalid name {name!r}: 1 to 64 letters, digits, spaces")
    e164 = numbers.normalise(number, ent.country)
    directory = app.directory()
    owner = directory.user_with_number(e164)
    if owner is not None:
        raise ValidationError(f"{e164} belongs to {owner.extension} ({owner.name}) on this "
                              "exchange: dial that extension")
    klass = numbers.classify(e164, ent.country)
    if klass is numbers.NumberClass.EMERGENCY or not permitted(directory, ent, None, e164, klass):
        raise ValidationError(f"{e164} is a {klass.value} number, which the calling plan of "
                              f"{ent.name!r} does not allow")
    key = VirtualExtension.create_id(ent.id, extension)
    try:
        found: VirtualExtension = app.repository.get(key)
        found.reinstate(e164, name)
    except AggregateNotFoundError:
        found = VirtualExtension(ent.id, extension, e164, name)
    app.save(found)
    return _get(app, ent.name, extension)


def remove(app: Pbx, enterprise: str | None, extension: str) -> TargetView:
    view = _get(app, enterprise, extension)
    found: VirtualExtension = app.repository.get(view.id)
    found.remove()
    app.save(found)
    return view


def list_(app: Pbx, enterprise: str | None) -> list[tuple[TargetView, str]]:
    ent = app.enterprise(enterprise)
    directory = app.directory()
    return [(t, directory.virtual_numbers[t.id]) for t in directory.targets_of(ent.id, KIND)]


def _get(app: Pbx, enterprise: str | None, extension: str) -> TargetView:
    ent = app.enterprise(enterprise)
    found = app.directory().target(ent.id, extension.strip())
    if found is None or found.kind != KIND:
        raise NotFoundError(f"no virtual extension {extension.strip()} in {ent.name!r}")
    return found
