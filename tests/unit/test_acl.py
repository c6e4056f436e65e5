"""ACL rules: input rules, merging, and what the proxies are told (pure)."""

from __future__ import annotations

import pytest

from controlplane.domain import acl
from controlplane.domain.acl import Rule
from workers import proxies, proxy_acl


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("1.2.3.4", "1.2.3.4/32"),  # the Python SDK passes bare addresses through
        ("1.2.3.4/32", "1.2.3.4/32"),
        ("10.0.0.5/24", "10.0.0.0/24"),  # host bits cleared, as the Go clients do
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.168.1.0/255.255.255.0", "192.168.1.0/24"),
    ],
)
def test_networks_are_normalised(raw: str, normalised: str) -> None:
    assert acl.normalise(raw) == normalised


@pytest.mark.parametrize(
    "raw", ["", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4/33", "01.2.3.4", "example.org", "::1"]
)
def test_bad_networks_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        acl.normalise(raw)


def test_ipv6_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="IPv6"):
        acl.normalise("2001:db8::/32")


def test_requests_report_every_error_with_its_path() -> None:
    rules, errors = acl.parse_requests(
        [("1.2.3.4", "ok"), ("nope", "x" * 300), ("1.2.3.4/32", "twice"), ("5.6.7.8", "a\u202eb")]
    )
    assert rules == []
    assert {(e.argument_name, e.reason) for e in errors} == {
        ("rules.1.ip", "format"),
        ("rules.1.description", "constraint"),
        ("rules.2.ip", "constraint"),  # 1.2.3.4 and 1.2.3.4/32 are one network
        ("rules.3.description", "format"),
    }


def test_empty_description_takes_the_api_default() -> None:
    rules, errors = acl.parse_requests([("1.2.3.4", "")])
    assert errors == [] and rules == [Rule("1.2.3.4/32", acl.EMPTY_DESCRIPTION)]


def test_too_many_rules_are_refused() -> None:
    many = [(f"10.0.{i // 256}.{i % 256}", "") for i in range(acl.MAX_RULES + 1)]
    assert acl.parse_requests(many)[1][0].argument_name == "rules"
    current = [Rule(f"10.1.0.{i}/32", "") for i in range(acl.MAX_RULES)]
    _, errors = acl.add(current, [Rule("10.2.0.0/16", "")])
    assert errors and errors[0].argument_name == "rules"
    assert acl.add(current, [Rule("10.1.0.0/32", "again")])[1] == []  # no new rule: fits


def test_add_keeps_order_and_updates_descriptions() -> None:
    current = [Rule(acl.DEFAULT_IP, acl.DEFAULT_DESCRIPTION), Rule("1.2.3.4/32", "old")]
    change, errors = acl.add(current, [Rule("5.6.7.0/24", "new"), Rule("1.2.3.4/32", "renamed")])
    assert errors == []
    assert change.rules == [
        Rule(acl.DEFAULT_IP, acl.DEFAULT_DESCRIPTION),
        Rule("1.2.3.4/32", "renamed"),
        Rule("5.6.7.0/24", "new"),
    ]
    assert change.admitted_changed
    same, _ = acl.add(current, [Rule("1.2.3.4/32", "renamed only")])
    assert not same.admitted_changed


def test_replace_and_delete() -> None:
    current = [Rule(acl.DEFAULT_IP, "all"), Rule("1.2.3.4/32", "one")]
    replaced = acl.replace(current, [Rule("1.2.3.4/32", "one")])
    assert replaced.rules == [Rule("1.2.3.4/32", "one")] and replaced.admitted_changed
    assert not acl.replace(current, list(reversed(current))).admitted_changed
    change, deleted = acl.delete(current, {"1.2.3.4/32", "9.9.9.9/32"})
    assert deleted == [Rule("1.2.3.4/32", "one")]  # 9.9.9.9 had no rule: not an error
    assert change.rules == [Rule(acl.DEFAULT_IP, "all")] and change.admitted_changed
    nothing, none = acl.delete(current, {"9.9.9.9/32"})
    assert none == [] and not nothing.admitted_changed


