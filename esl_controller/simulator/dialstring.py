"""Bridge dial strings (ESL-NOTES A.6) and how the simulated endpoints answer them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "DIALSTATUS",
    "Target",
    "DialString",
    "Ring",
    "parse_dial_string",
    "continues_after",
]

# originate_disposition -> DIALSTATUS (switch_ivr_originate / mod_dptools)
DIALSTATUS: dict[str, str] = {
    "SUCCESS": "SUCCESS",
    "USER_BUSY": "BUSY",
    "NO_ANSWER": "NOANSWER",
    "ORIGINATOR_CANCEL": "CANCEL",
    "CALL_REJECTED": "DONTCALL",
    "DESTINATION_OUT_OF_ORDER": "INVALIDARGS",
    "INVALID_PROFILE": "INVALIDARGS",
}

# Causes after which the dialplan continues even without continue_on_fail.
_ALWAYS_CONTINUE = {"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"}


@dataclass
class Target:
    """One leg of a dial string."""

    endpoint: str
    kind: str  # "user", "gateway", "error" or "other"
    key: str
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class DialString:
    """A parsed dial string: global ``{}`` variables and ``|``-separated groups of ``,`` legs."""

    variables: dict[str, str]
    groups: list[list[Target]]

    def var(self, name: str, default: str = "") -> str:
        """A global variable of the originate."""
        return self.variables.get(name, default)


@dataclass
class Ring:
    """What one leg will do: ``answer`` / ``fail`` after ``delay`` seconds, or ``never``."""

    target: Target
    action: str
    delay: float
    cause: str = ""


_SPECIAL = re.compile(r"[\\{}\[\]<>]")


def _split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside ``{}``/``[]`` and not escaped with a backslash."""
    if not _SPECIAL.search(text):  # no brackets or escapes: a plain split is the same
        return text.split(sep)
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if ch in "{[<":
            depth += 1
        elif ch in "}]>":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _vars(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in _split(text, ","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            result[name.strip()] = value
    return result


def _target(text: str) -> Target:
    text = text.strip()
    variables: dict[str, str] = {}
    while text.startswith("["):
        end = text.find("]")
        variables.update(_vars(text[1:end]))
        text = text[end + 1 :].strip()
    parts = text.split("/")
    if parts[0] == "user" and len(parts) > 1:
        return Target(text, "user", parts[1].split("@")[0], variables)
    if parts[:2] == ["sofia", "gateway"] and len(parts) > 3:
        return Target(text, "gateway", "/".join(parts[3:]).split("@")[0], variables)
    if parts[0] == "error" and len(parts) > 1:
        return Target(text, "error", parts[1].upper(), variables)
    key = parts[-1].split("@")[0].removeprefix("sip:")
    return Target(text, "other", key, variables)


def parse_dial_string(text: str) -> DialString:
    """Parse ``{a=b,...}leg1,leg2|leg3`` into variables and failover groups."""
    text = text.strip()
    variables: dict[str, str] = {}
    while text.startswith("{") or text.startswith("<"):
        close = "}" if text[0] == "{" else ">"
        depth, end = 0, len(text) - 1
        for i, ch in enumerate(text):
            depth += ch == text[0]
            depth -= ch == close
            if depth == 0:
                end = i
                break
        variables.update(_vars(text[1:end]))
        text = text[end + 1 :]
    groups = [
        [_target(leg) for leg in _split(group, ",") if leg.strip()]
        for group in _split(text, "|")
        if group.strip()
    ]
    return DialString(variables, [g for g in groups if g])


def continues_after(cause: str, variables: dict[str, str]) -> bool:
    """``switch_channel_handle_cause``: may the A-leg stay up after a failed bridge?"""
    if cause == "ATTENDED_TRANSFER":
        return False
    cof = variables.get("continue_on_fail", "")
    if cof.lower() == "true":
        return True
    if cof and cause in [c.strip().upper() for c in cof.split(",")]:
        return True
    failure_causes = variables.get("failure_causes", "")
    if failure_causes:
        return cause not in [c.strip().upper() for c in failure_causes.split(",")]
    return cause in _ALWAYS_CONTINUE
