"""The directory endpoint over real HTTP, with the form fields mod_xml_curl posts."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import gevent
import pytest
from lxml import etree

from esl_controller.application import Pbx
from esl_controller.domain.secrets import sip_a1_hash
from esl_controller.web import DirectoryHttpServer

PASSWORD = "s3cret-Pa55"


def sip_auth_form(user: str, domain: str) -> dict[str, str]:
    """What mod_xml_curl posts when sofia_reg_parse_auth looks a REGISTER up."""
    return {
        "hostname": "vm",
        "section": "directory",
        "tag_name": "domain",
        "key_name": "name",
        "key_value": domain,
        "Event-Name": "REQUEST_PARAMS",
        "Core-UUID": "54f56e17-fcaa-4e19-8045-e6340d59995e",
        "FreeSWITCH-Hostname": "vm",
        "Event-Calling-File": "sofia_reg.c",
        "Event-Calling-Function": "sofia_reg_parse_auth",
        "Event-Calling-Line-Number": "2965",
        "action": "sip_auth",
        "sip_profile": "internal",
        "sip_user_agent": "Yealink SIP-T46S 66.86.0.15",
        "sip_auth_username": user,
        "sip_auth_realm": domain,
        "sip_auth_nonce": "a3c6e6d2-5d0a-4b3c-9f2e-7d1b0c4e8a11",
        "sip_auth_uri": f"sip:{domain}",
        "sip_contact_user": user,
        "sip_contact_host": "192.0.2.10",
        "sip_to_user": user,
        "sip_to_host": domain,
        "sip_from_user": user,
        "sip_from_host": domain,
        "sip_request_host": domain,
        "sip_auth_qop": "auth",
        "sip_auth_cnonce": "0a4f113b",
        "sip_auth_nc": "00000001",
        "sip_auth_response": "6629fae49393a05397450978507c4ef1",
        "sip_auth_method": "REGISTER",
        "key": "id",
        "user": user,
        "domain": domain,
        "ip": "192.0.2.10",
    }


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[DirectoryHttpServer, Pbx]]:
    app = Pbx(f"sqlite:///{tmp_path / 'pbx.sqlite'}")
    app.create_enterprise("Acme & Sons", "acme.example")
    app.add_user(None, "101", 'Alice "Al" <Martin>', number="+31205551010", password=PASSWORD)
    app.add_user(None, "102", "Bob", password=None)
    web = DirectoryHttpServer("127.0.0.1", 0, app.directory)
    web.start()
    yield web, app
    web.stop()
    app.close()


def request(
    web: DirectoryHttpServer, path: str, body: bytes | None = None
) -> tuple[int, str, bytes]:
    """One real HTTP request from an OS thread, so the gevent hub keeps serving."""
    host, port = web.address

    def call() -> tuple[int, str, bytes]:
        req = urllib.request.Request(f"http://{host}:{port}{path}", data=body)
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.headers["Content-Type"], resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers["Content-Type"], err.read()

    result: tuple[int, str, bytes] = gevent.get_hub().threadpool.spawn(call).get(timeout=10)
    return result


def post(web: DirectoryHttpServer, form: dict[str, str]) -> tuple[int, str, bytes]:
    return request(web, "/directory", urlencode(form).encode())


def test_sip_auth_returns_the_a1_hash_and_never_a_password(server: tuple) -> None:
    web, _app = server
    status, content_type, body = post(web, sip_auth_form("101", "acme.example"))
    assert status == 200 and content_type.startswith("text/xml")
    doc = etree.fromstring(body)
    assert doc.get("type") == "freeswitch/xml"
    domain = doc.find("section[@name='directory']/domain")
    assert domain is not None and domain.get("name") == "acme.example"
    dial = domain.find("params/param[@name='dial-string']")
    assert dial is not None and "sofia_contact(*/${dialed_user}@${dialed_domain})" in dial.get(
        "value", ""
    )
    user = domain.find("groups/group[@name='default']/users/user[@id='101']")
    assert user is not None
    a1 = user.find("params/param[@name='a1-hash']")
    assert a1 is not None and a1.get("value") == sip_a1_hash("101", "acme.example", PASSWORD)
    variables = {v.get("name"): v.get("value") for v in user.iterfind("variables/variable")}
    assert variables == {
        "user_context": "default",
        "effective_caller_id_name": 'Alice "Al" <Martin>',
        "effective_caller_id_number": "101",
        "outbound_caller_id_number": "+31205551010",
    }
    assert user.find("params/param[@name='password']") is None
    assert PASSWORD.encode() not in body


def test_unknown_user_domain_and_passwordless_auth_are_not_found(server: tuple) -> None:
    web, _app = server
    for form in (
        sip_auth_form("109", "acme.example"),
        sip_auth_form("101", "other.example"),
        sip_auth_form("102", "acme.example"),  # no password: never authenticate it
    ):
        status, _, body = post(web, form)
        assert status == 200
        result = etree.fromstring(body).find("section[@name='result']/result")
        assert result is not None and result.get("status") == "not found"


def test_user_call_and_domain_only_lookups(server: tuple) -> None:
    web, _app = server
    form = sip_auth_form("102", "acme.example") | {"action": "user_call"}
    _, _, body = post(web, form)
    bob = etree.fromstring(body).find(".//user[@id='102']")
    assert bob is not None and bob.find("params/param[@name='a1-hash']") is None
    form = {"section": "directory", "tag_name": "domain", "key_name": "name"}
    _, _, body = post(web, form | {"key_value": "acme.example", "domain": "acme.example"})
    domain = etree.fromstring(body).find("section/domain")
    assert domain is not None and domain.find("params/param") is not None
    assert domain.find("groups") is None


def test_directory_follows_new_users(server: tuple) -> None:
    web, app = server
    app.add_user(None, "103", "Carol", password="another-pass")
    _, _, body = post(web, sip_auth_form("103", "acme.example"))
    assert etree.fromstring(body).find(".//user[@id='103']") is not None


def test_bad_requests_and_health(server: tuple) -> None:
    web, _app = server
    assert request(web, "/healthz")[:1] == (200,)
    assert request(web, "/healthz")[2] == b"ok\n"
    assert request(web, "/nowhere")[0] == 404
    assert request(web, "/directory")[0] == 405
    assert request(web, "/directory", b"\xff\xfe=\x00")[0] == 400
    assert request(web, "/directory", b"section&&user")[0] == 400
    status, _, body = post(web, sip_auth_form("101", "acme.example"))
    assert status == 200 and b"a1-hash" in body  # still serving
