"""Media actions that return something: recording the caller, collecting digits.

``record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>]`` (mod_dptools) sets
``record_seconds`` / ``record_ms`` on the channel; the completion carries them as
``variable_*`` headers. The file stays when the caller hangs up while recording (with linger
the completion still arrives). ``play_and_get_digits`` stores the digits in a channel
variable, read back from its completion.
"""

from __future__ import annotations

from esl_controller.esl.server import ControllerSession
from esl_controller.routing.actions import CollectDigits, ReceiveFax, Record
from esl_controller.routing.outcomes import Digits, FaxReceived, Outcome, Recorded

__all__ = ["Digits", "Recorded", "execute", "digits_arg", "fax_result", "record_arg"]

SILENCE_THRESHOLD = 200  # energy level below which audio counts as silence
DIGITS_VARIABLE = "pbx_collected_digits"
INVALID_PROMPT = "silence_stream://250"
MARGIN_SECONDS = 10.0
# Fax (OPT-3): T.38 when the sender offers or accepts it, else G.711 audio; a long fax at
# 9600 bit/s takes minutes, so the wait is generous but bounded.
FAX_VARIABLES = "fax_enable_t38=true fax_enable_t38_request=true"
MAX_FAX_SECONDS = 3600.0


def record_arg(action: Record) -> str:
    silence_hits = max(0, action.silence_seconds)
    return f"{action.path} {action.max_seconds} {SILENCE_THRESHOLD} {silence_hits}"


def digits_arg(action: CollectDigits) -> str:
    """``min max tries timeout terminators prompt invalid var regex digit_timeout``."""
    timeout_ms = action.timeout_seconds * 1000
    terminators = action.terminators or "none"
    regex = f"^[0-9*#]{{{action.min_digits},{action.max_digits}}}$"
    return " ".join([
        str(action.min_digits), str(action.max_digits), str(action.tries), str(timeout_ms),
        terminators, action.prompt, INVALID_PROMPT, DIGITS_VARIABLE, regex, str(timeout_ms),
    ])


def recorded_seconds(complete: dict[str, str]) -> float:
    """Length of a recording from its completion (0.0 when FreeSWITCH wrote nothing)."""
    for name, scale in (("variable_record_ms", 1000.0), ("variable_record_seconds", 1.0)):
        raw = complete.get(name)
        if raw:
            try:
                return max(0.0, float(raw) / scale)
            except ValueError:
                continue
    return 0.0


def fax_result(path: str, complete: dict[str, str]) -> FaxReceived:
    """What ``rxfax`` left on the channel (mod_spandsp's phase E handler sets these)."""

    def var(name: str) -> str:
        return (complete.get(f"variable_{name}") or "").strip()

    try:
        pages = max(0, int(var("fax_document_transferred_pages") or 0))
    except ValueError:
        pages = 0
    ok = var("fax_success") == "1"
    reason = var("fax_result_text") or ("" if ok else "no fax result")
    return FaxReceived(path, pages, ok, reason, var("fax_result_code"),
                       var("fax_remote_station_id"))


def execute(sess: ControllerSession, action: Record | CollectDigits | ReceiveFax,
            timeout: float) -> Outcome:
    """Run a Record, CollectDigits or ReceiveFax over ESL and read its result from the
    completion."""
    if isinstance(action, ReceiveFax):
        sess.execute("multiset", FAX_VARIABLES, timeout, wait=False)
        complete = sess.execute("rxfax", action.path, timeout=MAX_FAX_SECONDS)
        return fax_result(action.path, complete)
    if isinstance(action, Record):
        wait = max(timeout, action.max_seconds + MARGIN_SECONDS)
        complete = sess.execute("record", record_arg(action), timeout=wait)
        return Recorded(action.path, recorded_seconds(complete))
    wait = max(timeout, action.tries * (2 * action.timeout_seconds + MARGIN_SECONDS))
    complete = sess.execute("play_and_get_digits", digits_arg(action), timeout=wait)
    return Digits(complete.get(f"variable_{DIGITS_VARIABLE}", ""))
