"""The ``settings`` service: what a user changes from the phone with feature access codes.

Runs the same use cases as the CLI (esl_controller.user_services), so the same rules apply;
a refused change comes back as ``CommandResult(False, reason)`` and the caller hears the SIT
tone. Changes are written straight to the log; the directory follower picks them up.
"""

from __future__ import annotations

import logging

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.errors import PbxError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult

log = logging.getLogger(__name__)


class SettingsService:
    def __init__(self, app: Pbx) -> None:
        self.app = app

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        directory = self.app.directory()
        ent = directory.enterprise_for_domain(ctx.domain or "")
        if ent is None or ctx.auth_user is None:
            return CommandResult(False, "not a user of this exchange")
        name, ext = ent.name, ctx.auth_user
        device = directory.device_owner(ent.id, ext)  # a shared device acts as its user
        ext = device[0].extension if device is not None else ext
        on = command.arg("on") == "yes"
        try:
            if command.name == "forward":
                user_services.forward(self.app, name, ext, command.arg("kind"),
                                      command.arg("destination"))
            elif command.name == "forward-off":
                user_services.forward_off(self.app, name, ext, command.arg("kind"))
            elif command.name == "dnd":
                user_services.set_dnd(self.app, name, ext, on)
            elif command.name == "anonymous-rejection":
                user_services.set_anonymous_rejection(self.app, name, ext, on)
            elif command.name == "call-waiting":
                user_services.set_call_waiting(self.app, name, ext, on)
            else:
                return CommandResult(False, f"unknown setting {command.name!r}")
        except PbxError as exc:
            log.info("call %s: %s %s refused: %s", ctx.call_id, ext, command.name, exc)
            return CommandResult(False, str(exc))
        log.info("call %s: %s changed %s by feature code", ctx.call_id, ext, command.name)
        return CommandResult(True, "")