def test_delete_ips_are_checked() -> None:
    ips, errors = acl.parse_ips(["1.2.3.4", "1.2.3.4/32", "10.0.0.1/8"])
    assert errors == [] and ips == {"1.2.3.4/32", "10.0.0.0/8"}
    assert acl.parse_ips(["1.2.3.4", "bad"])[1][0].argument_name == "acl_rule_ips.1"


def test_admits() -> None:
    assert acl.admits(["10.0.0.0/8", "1.2.3.4/32"], "10.20.30.40")
    assert acl.admits(["0.0.0.0/0"], "203.0.113.9")
    assert not acl.admits(["1.2.3.4/32"], "1.2.3.5")
    assert not acl.admits([], "1.2.3.4")
    assert not acl.admits(["0.0.0.0/0"], "not-an-address")


def test_the_control_plane_is_always_admitted() -> None:
    assert proxy_acl.admitted(["1.2.3.4/32"], "172.30.5.1") == ["1.2.3.4/32", "172.30.5.1/32"]
    assert proxy_acl.admitted([], "172.30.5.1") == ["172.30.5.1/32"]  # no rule: only us
    assert proxy_acl.admitted(["172.30.5.1/32"], "172.30.5.1") == ["172.30.5.1/32"]


def test_allow_file_and_config() -> None:
    text = proxy_acl.allow_file(["1.2.3.4/32", "10.0.0.0/8"]).decode()
    assert text.splitlines()[1:] == ["1.2.3.4/32", "10.0.0.0/8"]
    assert text.startswith("#")
    config = proxies.render_config({"n1": "c-n1"}, "n1", 5432)
    frontend = config.split("frontend main")[1].split("backend main")[0]
    assert (
        "tcp-request connection reject unless { src -f /usr/local/etc/haproxy/allow.lst }"
        in frontend
    )
    # an unresolved server's placeholder is the proxy's own loopback, which it never admits
    assert "init-addr last,libc,127.0.0.1" in config
    assert frontend.index("reject if { src 127.0.0.0/8 }") < frontend.index("reject unless")


def test_runtime_requests() -> None:
    assert proxy_acl.prepared_version("New version created: 7\n") == 7
    assert proxy_acl.prepared_version("Unknown ACL identifier. Please use #<id> or <file>.") is None
    networks = [f"10.0.0.{i}/32" for i in range(30)]
    requests = proxy_acl.fill_requests("/x/allow.lst", 7, networks)
    assert len(requests) == 3 and requests[-1] == "commit acl @7 /x/allow.lst\n"
    assert requests[0].count("add acl @7 /x/allow.lst ") == proxy_acl.BATCH
    assert all(r.endswith("\n") and r.count("\n") == 1 for r in requests)


def test_loaded_networks_are_compared_normalised() -> None:
    show = "0x55d0c8a1d400 1.2.3.4\n0x55d0c8a1d480 10.0.0.0/8\n\n"
    assert proxy_acl.listed_networks(show) == ["1.2.3.4", "10.0.0.0/8"]
    assert proxy_acl.same_networks(["1.2.3.4", "10.0.0.0/8"], ["10.0.0.0/8", "1.2.3.4/32"])
    assert not proxy_acl.same_networks(["1.2.3.4"], ["1.2.3.4/32", "10.0.0.0/8"])


def test_sessions_of_refused_sources_are_found() -> None:
    show_sess = (
        "0x55e1a0: proto=tcpv4 src=172.30.9.1:41232 fe=main be=main srv=n1 ts=00 age=3s\n"
        "0x55e1b0: proto=tcpv4 src=10.1.2.3:5000 fe=main be=main srv=n1 ts=00 age=1s\n"
        "0x55e1c0: proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00\n"
    )
    assert proxy_acl.refused_sessions(show_sess, ["10.0.0.0/8"]) == ["0x55e1a0"]
    assert proxy_acl.refused_sessions(show_sess, ["0.0.0.0/0"]) == []
