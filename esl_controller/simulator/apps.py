"""Dialplan applications executed through ``sendmsg`` (ESL-NOTES A.3 and A.6)."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import TYPE_CHECKING

from . import call_services, media
from .dialstring import DIALSTATUS, Ring, Target, continues_after, parse_dial_string
from .events import Leg
from .models import Endpoint

if TYPE_CHECKING:
    from .session import OutboundSession

__all__ = ["PLAYBACK_SECONDS", "run_app"]

PLAYBACK_SECONDS = 0.1  # simulated length of any played file (scaled)


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def pre_answer(sess: OutboundSession) -> None:
    """Early media: CHANNEL_PROGRESS_MEDIA (once)."""
    chan = sess.chan
    if chan.answer_state in ("early", "answered") or chan.hangup_cause:
        return
    chan.media = True
    chan.progress_media_us = _now_us()
    chan.answer_state, chan.call_state = "early", "EARLY"
    sess.call.early_media = True
    sess.emit("CHANNEL_PROGRESS_MEDIA")


def answer(sess: OutboundSession) -> None:
    """Answer: pre-answer first (as the sofia capture shows), then CHANNEL_ANSWER."""
    chan = sess.chan
    if chan.answer_state == "answered" or chan.hangup_cause:
        return
    pre_answer(sess)
    chan.answered_us = _now_us()
    chan.answer_state, chan.call_state = "answered", "ACTIVE"
    sess.call.answered = True
    sess.emit("CHANNEL_ANSWER")


def _ring_plan(sess: OutboundSession, target: Target) -> Ring:
    if target.kind == "error":
        return Ring(target, "fail", 0.0, target.key)
    endpoint = sess.endpoints.get(target.key)
    if endpoint is None:
        if target.kind == "user":
            return Ring(target, "fail", 0.0, "USER_NOT_REGISTERED")
        endpoint = Endpoint()
    behaviour, after = endpoint.behaviour, endpoint.answer_after
    if behaviour == "answer":
        return Ring(target, "answer", after)
    if behaviour == "busy":
        return Ring(target, "fail", after, "USER_BUSY")
    if behaviour == "reject":
        return Ring(target, "fail", after, "CALL_REJECTED")
    if behaviour == "unregistered":
        return Ring(target, "fail", 0.0, "USER_NOT_REGISTERED")
    return Ring(target, "never", 0.0)


def _ring_group(sess: OutboundSession, group: list[Target], timeout: float) -> tuple[str, Ring | None]:
    """Ring legs simultaneously; return (cause, winning ring). Interrupted by an A hangup."""
    rings = [_ring_plan(sess, t) for t in group]
    if sess.spec.hangup_while_ringing is not None and not sess.call.bridge_rang:
        sess.spawn_later(sess.spec.hangup_while_ringing, sess.hangup, "NORMAL_CLEARING", "caller")
    sess.call.bridge_rang = True
    answers = [r for r in rings if r.action == "answer" and r.delay < timeout]
    winner = min(answers, key=lambda r: r.delay) if answers else None
    if winner is not None:
        wait, cause = winner.delay, "SUCCESS"
    else:
        fails = [r for r in rings if r.action == "fail" and r.delay < timeout]
        if len(fails) == len(rings):
            last = max(fails, key=lambda r: r.delay)
            wait, cause = last.delay, last.cause
        else:
            wait, cause = timeout, "NO_ANSWER"
    how = call_services.wait_interceptable(sess, wait)  # a colleague may pick it up
    if how == "hangup":
        return "ORIGINATOR_CANCEL", None
    if how == "legs gone":  # hupall on the legs' variable: the originate fails with its cause
        return sess.legs_gone_cause, None
    if how == "intercept":
        return "PICKED_OFF", None
    return cause, winner


def bridge(sess: OutboundSession, arg: str) -> str | None:
    """Run ``bridge``; return the cause to hang A up with afterwards, or None."""
    chan, call = sess.chan, sess.call
    dial = parse_dial_string(arg)
    variables = {**dial.variables, **chan.variables}
    timeout = float(variables.get("call_timeout") or variables.get("originate_timeout") or 60)
    cause, winner = "DESTINATION_OUT_OF_ORDER", None
    sess.ring_marks = dict(dial.variables)  # {vars} reach the legs only, never the A-leg
    sess.legs_gone.clear()
    for group in dial.groups:
        cause, winner = _ring_group(sess, group, timeout)
        if cause == sess.legs_gone_cause and sess.legs_gone.is_set():
            break  # the legs were hung up: no further group is tried
        if cause in ("SUCCESS", "ORIGINATOR_CANCEL"):
            break
        if cause == "PICKED_OFF":  # intercept: uuid_bridge to the picker, bridge returns
            call_services.bridged_to_interceptor(sess)
            return None
    sess.ring_marks = {}
    if winner is None:
        leg_uuid = str(uuidlib.uuid4())
        chan.variables.update({
            "originate_disposition": cause, "DIALSTATUS": DIALSTATUS.get(cause, cause),
            "originate_failed_cause": cause, "originate_causes": f"{leg_uuid};{cause}",
        })
        if cause == "ORIGINATOR_CANCEL" or continues_after(cause, variables):
            return None
        return cause
    target = winner.target
    now = _now_us()
    leg = Leg(uuid=str(uuidlib.uuid4()), key=target.key, channel_name=f"sofia/internal/{target.key}",
              caller_number=variables.get("origination_caller_id_number", chan.caller_number),
              caller_name=variables.get("origination_caller_id_name", chan.caller_name),
              destination=target.key, created_us=now, answered_us=now)
    answer(sess)
    chan.other = leg
    chan.bridged_us = now
    chan.variables.update({
        "originate_disposition": "SUCCESS", "DIALSTATUS": "SUCCESS",
        "originated_legs": f"{leg.uuid};Outbound Call;{leg.destination}",
        "originate_causes": f"{leg.uuid};NONE", "signal_bond": leg.uuid,
        "bridge_channel": leg.channel_name, "bridge_uuid": leg.uuid,
    })
    call.bridged_to = target.key
    sess.emit("CHANNEL_BRIDGE", lead=[("Bridge-A-Unique-ID", chan.uuid),
                                      ("Bridge-B-Unique-ID", leg.uuid)])
    for at, seconds in sess.spec.hold:
        sess.spawn_later(at, _hold, sess, leg, seconds)
    for at, digit in sess.spec.dtmf_while_talking:  # in-call codes (call recording)
        sess.spawn_later(at, sess._dtmf, digit)
    for at, digit in sess.spec.called_dtmf_while_talking:  # the called party's keys (REC-1)
        sess.spawn_later(at, media.called_party_dtmf, sess, leg, digit)
    if sess.spec.hangup_while_talking is not None:
        sess.spawn_later(sess.spec.hangup_while_talking, sess.hangup, "NORMAL_CLEARING", "caller")
    endpoint = sess.endpoints.get(target.key) or Endpoint()
    for kind, transfer in (("blind", sess.spec.blind_transfer),
                           ("attended", sess.spec.attended_transfer)):
        if transfer is not None and transfer[0] < endpoint.talk_seconds:
            if sess.hangup_evt.wait(sess.scaled(transfer[0])):
                break  # the caller hung up first
            if kind == "blind":
                _blind_transfer(sess, leg, transfer[1])
            else:
                _attended_transfer(sess, leg, transfer[1], variables)
            return None
    caller_left = sess.hangup_evt.wait(sess.scaled(endpoint.talk_seconds))
    chan.variables.update({"bridge_hangup_cause": "NORMAL_CLEARING",
                           "last_bridge_hangup_cause": "NORMAL_CLEARING",
                           "last_bridge_to": leg.uuid, "last_bridge_role": "originator"})
    sess.emit("CHANNEL_UNBRIDGE", lead=[("Bridge-A-Unique-ID", chan.uuid),
                                        ("Bridge-B-Unique-ID", leg.uuid)])
    chan.other, chan.last_other = None, leg
    if not caller_left and variables.get("hangup_after_bridge", "false").lower() == "true":
        sess.hangup("NORMAL_CLEARING", "callee")
    return None


def _unbridge(sess: OutboundSession, leg: Leg) -> None:
    chan = sess.chan
    chan.variables.update({"bridge_hangup_cause": "NORMAL_CLEARING",
                           "last_bridge_hangup_cause": "NORMAL_CLEARING",
                           "last_bridge_to": leg.uuid, "last_bridge_role": "originator"})
    sess.emit("CHANNEL_UNBRIDGE", lead=[("Bridge-A-Unique-ID", chan.uuid),
                                        ("Bridge-B-Unique-ID", leg.uuid)])
    chan.other, chan.last_other = None, leg


def _blind_transfer(sess: OutboundSession, leg: Leg, destination: str) -> None:
    """The answering phone REFERs the caller to ``destination`` (sofia: blind transfer).

    ``switch_ivr_session_transfer`` sets ``transfer_source`` and ``transfer_history`` on the
    caller's channel and sends it to CS_ROUTING: the bridge ends (the referring leg hangs
    up after the NOTIFY), the ``socket`` app returns, FreeSWITCH closes this connection with
    a disconnect notice and runs the dialplan again for ``destination`` (a new session).
    """
    chan = sess.chan
    source = f"{int(time.time())}:{chan.uuid}:bl_xfer:{destination}/{chan.context}/XML"
    sess.transfer_variables = {"transfer_source": source, "transfer_history": source}
    chan.variables.update(sess.transfer_variables)
    _unbridge(sess, leg)
    sess.call.transferred_to = destination
    sess.transferring = True


def _attended_transfer(sess: OutboundSession, leg: Leg, key: str,
                       variables: dict[str, str]) -> None:
    """REFER with Replaces: FreeSWITCH bridges the caller to the consulted party ``key``
    (``switch_ivr_uuid_bridge``); the ``bridge`` app returns while the call goes on."""
    chan, call = sess.chan, sess.call
    _unbridge(sess, leg)
    now = _now_us()
    other = Leg(uuid=str(uuidlib.uuid4()), key=key, channel_name=f"sofia/internal/{key}",
                caller_number=leg.caller_number, caller_name=leg.caller_name,
                destination=key, created_us=now, answered_us=now)
    chan.other = other
    chan.bridged_us = now
    chan.variables.update({"bridge_channel": other.channel_name, "bridge_uuid": other.uuid,
                           "signal_bond": other.uuid, "transfer_disposition": "replaced"})
    call.bridged_to = key
    sess.emit("CHANNEL_BRIDGE", lead=[("Bridge-A-Unique-ID", chan.uuid),
                                      ("Bridge-B-Unique-ID", other.uuid)])
    talk = (sess.endpoints.get(key) or Endpoint()).talk_seconds
    sess.spawn_later(talk, _transferred_party_leaves, sess, other,
                     variables.get("hangup_after_bridge", "false").lower() == "true")


def _transferred_party_leaves(sess: OutboundSession, other: Leg, hangup_after: bool) -> None:
    if sess.chan.other is not other or sess.chan.hangup_cause is not None:
        return
    _unbridge(sess, other)
    if hangup_after:
        sess.hangup("NORMAL_CLEARING", "callee")


def _hold(sess: OutboundSession, leg: Leg, seconds: float) -> None:
    """The caller's phone holds the call (re-INVITE a=sendonly): CHANNEL_HOLD on the A-leg,
    the A-leg's ``hold_music`` broadcast to the other leg, then CHANNEL_UNHOLD."""
    chan = sess.chan
    if chan.other is not leg or chan.hangup_cause is not None:
        return
    chan.call_state = "HELD"
    sess.call.hold_music_played.append(chan.variables.get("hold_music", "") or "silence")
    sess.emit("CHANNEL_HOLD")
    if sess.hangup_evt.wait(sess.scaled(seconds)) or chan.other is not leg:
        return
    chan.call_state = "ACTIVE"
    sess.emit("CHANNEL_UNHOLD")


