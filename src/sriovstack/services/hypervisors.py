"""Nova's hypervisors and availability zones, read from the hosts' rows, with each host's PFs and
their VFs by state as a sriovstack extension."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.hosts import alive
from sriovstack.store.compute_tables import ServerRow
from sriovstack.store.querying import Session, find_rows
from sriovstack.store.tables import HostRow, PhysicalFunctionRow, VFState

# Microversions at which a hypervisor's shape changes (nova/api/openstack/api_version_request.py).
CPU_INFO_DICT_SINCE = 28
UUID_IDS_SINCE = 53  # ids become UUIDs; hypervisor_hostname_pattern and with_servers arrive
NO_STATS_SINCE = 88  # the resource figures and /statistics go; uptime moves into show

PCI_DEVICES = "sriovstack:pci_devices"
AGENT_BINARY = "sriovstack-agent"
DEFAULT_ZONE = "nova"  # Nova's default_availability_zone
# Agents do not report a hypervisor version or local disk; Nova's fields are integers.
HYPERVISOR_VERSION = 0
# For a host registered without a UUID (an inventory written straight to the store).
_HOST_IDS = uuid.UUID("6f1b7c0e-4a55-4f0e-9d2b-5c1d9e3a7b21")
STATISTICS = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "running_vms",
    "disk_available_least",
)
MAX_ID = 0x7FFFFFFF  # hosts.id is a 32-bit column; a larger id names no host
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


def list_hypervisors(
    env: Environment, caller: Caller, filters: Mapping[str, str], *, detail: bool, minor: int
) -> list[dict[str, Any]]:
    """Every host as a hypervisor; from 2.53 filtered by a name pattern, with servers on ask."""
    caller.require_admin("listing hypervisors")
    pattern = filters.get("hypervisor_hostname_pattern") if minor >= UUID_IDS_SINCE else None
    with_servers = _with_servers(filters, minor)
    with env.unit_of_work() as uow:
        rows = find_rows(uow.session, HostRow, order_by=("id",))
        if pattern is not None:
            rows = [row for row in rows if pattern.lower() in row.name.lower()]
            if not rows:
                raise NotFound("hypervisor", pattern, "no hypervisor name matches it")
        servers = _servers_by_host(uow.session, rows)
        return [
            hypervisor_view(
                row,
                env,
                minor=minor,
                detail=detail,
                servers=servers.get(row.id, []) if with_servers else None,
                running_vms=len(servers.get(row.id, [])),
            )
            for row in rows
        ]


def show_hypervisor(
    env: Environment, caller: Caller, hypervisor_id: str, filters: Mapping[str, str], *, minor: int
) -> dict[str, Any]:
    """One hypervisor in detail, with its PFs and their VFs by state."""
    caller.require_admin("showing a hypervisor")
    with_servers = _with_servers(filters, minor)
    with env.unit_of_work() as uow:
        row = _find_host(uow.session, hypervisor_id, minor)
        servers = _servers_by_host(uow.session, [row]).get(row.id, [])
        view = hypervisor_view(
            row,
            env,
            minor=minor,
            detail=True,
            servers=servers if with_servers else None,
            running_vms=len(servers),
        )
        if minor >= NO_STATS_SINCE:
            view["uptime"] = None  # agents do not report it
        view[PCI_DEVICES] = [pci_device_view(pf) for pf in sorted(row.pfs, key=lambda p: p.id)]
        return view


def hypervisor_statistics(env: Environment, caller: Caller, *, minor: int) -> dict[str, Any]:
    """The sums over every hypervisor, until 2.88 removed them."""
    caller.require_admin("reading hypervisor statistics")
    if minor >= NO_STATS_SINCE:
        raise NotFound("API", "os-hypervisors/statistics", "removed at microversion 2.88")
    with env.unit_of_work() as uow:
        rows = find_rows(uow.session, HostRow)
        servers = _servers_by_host(uow.session, rows)
        figures = [_figures(row, len(servers.get(row.id, [])), minor) for row in rows]
    totals = {name: sum(f[name] for f in figures) for name in STATISTICS}
    return {"count": len(rows), **totals}


def list_aggregates(env: Environment, caller: Caller) -> list[dict[str, Any]]:
    """Nova's host aggregates (admins only): sriovstack groups hosts by availability zone alone,
    so there are none. ``openstack hypervisor show`` reads them to name a host's aggregates."""
    caller.require_admin("listing aggregates")
    return []


def list_availability_zones(
    env: Environment, caller: Caller, *, detail: bool
) -> list[dict[str, Any]]:
    """Zones of the hosts, ``nova`` always among them; a zone is available while one of its
    hosts is enabled and up. The detail (admins only) names each host and its agent."""
    if detail:
        caller.require_admin("listing availability zones in detail")
    with env.unit_of_work() as uow:
        zones: dict[str, list[HostRow]] = {DEFAULT_ZONE: []}
        for row in find_rows(uow.session, HostRow, order_by=("name",)):
            zones.setdefault(row.availability_zone, []).append(row)
        listed = [
            {
                "zoneName": zone,
                "zoneState": {"available": any(r.enabled and alive(r, env) for r in hosts)},
                "hosts": _zone_hosts(hosts, env) if detail and hosts else None,
            }
            for zone, hosts in zones.items()
        ]
    # Nova lists the available zones first.
    return sorted(listed, key=lambda z: (not z["zoneState"]["available"], z["zoneName"]))


