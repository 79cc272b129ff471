"""Checks on freeswitch-conf/: the minimal FreeSWITCH 1.10 configuration shipped with the PBX.

The files are preprocessed the way FreeSWITCH does it (X-PRE-PROCESS include/set, relative
to the including file, include wrappers dropped, $${var} expansion), then the assembled
document is inspected with lxml.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

CONF = Path(__file__).resolve().parents[2] / "freeswitch-conf"
ROOT = CONF / "freeswitch.xml"

# Variables FreeSWITCH computes itself before preprocessing (switch_core.c).
BUILTIN_VARS = {
    "hostname": "pbx-host",
    "local_ip_v4": "192.0.2.1",
    "local_mask_v4": "255.255.255.0",
    "local_ip_v6": "::1",
    "base_dir": "/usr",
    "conf_dir": str(CONF),
    "log_dir": "/var/log/freeswitch",
    "db_dir": "/var/lib/freeswitch/db",
    "sounds_dir": "/usr/share/freeswitch/sounds",
    "recordings_dir": "/var/lib/freeswitch/recordings",
    "certs_dir": "/etc/freeswitch/tls",
}

PRE = re.compile(r'<X-PRE-PROCESS\s+cmd="([^"]+)"\s+data="([^"]*)"\s*/>')
VAR = re.compile(r"\$\$\{([^}]+)\}")


class Preprocessed:
    def __init__(self) -> None:
        self.vars = dict(BUILTIN_VARS)
        self.undefined: set[str] = set()
        self.missing_includes: list[str] = []
        self.included: list[Path] = []

    def expand(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self.vars:
                self.undefined.add(name)
                return m.group(0)
            return self.vars[name]

        return VAR.sub(sub, text)

    def process(self, path: Path) -> str:
        self.included.append(path.resolve())
        out: list[str] = []
        for line in path.read_text().splitlines():
            line = self.expand(line)
            m = PRE.search(line)
            if not m:
                out.append(line)
                continue
            cmd, data = m.groups()
            if cmd == "set":
                name, _, value = data.partition("=")
                self.vars[name.strip()] = value
            elif cmd == "include":
                pattern = data if data.startswith("/") else str(path.parent / data)
                matches = sorted(glob.glob(pattern))
                if not matches:
                    self.missing_includes.append(f"{path.relative_to(CONF)}: {data}")
                for match in matches:
                    text = self.process(Path(match))
                    text = re.sub(r"<\?xml[^>]*\?>", "", text)
                    text = re.sub(r"</?include>", "", text)
                    out.append(text)
            else:
                raise AssertionError(f"unexpected X-PRE-PROCESS cmd {cmd!r} in {path}")
        return "\n".join(out)


@pytest.fixture(scope="module")
def pre() -> Preprocessed:
    return Preprocessed()


@pytest.fixture(scope="module")
def doc(pre: Preprocessed) -> etree._Element:
    text = pre.process(ROOT)
    return etree.fromstring(text.encode())


def section(doc: etree._Element, name: str) -> etree._Element:
    found = doc.xpath("/document/section[@name=$n]", n=name)
    assert len(found) == 1, f"section {name!r} missing or repeated"
    return found[0]


def config(doc: etree._Element, name: str) -> etree._Element:
    found = section(doc, "configuration").xpath("configuration[@name=$n]", n=name)
    assert len(found) == 1, f"configuration {name!r} missing or repeated"
    return found[0]


def params(elem: etree._Element) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for p in elem.xpath("param"):
        result.setdefault(p.get("name"), []).append(p.get("value"))
    return result


def all_xml_files() -> list[Path]:
    return sorted(CONF.rglob("*.xml"))


def test_tree_exists() -> None:
    assert ROOT.is_file()
    assert (CONF / "README.md").is_file()
    assert len(all_xml_files()) >= 10


@pytest.mark.parametrize("path", all_xml_files(), ids=lambda p: str(p.relative_to(CONF)))
def test_each_file_is_well_formed(path: Path) -> None:
    etree.parse(str(path))


def test_every_file_is_included_and_includes_resolve(
    pre: Preprocessed, doc: etree._Element
) -> None:
    assert doc.tag == "document"
    assert doc.get("type") == "freeswitch/xml"
    assert pre.missing_includes == []
    assert sorted(set(pre.included)) == all_xml_files(), "an .xml file is never included"
    assert len(pre.included) == len(set(pre.included)), "a file is included twice"


def test_every_preprocessor_variable_is_defined(pre: Preprocessed, doc: etree._Element) -> None:
    assert pre.undefined == set()
    for name in ("domain", "pbx_controller", "pbx_controller_fallback", "internal_sip_port"):
        assert name in pre.vars


def test_sections(doc: etree._Element) -> None:
    for name in ("configuration", "dialplan", "directory"):
        section(doc, name)


def test_modules(doc: etree._Element) -> None:
    loaded = [m.get("module") for m in config(doc, "modules.conf").xpath("modules/load")]
    assert len(loaded) == len(set(loaded))
    for module in (
        "mod_console",
        "mod_logfile",
        "mod_event_socket",
        "mod_sofia",
        "mod_xml_curl",
        "mod_dptools",
        "mod_commands",
        "mod_dialplan_xml",
        "mod_tone_stream",
        "mod_sndfile",
        "mod_native_file",
        "mod_loopback",
    ):
        assert module in loaded, module
    # the directory binding must exist before the SIP profile starts authenticating
    assert loaded.index("mod_xml_curl") < loaded.index("mod_sofia")


def test_other_module_configs_present(doc: etree._Element) -> None:
    for name in ("switch.conf", "console.conf", "logfile.conf", "acl.conf"):
        config(doc, name)


def dialplan_contexts(doc: etree._Element) -> dict[str, etree._Element]:
    contexts = section(doc, "dialplan").xpath("context")
    names = [c.get("name") for c in contexts]
    assert len(names) == len(set(names))
    return dict(zip(names, contexts, strict=True))


def test_dialplan_contexts(doc: etree._Element) -> None:
    assert set(dialplan_contexts(doc)) >= {"default", "public"}


SAMPLE_DESTINATIONS = ["", "1000", "+493012345678", "*97", "0049301234", "sales"]


def catch_all(context: etree._Element) -> etree._Element:
    for ext in context.xpath("extension"):
        conds = ext.xpath("condition")
        if len(conds) == 1 and conds[0].get("field") == "destination_number":
            rx = re.compile(conds[0].get("expression"))
            if all(rx.search(d) for d in SAMPLE_DESTINATIONS):
                return conds[0]
    raise AssertionError(f"no catch-all extension in context {context.get('name')!r}")


def test_dialplan_sends_every_call_to_the_controller(
    pre: Preprocessed, doc: etree._Element
) -> None:
    addr = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d+$")
    for name, context in dialplan_contexts(doc).items():
        cond = catch_all(context)
        # nothing may run before the controller sees the call except setting variables
        actions = [(a.get("application"), a.get("data") or "") for a in cond.xpath("action")]
        apps = [app for app, _ in actions]
        i = apps.index("socket")
        # restarts (call centers): the same socket again in the re-attach window, marked
        assert {d for app, d in actions if app == "socket"} == {actions[i][1]}, name
        assert actions[i + 1] == ("set", "pbx_reattach=true"), name
        assert set(apps[:i]) <= {"set", "export"}, name
        assert ("set", "socket_resume=true") in actions[:i], name

        target, *flags = actions[i][1].split()
        assert "async" in flags and "full" in flags, name
        hosts = target.split("|")
        assert len(hosts) >= 2, name
        assert all(addr.match(h) for h in hosts), hosts
        assert len(set(hosts)) == len(hosts), hosts
        assert hosts[0] == pre.vars["pbx_controller"], name

        fallback = actions[i + 1 :]
        assert fallback, f"no fallback after socket in {name}"
        assert fallback[-1][0] == "hangup", name
        assert fallback[-1][1] == "NORMAL_TEMPORARY_FAILURE", name
        assert any(app == "playback" and d.startswith("tone_stream://") for app, d in fallback)
        # no anti-action or second extension may swallow calls before the catch-all
        assert cond.getparent() is context.xpath("extension")[0], name


def test_tone_stream_is_a_tone_spec(doc: etree._Element) -> None:
    for data in doc.xpath("//action[@application='playback']/@data"):
        if data.startswith("tone_stream://"):
            assert re.match(r"^tone_stream://(%\([\d.,]+\);?)+(loops=-?\d+)?$", data), data


def test_event_socket_is_loopback_and_not_default_password(doc: etree._Element) -> None:
    p = params(config(doc, "event_socket.conf").xpath("settings")[0])
    assert p["listen-ip"] == ["127.0.0.1"] or p["listen-ip"] == ["::1"]
    assert p["listen-port"] == ["8021"]
    assert len(p["password"]) == 1
    password = p["password"][0]
    assert password and password.lower() != "cluecon"
    assert p["apply-inbound-acl"] == ["loopback.auto"]


def test_event_socket_password_comment_tells_operator(doc: etree._Element) -> None:
    text = (CONF / "autoload_configs" / "event_socket.conf.xml").read_text()
    assert "esl-password-file" in text


def test_xml_curl_binds_directory_to_controller(doc: etree._Element) -> None:
    urls = []
    for p in config(doc, "xml_curl.conf").xpath("bindings/binding/param[@name='gateway-url']"):
        bound = set((p.get("bindings") or "").split("|"))
        assert bound == {"directory"}, "only the directory may come from the controller"
        urls.append(p.get("value"))
    assert len(urls) == 1
    url = urlsplit(urls[0])
    assert url.scheme == "http"
    assert url.hostname == "127.0.0.1"
    assert url.port == 8085
    assert url.path == "/directory"


def test_one_sip_profile(doc: etree._Element) -> None:
    profiles = config(doc, "sofia.conf").xpath("profiles/profile")
    assert [p.get("name") for p in profiles] == ["internal"]
    s = params(profiles[0].xpath("settings")[0])
    assert s["sip-port"] == ["5060"]
    assert s["auth-calls"] == ["true"]
    assert s["context"] == ["default"]
    assert s["dialplan"] == ["XML"]
    assert s["manage-presence"] == ["true"]


def test_trunk_acl_routes_to_public(doc: etree._Element) -> None:
    profile = config(doc, "sofia.conf").xpath("profiles/profile")[0]
    acls = params(profile.xpath("settings")[0]).get("apply-inbound-acl", [])
    lists = {n.get("name") for n in config(doc, "acl.conf").xpath("network-lists/list")}
    contexts = set(dialplan_contexts(doc))
    for value in acls:
        acl, _, ctx = value.partition(":")
        assert acl.endswith(".auto") or acl in lists, acl
        if ctx:
            assert ctx.split(":")[0] in contexts, value


def test_trunk_gateway(doc: etree._Element) -> None:
    gateways = config(doc, "sofia.conf").xpath("profiles/profile/gateways/gateway")
    assert [g.get("name") for g in gateways] == ["trunk"]
    g = params(gateways[0])
    for name in ("username", "password", "proxy"):
        assert g.get(name) and g[name][0], name
    assert g["register"] == ["false"]
    assert g.get("context", ["public"]) == ["public"]


def test_directory_domain_without_users(pre: Preprocessed, doc: etree._Element) -> None:
    domains = section(doc, "directory").xpath("domain")
    assert [d.get("name") for d in domains] == [pre.vars["domain"]]
    assert domains[0].xpath(".//user") == []


def test_readme_maps_to_pbx_serve() -> None:
    text = (CONF / "README.md").read_text()
    for needle in (
        "--listen 127.0.0.1:8084",
        "--http 127.0.0.1:8085",
        "--esl 127.0.0.1:8021",
        "--esl-password-file",
        "--gateway trunk",
        "-nonat",
    ):
        assert needle in text, needle
