"""``make bench``, the call-center part (issue 5): queue throughput with 100 agents.

A store with an enterprise, a queue of the 525 tier (policy regular, no wrap-up, stranded
callers wait) and 100 agents signed in (users 300-399); a real ``pbx serve`` in its own
process; the simulator offers N callers from the public network to the queue's number over
real TCP, ``--in-flight`` at once (default 300: 100 talking, about 200 waiting; at most the
tier, so none overflows). Agents answer at once and talk briefly; callers hear music in the queue's
2-second slices, which the simulator's time scale shortens (default 0.25), so a waiting caller
looks for an agent every ``2 s x scale``.

Printed, from the log the controller wrote (``QueueCallEnqueued``, ``QueueCallOffered``,
``QueueCallAnswered``) and from what the simulator saw:

- callers enqueued per second (first to last enqueue);
- callers dispatched per second: offers to an agent that the agent answered, from the first
  enqueue to the last such offer;
- the wait from enqueue to the answered offer: mean, p50, p99 (wall clock);
- the controller's CPU per caller (``pbx serve`` and its projection worker);
- the pure dispatcher (``routing.queue.assign``: who gets which waiting call) per decision,
  with 25, 100 and 525 callers waiting and 100 agents, in-process.

Run alone: ``python -m esl_controller.bench_queue [--callers N] [--in-flight N] [--scale S]``.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all(queue=False)

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from esl_controller.application import Pbx  # noqa: E402
from esl_controller.bench import _free_port, _percentile, _wait_port  # noqa: E402
from esl_controller.call_centers import CallCenters  # noqa: E402
from esl_controller.domain.call_centers import QueueCall  # noqa: E402
from esl_controller.routing.queue import assign  # noqa: E402
from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch, SimCall  # noqa: E402
from projections.call_centers_fold import CALL_TOPIC  # noqa: E402
from projections.directory import Directory  # noqa: E402

AGENTS = 100  # users 300-399
TIER = 525
QUEUE_NUMBER = "+31207000700"
WAITING_SIZES = (25, 100, 525)


@dataclass
class Throughput:
    callers: int
    answered: int
    failed: int
    enqueued_per_s: float
    dispatched_per_s: float
    wait_mean_ms: float
    wait_p50_ms: float
    wait_p99_ms: float
    wall_s: float
    cpu_ms_per_call: float  # the controller's CPU (pbx serve and its projection worker)


def _setup(db: str) -> None:
    app = Pbx(db)
    app.create_enterprise("Bench", "bench.example")
    centers = CallCenters(app)
    for i in range(AGENTS):
        app.add_user(None, str(300 + i), f"Agent {i}")
    centers.add(None, "Bench", "700", tier=TIER, policy="regular", numbers_=(QUEUE_NUMBER,),
                wrap_up=0, stranded="wait")
    for i in range(AGENTS):
        centers.add_agent(None, "Bench", str(300 + i))
    app.close()


def _callers(port: int, callers: int, scale: float, talk: float, in_flight: int
             ) -> tuple[list[SimCall], float]:
    agents = {str(300 + i): Endpoint("answer", 0.0, talk) for i in range(AGENTS)}
    switch = FakeSwitch("127.0.0.1", port, endpoints=agents, time_scale=scale)
    results: list[SimCall] = []

    def place(i: int) -> None:
        spec = CallSpec(f"+3161{i:07d}", QUEUE_NUMBER, call_uuid=str(uuid.uuid4()))
        results.append(switch.place_call(spec, timeout=300))

    pool = Pool(in_flight)  # at most the tier waits: nobody overflows
    started = time.perf_counter()
    for i in range(callers):
        pool.spawn(place, i)
    pool.join()
    return results, time.perf_counter() - started


def throughput(db: str, callers: int, scale: float, talk: float, in_flight: int
               ) -> Throughput:
    port = _free_port()
    cmd = [sys.executable, "-c", "from commands.main import main; main()",
           "--db", db, "serve", "--listen", f"127.0.0.1:{port}", "--http", "off"]
    app = Pbx(db)
    start = app.last_position()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        cpu_before = _cpu_seconds(proc.pid)
        results, wall = _callers(port, callers, scale, talk, in_flight)
        cpu = _cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(10)
    enqueued: dict[str, datetime] = {}
    offered: dict[str, datetime] = {}
    answered: dict[str, datetime] = {}  # call -> when its (last) offer was made
    topics = tuple(f"{CALL_TOPIC}.{name}" for name in (
        "QueueCallEnqueued", "QueueCallOffered", "QueueCallAnswered"))
    for _position, event in app.events_after(start, topics):
        name = type(event).__name__
        call = str(event.originator_id)
        at: datetime = event.at  # type: ignore[attr-defined]
        if name == "QueueCallEnqueued":
            enqueued[call] = at
        elif name == "QueueCallOffered":
            offered[call] = at
        elif name == "QueueCallAnswered" and call in offered:
            answered[call] = offered[call]
    app.close()
    first = min(enqueued.values())
    waits = [(answered[c] - enqueued[c]).total_seconds() * 1000 for c in answered]
    enqueue_span = (max(enqueued.values()) - first).total_seconds()
    dispatch_span = (max(answered.values()) - first).total_seconds()
    return Throughput(
        callers=callers,
        answered=sum(1 for r in results if r.bridged_to),
        failed=sum(1 for r in results if not r.bridged_to),
        enqueued_per_s=len(enqueued) / enqueue_span if enqueue_span else float(len(enqueued)),
        dispatched_per_s=len(answered) / dispatch_span if dispatch_span else 0.0,
        wait_mean_ms=statistics.fmean(waits),
        wait_p50_ms=_percentile(waits, 0.50),
        wait_p99_ms=_percentile(waits, 0.99),
        wall_s=wall,
        cpu_ms_per_call=cpu * 1000 / max(1, callers),
    )


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of ``pbx serve`` and its children so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def dispatcher_cost(db: str, waiting: int, decisions: int = 200) -> float:
    """Microseconds per ``assign`` over a queue with ``waiting`` callers and 100 agents, half
    of them on a call (the dispatcher skips them)."""
    app = Pbx(db)
    directory = Directory()
    app.catch_up(directory)
    ent = app.enterprise("Bench")
    queue = directory.queue_named(ent.id, "Bench")
    assert queue is not None
    now = datetime.now(UTC)
    calls = [QueueCall(queue.id, str(uuid.uuid4()), f"+3162{i:07d}", 1 if i % 3 == 0 else 0,
                       now - timedelta(seconds=i)) for i in range(waiting)]
    app.save(*calls)
    app.catch_up(directory)
    on_a_call = {str(300 + i) for i in range(0, AGENTS, 2)}

    def busy(_enterprise: str, extension: str) -> bool:
        return extension in on_a_call

    started = time.perf_counter()
    for seed in range(decisions):
        chosen = assign(directory, queue, now, busy, seed)
    elapsed = time.perf_counter() - started
    assert len(chosen) == min(waiting, AGENTS - len(on_a_call))
    app.close()
    return elapsed / decisions * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callers", type=int, default=1000, help="callers offered")
    parser.add_argument("--scale", type=float, default=0.25,
                        help="simulated seconds per real second (music slices, talk)")
    parser.add_argument("--talk", type=float, default=1.0,
                        help="simulated seconds an agent talks")
    parser.add_argument("--in-flight", type=int, default=3 * AGENTS,
                        help="callers in the queue or talking at once (at most the tier)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pbx-bench-queue-"))
    db = f"sqlite:///{workdir}/pbx.sqlite"
    _setup(db)
    print(f"queue bench: {args.callers} callers to a 525-tier queue with {AGENTS} agents, "
          f"at most {min(args.in_flight, TIER)} in flight; music slices of {2 * args.scale * 1000:.0f} ms, agents "
          f"talk {args.talk * args.scale * 1000:.0f} ms, no wrap-up; {os.cpu_count()} cores",
          flush=True)
    figures = throughput(db, args.callers, args.scale, args.talk, min(args.in_flight, TIER))
    print(f"callers answered: {figures.answered}/{figures.callers} "
          f"(failed {figures.failed}) in {figures.wall_s:.1f} s")
    print(f"callers enqueued/s: {figures.enqueued_per_s:.1f}")
    print(f"callers dispatched (offered and answered)/s: {figures.dispatched_per_s:.1f}")
    print(f"controller CPU per caller (pbx serve and its worker): "
          f"{figures.cpu_ms_per_call:.1f} ms")
    print(f"wait enqueue -> answered offer: mean {figures.wait_mean_ms:.0f} ms, "
          f"p50 {figures.wait_p50_ms:.0f} ms, p99 {figures.wait_p99_ms:.0f} ms")
    for index, waiting in enumerate(WAITING_SIZES):
        store = f"sqlite:///{workdir}/dispatch{index}.sqlite"  # a fresh queue per size
        _setup(store)
        cost = dispatcher_cost(store, waiting)
        print(f"dispatcher decision (assign), {waiting} waiting, {AGENTS} agents: "
              f"{cost:.0f} us")


if __name__ == "__main__":
    main()
