"""Directory XML for mod_xml_curl, rendered from a Directory folded in memory."""

from __future__ import annotations

from uuid import UUID

from lxml import etree

from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.secrets import sip_a1_hash
from esl_controller.domain.users import User
from projections.directory import Directory
from projections.directory_xml import render_directory


def directory() -> tuple[Directory, UUID]:
    folded = Directory()
    ent = Enterprise("Acme", "acme.example", "Europe/Amsterdam", "NL", 100, 999)
    a1 = sip_a1_hash("101", "acme.example", "pw-123456")
    alice = User(ent.id, "101", "Alice & <Co>", "+31205551010", None, "scrypt$x", a1, None, 20)
    gone = User(ent.id, "104", "Dave", None, None, "scrypt$y", a1, None, 20)
    gone.remove()
    for event in [*ent.collect_events(), *alice.collect_events(), *gone.collect_events()]:
        folded.apply(event)
    return folded, ent.id


def form(**fields: str) -> dict[str, str]:
    return {"section": "directory", "tag_name": "domain", "key_name": "name"} | fields


def test_known_user_escapes_values_and_sends_only_the_hash() -> None:
    folded, _ = directory()
    body = render_directory(
        folded, form(key_value="acme.example", user="101", domain="acme.example", action="sip_auth")
    )
    assert b"Alice &amp; &lt;Co&gt;" in body
    user = etree.fromstring(body).find("section/domain/groups/group/users/user")
    assert user is not None and user.get("id") == "101"
    assert [p.get("name") for p in user.iterfind("params/param")] == ["a1-hash"]
    name = user.find("variables/variable[@name='effective_caller_id_name']")
    assert name is not None and name.get("value") == "Alice & <Co>"


def test_domain_from_key_value_when_no_domain_field() -> None:
    folded, _ = directory()
    body = render_directory(folded, form(key_value="ACME.example", user="101"))
    assert etree.fromstring(body).find(".//user[@id='101']") is not None


def test_not_found_cases() -> None:
    folded, _ = directory()
    for fields in (
        form(key_value="acme.example", user="104"),  # removed
        form(key_value="acme.example", user="999"),
        form(key_value="nowhere.example", user="101"),
        form(),
        {"section": "dialplan", "domain": "acme.example", "user": "101"},
    ):
        doc = etree.fromstring(render_directory(folded, fields))
        assert doc.find("section[@name='result']/result").get("status") == "not found"
