"""ACL rules of an instance: which source addresses its endpoints admit (pure).

A rule is an IPv4 network in CIDR form with a description. Input is what clients send: the Go
SDK always sends CIDR, the Python SDK passes a bare address through (``1.2.3.4`` means
``1.2.3.4/32``); host bits are cleared (``10.0.0.5/24`` is ``10.0.0.0/24``), as the Go clients do
before sending. IPv6 is refused: endpoints listen on IPv4 only, a rule for IPv6 would admit
nobody. Every check runs before anything changes, and reports every bad item at once.

The rules are an allow list: an endpoint admits a connection whose source address is in at least
one rule, and nobody when there is no rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.domain.arguments import ArgumentError, Reason
from controlplane.domain.rules import has_hidden_characters

DEFAULT_IP = "0.0.0.0/0"
DEFAULT_DESCRIPTION = "Allow All"
# What the real API answers for a rule sent without a description (Terraform documents it).
EMPTY_DESCRIPTION = "IP allowed"
MAX_RULES = 100
DESCRIPTION_MAX = 255


@dataclass(frozen=True)
class Rule:
    ip: str  # normalised: "a.b.c.d/n", host bits cleared
    description: str


@dataclass(frozen=True)
class Change:
    """The rules after a request, and whether the set of admitted networks changed (only
    then do the endpoints need to change: a new description is bookkeeping)."""

    rules: list[Rule]
    admitted_changed: bool


def normalise(raw: str) -> str:
    """``ValueError`` with a readable reason, or the canonical CIDR of ``raw``."""
    text = raw
    if not text or text != text.strip():
        raise ValueError("an IPv4 address or network in CIDR form (1.2.3.4 or 1.2.3.0/24)")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            "not an IPv4 address or network in CIDR form (1.2.3.4 or 1.2.3.0/24)"
        ) from None
    if network.version != 4:
        raise ValueError("IPv6 is not supported: endpoints listen on IPv4 only")
    return str(network)


def _description_errors(description: str, argument: str) -> list[ArgumentError]:
    if len(description) > DESCRIPTION_MAX:
        message = f"description is longer than {DESCRIPTION_MAX} characters"
        return [ArgumentError(argument, Reason.CONSTRAINT, message)]
    if has_hidden_characters(description):
        message = "description must not contain control or invisible characters"
        return [ArgumentError(argument, Reason.FORMAT, message)]
    return []


def parse_requests(
    requests: Sequence[tuple[str, str]], argument: str = "rules"
) -> tuple[list[Rule], list[ArgumentError]]:
    """``(ip, description)`` pairs as sent -> rules, or every error found. An empty
    description becomes the API's default; a network given twice is refused."""
    if len(requests) > MAX_RULES:
        message = f"at most {MAX_RULES} rules per instance"
        return [], [ArgumentError(argument, Reason.CONSTRAINT, message)]
    rules: list[Rule] = []
    errors: list[ArgumentError] = []
    seen: dict[str, int] = {}
    for i, (raw_ip, description) in enumerate(requests):
        try:
            ip = normalise(raw_ip)
        except ValueError as exc:
            errors.append(ArgumentError(f"{argument}.{i}.ip", Reason.FORMAT, str(exc)))
            ip = ""
        errors += _description_errors(description, f"{argument}.{i}.description")
        if ip and ip in seen:
            message = f"{ip} is already given in {argument}.{seen[ip]}"
            errors.append(ArgumentError(f"{argument}.{i}.ip", Reason.CONSTRAINT, message))
        elif ip:
            seen[ip] = i
        rules.append(Rule(ip, description or EMPTY_DESCRIPTION))
    return (rules, []) if not errors else ([], errors)


def parse_ips(
    raw_ips: Sequence[str], argument: str = "acl_rule_ips"
) -> tuple[set[str], list[ArgumentError]]:
    """The networks a delete names (normalised like the rules), or every error found."""
    if len(raw_ips) > MAX_RULES:
        message = f"at most {MAX_RULES} networks (an instance has at most {MAX_RULES} rules)"
        return set(), [ArgumentError(argument, Reason.CONSTRAINT, message)]
    ips: set[str] = set()
    errors: list[ArgumentError] = []
    for i, raw in enumerate(raw_ips):
        try:
            ips.add(normalise(raw))
        except ValueError as exc:
            errors.append(ArgumentError(f"{argument}.{i}", Reason.FORMAT, str(exc)))
    return (ips, []) if not errors else (set(), errors)


def _change(before: Sequence[Rule], after: list[Rule]) -> Change:
    return Change(after, {r.ip for r in before} != {r.ip for r in after})


def _too_many(rules: Sequence[Rule], argument: str) -> list[ArgumentError]:
    if len(rules) <= MAX_RULES:
        return []
    message = f"at most {MAX_RULES} rules per instance ({len(rules)} with these)"
    return [ArgumentError(argument, Reason.CONSTRAINT, message)]


def add(current: Sequence[Rule], added: Sequence[Rule]) -> tuple[Change, list[ArgumentError]]:
    """Added rules go after the current ones; a network already there keeps its place and
    takes the new description (adding twice is harmless, like a retried request)."""
    by_ip = {r.ip: r for r in added}
    merged = [by_ip.pop(r.ip, r) for r in current]
    merged += [r for r in added if r.ip in by_ip]
    return _change(current, merged), _too_many(merged, "rules")


def replace(current: Sequence[Rule], wanted: Sequence[Rule]) -> Change:
    return _change(current, list(wanted))


def delete(current: Sequence[Rule], ips: set[str]) -> tuple[Change, list[Rule]]:
    """The rules left and the rules deleted (networks that had no rule are ignored)."""
    kept = [r for r in current if r.ip not in ips]
    deleted = [r for r in current if r.ip in ips]
    return _change(current, kept), deleted


def admits(networks: Sequence[str], address: str) -> bool:
    """Whether a source ``address`` is in one of ``networks`` (what the endpoints decide)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)
