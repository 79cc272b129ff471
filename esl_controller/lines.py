"""Which users are on a call right now, as this controller sees its own calls.

Call waiting off (USR-11) needs to know, at the moment a call arrives, whether the user is
already on one. The BLF projection knows too, but in another process and a poll later;
this in-memory view is exact for the calls this controller carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable


class ActiveLines:
    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._lines_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.calls = CallServiceLines()  # ringing, picked up, parked, in rooms (issue 4)
        # Call capacity (GRP-2): pool ("enterprise:<id>", "department:<id>") -> its calls.
        self._pool_calls: dict[str, set[str]] = defaultdict(set)
        self._pools_of: dict[str, tuple[str, ...]] = {}

    def add(self, enterprise_id: str, extension: str, call_id: str) -> None:
        self._calls[(enterprise_id, extension)].add(call_id)
        self._lines_of[call_id].add((enterprise_id, extension))

    def end(self, call_id: str) -> None:
        self.calls.end(call_id)
        self.release(call_id)
        for line in self._lines_of.pop(call_id, ()):
            calls = self._calls.get(line)
            if calls is not None:
                calls.discard(call_id)
                if not calls:
                    del self._calls[line]

    def busy(self, enterprise_id: str, extension: str) -> bool:
        return bool(self._calls.get((enterprise_id, extension)))

    def calls_of(self, enterprise_id: str, extension: str) -> list[str]:
        """The ids of the calls ``extension`` is on (barge-in)."""
        return sorted(self._calls.get((enterprise_id, extension), ()))

    def remove(self, enterprise_id: str, extension: str, call_id: str) -> None:
        """``extension`` left ``call_id`` while it goes on (e.g. after an attended transfer)."""
        line = (enterprise_id, extension)
        self._lines_of.get(call_id, set()).discard(line)
        calls = self._calls.get(line)
        if calls is not None:
            calls.discard(call_id)
            if not calls:
                del self._calls[line]

    def idle(self, enterprise_id: str, *extensions: str) -> bool:
        """None of ``extensions`` is on a call this controller carries."""
        return not any(self.busy(enterprise_id, ext) for ext in extensions)

    # -- call capacity (GRP-2) -------------------------------------------------------------
    def occupy(self, call_id: str, *pools: str) -> None:
        """``call_id`` takes a place in each of ``pools`` until it ends."""
        self._pools_of[call_id] = (*self._pools_of.get(call_id, ()), *pools)
        for pool in pools:
            self._pool_calls[pool].add(call_id)

    def in_use(self, pool: str) -> int:
        """How many calls this controller carries hold a place in ``pool``."""
        calls = self._pool_calls.get(pool)
        return len(calls) if calls else 0

    def release(self, call_id: str) -> None:
        for pool in self._pools_of.pop(call_id, ()):
            calls = self._pool_calls.get(pool)
            if calls is not None:
                calls.discard(call_id)
                if not calls:
                    del self._pool_calls[pool]


# -- call services (issue 4 item 5): which channel rings whom, who picked it up, parked
# calls, conference rooms. Exact for the calls this controller carries.
class CallServiceLines:
    def __init__(self) -> None:
        self._ringing: dict[tuple[str, str], list[str]] = defaultdict(list)  # line -> channels
        self._rings_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._picked: dict[str, str] = {}  # channel -> extension that picked it up
        self._channel_of: dict[str, str] = {}  # call id -> the caller's channel uuid
        # (enterprise, slot) -> (channel, parker, call id of the parked call)
        self._parked: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._rooms: dict[str, set[str]] = defaultdict(set)  # room key -> call ids
        self._room_of: dict[str, str] = {}
        # Told (enterprise id, slot, channel, occupied) whenever a slot fills or empties.
        self.on_slot: Callable[[str, str, str, bool], None] | None = None

    def _slot_changed(self, enterprise_id: str, slot: str, channel: str, occupied: bool) -> None:
        if self.on_slot is not None:
            self.on_slot(enterprise_id, slot, channel, occupied)

    def offered(self, call_id: str, channel: str) -> None:
        self._channel_of[call_id] = channel

    def channel_of(self, call_id: str) -> str | None:
        return self._channel_of.get(call_id)

    def ring(self, enterprise_id: str, extension: str, channel: str) -> None:
        line = (enterprise_id, extension)
        if channel not in self._ringing[line]:
            self._ringing[line].append(channel)
        self._rings_of[channel].add(line)

    def stop_ringing(self, channel: str) -> None:
        for line in self._rings_of.pop(channel, ()):
            ringing = self._ringing.get(line)
            if ringing is not None and channel in ringing:
                ringing.remove(channel)
                if not ringing:
                    del self._ringing[line]

    def ringing(self, enterprise_id: str, extension: str) -> list[str]:
        """Channels ringing ``extension`` right now, the oldest first."""
        return list(self._ringing.get((enterprise_id, extension), ()))

    def pick(self, channel: str, by: str) -> bool:
        """``by`` takes the ringing (or parked) ``channel``; False if someone was first."""
        if channel in self._picked:
            return False
        self._picked[channel] = by
        self.stop_ringing(channel)
        return True

    def picked_by(self, channel: str) -> str | None:
        return self._picked.get(channel)

    def park(self, enterprise_id: str, slot: str, channel: str, parker: str,
             call_id: str) -> bool:
        if (enterprise_id, slot) in self._parked:
            return False
        self._parked[(enterprise_id, slot)] = (channel, parker, call_id)
        self._picked.pop(channel, None)  # a channel picked up before may be parked now
        self._slot_changed(enterprise_id, slot, channel, True)
        return True

    def parked(self, enterprise_id: str, slot: str) -> tuple[str, str] | None:
        """(channel, parker) of the call waiting on ``slot``."""
        held = self._parked.get((enterprise_id, slot))
        return None if held is None else (held[0], held[1])

    def unpark(self, enterprise_id: str, slot: str, channel: str) -> bool:
        """Free the slot if ``channel`` still holds it."""
        held = self._parked.get((enterprise_id, slot))
        if held is None or held[0] != channel:
            return False
        del self._parked[(enterprise_id, slot)]
        self._slot_changed(enterprise_id, slot, channel, False)
        return True

    def parked_slots(self) -> list[tuple[str, str]]:
        return sorted(self._parked)

    def join(self, room: str, call_id: str, most: int) -> int:
        """Add the call to ``room`` if fewer than ``most`` are in it; the count, or 0."""
        members = self._rooms[room]
        if call_id not in members and len(members) >= most:
            return 0
        members.add(call_id)
        self._room_of[call_id] = room
        return len(members)

    def in_room(self, room: str) -> int:
        return len(self._rooms.get(room, ()))

    def end(self, call_id: str) -> None:
        channel = self._channel_of.pop(call_id, call_id)
        if channel not in self._channel_of.values():  # a blind transfer keeps the channel
            self.stop_ringing(channel)
            self._picked.pop(channel, None)
        for key, (_channel, _parker, parked_call) in list(self._parked.items()):
            if parked_call == call_id:
                del self._parked[key]
                self._slot_changed(key[0], key[1], _channel, False)
        room = self._room_of.pop(call_id, None)
        if room is not None:
            self._rooms[room].discard(call_id)
            if not self._rooms[room]:
                del self._rooms[room]