def hypervisor_id(row: HostRow, minor: int) -> int | str:
    """The id Nova gives a hypervisor: the integer before 2.53, the UUID from then on."""
    if minor < UUID_IDS_SINCE:
        return row.id
    return row.uuid or str(uuid.uuid5(_HOST_IDS, row.name))


def hypervisor_view(
    row: HostRow,
    env: Environment,
    *,
    minor: int,
    detail: bool,
    servers: list[ServerRow] | None,
    running_vms: int,
) -> dict[str, Any]:
    """A host as Nova's hypervisor at microversion 2.``minor``."""
    key = hypervisor_id(row, minor)
    view: dict[str, Any] = {
        "id": key,
        "hypervisor_hostname": row.name,
        "state": "up" if alive(row, env) else "down",
        "status": "enabled" if row.enabled else "disabled",
    }
    if detail:
        view.update(
            {
                "hypervisor_type": row.hypervisor_type,
                "hypervisor_version": HYPERVISOR_VERSION,
                "host_ip": row.host_ip,
                "service": {
                    "host": row.name,
                    "id": key,
                    "disabled_reason": row.disabled_reason,
                },
            }
        )
        if minor < NO_STATS_SINCE:
            view.update(_figures(row, running_vms, minor))
    if servers:  # Nova leaves the key out for a host without servers
        view["servers"] = [{"name": server.name, "uuid": server.id} for server in servers]
    return view


def pci_device_view(pf: PhysicalFunctionRow) -> dict[str, Any]:
    """A PF with its VFs counted by state (Nova's states), for ``sriovstack:pci_devices``."""
    by_state = {state.value: 0 for state in VFState}
    for vf in pf.vfs:
        by_state[vf.state.value] += 1
    return {
        "address": pf.address,
        "netdev": pf.netdev,
        "physnet": pf.physnet,
        "numa_node": pf.numa_node,
        "total_vfs": pf.total_vfs,
        "num_vfs": len(pf.vfs) - by_state[VFState.REMOVED.value],
        "free_vfs": by_state[VFState.AVAILABLE.value],
        "vfs_by_state": by_state,
    }


def _figures(row: HostRow, running_vms: int, minor: int) -> dict[str, Any]:
    """The resource figures Nova showed before 2.88; used memory counts the host's reserve."""
    memory = row.memory_mib or 0
    reserved = row.reserved_ram_mib if memory else 0  # no reserve is known of an unknown host
    used_memory = row.used_ram_mib + reserved
    return {
        "vcpus": row.cpus or 0,
        "memory_mb": memory,
        "local_gb": 0,
        "vcpus_used": row.used_vcpus,
        "memory_mb_used": used_memory,
        "local_gb_used": 0,
        "free_ram_mb": memory - used_memory,
        "free_disk_gb": 0,
        "current_workload": 0,
        "running_vms": running_vms,
        "disk_available_least": 0,
        "cpu_info": {} if minor >= CPU_INFO_DICT_SINCE else "{}",
    }


def _find_host(session: Session, key: str, minor: int) -> HostRow:
    """The host a hypervisor id names; an id of the wrong kind names none."""
    if minor >= UUID_IDS_SINCE:
        try:
            wanted = str(uuid.UUID(key))
        except ValueError:
            # Nova answers 400 "Invalid uuid" here, which breaks `nova hypervisor-show NAME`:
            # novaclient asks for the name as an id first and goes on to search by name only
            # after a 404. No hypervisor has that id, so 404 is as true, and the CLI works.
            raise NotFound(
                "hypervisor", key, f"Hypervisor with ID '{key}' could not be found (IDs are UUIDs)."
            ) from None
        rows = find_rows(session, HostRow, where={"uuid": wanted})
        if not rows:
            unnamed = find_rows(session, HostRow, where={"uuid": None})
            rows = [row for row in unnamed if hypervisor_id(row, minor) == wanted]
    else:
        number = int(key) if key.isascii() and key.isdigit() else MAX_ID + 1
        rows = find_rows(session, HostRow, where={"id": number}) if number <= MAX_ID else []
    if not rows:
        raise NotFound("hypervisor", key, f"Hypervisor with ID '{key}' could not be found.")
    return rows[0]


def _servers_by_host(session: Session, hosts: list[HostRow]) -> dict[int, list[ServerRow]]:
    found: dict[int, list[ServerRow]] = {}
    if not hosts:
        return found
    where = {"host_id": [row.id for row in hosts]}
    for server in find_rows(session, ServerRow, where=where, order_by=("created_at", "id")):
        if server.host_id is not None and server.status != "DELETED":
            found.setdefault(server.host_id, []).append(server)
    return found


def _with_servers(filters: Mapping[str, str], minor: int) -> bool:
    value = filters.get("with_servers")
    if value is None or minor < UUID_IDS_SINCE:
        return False
    word = value.strip().lower()
    if word not in _TRUE | _FALSE:
        raise InvalidInput("with_servers", "must be true or false", value)
    return word in _TRUE


def _zone_hosts(hosts: list[HostRow], env: Environment) -> dict[str, Any]:
    return {
        row.name: {
            AGENT_BINARY: {
                "available": alive(row, env),
                "active": row.enabled,
                "updated_at": _stamp(row.last_heartbeat),
            }
        }
        for row in hosts
    }


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
