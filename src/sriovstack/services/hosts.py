"""Compute hosts through the native API: registration with agent credentials, inventory reports,
heartbeats, enabling and disabling, and the PCI device list."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sriovstack.domain.errors import Conflict, InvalidInput, NotFound
from sriovstack.domain.reporting import HostReport, report_from_wire
from sriovstack.services import identity
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.bulk import load_new_hosts
from sriovstack.store.inventory import upsert_pfs
from sriovstack.store.pools import recount_pools
from sriovstack.store.querying import Session, find_rows, flush
from sriovstack.store.tables import HostRow, PhysicalFunctionRow, VFState

HOST_UPDATABLE = frozenset({"enabled", "disabled_reason", "availability_zone"})


def register_host(env: Environment, caller: Caller, name: str) -> dict[str, Any]:
    """A new host and its agent's credentials (the password is shown only here)."""
    caller.require_admin("registering a host")
    if not name or len(name) > 255 or name != name.strip() or "/" in name:
        raise InvalidInput("name", "must be a host name of 1-255 characters without /", name)
    password = secrets.token_urlsafe(18)
    with env.unit_of_work() as uow:
        if find_rows(uow.session, HostRow, where={"name": name}):
            raise Conflict(f"host {name} is already registered")
        uow.session.add(HostRow(name=name, uuid=env.new_id()))
        flush(uow.session)
        uow.commit()
    user = f"agent-{name}"
    identity.create_agent_user(env, name, password)
    view = show_host(env, caller, name)
    view["agent_credentials"] = {
        "user": user,
        "password": password,
        "project": identity.SERVICE_PROJECT,
    }
    return view


