"""Call-center reports (CC-5): the ``queue_report`` read model folded from a hand-made
sequence of queue call events, with exact figures (waits, p90, service level, agents), the
period's bounds, and a rebuild from zero equal to the live view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esl_controller import audit
from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import QueueCall
from projections.queue_report import QueueReportProjection, p90, read_report
from projections.tracking import Follower

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY_START = datetime(2026, 11, 23, tzinfo=UTC)
DAY_END = datetime(2026, 11, 23, 23, 59, 59, 999999, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Log:
    def __init__(self, path: Path) -> None:
        self.app = Pbx(f"sqlite:///{path}/pbx.sqlite")
        self.app.create_enterprise("Acme", "acme.example")
        centers = CallCenters(self.app)
        self.queue = centers.add(None, "Support", "700", tier=25, policy="regular").id
        self.other = centers.add(None, "Sales", "701", tier=25, policy="regular").id

    def call(self, name: str, entered: float, queue: str = "Support") -> QueueCall:
        qid = self.queue if queue == "Support" else self.other
        return QueueCall(qid, name, "+31612345678", 0, at(entered))

    def save(self, *calls: QueueCall) -> None:
        self.app.save(*calls)


@pytest.fixture
def log(tmp_path: Path) -> Log:
    found = Log(tmp_path)
    a = found.call("A", 0)  # answered by 101 after 4 s, talked 60 s
    a.offer(["101"], at(3))
    a.connect("101", "leg-a", at(4))
    a.answer("101", at(64))
    b = found.call("B", 10)  # 102 answers after 25 s (101 let it ring out), talked 30 s
    b.offer(["101"], at(12))
    b.bounce(["101"], "no-answer", at(27))
    b.offer(["102"], at(30))
    b.connect("102", "leg-b", at(35))
    b.answer("102", at(65))
    c = found.call("C", 20)  # abandoned after 7 s
    c.abandon("the caller hung up", at(27))
    d = found.call("D", 30)  # overflowed after the maximum wait
    d.overflow("max wait", "busy", at(150))
    e = found.call("E", 40)  # moved to Sales after 5 s, answered there
    e.move(found.other, "supervisor", at(45))
    e2 = found.call("E", 40, queue="Sales")
    e2.offer(["103"], at(46))
    e2.connect("103", "leg-e", at(47))
    e2.answer("103", at(50))
    f = found.call("F", 50)  # 101 answers after 12 s, talked 20 s
    f.offer(["101"], at(61))
    f.connect("101", "leg-f", at(62))
    f.answer("101", at(82))
    g = found.call("G", 60)  # still waiting
    i = found.call("I", 70)  # answered before QueueCallConnected existed: wait to the offer
    i.offer(["103"], at(79))
    i.answer("103", at(140))
    j = found.call("J", 80)  # abandoned after 33 s
    j.abandon("the caller hung up", at(113))
    late = found.call("L", 86400)  # the next day: outside the period
    late.offer(["101"], at(86401))
    late.connect("101", "leg-l", at(86402))
    late.answer("101", at(86410))
    found.save(a, b, c, d, e, e2, f, g, i, j, late)
    return found


def test_the_report_of_a_day_has_exact_figures(log: Log) -> None:
    report = read_report(log.app, log.queue, DAY_START, DAY_END, service_level=20)
    assert (report.offered, report.answered, report.abandoned, report.overflowed,
            report.moved, report.waiting, report.bounced) == (9, 4, 2, 1, 1, 1, 1)
    # answered waits 4, 25, 12 and 9 s: average 12.5, p90 (nearest rank 4 of 4) 25
    assert (report.average_wait, report.p90_wait) == (12.5, 25.0)
    # abandoned after 7 and 33 s
    assert (report.average_abandon_wait, report.p90_abandon_wait) == (20.0, 33.0)
    # within 20 s: A (4), F (12), I (9) of 9 offered
    assert (report.answered_in_time, report.service_level) == (3, 33.3)
    assert [(a.agent, a.answered, a.average_talk) for a in report.agents] == [
        ("101", 2, 40.0), ("102", 1, 30.0), ("103", 1, None)]


def test_the_service_level_and_the_period_follow_the_options(log: Log) -> None:
    report = read_report(log.app, log.queue, DAY_START, DAY_END, service_level=30)
    assert (report.answered_in_time, report.service_level) == (4, 44.4)
    morning = read_report(log.app, log.queue, at(0), at(30))  # A, B, C, D entered
    assert (morning.offered, morning.answered, morning.abandoned, morning.overflowed) == (
        4, 2, 1, 1)
    next_day = read_report(log.app, log.queue, DAY_END, DAY_END + timedelta(days=1))
    assert (next_day.offered, next_day.answered, next_day.average_wait) == (1, 1, 2.0)
    sales = read_report(log.app, log.other, DAY_START, DAY_END)  # the moved call's wait
    assert (sales.offered, sales.answered, sales.average_wait) == (1, 1, 7.0)  # counts since
    empty = read_report(log.app, log.queue, at(-3600), at(-1))  # it first entered Support
    assert (empty.offered, empty.average_wait, empty.p90_wait, empty.service_level) == (
        0, None, None, None)


def test_p90_is_the_nearest_rank() -> None:
    assert p90([]) is None
    assert p90([5.0]) == 5.0
    assert p90([float(v) for v in range(10, 0, -1)]) == 9.0  # rank 9 of 10
    assert p90([float(v) for v in range(1, 12)]) == 10.0  # rank ceil(9.9) = 10 of 11
    assert p90([1.0, 100.0]) == 100.0


def test_the_read_model_rebuilt_from_zero_equals_the_live_one(log: Log) -> None:
    follower = Follower(log.app, QueueReportProjection())
    follower.catch_up()
    follower.close()
    result = audit.rebuild(log.app, "queue_report", QueueReportProjection)
    assert (result.equal, result.size) == (True, 12)  # 11 queue lives, 1 of them open
