"""Click-to-call (OPT-5, "bel-me-nu"): ``POST /click-to-call`` with a link's token and the
visitor's number makes FreeSWITCH call the visitor and, once they answer, ring the employee.

The call is one ``bgapi originate`` over FreeSWITCH's inbound event socket:
the visitor's leg goes out through the gateway presenting the employee's business number (else
the enterprise's first number); when the visitor answers, ``&bridge`` rings the employee's
registered devices, showing the visitor's number. Before anything is dialled: the token must
name a live link (403 otherwise), the link may be used 3 times a minute (429), and the
visitor's number must be a valid number the enterprise's outgoing calling plan allows
outright (400: no premium or international toll fraud through a web form). Every attempt is
recorded as a ``ClickToCallAttempted`` event.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.calling_plan import plan_class
from esl_controller.domain.click_to_call import (
    TOKEN_PREFIX,
    ClickToCallAttempt,
    ClickToCallLink,
    token_hash,
)
from esl_controller.domain.numbers import EMERGENCY_NUMBERS
from esl_controller.errors import ValidationError
from esl_controller.esl.inbound import InboundClient
from projections.directory import Directory
from projections.plans_fold import ClickToCallView

log = logging.getLogger(__name__)

RATE_LIMIT = 3  # originations per link ...
RATE_WINDOW = 60.0  # ... per this many seconds
ORIGINATE_TIMEOUT = 30
TOKEN_RE = re.compile(r"^" + TOKEN_PREFIX + r"[A-Za-z0-9_-]{20,100}$")
LABEL_RE = re.compile(r"^[\w .,&'@()-]{0,60}$")


# -- use cases (the CLI) -----------------------------------------------------------------------
def add_link(app: Pbx, enterprise: str | None, extension: str, expires: str | None = None,
             label: str = "", now: datetime | None = None) -> tuple[str, ClickToCallView]:
    """A new link for user ``extension``: (the token, shown this once; the link)."""
    ent = app.enterprise(enterprise)
    user = app.user(ent.name, extension)
    label = label.strip()
    if not LABEL_RE.match(label):
        raise ValidationError(f"invalid label: {label!r}")
    now = now or datetime.now(UTC)
    until = None
    if expires is not None:
        try:
            day = date.fromisoformat(expires.strip())
        except ValueError:
            raise ValidationError(f"invalid --expires {expires!r}: use YYYY-MM-DD") from None
        until = datetime.combine(day, time(23, 59, 59), ZoneInfo(ent.timezone)).astimezone(UTC)
        if until <= now:
            raise ValidationError(f"--expires {expires} is in the past")
    from esl_controller.licences import check_allowed

    directory = app.directory()
    live = [c for c in directory.click_links_of(ent.id) if not c.revoked]
    check_allowed(app, ent.name, "click-to-call", len(live))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = token_hash(token)
    link = ClickToCallLink(ent.id, user.extension, digest, label, until, now)
    app.save(link)
    found = app.directory().click_link(digest)
    assert found is not None
    return token, found


def find_link(app: Pbx, enterprise: str | None, prefix: str) -> ClickToCallView:
    """A link of the enterprise by (a prefix of) its id."""
    ent = app.enterprise(enterprise)
    wanted = prefix.strip().lower()
    found = [c for c in app.directory().click_links_of(ent.id)
             if str(c.id).startswith(wanted)] if len(wanted) >= 4 else []
    if len(found) != 1:
        raise ValidationError(f"no single click-to-call link with id {prefix!r} in {ent.name!r}")
    return found[0]


def revoke_link(app: Pbx, enterprise: str | None, prefix: str) -> ClickToCallView:
    view = find_link(app, enterprise, prefix)
    if view.revoked:
        raise ValidationError(f"click-to-call link {str(view.id)[:8]} is already revoked")
    link: ClickToCallLink = app.repository.get(view.id)
    link.revoke()
    app.save(link)
    return view


# -- the web endpoint ---------------------------------------------------------------------------
class ClickToCallService:
    """Answers ``POST /click-to-call``: (HTTP status, JSON answer)."""

    def __init__(
        self,
        app: Pbx,
        directory: Callable[[], Directory],
        gateway: str | None,
        esl: tuple[str, int] | None,
        esl_password: str | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        import time as _time

        self.app = app
        self.directory = directory
        self.gateway = gateway
        self.esl = esl
        self.esl_password = esl_password
        self.clock = clock
        self.monotonic = monotonic or _time.monotonic
        self._recent: dict[uuid.UUID, deque[float]] = {}

    def request(self, fields: dict[str, Any], remote: str) -> tuple[int, dict[str, Any]]:
        token = str(fields.get("token") or "").strip()
        visitor = str(fields.get("number") or "").strip()[:40]
        link = self.directory().click_link(token_hash(token)) if TOKEN_RE.match(token) else None
        status, answer = self._decide(link, token, visitor)
        outcome = "dialled" if status == 202 else "refused"
        attempt = ClickToCallAttempt(
            link.id if link else None, link.enterprise_id if link else None, visitor, status,
            outcome, str(answer.get("error", "")), remote[:64], self.clock())
        try:
            self.app.save(attempt)
        except Exception as exc:  # noqa: BLE001 - the answer stands; the log line remains
            log.error("click-to-call attempt not recorded: %s", exc)
        log.info("click-to-call from %s: %d %s", remote, status, answer.get("error", "dialled"))
        return status, answer

    def _decide(self, link: ClickToCallView | None, token: str, visitor: str
                ) -> tuple[int, dict[str, Any]]:
        if link is None or link.revoked:
            return 403, {"error": "unknown or revoked click-to-call link"}
        now = self.clock()
        if link.expires is not None and link.expires <= now:
            return 403, {"error": "this click-to-call link has expired"}
        directory = self.directory()
        ent = directory.enterprises.get(link.enterprise_id)
        user = directory.user(link.enterprise_id, link.extension) if ent else None
        if ent is None or user is None:
            return 403, {"error": "this click-to-call link no longer leads anyone"}
        if not self._take_turn(link.id):
            return 429, {"error": f"at most {RATE_LIMIT} requests a minute through this link"}
        if not visitor:
            return 400, {"error": "send the number to call as 'number'"}
        e164 = numbers.try_normalise(visitor, ent.country)
        if e164 is None or visitor in EMERGENCY_NUMBERS:
            return 400, {"error": f"not a number we can call: {visitor!r}"}
        klass = numbers.classify(e164, ent.country)
        home = ent.numbers[0] if ent.numbers else None
        pclass = plan_class(klass, e164, home)
        plan = directory.calling_plan_for(ent.id)
        if plan.verdict(pclass) != "allowed":
            return 400, {"error": f"{numbers.national_format(e164)} is a {pclass} number, "
                                  "which click-to-call does not call"}
        if self.gateway is None or self.esl is None or not self.esl_password:
            return 503, {"error": "click-to-call is not configured on this exchange"}
        shown = user.number or home or "anonymous"
        command = originate_command(self.gateway, e164, shown, ent.name, user.extension,
                                    ent.domain, str(link.id))
        job = str(uuid.uuid4())
        host, port = self.esl
        try:
            client = InboundClient(host, port, self.esl_password)
            client.connect()
            try:
                reply = client.send(f"bgapi {command}\nJob-UUID: {job}").reply_text
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - FreeSWITCH away: tell the visitor
            log.error("click-to-call: FreeSWITCH's event socket at %s:%d: %s", host, port, exc)
            return 503, {"error": "the exchange cannot place the call now"}
        if not reply.startswith("+OK"):
            return 503, {"error": "the exchange cannot place the call now"}
        return 202, {"status": "calling", "number": e164, "job": job}

    def _take_turn(self, link_id: uuid.UUID) -> bool:
        now = self.monotonic()
        recent = self._recent.setdefault(link_id, deque())
        while recent and now - recent[0] >= RATE_WINDOW:
            recent.popleft()
        if len(recent) >= RATE_LIMIT:
            return False
        recent.append(now)
        return True


def originate_command(gateway: str, visitor: str, shown: str, enterprise: str, extension: str,
                      domain: str, link_id: str) -> str:
    """Call the visitor through the gateway; once they answer, ring the employee."""
    name = re.sub(r"['{}\\\r\n,]", "", enterprise).strip()
    visitor_leg = ",".join((
        f"origination_caller_id_number={shown}",
        f"origination_caller_id_name='{name}'",
        f"originate_timeout={ORIGINATE_TIMEOUT}",
        "ignore_early_media=true",
        f"click_to_call_link={link_id}",
    ))
    employee_leg = ",".join((
        f"origination_caller_id_number={visitor}",
        "origination_caller_id_name='Click-to-call'",
        "call_timeout=30",
    ))
    return (f"originate {{{visitor_leg}}}sofia/gateway/{gateway}/{visitor} "
            f"&bridge({{{employee_leg}}}user/{extension}@{domain})")
