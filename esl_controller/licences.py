"""Package limits (OPT-6): use cases of the licence and the check every feature calls before
it adds something licensed (``check_allowed``).

An enterprise for which ``pbx licence set`` was never run is not metered. Once it was, each
kind is limited to its licensed count, an IVR package adding 1 multi-level menu, 5 hunt
groups and 5 forwarding toolboxes.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import AggregateNotFoundError

from esl_controller.application import Pbx
from esl_controller.domain.licences import KINDS, MAX_COUNT, PER_IVR_PACKAGE, Licence, limits
from esl_controller.errors import ValidationError
from projections.plans_fold import LicenceView

# The command line's names of the counts (``pbx licence set --hunt-groups N``).
OPTIONS = {"hunt-group": "hunt-groups", "menu": "menus", "toolbox": "toolboxes"}


def licensed(view: LicenceView | None) -> dict[str, int] | None:
    """Kind -> licensed count; None: not metered."""
    if view is None:
        return None
    return limits(view.ivr_packages, dict(view.counts))


def check_allowed(app: Pbx, enterprise: str | None, kind: str, current: int) -> None:
    """Raise ValidationError("licence exceeded: ...") when the enterprise, which has
    ``current`` of ``kind`` now, may not add one more."""
    if kind not in KINDS:
        raise ValueError(f"unknown licensed kind {kind!r}")
    ent = app.enterprise(enterprise)
    allowed = licensed(app.directory().licence_of(ent.id))
    if allowed is None or current < allowed[kind]:
        return
    extra = (f"; each IVR package brings {PER_IVR_PACKAGE[kind]} more"
             if kind in PER_IVR_PACKAGE else "")
    raise ValidationError(
        f"licence exceeded: {ent.name} has {current} of {allowed[kind]} licensed "
        f"{KINDS[kind]}{extra} (pbx licence set)")


def in_use(app: Pbx, enterprise_id: Any) -> dict[str, int]:
    """Kind -> how many the enterprise has now. A multi-level menu is counted once, by its
    entry menu (one with an extension or a number); its sub-menus come with it."""
    directory = app.directory()
    targets = directory.targets_of(enterprise_id)

    def count(kind: str) -> int:
        return sum(1 for t in targets if t.kind == kind)

    toolboxes = getattr(directory, "toolboxes", {})
    return {
        "menu": sum(1 for t in targets if t.kind == "menu" and (t.extension or t.numbers)),
        "hunt-group": count("hunt-group"),
        "toolbox": sum(1 for t in toolboxes.values() if t.enterprise_id == enterprise_id),
        "group-voicemail": count("group-voicemail"),
        "fax": count("fax"),
        "click-to-call": sum(1 for c in directory.click_links_of(enterprise_id)
                             if not c.revoked),
    }

def set_licence(app: Pbx, enterprise: str | None, ivr_packages: int | None,
                counts: dict[str, int | None]) -> dict[str, int]:
    """Record what the enterprise has licensed; unnamed counts keep their value. Refused when
    the enterprise already uses more than the new licence allows."""
    ent = app.enterprise(enterprise)
    view = app.directory().licence_of(ent.id)
    packages = ivr_packages if ivr_packages is not None else (view.ivr_packages if view else 0)
    merged = dict(view.counts) if view else {}
    merged.update({k: v for k, v in counts.items() if v is not None})
    for kind, value in [("ivr-packages", packages), *merged.items()]:
        if kind != "ivr-packages" and kind not in KINDS:
            raise ValidationError(f"unknown licensed kind {kind!r}")
        if not 0 <= value <= MAX_COUNT:
            raise ValidationError(f"--{OPTIONS.get(kind, kind)} is 0 to {MAX_COUNT}")
    allowed = limits(packages, merged)
    used = in_use(app, ent.id)
    for kind, count in used.items():
        if count > allowed[kind]:
            raise ValidationError(
                f"{ent.name} already has {count} {KINDS[kind]}; the new licence allows "
                f"{allowed[kind]}: remove some first")
    try:
        licence: Licence = app.repository.get(Licence.create_id(ent.id))
    except AggregateNotFoundError:
        licence = Licence(ent.id)
    licence.set(packages, {k: v for k, v in sorted(merged.items()) if v})
    app.save(licence)
    return allowed


def licence_rows(app: Pbx, enterprise: str | None) -> tuple[int | None, list[dict[str, Any]]]:
    """(IVR packages or None when not metered, kind / licensed / used rows)."""
    ent = app.enterprise(enterprise)
    view = app.directory().licence_of(ent.id)
    allowed = licensed(view)
    used = in_use(app, ent.id)
    return (view.ivr_packages if view else None), [
        {"kind": kind, "what": KINDS[kind],
         "licensed": None if allowed is None else allowed[kind], "used": used[kind]}
        for kind in KINDS]
