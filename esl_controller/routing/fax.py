"""Calls to a fax line (OPT-3 fax to e-mail): answer, receive with ``rxfax``, hand the TIFF
to the fax service, which converts it to PDF and mails it to the line's address(es).

Pure like every script: the fax service (``esl_controller.fax``) names the file to receive
into and records what arrived, through ``Command("fax", ...)``.
"""

from __future__ import annotations

from esl_controller.routing import targets
from esl_controller.routing.actions import Answer, Command, Hangup, ReceiveFax
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import CommandResult, FaxReceived, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.voicemail import parse_value
from projections.fax_fold import KIND

SERVICE = "fax"


@targets.register(KIND)
def fax_line(call: targets.TargetCall) -> Script:
    label = call.target.label()
    line = call.where.directory.fax_lines.get(call.target.id)
    ids = (("line", str(call.target.id)),)
    prepared = yield Command(SERVICE, "prepare", ids)
    if line is None or not isinstance(prepared, CommandResult) or not prepared.ok:
        call.trace.add(KIND, "not served", f"{label} cannot receive faxes on this controller")
        yield from targets.unanswered(call, RingResult.FAILED,
                                      HangupCause.NORMAL_TEMPORARY_FAILURE)
        return
    path = parse_value(prepared.value).get("path", "")
    to = " and ".join(a for a in (line.email, line.email2) if a)
    call.trace.add(KIND, "receiving", f"{label} answers and receives the fax (rxfax)")
    yield Answer()
    outcome = yield ReceiveFax(path)
    result = (outcome if isinstance(outcome, FaxReceived)
              else FaxReceived(path, 0, False, "no fax result"))
    recorded = yield Command(SERVICE, "received", (
        *ids, ("call", call.ctx.call_id), ("caller", call.presented_number),
        ("path", path), ("pages", str(result.pages)), ("ok", "1" if result.ok else "0"),
        ("code", result.code), ("reason", result.reason), ("station", result.remote_station),
    ))
    kept = isinstance(recorded, CommandResult) and recorded.ok
    mail = isinstance(recorded, CommandResult) and parse_value(recorded.value).get("mail") == "on"
    if result.ok and result.pages > 0:
        call.trace.classification.outcome = "fax"
        done = (f"e-mailed as PDF to {to}" if mail else
                "kept as PDF, not e-mailed: no mail relay configured" if kept else
                "NOT recorded")
        call.trace.add(KIND, "fax received",
                       f"{result.pages} page(s) received from "
                       f"{call.presented_number or 'anonymous'}: {done}")
    else:
        call.trace.classification.outcome = "fax failed"
        done = (f"a notice without a document goes to {to}" if mail else
                "recorded as failed" if kept else "nothing recorded")
        call.trace.add(KIND, "fax failed",
                       f"no fax received ({result.reason or 'unknown reason'}): {done}")
    yield Hangup(HangupCause.NORMAL_CLEARING)
