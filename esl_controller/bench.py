"""``make bench``: the simulator drives a real ``pbx serve`` and a bare greenswitch floor.

Prints call setups/s, accept-to-first-sendmsg latency (p50/p99/p99.9) at a fixed rate, peak
RSS and events appended/s, each beside the floor's figure, as a table for the README.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all(queue=False)

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from esl_controller.application import Pbx  # noqa: E402
from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch  # noqa: E402

PAIRS = 100  # callers 200-299 call callees 300-399


@dataclass
class Figures:
    setups_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    peak_rss_mb: float
    events_per_s: float | None
    failed: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            gevent.sleep(0.05)
    raise RuntimeError("server did not start listening")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))
    return ordered[index]


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._g = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                return
            gevent.sleep(0.05)

    def stop(self) -> float:
        self._g.kill()
        return self.peak / 1e6


def run_load(port: int, calls: int, rate: float | None, concurrency: int) -> tuple[list, float]:
    """Offer ``calls`` calls (at ``rate``/s, or as fast as ``concurrency`` allows)."""
    callees = {str(ext): Endpoint("answer", 0.0, 0.0) for ext in range(300, 300 + PAIRS)}
    switch = FakeSwitch("127.0.0.1", port, endpoints=callees, time_scale=0.0)
    results: list = []

    def place(i: int) -> None:
        caller, callee = str(200 + i % PAIRS), str(300 + i % PAIRS)
        spec = CallSpec(caller, callee, auth_user=caller, domain="bench.example")
        results.append(switch.place_call(spec, timeout=60))

    pool = Pool(concurrency)
    started = time.perf_counter()
    for i in range(calls):
        if rate:
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
        pool.spawn(place, i)
    pool.join()
    return results, time.perf_counter() - started


def measure(cmd: list[str], port: int, calls: int, rate: float, db: str | None) -> Figures:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        rss = RssSampler(proc.pid)
        run_load(port, min(200, calls), None, 50)  # warm-up
        latency_calls, _ = run_load(port, calls, rate, 1000)
        before = Pbx(db).last_position() if db else 0
        burst, elapsed = run_load(port, calls, None, 200)
        after = Pbx(db).last_position() if db else 0
        peak = rss.stop()
    finally:
        proc.terminate()
        proc.wait(10)
    lat = [
        (c.first_sendmsg_at - c.connected_at) * 1000
        for c in latency_calls
        if c.first_sendmsg_at is not None
    ]
    ok = [c for c in burst if c.first_sendmsg_at is not None]
    failed = calls * 2 - len(lat) - len(ok)
    return Figures(
        setups_per_s=len(ok) / elapsed,
        p50_ms=_percentile(lat, 0.50),
        p99_ms=_percentile(lat, 0.99),
        p999_ms=_percentile(lat, 0.999),
        peak_rss_mb=peak,
        events_per_s=(after - before) / elapsed if db else None,
        failed=failed,
    )


def append_capacity(db: str, seconds: float = 5.0, greenlets: int = 200) -> tuple[float, int]:
    """Events/s the group-commit writer appends durably; returns (rate, commits)."""
    from datetime import datetime

    from esl_controller.call_writer import CallWriter
    from esl_controller.domain.calls import Call

    app = Pbx(db)
    writer = CallWriter(app)
    writer.start()
    deadline = time.perf_counter() + seconds

    def one_call_after_another() -> None:
        while time.perf_counter() < deadline:
            now = datetime.now(UTC)
            call = Call(str(uuid.uuid4()), None, "201", "201", "301", "internal", "bench", now)
            call.route("internal", "301", [{"service": "bench", "rule": "-", "detail": "-"}])
            writer.save(call)
            call.alert(["301"], now)
            writer.save(call)
            call.answer("301", now)
            call.bridge("sofia/internal/301", now)
            writer.save(call)
            call.end("NORMAL_CLEARING", "answered", now, 1.0, 1.0)
            writer.save(call)

    started = time.perf_counter()
    gevent.joinall([gevent.spawn(one_call_after_another) for _ in range(greenlets)])
    elapsed = time.perf_counter() - started
    writer.stop()
    return writer.appended / elapsed, writer.commits


def held_calls(cmd: list[str], port: int, calls: int, hold: float) -> tuple[float, float, int]:
    """RSS before and while ``calls`` answered calls are held; returns (idle MB, held MB, ok)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        rss = RssSampler(proc.pid)
        gevent.sleep(0.5)
        idle = rss.peak / 1e6
        callees = {str(ext): Endpoint("answer", 0.0, hold) for ext in range(300, 300 + PAIRS)}
        switch = FakeSwitch("127.0.0.1", port, endpoints=callees, time_scale=1.0)
        results: list = []

        def place(i: int) -> None:
            caller, callee = str(200 + i % PAIRS), str(300 + i % PAIRS)
            spec = CallSpec(caller, callee, auth_user=caller, domain="bench.example")
            results.append(switch.place_call(spec, timeout=hold + 60))

        group = [gevent.spawn(place, i) for i in range(calls)]
        gevent.joinall(group)
        held = rss.stop()
    finally:
        proc.terminate()
        proc.wait(10)
    return idle, held, sum(1 for r in results if r.bridged_to)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="calls/s for the latency run")
    parser.add_argument("--calls", type=int, default=2000, help="calls per run")
    parser.add_argument("--held", type=int, default=2000, help="calls held at once")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds each is held")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pbx-bench-"))
    db = f"sqlite:///{workdir}/pbx.sqlite"
    app = Pbx(db)
    app.create_enterprise("Bench", "bench.example")
    for i in range(PAIRS):
        app.add_user(None, str(200 + i), f"Caller {i}")
        app.add_user(None, str(300 + i), f"Callee {i}")
    del app
    pbx_port, floor_port = _free_port(), _free_port()
    pbx_cmd = [
        sys.executable, "-c", "from commands.main import main; main()",
        "--db", db, "serve", "--listen", f"127.0.0.1:{pbx_port}", "--http", "off",
    ]
    floor_cmd = [sys.executable, "-m", "esl_controller.bench_floor", str(floor_port)]
    print(f"bench: {args.calls} calls per run; latency at {args.rate:.0f} calls/s; "
          f"throughput with 200 calls in flight; {os.cpu_count()} cores", flush=True)
    ours = measure(pbx_cmd, pbx_port, args.calls, args.rate, db)
    floor = measure(floor_cmd, floor_port, args.calls, args.rate, None)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    rows = [
        ("call setups/s (burst)", ours.setups_per_s, floor.setups_per_s, ">= 300"),
        ("accept->first sendmsg p50 ms", ours.p50_ms, floor.p50_ms, ""),
        ("accept->first sendmsg p99 ms", ours.p99_ms, floor.p99_ms, "<= 20"),
        ("accept->first sendmsg p99.9 ms", ours.p999_ms, floor.p999_ms, "<= 100"),
        ("peak RSS MB", ours.peak_rss_mb, floor.peak_rss_mb, ""),
    ]
    print(f"{'metric':34}{'pbx serve':>12}{'bare floor':>12}{'ratio':>8}  budget")
    for name, a, b, budget in rows:
        print(f"{name:34}{a:12.1f}{b:12.1f}{ratio(a, b):>8}  {budget}")
    print(f"{'events appended/s (burst)':34}{ours.events_per_s or 0:12.1f}{'-':>12}{'-':>8}")
    print(f"failed calls: pbx serve {ours.failed}, floor {floor.failed}")
    rate, commits = append_capacity(f"sqlite:///{workdir}/append.sqlite")
    print(f"append capacity (group commit, 200 writers): {rate:,.0f} events/s "
          f"in {commits} commits  (budget >= 5,000)")
    idle, held, ok = held_calls(pbx_cmd, pbx_port, args.held, args.hold)
    print(f"held calls: {ok}/{args.held} answered and held {args.hold:.0f} s at once; "
          f"RSS {idle:.0f} MB idle -> {held:.0f} MB held "
          f"({(held - idle) * 1000 / max(ok, 1):.0f} KB per call)")


if __name__ == "__main__":
    main()
