"""Run the test suite as a few pytest processes side by side (``make test``).

The end-to-end tests spend their time in ``pbx`` subprocesses, so one pytest process leaves a
core idle. pytest-xdist cannot drive a gevent-patched session, hence plain processes: one
for the unit, integration and PostgreSQL tests, while a small pool runs the end-to-end
files one pytest process each, the largest first. Each process writes its own log; a
failing one is printed whole, the others by their summary line. The exit status is the
first non-zero one (0 when all passed).

    python tests/parallel.py [--lanes N] [extra pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "test-logs"


class Runner:
    def __init__(self, extra: list[str]) -> None:
        self.extra = extra
        self.lock = threading.Lock()
        self.results: list[tuple[str, int, str]] = []

    def run(self, name: str, paths: list[str]) -> None:
        log = LOGS / (name.replace("/", "_") + ".log")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   *self.extra, *paths]
        with log.open("w") as handle:
            code = subprocess.call(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
        text = log.read_text()
        with self.lock:
            self.results.append((name, code, text))
            summary = text.strip().splitlines()[-1] if text.strip() else "(no output)"
            print(f"{summary}  [{name}]" if code == 0 else f"FAILED (exit {code})  [{name}]",
                  flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("PBX_TEST_LANES", "2")),
                        help="end-to-end files run at once (besides the unit/integration run)")
    args, extra = parser.parse_known_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runner = Runner(extra)
    e2e = sorted((ROOT / "tests" / "e2e").glob("test_*.py"), key=lambda p: -p.stat().st_size)
    queue = [str(p.relative_to(ROOT)) for p in e2e]
    queue_lock = threading.Lock()

    def lane() -> None:
        while True:
            with queue_lock:
                if not queue:
                    return
                path = queue.pop(0)
            runner.run(path, [path])

    threads = [threading.Thread(target=runner.run,
                                args=("unit+integration+pg",
                                      ["tests/unit", "tests/integration", "tests/pg"]))]
    threads += [threading.Thread(target=lane) for _ in range(max(1, args.lanes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status = 0
    for name, code, text in runner.results:
        if code != 0:
            print(f"\n===== {name}: exit {code} =====\n{text}", flush=True)
            status = status or code
    passed = sum(_count(text, "passed") for _, _, text in runner.results)
    failed = sum(_count(text, "failed") for _, _, text in runner.results)
    print(f"all parts done in {time.monotonic() - started:.0f} s: {passed} passed, "
          f"{failed} failed{'' if status == 0 else ' - FAILED'}", flush=True)
    return status


def _count(text: str, word: str) -> int:
    """The number before ``word`` in pytest's summary line."""
    lines = text.strip().splitlines()
    for part in (lines[-1] if lines else "").replace(",", " ").split(" in ")[0].split("  "):
        bits = part.split()
        for i, bit in enumerate(bits[1:], 1):
            if bit == word and bits[i - 1].isdigit():
                return int(bits[i - 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
