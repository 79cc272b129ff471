"""Self-service PIN gate (USR-24): wrong PINs, the 15-minute lock and its end, on a real Pbx
with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esl_controller.application import Pbx
from esl_controller.domain.users import User
from esl_controller.errors import ValidationError
from esl_controller.self_service import SelfService


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", pin="2468")
    pbx.add_user(None, "102", "Bob")
    return pbx


def test_the_lock_ends_after_15_minutes(app: Pbx) -> None:
    clock = Clock()
    gate = SelfService(app, clock)
    for wrong in ("1111", "2222"):
        with pytest.raises(ValidationError, match="wrong PIN for 101"):
            gate.unlock(None, "101", wrong)
    with pytest.raises(ValidationError, match="locked for 15 minutes"):
        gate.unlock(None, "101", "3333")
    clock.now += timedelta(minutes=14, seconds=59)
    with pytest.raises(ValidationError, match="locked until 09:15 UTC"):
        gate.unlock(None, "101", "2468")
    clock.now += timedelta(seconds=1)
    assert gate.unlock(None, "101", "2468").extension == "101"


def test_a_right_pin_resets_the_count_of_wrong_ones(app: Pbx) -> None:
    gate = SelfService(app, Clock())
    for _ in range(2):
        with pytest.raises(ValidationError):
            gate.unlock(None, "101", "0000")
    gate.unlock(None, "101", "2468")
    with pytest.raises(ValidationError, match="2 tries left"):
        gate.unlock(None, "101", "0000")
    user: User = app.repository.get(app.user(None, "101").id)
    assert user.self_pin_failures == 1


def test_without_a_pin_there_is_no_self_service(app: Pbx) -> None:
    with pytest.raises(ValidationError, match="102 has no PIN"):
        SelfService(app, Clock()).unlock(None, "102", "")
    with pytest.raises(ValidationError, match="wrong PIN"):
        SelfService(app, Clock()).unlock(None, "101", "")
