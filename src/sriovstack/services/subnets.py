"""Neutron subnets with IPAM: CIDR, gateway and pools checked, addresses handed out lowest first."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sriovstack.domain.attributes import (
    parse_flag,
    parse_text,
    refuse_unchangeable,
    refuse_unknown,
    require_empty,
    stamp,
)
from sriovstack.domain.errors import Conflict, Forbidden, InUse, InvalidInput, NotFound
from sriovstack.domain.ipam import (
    Address,
    Network,
    check_gateway_outside,
    check_usable,
    default_gateway,
    default_pools,
    first_free,
    parse_address,
    parse_cidr,
    parse_gateway,
    parse_host_routes,
    parse_ip_version,
    parse_nameservers,
    parse_pools,
    pools_from_wire,
)
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.networks import visible_network
from sriovstack.store.network_tables import IPAllocationRow, NetworkRow, PortRow, SubnetRow
from sriovstack.store.querying import Session, add_rows, delete_row, find_rows, get_row, lock_row

DHCP_OWNER = "network:dhcp"
CREATE_KEYS = frozenset(
    {
        "name",
        "description",
        "network_id",
        "ip_version",
        "cidr",
        "gateway_ip",
        "allocation_pools",
        "dns_nameservers",
        "host_routes",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "subnetpool_id",
        "prefixlen",
        "use_default_subnetpool",
        "segment_id",
        "service_types",
        "project_id",
        "tenant_id",
    }
)
UPDATABLE = frozenset(
    {
        "name",
        "description",
        "gateway_ip",
        "allocation_pools",
        "dns_nameservers",
        "host_routes",
        "enable_dhcp",
    }
)
NEW_SUBNET_SETTINGS: dict[str, Any] = {
    "name": "",
    "description": "",
    "enable_dhcp": True,
    "dns_nameservers": [],
    "host_routes": [],
}
# Attributes shown as Neutron shows them but not implemented: only their empty value is taken.
UNSUPPORTED = {
    "ipv6_ra_mode": "is not supported: IPv6 addresses come from the allocation pools",
    "ipv6_address_mode": "is not supported: IPv6 addresses come from the allocation pools",
    "subnetpool_id": "subnet pools are not supported: give a cidr",
    "prefixlen": "subnet pools are not supported: give a cidr",
    "use_default_subnetpool": "subnet pools are not supported: give a cidr",
    "segment_id": "routed networks (segments) are not supported",
    "service_types": "service types are not supported",
}


class SubnetInUse(InUse):
    neutron_type = "SubnetInUse"


class GatewayIpInUse(InUse):
    neutron_type = "GatewayIpInUse"


class IpAddressGenerationFailure(Conflict):
    neutron_type = "IpAddressGenerationFailure"


class IpAddressAlreadyAllocated(Conflict):
    neutron_type = "IpAddressAlreadyAllocated"


def create_subnet(env: Environment, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """A subnet of a network the caller owns; refused if it overlaps another of the network."""
    caller.require_member("creating a subnet")
    refuse_unknown(body, CREATE_KEYS)
    _refuse_unsupported(body)
    network_id = body.get("network_id")
    if not isinstance(network_id, str) or not network_id:
        raise InvalidInput("network_id", "is required: the network the subnet belongs to")
    version = parse_ip_version(body.get("ip_version"))
    cidr = parse_cidr(body.get("cidr"), version)
    gateway = (
        parse_gateway(body["gateway_ip"], cidr) if "gateway_ip" in body else default_gateway(cidr)
    )
    given_pools = body.get("allocation_pools")
    pools = default_pools(cidr, gateway) if given_pools is None else parse_pools(given_pools, cidr)
    check_gateway_outside(gateway, pools)
    settings = NEW_SUBNET_SETTINGS | _settings(body, version)
    with env.unit_of_work() as uow:
        network = visible_network(uow.session, caller, network_id)
        if not caller.is_admin and network.project_id != caller.project_id:
            raise Forbidden(
                f"adding a subnet to network {network.id} needs the admin role or ownership of "
                "the network (it is shared, not yours)"
            )
        # Held until commit, so two overlapping subnets sent at once cannot both pass the check.
        lock_row(uow.session, NetworkRow, network.id)
        _check_no_overlap(uow.session, network, cidr)
        now = env.now()
        row = SubnetRow(
            id=env.new_id(),
            network_id=network.id,
            project_id=_subnet_owner(caller, body, network),
            ip_version=version,
            cidr=str(cidr),
            gateway_ip=None if gateway is None else str(gateway),
            allocation_pools=[pool.wire() for pool in pools],
            created_at=now,
            updated_at=now,
            revision_number=1,
            **settings,
        )
        add_rows(uow.session, [row])
        view = subnet_view(row)
        uow.commit()
    return view


def list_subnets(
    env: Environment, caller: Caller, filters: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """The caller's subnets and those of shared networks (every subnet for an admin)."""
    where = _filters(filters)
    with env.unit_of_work() as uow:
        rows = find_rows(uow.session, SubnetRow, where=where, project_id=caller.scope())
        if caller.scope() is not None:
            rows += _subnets_of_shared_networks(uow.session, where, caller.project_id)
        rows.sort(key=lambda row: (row.created_at, row.id))
        return [subnet_view(row) for row in rows]


