"""The Directory as the XML FreeSWITCH's mod_xml_curl asks for (``section=directory``).

Only the SIP ``A1`` hash is ever sent (param ``a1-hash``); no clear password exists to send.
A user without one is not offered for ``sip_auth`` (FreeSWITCH would accept any password
for a user that has neither ``password`` nor ``a1-hash``), but is for other lookups such as
``user_call``. A shared call appearance (USR-21) is its own user ``EXT-NAME`` with its own
``a1-hash`` and the owner's caller id.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from projections.directory import DeviceView, Directory, EnterpriseView, UserView

DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
    "${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)


def not_found() -> bytes:
    doc = etree.Element("document", type="freeswitch/xml")
    section = etree.SubElement(doc, "section", name="result")
    etree.SubElement(section, "result", status="not found")
    return _serialise(doc)


def render_directory(directory: Directory, form: Mapping[str, str]) -> bytes:
    """The answer to one mod_xml_curl request (its POSTed form fields)."""
    if form.get("section", "directory") != "directory":
        return not_found()
    domain_name = (form.get("domain") or form.get("key_value") or "").strip()
    enterprise = directory.enterprise_for_domain(domain_name) if domain_name else None
    if enterprise is None:
        return not_found()
    extension = (form.get("user") or "").strip()
    if not extension:
        return _document(enterprise, None)
    # A hot-desk phone (USR-8) is a user entry of its own SIP account.
    user = directory.user(enterprise.id, extension) or directory.hotdesk_account(
        enterprise.id, extension)
    if user is None:
        device = directory.device_owner(enterprise.id, extension)
        if device is None:
            return not_found()
        return _document(enterprise, _device(*device))
    if form.get("action") == "sip_auth" and not user.sip_a1_hash:
        return not_found()
    return _document(enterprise, _user(user))


def _document(enterprise: EnterpriseView, user: etree._Element | None) -> bytes:
    doc = etree.Element("document", type="freeswitch/xml")
    section = etree.SubElement(doc, "section", name="directory")
    domain = etree.SubElement(section, "domain", name=enterprise.domain)
    params = etree.SubElement(domain, "params")
    etree.SubElement(params, "param", name="dial-string", value=DIAL_STRING)
    if user is not None:
        group = etree.SubElement(etree.SubElement(domain, "groups"), "group", name="default")
        users = etree.SubElement(group, "users")
        users.append(user)
    return _serialise(doc)


def _user(
    user: UserView, account: str | None = None, a1_hash: str | None = None
) -> etree._Element:
    """A user's SIP account (``account``/``a1_hash``: a shared device's instead)."""
    element = etree.Element("user", id=account or user.extension)
    params = etree.SubElement(element, "params")
    a1 = a1_hash if account else user.sip_a1_hash
    if a1:
        etree.SubElement(params, "param", name="a1-hash", value=a1)
    variables = etree.SubElement(element, "variables")
    values = [
        ("user_context", "default"),
        ("effective_caller_id_name", user.name),
        ("effective_caller_id_number", user.extension),
    ]
    if user.number:
        values.append(("outbound_caller_id_number", user.number))
    for name, value in values:
        etree.SubElement(variables, "variable", name=name, value=value)
    return element


def _device(owner: UserView, device: DeviceView) -> etree._Element:
    """A shared call appearance (USR-21): its own SIP account ``EXT-NAME`` (own a1-hash),
    presenting itself as the owning user (caller id, outbound number)."""
    element = _user(owner, device.username(owner.extension), device.sip_a1_hash)
    return element


def _serialise(doc: etree._Element) -> bytes:
    body: bytes = etree.tostring(doc, encoding="UTF-8", xml_declaration=True, standalone=False)
    return body
