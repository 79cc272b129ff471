"""What routing reads besides the call itself: the directory, the settings, the time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from esl_controller.routing.script import RoutingSettings
from projections.directory import Directory


@dataclass(frozen=True, slots=True)
class Where:
    """The directory, the settings and the session's clock reading (scripts read no clocks)."""

    directory: Directory
    settings: RoutingSettings
    now: datetime | None
    busy: Callable[[str, str], bool] | None = None  # (enterprise id, extension) on a call?
