"""Which users are on a call right now, as this controller sees its own calls.

Call waiting off (USR-11) needs to know, at the moment a call arrives, whether the user is
already on one. The BLF projection knows too, but in another process and a poll later;
this in-memory view is exact for the calls this controller carries.
"""

from __future__ import annotations

from collections import defaultdict


class ActiveLines:
    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._lines_of: dict[str, set[tuple[str, str]]] = defaultdict(set)

    def add(self, enterprise_id: str, extension: str, call_id: str) -> None:
        self._calls[(enterprise_id, extension)].add(call_id)
        self._lines_of[call_id].add((enterprise_id, extension))

    def end(self, call_id: str) -> None:
        for line in self._lines_of.pop(call_id, ()):
            calls = self._calls.get(line)
            if calls is not None:
                calls.discard(call_id)
                if not calls:
                    del self._calls[line]

    def busy(self, enterprise_id: str, extension: str) -> bool:
        return bool(self._calls.get((enterprise_id, extension)))

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
