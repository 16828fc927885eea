"""Neutron ports with the port binding extension: MACs, fixed IPs, security groups, vnic types."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.attributes import (
    parse_flag,
    parse_text,
    refuse_unchangeable,
    refuse_unknown,
    require_empty,
    stamp,
)
from sriovstack.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    Forbidden,
    InUse,
    InvalidInput,
    NotFound,
)
from sriovstack.domain.ipam import Address, parse_address
from sriovstack.services.desired import touch_host
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.networks import visible_network
from sriovstack.services.security_groups import default_group
from sriovstack.services.subnets import (
    IpAddressGenerationFailure,
    allocate_address,
    network_subnets,
)
from sriovstack.store.network_tables import (
    IPAllocationRow,
    NetworkRow,
    PortRow,
    PortSecurityGroupRow,
    SecurityGroupRow,
    SubnetRow,
)
from sriovstack.store.querying import Session, add_rows, delete_row, find_rows, get_row

T = TypeVar("T")

VNIC = "binding:vnic_type"
HOST = "binding:host_id"
PROFILE = "binding:profile"
VIF_TYPE = "binding:vif_type"
VIF_DETAILS = "binding:vif_details"
ENFORCED = "sriovstack:security_groups_enforced"
VNIC_TYPES = (
    "normal",
    "direct",
    "direct-physical",
    "macvtap",
    "virtio-forwarder",
    "remote-managed",
)
NUMA_POLICIES = ("required", "preferred", "legacy", "socket")
COMPUTE_OWNER = "compute:"
NETWORK_OWNER = "network:"  # DHCP, router and other ports Neutron itself owns
ATTEMPTS = 5  # lost races (an address or MAC taken between check and insert) are retried
MAC_ATTEMPTS = 16
CREATE_KEYS = frozenset(
    {
        "name",
        "description",
        "network_id",
        "admin_state_up",
        "mac_address",
        "fixed_ips",
        "device_id",
        "device_owner",
        "project_id",
        "tenant_id",
        VNIC,
        HOST,
        PROFILE,
        "port_security_enabled",
        "security_groups",
        "propagate_uplink_status",
        "numa_affinity_policy",
        "qos_policy_id",
        "allowed_address_pairs",
        "extra_dhcp_opts",
        "dns_name",
    }
)
UPDATABLE = CREATE_KEYS - {"network_id", "project_id", "tenant_id"}
# Shown as Neutron shows them, but not implemented: only their empty value is taken.
UNSUPPORTED = {
    "qos_policy_id": "QoS policies are not supported yet",
    "allowed_address_pairs": (
        "is not supported: a VF's spoof check drops frames from any other address"
    ),
    "extra_dhcp_opts": "is not supported: sriovstack runs no DHCP server",
    "dns_name": "is not supported: there is no DNS integration",
}


class MacAddressInUse(Conflict):
    neutron_type = "MacAddressInUse"


class MacAddressGenerationFailure(Conflict):
    neutron_type = "MacAddressGenerationFailure"


class PortInUse(InUse):
    neutron_type = "PortInUse"


class PortBound(Conflict):
    neutron_type = "PortBound"


class PortHasSecurityGroups(InUse):
    neutron_type = "PortSecurityPortHasSecurityGroup"


@dataclass(frozen=True, slots=True)
class FixedIp:
    """One entry of a port's ``fixed_ips`` request: a subnet, an address, or both."""

    subnet_id: str | None
    address: Address | None