def show_subnet(env: Environment, caller: Caller, subnet_id: str) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        return subnet_view(visible_subnet(uow.session, caller, subnet_id))


def update_subnet(
    env: Environment, caller: Caller, subnet_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Change names, DNS, routes, DHCP, the gateway or the pools; addresses held stay held."""
    caller.require_member("changing a subnet")
    refuse_unchangeable(body, UPDATABLE, "subnet")
    with env.unit_of_work() as uow:
        row = visible_subnet(uow.session, caller, subnet_id)
        _require_owner(caller, row)
        lock_row(uow.session, SubnetRow, row.id)
        cidr = ipaddress.ip_network(row.cidr)
        gateway = _gateway_of(row)
        if "gateway_ip" in body:
            gateway = parse_gateway(body["gateway_ip"], cidr)
            _check_gateway_free(uow.session, row, gateway)
        pools = pools_from_wire(row.allocation_pools)
        if "allocation_pools" in body:
            pools = parse_pools(body["allocation_pools"], cidr)
        check_gateway_outside(gateway, pools)
        for column, value in _settings(body, row.ip_version).items():
            setattr(row, column, value)
        row.gateway_ip = None if gateway is None else str(gateway)
        row.allocation_pools = [pool.wire() for pool in pools]
        row.updated_at = env.now()
        row.revision_number += 1
        view = subnet_view(row)
        uow.commit()
    return view


def delete_subnet(env: Environment, caller: Caller, subnet_id: str) -> None:
    """Delete a subnet; refused while a port other than a DHCP port holds one of its addresses."""
    caller.require_member("deleting a subnet")
    with env.unit_of_work() as uow:
        row = visible_subnet(uow.session, caller, subnet_id)
        _require_owner(caller, row)
        lock_row(uow.session, SubnetRow, row.id)
        allocations = find_rows(uow.session, IPAllocationRow, where={"subnet_id": row.id})
        holders = find_rows(
            uow.session, PortRow, where={"id": sorted({a.port_id for a in allocations})}
        )
        users = sorted(port.id for port in holders if port.device_owner != DHCP_OWNER)
        if users:
            raise SubnetInUse(
                f"unable to complete operation on subnet {row.id}: port(s) {', '.join(users)} "
                "hold IP addresses from it; delete them or change their fixed_ips first"
            )
        for allocation in allocations:
            delete_row(uow.session, allocation)
        delete_row(uow.session, row)
        uow.commit()


def visible_subnet(session: Session, caller: Caller, subnet_id: str) -> SubnetRow:
    """The subnet by ID if the caller may see it (own, on a shared network, or admin)."""
    row = get_row(session, SubnetRow, subnet_id)
    if row is not None and caller.sees(row.project_id):
        return row
    network = None if row is None else get_row(session, NetworkRow, row.network_id)
    if network is None or not network.shared:
        raise NotFound("subnet", subnet_id)
    assert row is not None
    return row


def network_subnets(session: Session, network_id: str) -> list[SubnetRow]:
    """The subnets of a network in the order they were made."""
    return find_rows(
        session, SubnetRow, where={"network_id": network_id}, order_by=("created_at", "id")
    )


def allocate_address(
    session: Session,
    subnet: SubnetRow,
    port_id: str,
    requested: Address | None = None,
    *,
    may_take_gateway: bool = False,
) -> IPAllocationRow:
    """An address of ``subnet`` for a port: ``requested`` if free, else the pools' lowest free one.

    The subnet row stays locked until commit, so allocators on PostgreSQL take turns (SQLite
    writers always do); the (subnet, address) key refuses a duplicate whatever happens.
    """
    lock_row(session, SubnetRow, subnet.id)
    cidr = ipaddress.ip_network(subnet.cidr)
    taken = {
        ipaddress.ip_address(allocation.ip_address)
        for allocation in find_rows(session, IPAllocationRow, where={"subnet_id": subnet.id})
    }
    if requested is None:
        address = first_free(pools_from_wire(subnet.allocation_pools), taken)
        if address is None:
            raise IpAddressGenerationFailure(
                f"no more IP addresses available on network {subnet.network_id}: every address "
                f"of the allocation pools of subnet {subnet.id} ({subnet.cidr}) is in use"
            )
    else:
        address = requested
        _check_requestable(subnet, cidr, address, may_take_gateway=may_take_gateway)
        if address in taken:
            raise IpAddressAlreadyAllocated(
                f"IP address {address} already allocated in subnet {subnet.id}"
            )
    row = IPAllocationRow(subnet_id=subnet.id, ip_address=str(address), port_id=port_id)
    add_rows(session, [row])
    return row


def subnet_view(row: SubnetRow) -> dict[str, Any]:
    """The subnet as Neutron shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "network_id": row.network_id,
        "ip_version": row.ip_version,
        "cidr": row.cidr,
        "gateway_ip": row.gateway_ip,
        "allocation_pools": list(row.allocation_pools),
        "dns_nameservers": list(row.dns_nameservers),
        "host_routes": list(row.host_routes),
        "enable_dhcp": row.enable_dhcp,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
        "tags": [],
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def _check_requestable(
    subnet: SubnetRow, cidr: Network, address: Address, *, may_take_gateway: bool
) -> None:
    field = "fixed_ips.ip_address"
    if address not in cidr:
        raise InvalidInput(field, f"{address} is not inside subnet {subnet.id} ({cidr})")
    check_usable(field, address, cidr)
    if not may_take_gateway and str(address) == subnet.gateway_ip:
        raise InvalidInput(
            field, f"{address} is the gateway of subnet {subnet.id}; only a router port takes it"
        )


def _settings(body: Mapping[str, Any], ip_version: int) -> dict[str, Any]:
    """The subnet's plain settings present in ``body``, checked, as column values."""
    columns: dict[str, Any] = {}
    if "name" in body:
        columns["name"] = parse_text("name", body["name"])
    if "description" in body:
        columns["description"] = parse_text("description", body["description"])
    if "enable_dhcp" in body:
        columns["enable_dhcp"] = parse_flag("enable_dhcp", body["enable_dhcp"])
    if "dns_nameservers" in body:
        columns["dns_nameservers"] = parse_nameservers(body["dns_nameservers"])
    if "host_routes" in body:
        columns["host_routes"] = parse_host_routes(body["host_routes"], ip_version)
    return columns


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    for field, reason in UNSUPPORTED.items():
        if field == "use_default_subnetpool":
            if body.get(field) not in (None, False):
                raise InvalidInput(field, reason, body[field])
        elif field in body:
            require_empty(field, body[field], reason)


def _check_no_overlap(session: Session, network: NetworkRow, cidr: Network) -> None:
    for other in network_subnets(session, network.id):
        existing = ipaddress.ip_network(other.cidr)
        if existing.version == cidr.version and existing.overlaps(cidr):
            raise InvalidInput(
                "cidr",
                f"{cidr} overlaps subnet {other.id} ({existing}) of network {network.id}; "
                "subnets of one network must not overlap",
            )


def _check_gateway_free(session: Session, row: SubnetRow, gateway: Address | None) -> None:
    if gateway is None or str(gateway) == row.gateway_ip:
        return
    holder = get_row(session, IPAllocationRow, (row.id, str(gateway)))
    if holder is not None:
        raise GatewayIpInUse(
            f"gateway_ip: {gateway} is in use by port {holder.port_id}; the gateway cannot move "
            "to an address a port holds"
        )


def _gateway_of(row: SubnetRow) -> Address | None:
    return None if row.gateway_ip is None else parse_address("gateway_ip", row.gateway_ip)


def _subnet_owner(caller: Caller, body: Mapping[str, Any], network: NetworkRow) -> str:
    """The network's project, or another one an admin names; a subnet follows its network."""
    project_id = body.get("project_id") or body.get("tenant_id")
    if project_id and project_id != network.project_id:
        caller.require_admin("creating a subnet in another project")
        return str(project_id)
    return network.project_id


def _require_owner(caller: Caller, row: SubnetRow) -> None:
    if not caller.is_admin and row.project_id != caller.project_id:
        # Subnets of a shared network are visible to all, but changed only by their owner.
        raise Forbidden(f"changing subnet {row.id} of a shared network needs the admin role")


def _subnets_of_shared_networks(
    session: Session, where: Mapping[str, list[object]], project_id: str
) -> list[SubnetRow]:
    shared = {network.id for network in find_rows(session, NetworkRow, where={"shared": True})}
    wanted = where.get("network_id")
    if wanted is not None:
        shared &= {str(network_id) for network_id in wanted}
    if not shared:
        return []
    rows = find_rows(session, SubnetRow, where={**where, "network_id": sorted(shared)})
    return [row for row in rows if row.project_id != project_id]


_FILTERABLE = {
    "id": "id",
    "name": "name",
    "description": "description",
    "network_id": "network_id",
    "ip_version": "ip_version",
    "cidr": "cidr",
    "gateway_ip": "gateway_ip",
    "enable_dhcp": "enable_dhcp",
    "project_id": "project_id",
    "tenant_id": "project_id",
}


def _filters(filters: Mapping[str, list[str]]) -> dict[str, list[object]]:
    """Neutron's exact-match query filters as column values; a repeated key matches any value."""
    where: dict[str, list[object]] = {}
    for key, values in filters.items():
        column = _FILTERABLE.get(key)
        if column is not None:  # Neutron ignores filters it does not know (sort_key=, ...)
            where[column] = [_filter_value(column, value) for value in values]
    return where


def _filter_value(column: str, value: str) -> object:
    if column == "enable_dhcp":
        return value.lower() == "true"
    if column == "ip_version":
        return int(value) if value in ("4", "6") else -1  # matches nothing
    return value