def report_inventory(
    env: Environment, caller: Caller, host: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Take an agent's report: facts, offered PFs and VFs; the host's pools are recounted."""
    caller.require_host(host)
    report = report_from_wire(host, body)
    with env.unit_of_work() as uow:
        row = _host(uow.session, host)
        apply_report(uow.session, row, report, now=env.now())
        view = host_view(row, env)
        uow.commit()
    return view


def apply_report(session: Session, row: HostRow, report: HostReport, *, now: datetime) -> None:
    """Write ``report`` into the host's rows (as a resync: held devices survive vanishing)."""
    facts = report.facts
    row.cpus, row.memory_mib = facts.cpus, facts.memory_mib
    row.numa_cells = len(facts.numa_cells) or None
    row.numa_sockets = [cell.socket for cell in sorted(facts.numa_cells, key=lambda c: c.id)]
    row.hypervisor_type, row.host_ip = facts.hypervisor_type, facts.host_ip
    if row.availability_zone == "nova":
        # An operator's zone (set through the API) wins over the agent's configured one.
        row.availability_zone = facts.availability_zone
    configuration = report.configuration.to_dict()
    if row.agent_configuration != configuration:  # an unchanged report writes nothing
        row.agent_configuration = configuration
    upsert_pfs(
        session,
        row.name,
        report.pfs,
        now=now,
        physnets={pf.address: pf.physnet for pf in report.pfs},
        tags={pf.address: dict(pf.tags) for pf in report.pfs},
        offered_whole=frozenset(pf.address for pf in report.pfs if pf.offered_whole),
        capabilities={pf.address: dict(pf.capabilities) for pf in report.pfs},
    )
    recount_pools(session, row)


def heartbeat(env: Environment, caller: Caller, host: str) -> dict[str, Any]:
    caller.require_host(host)
    with env.unit_of_work() as uow:
        row = _host(uow.session, host)
        row.last_heartbeat = env.now()
        view = {"host": host, "last_heartbeat": _stamp(row.last_heartbeat)}
        uow.commit()
    return view


def list_hosts(env: Environment, caller: Caller) -> list[dict[str, Any]]:
    caller.require_admin("listing hosts")
    with env.unit_of_work() as uow:
        return [host_view(row, env) for row in find_rows(uow.session, HostRow, order_by=("name",))]


def show_host(env: Environment, caller: Caller, host: str) -> dict[str, Any]:
    caller.require_host(host)
    with env.unit_of_work() as uow:
        return host_view(_host(uow.session, host), env)


def update_host(
    env: Environment, caller: Caller, host: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Enable or disable a host (with a reason), or move it to another availability zone."""
    caller.require_admin("changing a host")
    unknown = sorted(set(body) - HOST_UPDATABLE)
    if unknown:
        raise InvalidInput(
            unknown[0], f"is not a host setting ({', '.join(sorted(HOST_UPDATABLE))})"
        )
    if "enabled" in body and not isinstance(body["enabled"], bool):
        raise InvalidInput("enabled", "must be true or false", body["enabled"])
    zone = body.get("availability_zone")
    if zone is not None and (not isinstance(zone, str) or not zone.strip()):
        raise InvalidInput("availability_zone", "must be a zone name", zone)
    with env.unit_of_work() as uow:
        row = _host(uow.session, host)
        if "enabled" in body:
            row.enabled = body["enabled"]
            row.disabled_reason = None if row.enabled else str(body.get("disabled_reason") or "")
        elif "disabled_reason" in body:
            row.disabled_reason = str(body["disabled_reason"] or "")
        if zone is not None:
            row.availability_zone = zone
        view = host_view(row, env)
        uow.commit()
    return view


def list_pci_devices(
    env: Environment, caller: Caller, *, host: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """Every offered PF and VF with its state and holder, as Nova's pci_devices table has them."""
    caller.require_admin("listing PCI devices")
    if state is not None and state not in {s.value for s in VFState}:
        raise InvalidInput("state", f"must be one of {', '.join(s.value for s in VFState)}", state)
    with env.unit_of_work() as uow:
        where: dict[str, object] = {} if host is None else {"name": host}
        hosts = find_rows(uow.session, HostRow, where=where, order_by=("name",))
        if host is not None and not hosts:
            raise NotFound("host", host)
        devices = [device for row in hosts for device in _devices(row)]
    return [d for d in devices if state is None or d["state"] == state]


def alive(row: HostRow, env: Environment) -> bool:
    """Whether the host's agent reported within the agent down time."""
    beat = row.last_heartbeat
    return beat is not None and beat >= env.now() - env.settings.agent_down_time


def host_view(row: HostRow, env: Environment) -> dict[str, Any]:
    """A host as the native API shows it, with its PFs' NIC capabilities and its agent's
    configuration as the agent last reported them."""
    vfs = [vf for pf in row.pfs for vf in pf.vfs]
    return {
        "name": row.name,
        "id": row.uuid,
        "availability_zone": row.availability_zone,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "state": "up" if alive(row, env) else "down",
        "last_heartbeat": _stamp(row.last_heartbeat),
        "cpus": row.cpus,
        "memory_mib": row.memory_mib,
        "numa_cells": row.numa_cells,
        "vcpus_used": row.used_vcpus,
        "memory_mib_used": row.used_ram_mib,
        "pfs": len(row.pfs),
        "vfs": len(vfs),
        "free_devices": row.free_devices,
        "vfs_by_state": {
            state.value: sum(1 for vf in vfs if vf.state is state) for state in VFState
        },
        "physical_functions": [
            {
                "address": pf.address,
                "netdev": pf.netdev,
                "vendor_id": f"{pf.vendor_id:04x}",
                "product_id": f"{pf.device_id:04x}",
                "physical_network": pf.physnet,
                "numa_node": pf.numa_node,
                "total_vfs": pf.total_vfs,
                "capabilities": dict(pf.capabilities),
            }
            for pf in sorted(row.pfs, key=lambda p: p.address)
        ],
        "agent_configuration": dict(row.agent_configuration),
    }


def _devices(host: HostRow) -> list[dict[str, Any]]:
    devices = []
    for pf in sorted(host.pfs, key=lambda p: p.address):
        held = [vf for vf in pf.vfs if vf.claimed_by is not None]
        devices.append(_pf_device(host, pf, held_children=bool(held)))
        devices.extend(
            {
                "host": host.name,
                "address": vf.address,
                "dev_type": "type-VF",
                "parent": pf.address,
                "parent_ifname": pf.netdev,
                "vf_index": vf.vf_index,
                "vendor_id": f"{pf.vendor_id:04x}",
                "product_id": f"{pf.vf_device_id:04x}",
                "physical_network": pf.physnet,
                "numa_node": pf.numa_node,
                "state": vf.state.value,
                "owner": vf.claimed_by,
            }
            for vf in pf.vfs
        )
    return devices


def _pf_device(host: HostRow, pf: PhysicalFunctionRow, *, held_children: bool) -> dict[str, Any]:
    state = pf.state
    if state is VFState.AVAILABLE and held_children:
        # Nova's parent rule: a PF with a VF in use cannot go out whole.
        state = VFState.UNAVAILABLE
    return {
        "host": host.name,
        "address": pf.address,
        "dev_type": "type-PF",
        "parent": None,
        "parent_ifname": None,
        "netdev": pf.netdev,
        "vf_index": None,
        "vendor_id": f"{pf.vendor_id:04x}",
        "product_id": f"{pf.device_id:04x}",
        "physical_network": pf.physnet,
        "numa_node": pf.numa_node,
        "state": state.value if pf.offered_whole or state is not VFState.AVAILABLE else "n/a",
        "owner": pf.claimed_by,
        "offered_whole": pf.offered_whole,
        "total_vfs": pf.total_vfs,
    }


def _host(session: Session, name: str) -> HostRow:
    found = find_rows(session, HostRow, where={"name": name})
    if not found:
        raise NotFound("host", name)
    return found[0]


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_reported_hosts(
    env: Environment, reports: Sequence[HostReport], *, batch: int = 500
) -> None:
    """New hosts with their first reports, written in bulk (simulated fleets, benchmarks).

    These hosts get no agent credentials: whoever runs their agents registers those.
    """
    for first in range(0, len(reports), batch):
        with env.unit_of_work() as uow:
            load_new_hosts(
                uow.session, reports[first : first + batch], now=env.now(), new_id=env.new_id
            )
            uow.commit()


def list_agents(
    env: Environment, caller: Caller, filters: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each host's agent as Neutron's agents API shows its SR-IOV NIC agents."""
    caller.require_admin("listing agents")
    with env.unit_of_work() as uow:
        rows = find_rows(uow.session, HostRow, order_by=("name",))
        agents = [agent_view(row, env) for row in rows]
    return [a for a in agents if all(str(a.get(k)) == v for k, v in filters.items() if k in a)]


def agent_view(row: HostRow, env: Environment) -> dict[str, Any]:
    """The host's agent as Neutron shows an SR-IOV NIC agent; ``configurations`` holds what the
    agent reported of its configuration (mappings, exclusions, extensions)."""
    configurations = dict(row.agent_configuration)
    if not configurations.get("device_mappings"):
        # An agent offering by device specs alone (or one that sent no configuration): the
        # physnets its reported PFs carry are the mappings ports are bound by.
        mappings: dict[str, list[str]] = {}
        for pf in sorted(row.pfs, key=lambda p: p.address):
            if pf.physnet and pf.netdev:
                mappings.setdefault(pf.physnet, []).append(pf.netdev)
        configurations["device_mappings"] = mappings
    configurations["devices"] = row.free_devices
    return {
        "id": row.uuid,
        "agent_type": "NIC Switch agent",
        "binary": "neutron-sriov-nic-agent",
        "host": row.name,
        "topic": "N/A",
        "alive": alive(row, env),
        "admin_state_up": row.enabled,
        "availability_zone": None,
        "heartbeat_timestamp": _stamp(row.last_heartbeat),
        "started_at": _stamp(row.last_heartbeat),
        "created_at": _stamp(row.last_heartbeat),
        "description": row.disabled_reason,
        "configurations": configurations,
    }