def _set_var(sess: OutboundSession, arg: str) -> None:
    name, sep, value = arg.partition("=")
    if sep and name.strip():
        sess.chan.variables[name.strip()] = value


def run_app(sess: OutboundSession, app: str, arg: str, app_uuid: str) -> None:
    """``switch_core_session_exec``: CHANNEL_EXECUTE, the app, CHANNEL_EXECUTE_COMPLETE."""
    chan = sess.chan
    sess.call.apps.append((app, arg))
    chan.variables["current_application"] = app
    if arg:
        chan.variables["current_application_data"] = arg
    data = [("Application-Data", arg)] if arg else []
    sess.emit("CHANNEL_EXECUTE", trail=[("Application", app), *data,
                                        ("Application-UUID", app_uuid)])
    response = "_none_"
    hangup_cause: str | None = None
    if app == "answer":
        answer(sess)
    elif app == "pre_answer":
        pre_answer(sess)
    elif app == "record":
        pre_answer(sess)
        media.record(sess, arg)
    elif app == "rxfax":  # mod_spandsp (OPT-3)
        answer(sess)
        response = media.rxfax(sess, arg)
    elif app == "play_and_get_digits":
        pre_answer(sess)
        response = media.play_and_get_digits(sess, arg)
    elif app == "playback" and call_services.STREAM_PREFIXES[0] in arg and (
            sess.chan.variables.get("playback_timeout_sec")):
        pre_answer(sess)
        response = call_services.bounded_playback(sess, arg) or response
    elif app in ("intercept", "three_way", "conference"):
        response = getattr(call_services, app)(sess, arg)
    elif app in ("playback", "speak", "say"):  # say: mod_say, as long as a short prompt
        pre_answer(sess)
        interrupted = sess.hangup_evt.wait(sess.scaled(PLAYBACK_SECONDS))
        response = "PLAYBACK ERROR" if interrupted else "FILE PLAYED"
    elif app == "record_session":  # call recording (REC-1): a media bug, returns at once
        path, _, limit = (arg or "").partition(" ")
        media.start_session_record(sess, path, float(limit) if limit.strip() else None)
    elif app == "stop_record_session":
        media.session_record(sess, "stop", (arg or "").strip())
    elif app in ("bind_meta_app", "unbind_meta_app"):  # REC-1: the called party's codes
        getattr(media, app)(sess, arg)
    elif app == "event":  # mod_dptools event: CHANNEL_APPLICATION or CUSTOM
        media.fire_event(sess, arg)
    elif app in ("set", "export"):
        _set_var(sess, arg)
    elif app == "multiset":
        for assignment in (arg or "").split():
            _set_var(sess, assignment)
    elif app == "sleep":
        sess.hangup_evt.wait(sess.scaled(float(arg or 0) / 1000))
    elif app == "park":
        sess.hangup_evt.wait()
    elif app == "hangup":
        sess.hangup((arg or "NORMAL_CLEARING").upper(), "controller")
    elif app == "bridge":
        hangup_cause = bridge(sess, arg)
    chan.variables["current_application_response"] = response
    sess.emit("CHANNEL_EXECUTE_COMPLETE", trail=[
        ("Application", app), *data, ("Application-Response", response),
        ("Application-UUID", app_uuid)])
    if hangup_cause is not None:
        sess.hangup(hangup_cause, "callee")
    if sess.transferring:
        sess.transferring = False
        sess.finish()  # the channel left the socket app: disconnect notice, close
