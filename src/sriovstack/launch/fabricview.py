"""The API's networks and ports as the fabric's inputs (shared by `demo` and `ping`/`trace`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.model import Network, PortAddress

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def fabric_network(network: Mapping[str, Any]) -> Network:
    """A Neutron network: tagged with its segment only when it is a VLAN network."""
    vlan = network.get("provider:segmentation_id")
    tagged = network.get("provider:network_type") == "vlan" and isinstance(vlan, int)
    return Network(
        str(network["id"]), str(network.get("name") or network["id"]), vlan if tagged else None
    )


def port_addresses(ports: Iterable[Mapping[str, Any]]) -> Iterable[PortAddress]:
    """Each port with an address: its MAC and first fixed IP."""
    for port in ports:
        ip = first_ip(port)
        if ip is not None:
            mac = MacAddress.parse(str(port["mac_address"]))
            yield PortAddress(str(port["id"]), str(port["network_id"]), mac, ip)


def first_ip(port: Mapping[str, Any]) -> IpAddress | None:
    """A port's first fixed IP that parses, or None."""
    for fixed in port.get("fixed_ips") or []:
        try:
            return ipaddress.ip_address(str(fixed.get("ip_address")))
        except ValueError:
            continue
    return None