def create_port(env: Environment, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """A port on a network the caller may use, with a MAC, addresses and security groups."""
    caller.require_member("creating a port")
    refuse_unknown(body, CREATE_KEYS)
    network_id = body.get("network_id")
    if not isinstance(network_id, str) or not network_id:
        raise InvalidInput("network_id", "is required: the network the port is on")

    def attempt() -> dict[str, Any]:
        with env.unit_of_work() as uow:
            network = visible_network(uow.session, caller, network_id)
            row = new_port(env, uow.session, caller, network, body)
            view = port_view(uow.session, row)
            uow.commit()
        return view

    return _retrying(attempt)


def list_ports(
    env: Environment, caller: Caller, filters: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    with env.unit_of_work() as uow:
        where = _filters(uow.session, filters)
        rows = find_rows(
            uow.session,
            PortRow,
            where=where,
            project_id=caller.scope(),
            order_by=("created_at", "id"),
        )
        return port_views(uow.session, rows)


def show_port(env: Environment, caller: Caller, port_id: str) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        return port_view(uow.session, visible_port(uow.session, caller, port_id))


def update_port(
    env: Environment, caller: Caller, port_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a port; its vnic type and MAC stay fixed while it is bound to a host or device."""
    caller.require_member("changing a port")
    refuse_unchangeable(body, UPDATABLE, "port")

    def attempt() -> dict[str, Any]:
        with env.unit_of_work() as uow:
            row = visible_port(uow.session, caller, port_id)
            bound_to = row.host_id
            network = get_row(uow.session, NetworkRow, row.network_id)
            assert network is not None
            changes = _attributes(caller, network, body)
            _check_binding_changes(caller, row, changes)
            _check_bound(row, changes, body)
            if "mac_address" in body and not _same_mac(body["mac_address"], row.mac_address):
                row.mac_address = _mac(env, uow.session, row.network_id, body["mac_address"])
            for column, value in changes.items():
                setattr(row, column, value)
            if not row.host_id:
                row.vif_type, row.vif_details = "unbound", {}
            if "fixed_ips" in body:
                _reallocate(uow.session, network, row, body["fixed_ips"])
            _update_groups(uow.session, row, body)
            row.updated_at = env.now()
            row.revision_number += 1
            # The agents of the hosts it was and is bound to apply the change (VF, FDB).
            for host in {bound_to, row.host_id} - {""}:
                touch_host(uow.session, name=host)
            view = port_view(uow.session, row)
            uow.commit()
        return view

    return _retrying(attempt)


def delete_port(env: Environment, caller: Caller, port_id: str) -> None:
    """Delete a port and free its addresses; refused while a server has it attached."""
    caller.require_member("deleting a port")
    with env.unit_of_work() as uow:
        row = visible_port(uow.session, caller, port_id)
        if row.device_owner.startswith(COMPUTE_OWNER):
            raise PortInUse(
                f"unable to complete operation on port {row.id} for network {row.network_id}: "
                f"the port already has an attached device, server {row.device_id}; detach it "
                "first (openstack server remove port)"
            )
        if row.host_id:
            touch_host(uow.session, name=row.host_id)  # its FDB entries go
        remove_port(uow.session, row)
        uow.commit()


def new_port(
    env: Environment,
    session: Session,
    caller: Caller,
    network: NetworkRow,
    body: Mapping[str, Any],
    *,
    created_for_server: bool = False,
) -> PortRow:
    """A new port on ``network`` from a Neutron port body, added to ``session`` (not committed).

    ``network`` must be one the caller may use (``networks.visible_network``); ``network_id``
    in ``body`` is ignored. Checks every attribute as the API does, picks a free MAC, allocates
    addresses (lowest free first) and applies security groups (the project's default one if none
    are named). Raises the same domain errors as ``create_port``; a race lost to a concurrent
    writer surfaces as ``ConcurrentUpdate`` from the caller's flush or commit: retry the unit
    of work, and the next attempt picks other addresses or reports the requested ones as taken.
    """
    refuse_unknown(body, CREATE_KEYS)
    columns = _new_port_defaults(network) | _attributes(caller, network, body)
    now = env.now()
    row = PortRow(
        id=env.new_id(),
        project_id=caller.project_for(body),
        network_id=network.id,
        mac_address=_mac(env, session, network.id, body.get("mac_address")),
        status="DOWN",
        vif_type="unbound",
        vif_details={},
        created_for_server=created_for_server,
        created_at=now,
        updated_at=now,
        revision_number=1,
        **columns,
    )
    add_rows(session, [row])
    if "fixed_ips" in body:
        for request in _fixed_ips(body["fixed_ips"]):
            _allocate_requested(session, network, row, request)
    else:
        _allocate_automatic(session, network, row)
    _set_groups(session, row, _initial_groups(env, session, row, body))
    return row


def visible_port(session: Session, caller: Caller, port_id: str) -> PortRow:
    """The port by ID if the caller may see it (its project's, or any for an admin)."""
    row = get_row(session, PortRow, port_id)
    if row is None or not caller.sees(row.project_id):
        raise NotFound("port", port_id)
    return row


def remove_port(session: Session, row: PortRow) -> None:
    """Delete a port with its addresses and security group links (no checks)."""
    for allocation in find_rows(session, IPAllocationRow, where={"port_id": row.id}):
        delete_row(session, allocation)
    for link in find_rows(session, PortSecurityGroupRow, where={"port_id": row.id}):
        delete_row(session, link)
    delete_row(session, row)


def port_view(session: Session, row: PortRow) -> dict[str, Any]:
    """The port as Neutron shows it, with its fixed IPs and security groups."""
    return port_views(session, [row])[0]


def port_views(session: Session, rows: Sequence[PortRow]) -> list[dict[str, Any]]:
    """Views of many ports, reading their addresses and groups in two queries."""
    ids = [row.id for row in rows]
    allocations: dict[str, list[IPAllocationRow]] = {port_id: [] for port_id in ids}
    groups: dict[str, list[str]] = {port_id: [] for port_id in ids}
    if ids:
        for allocation in find_rows(session, IPAllocationRow, where={"port_id": ids}):
            allocations[allocation.port_id].append(allocation)
        for link in find_rows(session, PortSecurityGroupRow, where={"port_id": ids}):
            groups[link.port_id].append(link.security_group_id)
    return [_view(row, allocations[row.id], groups[row.id]) for row in rows]


def _view(row: PortRow, allocations: list[IPAllocationRow], groups: list[str]) -> dict[str, Any]:
    ordered = sorted(allocations, key=lambda a: _address_order(a.ip_address))
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "network_id": row.network_id,
        "mac_address": row.mac_address,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in ordered],
        "device_id": row.device_id,
        "device_owner": row.device_owner,
        "status": row.status,
        "admin_state_up": row.admin_state_up,
        "port_security_enabled": row.port_security_enabled,
        "security_groups": sorted(groups),
        # SR-IOV traffic goes from the VF to the wire, past any host firewall: as in Neutron,
        # security groups are kept on such ports but nothing enforces them.
        ENFORCED: row.vnic_type == "normal",
        VNIC: row.vnic_type,
        HOST: row.host_id,
        PROFILE: row.profile,
        VIF_TYPE: row.vif_type,
        VIF_DETAILS: row.vif_details,
        "propagate_uplink_status": row.propagate_uplink_status,
        "numa_affinity_policy": row.numa_affinity_policy,
        "qos_policy_id": None,
        "resource_request": None,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "dns_name": "",
        "ip_allocation": "immediate",
        "tags": [],
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def _address_order(text: str) -> tuple[int, int]:
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def _retrying(attempt: Callable[[], T]) -> T:
    for number in range(ATTEMPTS):
        try:
            return attempt()
        except ConcurrentUpdate:
            # Another writer took an address or MAC between this one's check and insert; the
            # next attempt sees it, so an automatic pick moves on and a requested one is refused.
            if number == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _new_port_defaults(network: NetworkRow) -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "admin_state_up": True,
        "device_id": "",
        "device_owner": "",
        "vnic_type": "normal",
        "host_id": "",
        "profile": {},
        "port_security_enabled": network.port_security_enabled,
        # Neutron's default since bug 1967881: the VF's link follows the PF's (admin-down wins).
        "propagate_uplink_status": True,
        "numa_affinity_policy": None,
    }


def _attributes(caller: Caller, network: NetworkRow, body: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for the port attributes present in ``body``, each checked."""
    columns: dict[str, Any] = {}
    for field, (column, parse) in _PLAIN.items():
        if field in body:
            columns[column] = parse(field, body[field])
    if PROFILE in body:
        columns["profile"] = _profile(caller, body[PROFILE])
    if HOST in body:
        columns["host_id"] = _host(caller, body[HOST])
    if "device_owner" in body:
        columns["device_owner"] = _device_owner(caller, network, body["device_owner"])
    for field, reason in UNSUPPORTED.items():
        if field in body:
            require_empty(field, body[field], reason)
    return columns


def _vnic_type(field: str, value: Any) -> str:
    if value not in VNIC_TYPES:
        raise InvalidInput(field, f"must be one of {', '.join(VNIC_TYPES)}", value)
    return str(value)


def _numa_policy(field: str, value: Any) -> str | None:
    if value is not None and value not in NUMA_POLICIES:
        raise InvalidInput(field, f"must be null or one of {', '.join(NUMA_POLICIES)}", value)
    return None if value is None else str(value)


def _device_id(field: str, value: Any) -> str:
    return parse_text(field, "" if value is None else value, max_length=64)


_PLAIN: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "name": ("name", parse_text),
    "description": ("description", parse_text),
    "admin_state_up": ("admin_state_up", parse_flag),
    "port_security_enabled": ("port_security_enabled", parse_flag),
    "propagate_uplink_status": ("propagate_uplink_status", parse_flag),
    "device_id": ("device_id", _device_id),
    "numa_affinity_policy": ("numa_affinity_policy", _numa_policy),
    VNIC: ("vnic_type", _vnic_type),
}


def _profile(caller: Caller, value: Any) -> dict[str, Any]:
    """binding:profile, which Nova fills when it binds; people set it only as admins (Neutron)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidInput(PROFILE, "must be a JSON object", value)
    if value:
        caller.require_admin("setting binding:profile")
    profile = dict(value)
    if "trusted" in profile:
        # OSC sends --binding-profile trusted=true as the string "true".
        profile["trusted"] = parse_flag(f"{PROFILE}.trusted", profile["trusted"])
    if "pci_slot" in profile:
        slot = profile["pci_slot"]
        if not isinstance(slot, str):
            raise InvalidInput(f"{PROFILE}.pci_slot", "must be a PCI address", slot)
        profile["pci_slot"] = str(PciAddress.parse(slot, f"{PROFILE}.pci_slot"))
    return profile


def _host(caller: Caller, value: Any) -> str:
    host = parse_text(HOST, "" if value is None else value)
    if host:
        caller.require_admin("setting binding:host_id")
    return host


def _device_owner(caller: Caller, network: NetworkRow, value: Any) -> str:
    device_owner = parse_text("device_owner", "" if value is None else value)
    if (
        device_owner.startswith(NETWORK_OWNER)
        and not caller.is_admin
        and network.project_id != caller.project_id
    ):
        raise Forbidden(
            f"device_owner {device_owner} is for the network's own ports: it needs the admin "
            "role or ownership of the network"
        )
    return device_owner


def _check_binding_changes(caller: Caller, row: PortRow, changes: Mapping[str, Any]) -> None:
    """Only admins (Nova, the scheduler) bind and unbind: clearing counts as a change too."""
    if "host_id" in changes and changes["host_id"] != row.host_id:
        caller.require_admin(f"changing {HOST}")
    if "profile" in changes and changes["profile"] != row.profile:
        caller.require_admin(f"changing {PROFILE}")


def _check_bound(row: PortRow, changes: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """A bound port's VF was chosen for its vnic type and programmed with its MAC: keep both."""
    if not (row.host_id or row.device_id):
        return
    where = f"host {row.host_id}" if row.host_id else f"device {row.device_id}"
    if "vnic_type" in changes and changes["vnic_type"] != row.vnic_type:
        raise PortBound(
            f"{VNIC}: port {row.id} is bound to {where} as {row.vnic_type}; unbind it (detach "
            "it from its server) before changing the vnic type"
        )
    if "mac_address" in body and not _same_mac(body["mac_address"], row.mac_address):
        raise PortBound(
            f"mac_address: port {row.id} is bound to {where}; unbind it (detach it from its "
            "server) before changing its MAC address"
        )


def _mac(env: Environment, session: Session, network_id: str, value: Any) -> str:
    """The given MAC if unicast and free on the network; else a free one with the MAC prefix."""
    if value is not None:
        if not isinstance(value, str):
            raise InvalidInput(
                "mac_address", "must be six hex octets like fa:16:3e:00:00:01", value
            )
        mac = str(MacAddress.parse(value, "mac_address").require_unicast("mac_address"))
        if _mac_taken(session, network_id, mac):
            raise MacAddressInUse(
                f"unable to complete operation for network {network_id}: the mac address {mac} "
                "is in use"
            )
        return mac
    for _ in range(MAC_ATTEMPTS):
        mac = generate_mac(env.settings.mac_prefix)
        if not _mac_taken(session, network_id, mac):
            return mac
    raise MacAddressGenerationFailure(
        f"unable to generate a unique mac on network {network_id} after {MAC_ATTEMPTS} tries"
    )


def _same_mac(value: Any, current: str) -> bool:
    return isinstance(value, str) and value.strip().lower().replace("-", ":") == current


def generate_mac(prefix: str) -> str:
    """The prefix's octets followed by random ones (Neutron's base_mac, e.g. fa:16:3e)."""
    octets = [octet for octet in prefix.split(":") if octet]
    tail = secrets.token_bytes(6 - len(octets))
    return ":".join([*(octet.lower() for octet in octets), *(f"{byte:02x}" for byte in tail)])


def _mac_taken(session: Session, network_id: str, mac: str) -> bool:
    return bool(
        find_rows(session, PortRow, where={"network_id": network_id, "mac_address": mac}, limit=1)
    )


def _fixed_ips(value: Any) -> list[FixedIp]:
    """The ``fixed_ips`` request: a list of {subnet_id, ip_address} (either or both)."""
    rule = 'must be a list of {"subnet_id": ID, "ip_address": IP} (either or both)'
    if not isinstance(value, list):
        raise InvalidInput("fixed_ips", rule, value)
    requests: list[FixedIp] = []
    for entry in value:
        if not isinstance(entry, dict) or not entry or set(entry) - {"subnet_id", "ip_address"}:
            raise InvalidInput("fixed_ips", rule, entry)
        subnet_id = entry.get("subnet_id")
        if subnet_id is not None and not isinstance(subnet_id, str):
            raise InvalidInput("fixed_ips.subnet_id", "must be a subnet ID", subnet_id)
        raw = entry.get("ip_address")
        address = None if raw is None else parse_address("fixed_ips.ip_address", raw)
        if subnet_id is None and address is None:
            raise InvalidInput("fixed_ips", "each entry needs a subnet_id or an ip_address", entry)
        if address is not None and any(r.address == address for r in requests):
            raise InvalidInput("fixed_ips.ip_address", f"lists {address} twice", value)
        requests.append(FixedIp(subnet_id, address))
    return requests


def _subnet_for(session: Session, network: NetworkRow, request: FixedIp) -> SubnetRow:
    subnets = network_subnets(session, network.id)
    if request.subnet_id is not None:
        subnet = next((s for s in subnets if s.id == request.subnet_id), None)
        if subnet is None:
            raise _not_on_network(session, network, request.subnet_id)
        return subnet
    assert request.address is not None
    for subnet in subnets:
        if request.address in ipaddress.ip_network(subnet.cidr):
            return subnet
    raise InvalidInput(
        "fixed_ips.ip_address",
        f"{request.address} is not inside any subnet of network {network.id}",
    )


def _not_on_network(session: Session, network: NetworkRow, subnet_id: str) -> Exception:
    row = get_row(session, SubnetRow, subnet_id)
    if row is None:
        return NotFound("subnet", subnet_id)
    return InvalidInput("fixed_ips.subnet_id", f"subnet {subnet_id} is not on network {network.id}")


def _allocate_requested(
    session: Session, network: NetworkRow, port: PortRow, request: FixedIp
) -> IPAllocationRow:
    subnet = _subnet_for(session, network, request)
    router = port.device_owner.startswith("network:router")
    return allocate_address(session, subnet, port.id, request.address, may_take_gateway=router)


def _allocate_automatic(session: Session, network: NetworkRow, port: PortRow) -> None:
    """One IPv4 and one IPv6 address, each from the first subnet of its version with room."""
    subnets = network_subnets(session, network.id)
    for version in (4, 6):
        candidates = [subnet for subnet in subnets if subnet.ip_version == version]
        if candidates and not _allocate_any(session, candidates, port):
            raise IpAddressGenerationFailure(
                f"no more IP addresses available on network {network.id}: every IPv{version} "
                f"subnet ({', '.join(s.cidr for s in candidates)}) is full"
            )


def _allocate_any(session: Session, subnets: Sequence[SubnetRow], port: PortRow) -> bool:
    for subnet in subnets:
        try:
            allocate_address(session, subnet, port.id)
        except IpAddressGenerationFailure:
            continue
        return True
    return False


def _reallocate(session: Session, network: NetworkRow, port: PortRow, value: Any) -> None:
    """Make the port's addresses those requested: keep what it holds, free and take the rest."""
    requests = _fixed_ips(value)
    held = find_rows(session, IPAllocationRow, where={"port_id": port.id})
    wanted: list[FixedIp] = []
    for request in requests:
        kept = next((a for a in held if _satisfies(a, request)), None)
        if kept is None:
            wanted.append(request)
        else:
            held.remove(kept)
    for released in held:
        delete_row(session, released)
    for request in wanted:
        _allocate_requested(session, network, port, request)


def _satisfies(allocation: IPAllocationRow, request: FixedIp) -> bool:
    if request.subnet_id is not None and allocation.subnet_id != request.subnet_id:
        return False
    if request.address is None:
        return True
    return ipaddress.ip_address(allocation.ip_address) == request.address


def _initial_groups(
    env: Environment, session: Session, port: PortRow, body: Mapping[str, Any]
) -> list[SecurityGroupRow]:
    requested = body.get("security_groups")
    if requested is not None:
        return _requested_groups(session, port, requested)
    # As in Neutron: the project's default group, unless port security is off, the port has no
    # address to filter on, or the port is one of the network's own (DHCP, router).
    if not port.port_security_enabled or port.device_owner.startswith(NETWORK_OWNER):
        return []
    if not find_rows(session, IPAllocationRow, where={"port_id": port.id}, limit=1):
        return []
    return [default_group(env, session, port.project_id)]


def _requested_groups(session: Session, port: PortRow, value: Any) -> list[SecurityGroupRow]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput("security_groups", "must be a list of security group IDs", value)
    if not value:
        return []
    if not port.port_security_enabled:
        raise InvalidInput(
            "security_groups",
            "need port_security_enabled true: a port without port security has no groups",
        )
    groups: list[SecurityGroupRow] = []
    for group_id in dict.fromkeys(value):
        group = get_row(session, SecurityGroupRow, group_id)
        if group is None or group.project_id != port.project_id:
            raise NotFound("security group", group_id, f"not a group of project {port.project_id}")
        groups.append(group)
    return groups


def _update_groups(session: Session, port: PortRow, body: Mapping[str, Any]) -> None:
    if "security_groups" in body:
        _set_groups(session, port, _requested_groups(session, port, body["security_groups"]))
        return
    if not port.port_security_enabled and find_rows(
        session, PortSecurityGroupRow, where={"port_id": port.id}, limit=1
    ):
        raise PortHasSecurityGroups(
            f"port_security_enabled: port {port.id} has security groups; send "
            '"security_groups": [] with port_security_enabled false to turn port security off'
        )


def _set_groups(session: Session, port: PortRow, groups: Sequence[SecurityGroupRow]) -> None:
    for link in find_rows(session, PortSecurityGroupRow, where={"port_id": port.id}):
        delete_row(session, link)
    add_rows(
        session,
        [PortSecurityGroupRow(port_id=port.id, security_group_id=group.id) for group in groups],
    )


_FILTERABLE = {
    "id": "id",
    "name": "name",
    "description": "description",
    "network_id": "network_id",
    "device_id": "device_id",
    "device_owner": "device_owner",
    "mac_address": "mac_address",
    "status": "status",
    "admin_state_up": "admin_state_up",
    "project_id": "project_id",
    "tenant_id": "project_id",
    HOST: "host_id",
    VNIC: "vnic_type",
}


def _filters(session: Session, filters: Mapping[str, list[str]]) -> dict[str, Sequence[object]]:
    """Neutron's exact-match query filters as column values; a repeated key matches any value."""
    where: dict[str, Sequence[object]] = {}
    for key, values in filters.items():
        column = _FILTERABLE.get(key)
        if column is not None:  # Neutron ignores filters it does not know (sort_key=, ...)
            where[column] = [_filter_value(column, value) for value in values]
    if "fixed_ips" in filters:
        where["id"] = _ports_with_address(session, filters["fixed_ips"], where.get("id"))
    return where


def _filter_value(column: str, value: str) -> object:
    if column == "admin_state_up":
        return value.lower() == "true"
    if column == "mac_address":
        return value.lower()
    return value


def _ports_with_address(
    session: Session, values: list[str], only: Sequence[object] | None
) -> list[str]:
    """Ports holding ``ip_address=X`` and/or ``subnet_id=Y`` (OSC's ``port list --fixed-ip``).

    OSC sends each part as its own ``fixed_ips=`` value; as in Neutron, one address must match
    every key given, any of a key's values.
    """
    wanted: dict[str, list[str]] = {}
    for part in (part for value in values for part in value.split(",")):
        key, _, given = part.partition("=")
        if key in ("ip_address", "subnet_id"):
            wanted.setdefault(key, []).append(given)
    if not wanted:
        raise InvalidInput("fixed_ips", "filter as ip_address=IP or subnet_id=ID", values)
    ids = {a.port_id for a in find_rows(session, IPAllocationRow, where=wanted)}
    if only is not None:
        ids &= {str(port_id) for port_id in only}
    return sorted(ids)
