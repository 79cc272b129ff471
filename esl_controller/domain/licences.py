"""Package limits (OPT-6): what an enterprise has licensed.

An IVR package ("keuzemenupakket") brings one multi-level IVR menu, 5 extra hunt groups and
5 forwarding toolboxes; hunt groups of the base exchange, department voicemail boxes (the
business voicemail, one box, comes with every exchange), fax to e-mail and click-to-call links
are licensed by count. An enterprise for which no licence was
ever recorded is not metered (nothing is enforced until ``pbx licence set``).
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

PER_IVR_PACKAGE = {"menu": 1, "hunt-group": 5, "toolbox": 5}
BASE = {"group-voicemail": 1}  # every exchange has its business voicemail (CORE-4)
# What each licensed count is called on the command line and in messages.
KINDS = {
    "menu": "multi-level IVR menus",
    "hunt-group": "hunt groups",
    "toolbox": "forwarding toolboxes",
    "group-voicemail": "group voicemail boxes (business + department)",
    "fax": "fax-to-e-mail numbers",
    "click-to-call": "click-to-call links",
}
MAX_COUNT = 10_000


def limits(ivr_packages: int, counts: dict[str, int]) -> dict[str, int]:
    """Kind -> how many the licence allows: the base counts plus what the packages bring."""
    return {kind: BASE.get(kind, 0) + counts.get(kind, 0)
            + ivr_packages * PER_IVR_PACKAGE.get(kind, 0) for kind in KINDS}


class Licence(Aggregate):
    """The licence of one enterprise."""

    @staticmethod
    def create_id(enterprise_id: UUID) -> UUID:
        return uuid5(enterprise_id, "licence")

    @event("LicenceCreated")
    def __init__(self, enterprise_id: UUID) -> None:
        self.enterprise_id = enterprise_id
        self.ivr_packages = 0
        self.counts: dict[str, int] = {}

    @event("LicenceSet")
    def set(self, ivr_packages: int, counts: dict[str, int]) -> None:
        self.ivr_packages = ivr_packages
        self.counts = counts
