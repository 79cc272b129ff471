"""IncomingCall: a call to one user, as the services of the incoming-call chain see it."""

from __future__ import annotations

from dataclasses import dataclass

from esl_controller.routing.context import CallContext
from esl_controller.routing.trace import Trace
from projections.directory import EnterpriseView, UserView


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
