"""Applications that reach ACROSS calls (issue 4 call services): ``intercept``,
``three_way``, ``conference``, and a stream ``playback`` bounded by ``playback_timeout_sec``
(a parked caller's music). The FakeSwitch keeps every live session in ``registry`` (by
channel uuid) and the conference rooms in ``conferences`` so one call can act on another.

What FreeSWITCH does, as mirrored here:

- ``intercept <uuid>``: the target channel (ringing in ``bridge``, or waiting in a
  ``playback``) is taken out of its application and bridged to the interceptor
  (``switch_ivr_uuid_bridge``): the ringing legs are hung up, both channels get
  CHANNEL_BRIDGE, the target's application returns while the bridge goes on. The
  interceptor's ``intercept`` returns when the bridge ends. A uuid that is not there: the
  app returns at once, nothing bridged.
- ``three_way <uuid>``: the caller joins an answered call (both parties hear them); returns
  when either side hangs up.
- ``conference NAME@PROFILE``: answers and stays in the room until the caller hangs up.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import gevent

from .events import Leg
from .models import Endpoint

if TYPE_CHECKING:
    from .session import OutboundSession

STREAM_PREFIXES = ("local_stream://",)


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def _leg_of(other: OutboundSession) -> Leg:
    chan = other.chan
    return Leg(uuid=chan.uuid, key=chan.caller_number, channel_name=chan.channel_name,
               caller_number=chan.caller_number, caller_name=chan.caller_name,
               destination=chan.destination, created_us=chan.created_us,
               answered_us=_now_us())


def _talk_seconds(sess: OutboundSession) -> float:
    return (sess.endpoints.get(sess.spec.auth_user or sess.spec.caller) or Endpoint()).talk_seconds


def wait_interceptable(sess: OutboundSession, seconds: float) -> str | None:
    """Ringing or waiting: "hangup", "intercept", "legs gone" (``hupall`` ended the
    ringing legs), or None when ``seconds`` passed."""
    sess.interceptable = True
    try:
        gevent.wait([sess.hangup_evt, sess.intercept_evt, sess.legs_gone],
                    timeout=sess.scaled(seconds), count=1)
    finally:
        sess.interceptable = False
    if sess.hangup_evt.is_set():
        return "hangup"
    if sess.intercept_evt.is_set():
        return "intercept"
    if sess.legs_gone.is_set():
        return "legs gone"
    return None


def bridged_to_interceptor(sess: OutboundSession) -> None:
    """The target side of ``intercept``: uuid_bridge to the interceptor; the bridge goes on
    after the target's application returns, until one side hangs up."""
    from .apps import _unbridge, answer

    interceptor = sess.interceptor
    assert interceptor is not None
    leg = _leg_of(interceptor)
    answer(sess)
    chan = sess.chan
    chan.other = leg
    chan.bridged_us = _now_us()
    chan.variables.update({"bridge_channel": leg.channel_name, "bridge_uuid": leg.uuid,
                           "signal_bond": leg.uuid, "originate_disposition": "PICKED_OFF"})
    sess.call.bridged_to = interceptor.spec.auth_user or leg.caller_number
    sess.call.intercepted_by = sess.call.bridged_to
    sess.emit("CHANNEL_BRIDGE", lead=[("Bridge-A-Unique-ID", chan.uuid),
                                      ("Bridge-B-Unique-ID", leg.uuid)])

    def talk() -> None:
        gevent.wait([sess.hangup_evt, interceptor.hangup_evt], count=1)
        if sess.hangup_evt.is_set() or sess.chan.other is not leg:
            return
        _unbridge(sess, leg)
        if chan.variables.get("hangup_after_bridge", "false").lower() == "true":
            sess.hangup("NORMAL_CLEARING", "callee")

    sess.spawn_later(0, talk)


def intercept(sess: OutboundSession, arg: str) -> str:
    from .apps import _unbridge, answer

    target = sess.registry.get(arg.split()[-1]) if arg.strip() else None
    if (target is None or target is sess or target.chan.hangup_cause is not None
            or not target.interceptable or target.interceptor is not None):
        return "_none_"  # "Cannot locate channel": nothing happens
    target.interceptor = sess
    answer(sess)
    leg = _leg_of(target)
    chan = sess.chan
    chan.other = leg
    chan.bridged_us = _now_us()
    chan.variables.update({"bridge_channel": leg.channel_name, "bridge_uuid": leg.uuid,
                           "signal_bond": leg.uuid})
    sess.call.intercepted = target.chan.uuid
    sess.call.bridged_to = target.chan.caller_number
    target.intercept_evt.set()
    sess.emit("CHANNEL_BRIDGE", lead=[("Bridge-A-Unique-ID", chan.uuid),
                                      ("Bridge-B-Unique-ID", leg.uuid)])
    gevent.wait([sess.hangup_evt, target.hangup_evt], timeout=sess.scaled(_talk_seconds(sess)),
                count=1)
    if sess.hangup_evt.is_set():
        return "_none_"
    if not target.hangup_evt.is_set():
        sess.hangup("NORMAL_CLEARING", "caller")  # the picker ends the conversation
        return "_none_"
    _unbridge(sess, leg)
    if chan.variables.get("hangup_after_bridge", "false").lower() == "true":
        sess.hangup("NORMAL_CLEARING", "callee")
    return "_none_"


def three_way(sess: OutboundSession, arg: str) -> str:
    from .apps import answer

    target = sess.registry.get(arg.split()[-1]) if arg.strip() else None
    if target is None or target.chan.hangup_cause is not None or target.chan.other is None:
        return "_none_"
    answer(sess)
    sess.call.joined = target.chan.uuid
    target.call.barged_by.append(sess.spec.auth_user or sess.chan.caller_number)
    gevent.wait([sess.hangup_evt, target.hangup_evt], timeout=sess.scaled(_talk_seconds(sess)),
                count=1)
    return "_none_"


def conference(sess: OutboundSession, arg: str) -> str:
    from .apps import answer

    name = arg.split("+", 1)[0].split("@", 1)[0].strip()  # NAME@PROFILE+PIN+FLAGS
    answer(sess)
    members = sess.conferences.setdefault(name, [])
    members.append(sess.chan.uuid)
    sess.call.conference = name
    sess.call.conference_size = len(members)
    try:
        sess.hangup_evt.wait()
    finally:
        members.remove(sess.chan.uuid)
    return "_none_"


def bounded_playback(sess: OutboundSession, arg: str) -> str | None:
    """A stream has no end: it plays for ``playback_timeout_sec`` (the parked caller's
    music), interrupted by a hangup or an intercept. None: not a bounded stream."""
    limit = sess.chan.variables.get("playback_timeout_sec")
    if not arg.startswith(STREAM_PREFIXES) or not limit:
        return None
    sess.call.parked_music.append(arg)
    how = wait_interceptable(sess, float(limit))
    if how == "intercept":
        bridged_to_interceptor(sess)
    return "PLAYBACK ERROR" if how == "hangup" else "FILE PLAYED"
