"""Call services at run time (issue 4 item 5): the state behind pickup, park and
conference rooms, kept by this controller for the calls it carries.

Routing scripts decide (who may pick up whom, which slot, which room); they ask this service
through ``Command`` actions for what only the running controller knows: which channel rings
whom, which call waits on a park slot, how many callers are in a room. The session adds the
caller's channel uuid (``channel``) to these commands.

- ``pickup take extensions=EXT,EXT picker=EXT``: the oldest call ringing one of the
  extensions, claimed for ``picker``; value ``CHANNEL EXT``.
- ``pickup answered extension=EXT``: the channel of a call EXT is talking on (barge-in).
- ``park park enterprise= slot= parker=``: this call waits on the slot (false: taken).
- ``park take enterprise= slot= by=``: the channel waiting on the slot, claimed for ``by``;
  value ``CHANNEL PARKER``.
- ``park leave enterprise= slot=``: the recall time passed; frees the slot if still held.
- ``conference pin room= pin=``: is the PIN right; ``conference join room= most=``: count
  this call in (false when the room is full); value: callers in the room now.
"""

from __future__ import annotations

import logging
import re
from uuid import UUID, uuid4

from esl_controller.application import Pbx
from esl_controller.domain.secrets import verify_secret
from esl_controller.esl.inbound import (
    AuthenticationError,
    InboundClient,
    NotConnectedError,
    PresencePublisher,
)
from esl_controller.esl.server import EslError
from esl_controller.lines import ActiveLines
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from projections.blf import park_slot_headers

log = logging.getLogger(__name__)


def invite_command(member: str, domain: str, room: str, number: str, name: str) -> str:
    """Ring ``member``'s phones showing the caller; on answer they join ``room``."""
    shown = re.sub(r"['{}\\\r\n,]", "", name).strip()
    variables = ",".join((
        f"origination_caller_id_number={re.sub(r'[^0-9+*#]', '', number)}",
        f"origination_caller_id_name='{shown}'",
        "originate_timeout=30",
        "ignore_early_media=true",
    ))
    return f"originate {{{variables}}}user/{member}@{domain} &conference({room})"


