"""Security group rules as Neutron accepts them: direction, ethertype, protocol, ports, remote."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriovstack.domain.attributes import parse_whole
from sriovstack.domain.errors import InvalidInput

DIRECTIONS = ("ingress", "egress")
ETHERTYPES = ("IPv4", "IPv6")
# Neutron's protocol names (neutron-lib IP_PROTOCOL_MAP) with the legacy alias icmpv6.
PROTOCOLS: dict[str, int] = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})  # tcp, udp, dccp, sctp, udplite
ICMP_PROTOCOLS = frozenset({1, 58})
IPV6_ONLY_PROTOCOLS = frozenset({58})
ANY_PREFIXES = frozenset({"0.0.0.0/0", "::/0"})
PORT_RULE = "tcp, udp, sctp, dccp and udplite (ports) or icmp and ipv6-icmp (type and code)"


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule's matching part; ``protocol`` is kept as given (a name, or a number as text)."""

    direction: str
    ethertype: str
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None

    def key(self) -> tuple[object, ...]:
        """What makes two rules the same rule: tcp equals 6, 0.0.0.0/0 equals no prefix."""
        prefix = normalized_cidr(self.remote_ip_prefix)
        return (
            self.direction,
            self.ethertype,
            protocol_number(self.protocol),
            self.port_range_min,
            self.port_range_max,
            None if prefix in ANY_PREFIXES else prefix,
            self.remote_group_id,
        )


def default_rules() -> list[Rule]:
    """Every new group lets all traffic out, over IPv4 and IPv6, as Neutron's do."""
    return [Rule("egress", "IPv4"), Rule("egress", "IPv6")]


def default_group_rules(group_id: str) -> list[Rule]:
    """A project's default group also lets in what its own members send, as Neutron's does."""
    from_members = [
        Rule("ingress", ethertype, remote_group_id=group_id) for ethertype in ("IPv4", "IPv6")
    ]
    return default_rules() + from_members


def parse_rule(body: Mapping[str, Any]) -> Rule:
    direction = body.get("direction")
    if direction not in DIRECTIONS:
        raise InvalidInput("direction", "must be ingress or egress", direction)
    ethertype = _ethertype(body.get("ethertype", "IPv4"))
    protocol = parse_protocol(body.get("protocol"))
    number = protocol_number(protocol)
    if number in IPV6_ONLY_PROTOCOLS and ethertype != "IPv6":
        raise InvalidInput("protocol", f"{protocol} needs ethertype IPv6", protocol)
    low, high = _port_range(number, body.get("port_range_min"), body.get("port_range_max"))
    prefix = _remote_prefix(body.get("remote_ip_prefix"), ethertype)
    group = body.get("remote_group_id")
    if group is not None and not isinstance(group, str):
        raise InvalidInput("remote_group_id", "must be a security group ID", group)
    if prefix is not None and group is not None:
        raise InvalidInput(
            "remote_ip_prefix", "and remote_group_id cannot both be given: choose one remote"
        )
    return Rule(direction, ethertype, protocol, low, high, prefix, group)


def parse_protocol(value: Any) -> str | None:
    """A protocol name (any case), "any" or null for every protocol, or a number 0-255."""
    if value is None:
        return None
    text = str(value).strip().lower() if not isinstance(value, bool) else ""
    if text == "any":
        return None
    if text in PROTOCOLS:
        return text
    if text.isdigit():
        return str(parse_whole("protocol", text, 0, 255))
    raise InvalidInput(
        "protocol", f"must be a number 0-255 or one of {', '.join(sorted(PROTOCOLS))}", value
    )


def protocol_number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    return PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)


def normalized_cidr(prefix: str | None) -> str | None:
    """The network a prefix names, host bits cleared (Neutron's normalized_cidr)."""
    if prefix is None:
        return None
    return str(ipaddress.ip_network(prefix, strict=False))


def _ethertype(value: Any) -> str:
    for ethertype in ETHERTYPES:
        if isinstance(value, str) and value.lower() == ethertype.lower():
            return ethertype
    raise InvalidInput("ethertype", "must be IPv4 or IPv6", value)


def _port_range(protocol: int | None, low: Any, high: Any) -> tuple[int | None, int | None]:
    if low is None and high is None:
        return None, None
    field = "port_range_min" if low is not None else "port_range_max"
    if protocol is None:
        raise InvalidInput(field, f"needs a protocol: ports apply only to {PORT_RULE}")
    if protocol in ICMP_PROTOCOLS:
        if low is None:
            raise InvalidInput(
                "port_range_max", "is an ICMP code and needs an ICMP type in port_range_min"
            )
        icmp_type = parse_whole("port_range_min", low, 0, 255)
        code = None if high is None else parse_whole("port_range_max", high, 0, 255)
        return icmp_type, code
    if protocol not in PORT_PROTOCOLS:
        given = low if low is not None else high
        raise InvalidInput(field, f"ports apply only to {PORT_RULE}", given)
    if low is None or high is None:
        missing = "port_range_min" if low is None else "port_range_max"
        raise InvalidInput(missing, "is required when the other end of the port range is given")
    first = parse_whole("port_range_min", low, 1, 65535)
    last = parse_whole("port_range_max", high, 1, 65535)
    if first > last:
        raise InvalidInput(
            "port_range_min", f"must not be greater than port_range_max ({last})", first
        )
    return first, last


def _remote_prefix(value: Any, ethertype: str) -> str | None:
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise InvalidInput(
            "remote_ip_prefix", "must be a CIDR such as 192.168.0.0/16", value
        ) from None
    if isinstance(value, bool) or f"IPv{network.version}" != ethertype:
        raise InvalidInput(
            "remote_ip_prefix", f"must be an {ethertype} prefix to match ethertype", value
        )
    return str(value).strip()
