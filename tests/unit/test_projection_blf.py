"""PRESENCE_IN headers for BLF, checked against the documented sendevent captures."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.blf import LineChange, presence_headers

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl-captures"


def capture(answer_state: str) -> dict[str, str]:
    text = (CAPTURES / f"presence-in-sendevent-{answer_state}.txt").read_text()
    lines = text.splitlines()
    assert lines[0] == "sendevent PRESENCE_IN"
    return dict(line.split(": ", 1) for line in lines[1:] if line)


@pytest.mark.parametrize(
    ("state", "answer_state", "status"),
    [
        ("ringing", "early", "Ringing"),
        ("busy", "confirmed", "On The Phone"),
        ("idle", "terminated", "Available"),
    ],
)
def test_headers_carry_what_the_captures_carry(state: str, answer_state: str, status: str) -> None:
    change = LineChange(
        "e1", "801", "example.com", state, "c0ffee00-0000-4000-8000-000000000001", "outbound"
    )
    headers = presence_headers(change, event_count=3)
    assert {k: headers[k] for k in capture(answer_state)} == capture(answer_state)
    assert headers["status"] == status
    assert headers["unique-id"] == change.call_id
    assert headers["event_count"] == "3"
    assert headers["rpid"] == "unknown"


def test_the_called_side_is_inbound() -> None:
    change = LineChange("e1", "102", "acme.example", "ringing", "id", "inbound")
    headers = presence_headers(change)
    assert headers["Presence-Call-Direction"] == "inbound"
    assert headers["from"] == headers["login"] == "102@acme.example"
