"""IP address management: subnet CIDRs, gateways, allocation pools and the lowest free address."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sriovstack.domain.errors import Conflict, InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

IP_VERSIONS = (4, 6)
MAX_DNS_NAMESERVERS = 5  # Neutron's max_dns_nameservers
MAX_HOST_ROUTES = 20  # Neutron's max_subnet_host_routes


class OverlappingPools(Conflict):
    """Two allocation pools of one subnet share addresses."""

    neutron_type = "OverlappingAllocationPools"


class GatewayInPool(Conflict):
    """The gateway address lies inside an allocation pool, so a port could be given it."""

    neutron_type = "GatewayConflictWithAllocationPools"


@dataclass(frozen=True, slots=True, order=True)
class Pool:
    """An inclusive range of addresses a subnet hands out automatically."""

    start: Address
    end: Address

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return address.version == self.start.version and within(address, self.start, self.end)

    def overlaps(self, other: Pool) -> bool:
        return int(self.start) <= int(other.end) and int(other.start) <= int(self.end)

    def wire(self) -> dict[str, str]:
        return {"start": str(self.start), "end": str(self.end)}

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


def within(address: Address, first: Address, last: Address) -> bool:
    """Whether ``address`` lies in the inclusive range (all three of one IP version)."""
    return int(first) <= int(address) <= int(last)


def parse_ip_version(value: Any) -> int:
    if value is None:
        raise InvalidInput("ip_version", "is required: 4 or 6")
    if isinstance(value, bool) or str(value).strip() not in ("4", "6"):
        raise InvalidInput("ip_version", "must be 4 or 6", value)
    return int(str(value).strip())


def parse_cidr(value: Any, ip_version: int, field: str = "cidr") -> Network:
    """A subnet's network: no host bits, of ``ip_version``, with at least one usable address."""
    if value is None:
        raise InvalidInput(field, "is required: a network such as 10.0.0.0/24")
    network = _network(field, value)
    if network.version != ip_version:
        raise InvalidInput(
            field, f"is an IPv{network.version} network but ip_version is {ip_version}", value
        )
    if network.prefixlen == 0:
        raise InvalidInput(field, "must not be a /0 network", value)
    if usable_range(network) is None:
        longest = 30 if ip_version == 4 else 127
        raise InvalidInput(
            field,
            f"leaves no usable address (IPv{ip_version} needs /{longest} or shorter)",
            value,
        )
    return network


def parse_address(field: str, value: Any, version: int | None = None) -> Address:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be an IP address", value)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise InvalidInput(field, "must be an IP address", value) from None
    if version is not None and address.version != version:
        raise InvalidInput(field, f"must be an IPv{version} address", value)
    return address


def usable_range(network: Network) -> tuple[Address, Address] | None:
    """The first and last address a pool or a port may use, or None if there is none.

    The network address is never handed out (for IPv6 it is the subnet-router anycast address),
    nor is the IPv4 broadcast address.
    """
    first = network.network_address + 1
    last = network.broadcast_address - 1 if network.version == 4 else network.broadcast_address
    if int(first) > int(last):
        return None
    return first, last


def default_gateway(network: Network) -> Address:
    """The first usable address, as Neutron picks it."""
    usable = usable_range(network)
    assert usable is not None  # parse_cidr refused networks without one
    return usable[0]


def parse_gateway(value: Any, network: Network) -> Address | None:
    """The gateway a client gave: null for none, else a usable address inside the subnet."""
    if value is None:
        return None
    address = parse_address("gateway_ip", value, network.version)
    check_usable("gateway_ip", address, network)
    return address


def check_usable(field: str, address: Address, network: Network) -> None:
    """Refuse an address outside ``network`` or one that may not be handed out."""
    usable = usable_range(network)
    if address not in network:
        raise InvalidInput(field, f"must be inside the subnet {network}", str(address))
    if usable is None or not within(address, *usable):
        which = "network" if address == network.network_address else "broadcast"
        raise InvalidInput(field, f"must not be the {which} address of {network}", str(address))


def default_pools(network: Network, gateway: Address | None) -> list[Pool]:
    """Every usable address of the subnet except the gateway, as one or two pools."""
    usable = usable_range(network)
    assert usable is not None
    first, last = usable
    if gateway is None or not within(gateway, first, last):
        return [Pool(first, last)]
    pools = []
    if int(gateway) > int(first):
        pools.append(Pool(first, gateway - 1))
    if int(gateway) < int(last):
        pools.append(Pool(gateway + 1, last))
    return pools


