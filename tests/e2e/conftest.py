"""Helpers for the end-to-end tests: the ``pbx`` command line run as a real subprocess.

Every test works in its own temporary directory (the default store is ``var/pbx.sqlite``
under the working directory), with the environment cleared of the variables that would
point the CLI elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PBX_SCRIPT = Path(sys.executable).with_name("pbx")
PBX = (
    [str(PBX_SCRIPT)]
    if PBX_SCRIPT.exists()
    else [sys.executable, "-c", "from commands.main import main; main()"]
)
CLEARED = ("PBX_DB_URL", "PBX_ESL_PASSWORD")
TIMEOUT = 120.0

ALICE = ["101", "--name", "Alice Jansen", "--number", "020 1234567",
         "--password", "s3cret-pass", "--pin", "1234"]
BOB = ["102", "--name", "Bob de Vries"]


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    status: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"pbx {' '.join(self.args)} -> exit {self.status}\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


class Pbx:
    """Runs ``pbx`` in one working directory and remembers everything it printed."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        self.transcript: list[Result] = []

    def command(self, *args: str) -> list[str]:
        return [*PBX, *args]

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return self.env | (extra or {})

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            self.command(*args),
            cwd=self.cwd,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        result = Result(tuple(args), done.returncode, done.stdout, done.stderr)
        self.transcript.append(result)
        return result

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a command that must succeed; its stdout."""
        result = self.run(*args, env=env)
        assert result.status == 0, result.describe()
        assert "Traceback" not in result.stderr, result.describe()
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a command that must be refused: exit 2, one ``error:`` line, no stdout."""
        result = self.run(*args, env=env)
        assert result.status == 2, result.describe()
        assert result.stdout == "", result.describe()
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.describe()
        assert lines[0].startswith("error: "), result.describe()
        return lines[0]

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.json("events", "list", "--limit", "100000")
        return events

    def printed(self) -> str:
        """Everything every command of this test printed, stdout and stderr."""
        return "\n".join(r.stdout + r.stderr for r in self.transcript)


@pytest.fixture
def pbx(tmp_path: Path) -> Pbx:
    """The CLI in a fresh, empty working directory."""
    return Pbx(tmp_path)


@pytest.fixture(scope="session")
def acme_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding Acme with Alice (101) and Bob (102), made once."""
    where = tmp_path_factory.mktemp("acme-template")
    cli = Pbx(where)
    cli.ok("enterprise", "add", "Acme", "--domain", "acme.example")
    cli.ok("user", "add", *ALICE)
    cli.ok("user", "add", *BOB)
    return where / "var"


@pytest.fixture
def acme(tmp_path: Path, acme_template: Path) -> Iterator[Pbx]:
    """The CLI in its own working directory, on a copy of the Acme store."""
    shutil.copytree(acme_template, tmp_path / "var")
    yield Pbx(tmp_path)
