"""Networks with one provider segment (vlan or flat), tenant VLANs taken from configured ranges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sriovstack.domain.attributes import parse_flag, stamp
from sriovstack.domain.errors import ConcurrentUpdate, Conflict, InUse, InvalidInput, NotFound
from sriovstack.domain.mappings import MAX_VLAN, MIN_VLAN
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.network_tables import NetworkRow, PortRow, SubnetRow
from sriovstack.store.querying import Session, add_rows, count_rows, delete_row, find_rows, get_row

NETWORK_TYPES = ("vlan", "flat")
UNSUPPORTED_TYPES = ("vxlan", "geneve", "gre", "local")
PROVIDER_TYPE = "provider:network_type"
PROVIDER_PHYSNET = "provider:physical_network"
PROVIDER_SEGMENT = "provider:segmentation_id"
UPDATABLE = frozenset(
    {"name", "description", "admin_state_up", "shared", "mtu", "port_security_enabled"}
)
TENANT_VLAN_ATTEMPTS = 5  # concurrent creators that took the same free VLAN try the next one
MIN_MTU, MAX_MTU = 68, 9216
NAME_LENGTH = 255


class VlanInUse(Conflict):
    """Another network has this physnet's VLAN (or this flat physnet)."""

    neutron_type = "VlanIdInUse"


