"""IncomingCall: a call to one user, as the services of the incoming-call chain see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from esl_controller.routing.context import CallContext
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory, EnterpriseView, UserView

MAX_DIVERSIONS = 5  # a safety net beyond loop detection


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A call to one user, as the chain's services see it."""

    ctx: CallContext
    enterprise: EnterpriseView
    user: UserView
    presented_number: str
    presented_name: str
    internal: bool  # the caller is a user of the same enterprise
    trace: Trace
    directory: Directory | None = None
    settings: RoutingSettings = RoutingSettings()
    now: datetime | None = None
    diverted_by: str | None = None  # the extension whose service diverted the call here
    diversion_reason: str = "unconditional"  # SIP Diversion reason of that diversion
    visited: tuple[str, ...] = ()  # users this call has already been offered to
    user_busy: bool = False  # the user is on another call right now
    busy: Callable[[str, str], bool] | None = None  # (enterprise id, extension) on a call?

    @property
    def anonymous(self) -> bool:
        """The caller withheld their number (CLIR) or sent none."""
        number = self.ctx.caller_number.strip().lower()
        return self.ctx.privacy or number in ("", "anonymous", "unknown", "private", "0000000000")

    @property
    def diverted(self) -> bool:
        """Already diverted once: the diversion inhibitor stops a second diversion."""
        return self.diverted_by is not None or self.ctx.diverted_from is not None

    def to(self, user: UserView, by: str, reason: str = "unconditional") -> IncomingCall:
        """The same call diverted by ``by`` to another user of the enterprise."""
        return replace(self, user=user, diverted_by=by, diversion_reason=reason,
                       user_busy=bool(self.busy and self.busy(str(self.enterprise.id),
                                                              user.extension)),
                       visited=(*self.visited, self.user.extension))
