"""Self-service (USR-24): what a user may change for themselves, behind their PIN.

:meth:`SelfService.unlock` checks the PIN against the User's scrypt hash. Three wrong PINs
in a row lock self-service for 15 minutes, the same policy (and constants) as the voicemail
portal; each wrong PIN, the acceptance after failures and the lock are events on the User.
The PIN is never echoed, logged or stored. After unlocking, the changes go through the same
use cases as the operator's CLI and the feature codes (``user_services``), so the same rules
hold; operator-only settings (intercept, extension, number, calling plan) are not offered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import RecordConflictError

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.mailboxes import LOCK_MINUTES, MAX_PIN_FAILURES
from esl_controller.domain.secrets import verify_secret
from esl_controller.domain.users import User
from esl_controller.errors import ValidationError
from esl_controller.voicemail import VoicemailService
from projections.directory import UserView

log = logging.getLogger(__name__)

class PinRefusedError(ValidationError):
    """A wrong PIN, no PIN, or self-service locked: nothing was changed."""


# The forwarding kinds a user switches on and off; selective forwarding is the operator's.
SELF_FORWARD_KINDS = ("always", "busy", "no-answer", "not-reachable")


class SelfService:
    """The PIN gate in front of the user's own settings."""

    def __init__(self, app: Pbx, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.app = app
        self.clock = clock

    def unlock(self, enterprise: str | None, extension: str, pin: str) -> UserView:
        """The user's view if ``pin`` is right; ValidationError (nothing else changed) if not."""
        view = self.app.user(enterprise, extension)
        for _ in range(3):
            try:
                return self._check(view, pin)
            except RecordConflictError:  # a concurrent change to the user: read it again
                continue
        raise ValidationError("the store is busy: try again")

    def _check(self, view: UserView, pin: str) -> UserView:
        user: User = self.app.repository.get(view.id)
        now = self.clock()
        if user.self_service_locked(now):
            assert user.self_locked_until is not None
            raise PinRefusedError(
                f"self-service of {view.extension} is locked until "
                f"{user.self_locked_until:%H:%M} UTC after {MAX_PIN_FAILURES} wrong PINs")
        if not user.pin_hash:
            raise PinRefusedError(f"{view.extension} has no PIN: ask the operator to set one")
        if pin and verify_secret(pin, user.pin_hash):
            if user.self_pin_failures:
                user.accept_self_service_pin(now)
                self.app.save(user)
            return view
        user.fail_self_service_pin(now)
        if user.self_pin_failures >= MAX_PIN_FAILURES:
            user.lock_self_service(now + timedelta(minutes=LOCK_MINUTES))
            self.app.save(user)
            log.info("self-service of %s locked after %d wrong PINs", view.extension,
                        MAX_PIN_FAILURES)
            raise PinRefusedError(
                f"wrong PIN: self-service of {view.extension} is locked for {LOCK_MINUTES} "
                "minutes")
        self.app.save(user)
        left = MAX_PIN_FAILURES - user.self_pin_failures
        raise PinRefusedError(f"wrong PIN for {view.extension} ({left} tries left)")


# -- one request of the app (``POST /self/EXT``) ------------------------------------------
SETTINGS = ("forward", "no_answer_after", "dnd", "identity", "mobility", "ring", "call_waiting",
            "anonymous_rejection", "voicemail_email", "voicemail_keep")
_BOOLEANS = ("dnd", "mobility", "call_waiting", "anonymous_rejection", "voicemail_email",
             "voicemail_keep")


def check_request(changes: object) -> dict[str, Any]:
    """The shape of a self-service request (before the PIN is checked): a JSON object of
    known settings with values of the right type. ValidationError names the first problem."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationError("send a JSON object with the settings to change")
    for key, value in changes.items():
        if key not in SETTINGS:
            raise ValidationError(f"not a self-service setting: {key!r}")
        if key in _BOOLEANS and not isinstance(value, bool):
            raise ValidationError(f"{key} is true or false")
        if key in ("identity", "ring") and not isinstance(value, str):
            raise ValidationError(f"{key} is a string")
        if key == "no_answer_after" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError("no_answer_after is a number of seconds")
    forward = changes.get("forward", {})
    if not isinstance(forward, dict):
        raise ValidationError('forward is an object like {"busy": "102", "always": null}')
    for kind, destination in forward.items():
        if kind not in SELF_FORWARD_KINDS:
            raise ValidationError(f"forward: {kind!r} is not one of {', '.join(SELF_FORWARD_KINDS)}")
        if destination is not None and not isinstance(destination, str):
            raise ValidationError(f"forward {kind}: a destination string, or null for off")
    if "no_answer_after" in changes and not isinstance(forward.get("no-answer"), str):
        raise ValidationError("no_answer_after goes with forward no-answer")
    return changes


def apply_changes(app: Pbx, enterprise: str | None, extension: str,
                  changes: dict[str, Any], voicemail_dir: Path = Path("var/voicemail")
                  ) -> UserView:
    """Apply a checked request through the same use cases as the CLI, in a fixed order
    (forwarding, DND, the other settings in one save, voicemail). A refusal stops there."""
    for kind, destination in changes.get("forward", {}).items():
        if destination is None:
            user_services.forward_off(app, enterprise, extension, kind)
        else:
            after = changes.get("no_answer_after") if kind == "no-answer" else None
            user_services.forward(app, enterprise, extension, kind, destination, after)
    if "dnd" in changes:
        user_services.set_dnd(app, enterprise, extension, changes["dnd"])
    settings = {k: changes[k] for k in ("identity", "mobility", "ring", "call_waiting",
                                        "anonymous_rejection") if k in changes}
    if settings:
        user_services.update(app, enterprise, extension, **settings)
    if "voicemail_email" in changes or "voicemail_keep" in changes:
        VoicemailService(app, voicemail_dir).change_delivery(
            enterprise, extension, changes.get("voicemail_email"), changes.get("voicemail_keep"))
    return app.user(enterprise, extension)


def settings_of(user: UserView) -> dict[str, object]:
    """What the user may change, as they see it (``pbx self ... show``, ``GET /self/EXT``)."""
    return {
        "extension": user.extension,
        "name": user.name,
        "forwarding": {r.kind: r.destination + (f" after {r.after_seconds} s"
                                                if r.after_seconds else "")
                       for r in user.forwarding if r.kind in SELF_FORWARD_KINDS},
        "do_not_disturb": user.dnd,
        "identity": user.identity,
        "mobility": f"on, ring {user.ring}" if user.mobility else False,
        "call_waiting": user.call_waiting,
        "anonymous_rejection": user.anonymous_rejection,
    }