def parse_pools(value: Any, network: Network) -> list[Pool]:
    """Pools a client gave: inside the subnet's usable range, start <= end, none overlapping."""
    if not isinstance(value, list):
        raise InvalidInput("allocation_pools", 'must be a list of {"start": IP, "end": IP}', value)
    pools = [_parse_pool(entry, network) for entry in value]
    ordered = sorted(pools)
    for before, after in itertools.pairwise(ordered):
        if before.overlaps(after):
            raise OverlappingPools(f"allocation_pools: pool {before} overlaps pool {after}")
    return ordered


def _parse_pool(entry: Any, network: Network) -> Pool:
    field = "allocation_pools"
    if not isinstance(entry, dict) or set(entry) != {"start", "end"}:
        raise InvalidInput(field, 'each pool must be {"start": IP, "end": IP}', entry)
    start = parse_address(f"{field}.start", entry["start"], network.version)
    end = parse_address(f"{field}.end", entry["end"], network.version)
    if int(start) > int(end):
        raise InvalidInput(field, f"pool {start}-{end} starts after it ends", entry)
    usable = usable_range(network)
    assert usable is not None
    if int(start) < int(usable[0]) or int(end) > int(usable[1]):
        raise InvalidInput(
            field,
            f"pool {start}-{end} must lie within {usable[0]}-{usable[1]}, the usable addresses "
            f"of {network}",
            entry,
        )
    return Pool(start, end)


def check_gateway_outside(gateway: Address | None, pools: Iterable[Pool]) -> None:
    if gateway is None:
        return
    for pool in pools:
        if gateway in pool:
            raise GatewayInPool(
                f"gateway_ip: {gateway} is inside allocation pool {pool}; a port could be "
                "given the gateway's address"
            )


def pools_from_wire(stored: Sequence[dict[str, str]]) -> list[Pool]:
    """Pools as stored (already checked), back as values."""
    return [
        Pool(ipaddress.ip_address(entry["start"]), ipaddress.ip_address(entry["end"]))
        for entry in stored
    ]


def parse_nameservers(value: Any) -> list[str]:
    field = "dns_nameservers"
    if not isinstance(value, list):
        raise InvalidInput(field, "must be a list of IP addresses", value)
    if len(value) > MAX_DNS_NAMESERVERS:
        raise InvalidInput(field, f"must hold at most {MAX_DNS_NAMESERVERS} addresses", value)
    servers: list[str] = []
    for entry in value:
        server = str(parse_address(field, entry))
        if server in servers:
            raise InvalidInput(field, f"lists {server} twice", value)
        servers.append(server)
    return servers


def parse_host_routes(value: Any, ip_version: int) -> list[dict[str, str]]:
    field = "host_routes"
    if not isinstance(value, list):
        raise InvalidInput(field, 'must be a list of {"destination": CIDR, "nexthop": IP}', value)
    if len(value) > MAX_HOST_ROUTES:
        raise InvalidInput(field, f"must hold at most {MAX_HOST_ROUTES} routes", value)
    routes: list[dict[str, str]] = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"destination", "nexthop"}:
            raise InvalidInput(field, 'each route must be {"destination": CIDR, "nexthop": IP}')
        destination = parse_cidr_loose(f"{field}.destination", entry["destination"], ip_version)
        nexthop = parse_address(f"{field}.nexthop", entry["nexthop"], ip_version)
        route = {"destination": str(destination), "nexthop": str(nexthop)}
        if route in routes:
            raise InvalidInput(field, f"lists the route to {destination} via {nexthop} twice")
        routes.append(route)
    return routes


def parse_cidr_loose(field: str, value: Any, ip_version: int) -> Network:
    """A network of ``ip_version`` without host bits; /0 and single addresses allowed."""
    network = _network(field, value)
    if network.version != ip_version:
        raise InvalidInput(field, f"must be an IPv{ip_version} network", value)
    return network


def _network(field: str, value: Any) -> Network:
    rule = "must be a network such as 10.0.0.0/24"
    if not isinstance(value, str) or "/" not in value:
        raise InvalidInput(field, rule, value)
    text = value.strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(field, rule, value) from None
    raise InvalidInput(field, f"has host bits set (the network is {loose})", value)


def first_free(pools: Iterable[Pool], taken: Collection[Address]) -> Address | None:
    """The lowest address of the pools that is not taken, or None when all are."""
    for pool in sorted(pools):
        candidate = pool.start
        # Each step passes a taken address, so this ends within len(taken) + 1 steps.
        while int(candidate) <= int(pool.end):
            if candidate not in taken:
                return candidate
            if candidate == pool.end:
                break
            candidate += 1
    return None
