"""``pbx user call-back`` (USR-23) against the fake FreeSWITCH inbound event socket."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from esl_controller.simulator import FakeInboundESL
from tests.e2e.conftest import Pbx

PASSWORD = "callback-esl-secret"
OUTSIDE = "0612345678"


@pytest.fixture
def inbound() -> Iterator[FakeInboundESL]:
    fake = FakeInboundESL(PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def logged_template(acme_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Acme where 101 (Alice Jansen) has, newest first, a placed call to 102, a missed call
    from outside and a missed call from a caller who withheld the number (made once)."""
    where = tmp_path_factory.mktemp("callback-template")
    shutil.copytree(acme_template, where / "var")
    cli = Pbx(where)
    cli.ok("simulate", "call", "--from", "anonymous", "--to", "0201234567",
           "--endpoint", "101=no-answer")
    cli.ok("simulate", "call", "--from", OUTSIDE, "--to", "0201234567",
           "--endpoint", "101=no-answer")
    cli.ok("simulate", "call", "--from", "101", "--to", "102")
    log = cli.json("calls", "list", "--user", "101")
    assert [(e["kind"], e["other_number"]) for e in log] == [
        ("placed", "102"),
        ("missed", OUTSIDE),
        ("missed", "anonymous"),
    ]
    return where / "var"


@pytest.fixture
def logged(tmp_path: Path, logged_template: Path) -> tuple[Pbx, str]:
    """The CLI on a copy of that store, and a file holding the ESL password."""
    shutil.copytree(logged_template, tmp_path / "var")
    secret = tmp_path / "esl-password"
    secret.write_text(PASSWORD + "\n")
    return Pbx(tmp_path), str(secret)


def originate(other: str) -> str:
    return (
        "originate {origination_caller_id_number=101,origination_caller_id_name='Alice Jansen',"
        "user_name=101,domain_name=acme.example,sip_authorized=true}"
        f"user/101@acme.example {other} XML default"
    )


def test_call_back_a_missed_outside_call_by_position(
    logged: tuple[Pbx, str], inbound: FakeInboundESL
) -> None:
    cli, secret = logged
    esl = f"127.0.0.1:{inbound.port}"
    out = cli.ok("user", "call-back", "101", "2", "--esl", esl, "--esl-password-file", secret)
    assert inbound.auth_attempts == [PASSWORD]
    assert inbound.api_commands == [originate(OUTSIDE)]
    assert f"sent to {esl}: bgapi {originate(OUTSIDE)}\n" in out
    assert PASSWORD not in cli.printed()


def test_call_back_a_colleague_by_call_id_with_the_password_from_the_environment(
    logged: tuple[Pbx, str], inbound: FakeInboundESL
) -> None:
    cli, _ = logged
    [newest] = cli.json("calls", "list", "--user", "101", "--limit", "1")
    cli.ok("user", "call-back", "101", newest["call_id"], "--esl", f"127.0.0.1:{inbound.port}",
           env={"PBX_ESL_PASSWORD": PASSWORD})
    cli.ok("user", "call-back", "101", "1", "--esl", f"127.0.0.1:{inbound.port}",
           env={"PBX_ESL_PASSWORD": PASSWORD})
    assert inbound.api_commands == [originate("102"), originate("102")]
    assert PASSWORD not in cli.printed()


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        pytest.param(["999", "1"], {}, ["999"], id="unknown-user"),
        pytest.param(["101", "4"], {}, ["3 entries", "4"], id="entry-out-of-range"),
        pytest.param(["101", "0"], {}, ["0"], id="entry-zero"),
        pytest.param(["101", "3"], {}, ["no number to call back"], id="anonymous"),
        pytest.param(["101", "00000000-0000-4000-8000-000000000000"], {}, ["no call"],
                     id="unknown-call-id"),
        pytest.param(["101", "1", "--no-esl"], {}, ["--esl"], id="missing-esl"),
        pytest.param(["101", "1", "--no-password"], {}, ["PBX_ESL_PASSWORD"],
                     id="missing-password"),
        pytest.param(["101", "1", "--no-password"], {"PBX_ESL_PASSWORD": "ClueCon"},
                     ["ClueCon"], id="default-password"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    logged: tuple[Pbx, str],
    inbound: FakeInboundESL,
    args: list[str],
    env: dict[str, str],
    words: list[str],
) -> None:
    cli, secret = logged
    options = ["--esl", f"127.0.0.1:{inbound.port}", "--esl-password-file", secret]
    if "--no-esl" in args:
        options = ["--esl-password-file", secret]
    if "--no-password" in args:
        options = ["--esl", f"127.0.0.1:{inbound.port}"]
    positional = [a for a in args if not a.startswith("--no-")]
    line = cli.fails("user", "call-back", *positional, *options, env=env)
    for word in words:
        assert word in line
    assert inbound.api_commands == []
    assert inbound.connections == 0


def test_a_wrong_password_is_refused_by_freeswitch(
    logged: tuple[Pbx, str], inbound: FakeInboundESL
) -> None:
    cli, _ = logged
    wrong = cli.cwd / "wrong"
    wrong.write_text("not-the-password")
    result = cli.run("user", "call-back", "101", "2", "--esl", f"127.0.0.1:{inbound.port}",
                     "--esl-password-file", str(wrong))
    assert result.status == 1, result.describe()
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "refused the password" in result.stderr
    assert inbound.api_commands == []