class CallServicesRuntime:
    def __init__(self, app: Pbx, lines: ActiveLines, esl: tuple[str, int] | None = None,
                 esl_password: str | None = None) -> None:
        self.app = app
        self.lines = lines
        self.calls = lines.calls
        self.esl = esl  # FreeSWITCH's inbound event socket: api commands (warning tone)
        self.esl_password = esl_password
        # Park slot lamps (BLF ``park+SLOT@DOMAIN``): PRESENCE_IN as slots fill and empty.
        self.presence: PresencePublisher | None = None
        if esl is not None and esl_password:
            self.presence = PresencePublisher(esl[0], esl[1], esl_password)
            self.calls.on_slot = self._slot_lamp

    def start(self) -> None:
        if self.presence is not None:
            self.presence.start()

    def stop(self) -> None:
        if self.presence is not None:
            self.presence.wait_idle(2)
            self.presence.stop()

    def _slot_lamp(self, enterprise_id: str, slot: str, channel: str, occupied: bool) -> None:
        assert self.presence is not None
        enterprise = self.app.directory().enterprises.get(UUID(enterprise_id))
        if enterprise is not None:
            self.presence.publish(park_slot_headers(slot, enterprise.domain, occupied, channel))

    def api(self, command: str) -> str | None:
        """``api COMMAND`` over the inbound event socket; None when it cannot be sent."""
        if self.esl is None or not self.esl_password:
            return None
        host, port = self.esl
        try:
            client = InboundClient(host, port, self.esl_password)
            client.connect()
        except (NotConnectedError, AuthenticationError, EslError, OSError) as exc:
            log.warning("event socket %s:%d: %s", host, port, exc)
            return None
        try:
            return str(client.api(command))
        except (NotConnectedError, EslError, OSError) as exc:
            log.warning("api %s: %s", command.split(" ", 1)[0], exc)
            return None
        finally:
            client.close()

    # -- pickup and barge-in --------------------------------------------------------------
    def pickup(self, command: Command, ctx: CallContext) -> CommandResult:
        enterprise = command.arg("enterprise")
        if command.name == "take":
            picker = command.arg("picker")
            candidates = [e for e in command.arg("extensions").split(",") if e]
            ringing = [(ch, ext) for ext in candidates
                       for ch in self.calls.ringing(enterprise, ext)
                       if ch != command.arg("channel")]
            for channel, extension in ringing:
                if self.calls.pick(channel, picker):
                    return CommandResult(True, f"{channel} {extension}")
            return CommandResult(False, "no call is ringing there")
        if command.name == "answered":
            extension = command.arg("extension")
            for call_id in self.lines.calls_of(enterprise, extension):
                found = self.calls.channel_of(call_id)
                if found is not None and found != command.arg("channel"):
                    return CommandResult(True, found)
            return CommandResult(False, f"{extension} is on no call")
        if command.name == "warn":
            # The parties of the call hear the tone (both legs) before the barge-in joins.
            reply = self.api(f"uuid_broadcast {command.arg('target')} {command.arg('tone')} both")
            ok = reply is not None and reply.startswith("+OK")
            return CommandResult(ok, reply or "no event socket")
        return CommandResult(False, f"unknown pickup command {command.name!r}")

    # -- park ------------------------------------------------------------------------------
    def park(self, command: Command, ctx: CallContext) -> CommandResult:
        enterprise, slot = command.arg("enterprise"), command.arg("slot")
        if command.name == "park":
            ok = self.calls.park(enterprise, slot, command.arg("channel"),
                                 command.arg("parker"), ctx.call_id)
            return CommandResult(ok, "" if ok else f"slot {slot} is taken")
        if command.name == "take":
            held = self.calls.parked(enterprise, slot)
            if held is None:
                return CommandResult(False, f"no call waits on slot {slot}")
            channel, parker = held
            if not self.calls.unpark(enterprise, slot, channel):
                return CommandResult(False, f"no call waits on slot {slot}")
            self.calls.pick(channel, command.arg("by"))
            return CommandResult(True, f"{channel} {parker}")
        if command.name == "leave":
            ok = self.calls.unpark(enterprise, slot, command.arg("channel"))
            return CommandResult(ok, "" if ok else "retrieved meanwhile")
        return CommandResult(False, f"unknown park command {command.name!r}")

    def parked(self) -> list[tuple[str, str]]:
        """(enterprise id, slot) of every call waiting on a slot now."""
        return self.calls.parked_slots()

    # -- conference rooms ------------------------------------------------------------------
    def conference(self, command: Command, ctx: CallContext) -> CommandResult:
        room = command.arg("room")
        if command.name == "pin":
            found = self.app.directory().conference_rooms.get(UUID(room))
            ok = found is not None and (found.pin_hash is None
                                        or verify_secret(command.arg("pin"), found.pin_hash))
            return CommandResult(ok, "" if ok else "wrong PIN")
        if command.name == "join":
            most = int(command.arg("most", "16"))
            count = self.calls.join(room, ctx.call_id, most)
            if count == 0:
                return CommandResult(False, f"{most} of {most}")
            return CommandResult(True, str(count))
        if command.name == "invite":
            return self._invite(command)
        return CommandResult(False, f"unknown conference command {command.name!r}")

    def _invite(self, command: Command) -> CommandResult:
        """``bgapi originate`` each member's phones into the room (instant group call)."""
        if self.esl is None or not self.esl_password:
            return CommandResult(False, "no event socket configured")
        members = [m for m in command.arg("members").split(",") if m]
        host, port = self.esl
        try:
            client = InboundClient(host, port, self.esl_password)
            client.connect()
        except (NotConnectedError, AuthenticationError, EslError, OSError) as exc:
            log.warning("instant group: event socket %s:%d: %s", host, port, exc)
            return CommandResult(False, "event socket unreachable")
        sent = 0
        try:
            for member in members:
                line = invite_command(member, command.arg("domain"), command.arg("room"),
                                      command.arg("number"), command.arg("name"))
                reply = client.send(f"bgapi {line}\nJob-UUID: {uuid4()}").reply_text
                sent += reply.startswith("+OK")
        except (NotConnectedError, EslError, OSError) as exc:
            log.warning("instant group: %s", exc)
        finally:
            client.close()
        return CommandResult(sent > 0, str(sent))
