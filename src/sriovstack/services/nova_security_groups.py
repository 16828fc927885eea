"""Nova's security group proxy (``/os-security-groups``, until 2.35) over the Neutron groups.

novaclient up to 7.1.2 calls it for ``nova secgroup-add-rule`` (the talk's local.sh). Nova
answers it from Neutron; so does this, in Nova's shapes and with Nova's checks of the rule's
arguments: only ingress rules exist here, a TCP/UDP rule has a port range within 1-65535, an
ICMP one a type and code within -1-255 (-1: any), and no CIDR means 0.0.0.0/0.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sriovstack.domain.errors import InvalidInput
from sriovstack.services import security_groups
from sriovstack.services.environment import Caller, Environment

RULE = "security_group_rule"
ANY_IPV4 = "0.0.0.0/0"
_PORTED = ("TCP", "UDP")


def list_groups(env: Environment, caller: Caller) -> list[dict[str, Any]]:
    groups = security_groups.list_security_groups(env, caller, {})
    names = _names(groups)
    return [group_view(group, names) for group in groups]


def show_group(env: Environment, caller: Caller, group_id: str) -> dict[str, Any]:
    group = security_groups.show_security_group(env, caller, group_id)
    return group_view(group, _names(security_groups.list_security_groups(env, caller, {})))


def create_group(env: Environment, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    wanted = {key: body[key] for key in ("name", "description") if key in body}
    if not isinstance(wanted.get("name"), str) or not wanted["name"].strip():
        raise InvalidInput("security_group.name", "is required: a name for the group")
    created = security_groups.create_security_group(env, caller, wanted)
    return group_view(created, {})


def delete_group(env: Environment, caller: Caller, group_id: str) -> None:
    security_groups.delete_security_group(env, caller, group_id)


def create_rule(env: Environment, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """Nova's ``security_group_rule`` body made into a Neutron ingress rule; Nova's view of it."""
    parent = body.get("parent_group_id")
    if not isinstance(parent, str) or not parent:
        raise InvalidInput(f"{RULE}.parent_group_id", "is required: the group to add the rule to")
    group_id = body.get("group_id") or None
    cidr = None if group_id else _cidr(body.get("cidr"))
    neutron: dict[str, Any] = {
        "security_group_id": parent,
        "direction": "ingress",
        # Nova's proxy has no ethertype: the CIDR's family, IPv4 for a group-sourced rule.
        "ethertype": "IPv6" if cidr and ipaddress.ip_network(cidr).version == 6 else "IPv4",
        "remote_ip_prefix": cidr,
        "remote_group_id": group_id,
    }
    neutron |= _protocol_and_ports(body, sourced=bool(group_id))
    created = security_groups.create_rule(env, caller, neutron)
    names = _names(security_groups.list_security_groups(env, caller, {})) if group_id else {}
    return rule_view(created, names)


def delete_rule(env: Environment, caller: Caller, rule_id: str) -> None:
    security_groups.delete_rule(env, caller, rule_id)


def group_view(group: Mapping[str, Any], names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The group as Nova shows it: its ingress rules only, as Nova's proxy lists them."""
    rules = [
        rule_view(rule, names)
        for rule in group.get("security_group_rules", [])
        if rule["direction"] == "ingress"
    ]
    return {
        "id": group["id"],
        "name": group["name"],
        "description": group["description"],
        "tenant_id": group["project_id"],
        "rules": rules,
    }


def rule_view(rule: Mapping[str, Any], names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """A Neutron rule as Nova shows it: ports -1 for any ICMP, 1-65535 for any TCP/UDP port."""
    protocol = rule["protocol"]
    low, high = rule["port_range_min"], rule["port_range_max"]
    if protocol and low is None and high is None:
        low, high = (1, 65535) if protocol.upper() in _PORTED else (-1, -1)
    remote = rule["remote_group_id"]
    group: dict[str, str] = {}
    if remote and remote in names:
        group = {"name": names[remote][0], "tenant_id": names[remote][1]}
    return {
        "id": rule["id"],
        "parent_group_id": rule["security_group_id"],
        "ip_protocol": protocol,
        "from_port": low,
        "to_port": high,
        "group": group,
        "ip_range": {} if remote else {"cidr": rule["remote_ip_prefix"] or ANY_IPV4},
    }


def _names(groups: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {group["id"]: (group["name"], group["project_id"]) for group in groups}


def _cidr(value: object) -> str:
    if value is None or value == "":
        return ANY_IPV4
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise InvalidInput(f"{RULE}.cidr", f"Invalid cidr {value}", value) from None


def _protocol_and_ports(body: Mapping[str, Any], *, sourced: bool) -> dict[str, Any]:
    """Nova's checks of ip_protocol, from_port and to_port, as Neutron's protocol and range."""
    protocol, low, high = body.get("ip_protocol"), body.get("from_port"), body.get("to_port")
    if not protocol or low is None or high is None:
        if sourced:  # a rule from a group may allow everything
            return {"protocol": None, "port_range_min": None, "port_range_max": None}
        raise InvalidInput(RULE, "Not enough parameters to build a valid rule.")
    name = str(protocol).upper()
    try:
        first, last = int(low), int(high)
    except (TypeError, ValueError):
        words = (
            "Type and Code must be integers for ICMP protocol type"
            if name == "ICMP"
            else "To and From ports must be integers"
        )
        raise InvalidInput(f"{RULE}.from_port", words, (low, high)) from None
    if name not in ("TCP", "UDP", "ICMP"):
        raise InvalidInput(f"{RULE}.ip_protocol", "must be tcp, udp or icmp", protocol)
    if name in _PORTED and first > last:
        raise InvalidInput(
            f"{RULE}.from_port", "Former value cannot be greater than the later", (first, last)
        )
    if name in _PORTED and (first < 1 or last > 65535):
        raise InvalidInput(f"{RULE}.from_port", f"Valid {name} ports should be between 1-65535")
    if name == "ICMP" and not (-1 <= first <= 255 and -1 <= last <= 255):
        raise InvalidInput(f"{RULE}.from_port", "For ICMP, the type:code must be valid")
    return {
        "protocol": name.lower(),
        "port_range_min": None if first == -1 else first,
        "port_range_max": None if last == -1 else last,
    }