def create_network(env: Environment, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """A network; provider attributes need the admin role, as Neutron's policy says."""
    caller.require_member("creating a network")
    provider = {
        k: body[k] for k in (PROVIDER_TYPE, PROVIDER_PHYSNET, PROVIDER_SEGMENT) if k in body
    }
    if provider:
        caller.require_admin("setting provider:* attributes")
    shared = parse_flag("shared", body.get("shared", False))
    if shared:
        caller.require_admin("creating a shared network")
    project_id = caller.project_for(body)
    mtu = _mtu(body.get("mtu", 1500))
    for attempt in range(TENANT_VLAN_ATTEMPTS):
        now = env.now()
        try:
            with env.unit_of_work() as uow:
                network_type, physnet, vlan = _segment(env, uow.session, provider)
                row = NetworkRow(
                    id=env.new_id(),
                    project_id=project_id,
                    name=str(body.get("name", "")),
                    description=str(body.get("description", "")),
                    shared=shared,
                    admin_state_up=parse_flag("admin_state_up", body.get("admin_state_up", True)),
                    status="ACTIVE",
                    mtu=mtu,
                    port_security_enabled=parse_flag(
                        "port_security_enabled", body.get("port_security_enabled", True)
                    ),
                    network_type=network_type,
                    physical_network=physnet,
                    segmentation_id=vlan,
                    segment=_segment_key(network_type, physnet, vlan),
                    created_at=now,
                    updated_at=now,
                    revision_number=1,
                )
                add_rows(uow.session, [row])
                view = network_view(uow.session, row)
                uow.commit()
            return view
        except ConcurrentUpdate:
            # The segment was free when read and taken before this insert: a provider segment
            # is simply in use; a tenant VLAN is retried with the next free one.
            if PROVIDER_SEGMENT in provider or (provider.get(PROVIDER_TYPE) == "flat"):
                raise _segment_in_use(provider) from None
            if attempt == TENANT_VLAN_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def list_networks(
    env: Environment, caller: Caller, filters: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    with env.unit_of_work() as uow:
        rows = find_rows(
            uow.session,
            NetworkRow,
            where=_filters(filters),
            project_id=caller.scope(),
            shared_column="shared",
            order_by=("created_at", "id"),
        )
        return [network_view(uow.session, row) for row in rows]


def show_network(env: Environment, caller: Caller, network_id: str) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        return network_view(uow.session, visible_network(uow.session, caller, network_id))


def update_network(
    env: Environment, caller: Caller, network_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    unknown = sorted(set(body) - UPDATABLE)
    if unknown:
        raise InvalidInput(unknown[0], "cannot be changed after the network is created")
    with env.unit_of_work() as uow:
        row = visible_network(uow.session, caller, network_id)
        _require_owner(caller, row)
        if "shared" in body:
            caller.require_admin("sharing a network")
        for name, value in body.items():
            setattr(row, name, _updated_value(name, value))
        row.updated_at = env.now()
        row.revision_number += 1
        view = network_view(uow.session, row)
        uow.commit()
    return view


def delete_network(env: Environment, caller: Caller, network_id: str) -> None:
    """Delete a network and its subnets; refused while a port is on it."""
    with env.unit_of_work() as uow:
        row = visible_network(uow.session, caller, network_id)
        _require_owner(caller, row)
        ports = count_rows(uow.session, PortRow, where={"network_id": row.id})
        if ports:
            raise _network_in_use(row.id, ports)
        for subnet in find_rows(uow.session, SubnetRow, where={"network_id": row.id}):
            delete_row(uow.session, subnet)
        delete_row(uow.session, row)
        uow.commit()


def visible_network(session: Session, caller: Caller, network_id: str) -> NetworkRow:
    """The network by ID if the caller may see it (own, shared, or admin); else NotFound."""
    row = get_row(session, NetworkRow, network_id)
    if row is None or not caller.sees(row.project_id, shared=row.shared):
        raise NotFound("network", network_id)
    return row


def network_view(session: Session, row: NetworkRow) -> dict[str, Any]:
    """The network as Neutron shows it."""
    subnets = find_rows(session, SubnetRow, where={"network_id": row.id}, order_by=("created_at",))
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "admin_state_up": row.admin_state_up,
        "shared": row.shared,
        "subnets": [s.id for s in subnets],
        "mtu": row.mtu,
        "port_security_enabled": row.port_security_enabled,
        PROVIDER_TYPE: row.network_type,
        PROVIDER_PHYSNET: row.physical_network,
        PROVIDER_SEGMENT: row.segmentation_id,
        "router:external": False,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "is_default": False,
        "l2_adjacency": True,
        "qos_policy_id": None,
        "dns_domain": "",
        "tags": [],
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def _segment(
    env: Environment, session: Session, provider: Mapping[str, Any]
) -> tuple[str, str | None, int | None]:
    settings = env.settings
    network_type = str(provider.get(PROVIDER_TYPE) or "vlan")
    if network_type in UNSUPPORTED_TYPES:
        raise InvalidInput(
            PROVIDER_TYPE,
            f"{network_type} networks are not supported: SR-IOV ports bind only to vlan and "
            "flat networks",
            network_type,
        )
    if network_type not in NETWORK_TYPES:
        raise InvalidInput(PROVIDER_TYPE, "must be vlan or flat", network_type)
    physnet = provider.get(PROVIDER_PHYSNET)
    if physnet is not None and not isinstance(physnet, str):
        raise InvalidInput(PROVIDER_PHYSNET, "must be a physnet name", physnet)
    segment = provider.get(PROVIDER_SEGMENT)
    if network_type == "flat":
        return _flat_segment(env, session, provider, physnet, segment)
    ranges = settings.network_vlan_ranges
    if physnet is None:
        if segment is not None:
            raise InvalidInput(PROVIDER_PHYSNET, "is required with provider:segmentation_id")
        return _tenant_vlan(env, session)
    if physnet not in ranges.physnets:
        known = ", ".join(ranges.physnets) or "none"
        raise InvalidInput(
            PROVIDER_PHYSNET,
            f"physnet {physnet} is not in network_vlan_ranges (known: {known})",
            physnet,
        )
    if segment is None:
        return _tenant_vlan(env, session, physnet)
    vlan = _vlan(segment)
    if find_rows(session, NetworkRow, where={"segment": _segment_key("vlan", physnet, vlan)}):
        raise _segment_in_use(provider)
    return "vlan", physnet, vlan


def _flat_segment(
    env: Environment,
    session: Session,
    provider: Mapping[str, Any],
    physnet: str | None,
    segment: Any,
) -> tuple[str, str | None, int | None]:
    flat_networks = env.settings.flat_networks
    if segment is not None:
        raise InvalidInput(PROVIDER_SEGMENT, "must not be given for a flat network", segment)
    if not physnet:
        raise InvalidInput(PROVIDER_PHYSNET, "is required for a flat network")
    if "*" not in flat_networks and physnet not in flat_networks:
        raise InvalidInput(
            PROVIDER_PHYSNET,
            f"physnet {physnet} is not in flat_networks ({', '.join(flat_networks) or 'none'})",
            physnet,
        )
    if find_rows(session, NetworkRow, where={"segment": _segment_key("flat", physnet, None)}):
        raise _segment_in_use(provider)
    return "flat", physnet, None


def _tenant_vlan(
    env: Environment, session: Session, physnet: str | None = None
) -> tuple[str, str | None, int | None]:
    """The lowest free VLAN of the tenant ranges (of ``physnet``, or of any physnet in order)."""
    ranges = env.settings.network_vlan_ranges
    for candidate in [physnet] if physnet else list(ranges.physnets):
        assert candidate is not None
        used = {
            row.segmentation_id
            for row in find_rows(
                session, NetworkRow, where={"network_type": "vlan", "physical_network": candidate}
            )
        }
        for vlan_range in ranges.ranges_of(candidate):
            for vlan in range(vlan_range.first, vlan_range.last + 1):
                if vlan not in used:
                    return "vlan", candidate, vlan
    where = f"physnet {physnet}" if physnet else "any physnet"
    raise Conflict(
        f"no tenant VLAN is free on {where}: network_vlan_ranges "
        f"{ranges or 'has no ranges'} are all taken"
    )


def _updated_value(name: str, value: Any) -> Any:
    if name == "mtu":
        return _mtu(value)
    if name in ("admin_state_up", "shared", "port_security_enabled"):
        return parse_flag(name, value)
    if not isinstance(value, str) or len(value) > NAME_LENGTH:
        raise InvalidInput(name, f"must be a string of at most {NAME_LENGTH} characters", value)
    return value


def _vlan(value: Any) -> int:
    # Clients send the VLAN as a number or as a numeric string (neutronclient does the latter).
    try:
        vlan = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(PROVIDER_SEGMENT, "must be a VLAN ID, a whole number", value) from None
    if isinstance(value, bool) or not MIN_VLAN <= vlan <= MAX_VLAN:
        raise InvalidInput(
            PROVIDER_SEGMENT,
            f"must be a VLAN ID from {MIN_VLAN} to {MAX_VLAN} (0 is untagged, 4095 reserved)",
            value,
        )
    return vlan


def _mtu(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MTU <= value <= MAX_MTU:
        raise InvalidInput("mtu", f"must be a whole number from {MIN_MTU} to {MAX_MTU}", value)
    return value


def _segment_key(network_type: str, physnet: str | None, vlan: int | None) -> str:
    return f"{network_type}:{physnet}" if vlan is None else f"{network_type}:{physnet}:{vlan}"


def _segment_in_use(provider: Mapping[str, Any]) -> VlanInUse:
    physnet = provider.get(PROVIDER_PHYSNET)
    if provider.get(PROVIDER_TYPE) == "flat":
        return VlanInUse(f"physical network {physnet} already has a flat network")
    return VlanInUse(
        f"unable to create the network: VLAN {provider.get(PROVIDER_SEGMENT)} on physical "
        f"network {physnet} is in use"
    )


class NetworkInUse(InUse):
    """A network that still has ports."""

    neutron_type = "NetworkInUse"


def _network_in_use(network_id: str, ports: int) -> NetworkInUse:
    return NetworkInUse(f"network {network_id} has {ports} port(s); delete them first")


def _require_owner(caller: Caller, row: NetworkRow) -> None:
    if not caller.is_admin and row.project_id != caller.project_id:
        # A shared network is visible to others, but only its owner (or an admin) changes it.
        caller.require_admin("changing another project's shared network")


_FILTERABLE = {
    "id": "id",
    "name": "name",
    "status": "status",
    "shared": "shared",
    "admin_state_up": "admin_state_up",
    "project_id": "project_id",
    "tenant_id": "project_id",
    PROVIDER_TYPE: "network_type",
    PROVIDER_PHYSNET: "physical_network",
    PROVIDER_SEGMENT: "segmentation_id",
}


def _filters(filters: Mapping[str, list[str]]) -> dict[str, object]:
    """Neutron's exact-match query filters as column values; a repeated key matches any value."""
    where: dict[str, object] = {}
    for key, values in filters.items():
        column = _FILTERABLE.get(key)
        if column is not None:  # Neutron ignores filters it does not know (sort_key=, ...)
            where[column] = [_filter_value(column, value) for value in values]
    return where


def _filter_value(column: str, value: str) -> object:
    if column in ("shared", "admin_state_up"):
        return value.lower() == "true"
    if column == "segmentation_id":
        return _vlan(value)
    return value
