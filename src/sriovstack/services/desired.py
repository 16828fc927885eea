"""A host's desired state, its revision, and waking the agents that long-poll on it.

Every transaction that changes what a host's agent must do calls ``touch_host`` (store/revisions.py)
so that its agent's long-poll answers at once.
"""

from __future__ import annotations

from typing import Any

from sriovstack.domain.errors import NotFound
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.compute_tables import ServerRow
from sriovstack.store.network_tables import NetworkRow, PortRow
from sriovstack.store.querying import find_rows
from sriovstack.store.revisions import SIGNALS, revision_of, touch_host
from sriovstack.store.tables import HostRow

FDB_OWNERS = ("compute:", "network:dhcp", "network:router_interface")
"""Owners of normal ports whose MACs VFs on the same PF must reach (Neutron's FDB extension)."""

__all__ = ["SIGNALS", "desired_state", "port_binding", "revision", "touch_host"]


def revision(env: Environment, caller: Caller, host: str) -> int:
    """The host's desired-state revision (one small read: long-polls call it often)."""
    caller.require_host(host)
    with env.unit_of_work() as uow:
        value = revision_of(uow.session, host)
    if value is None:
        raise NotFound("host", host)
    return value


def desired_state(env: Environment, caller: Caller, host: str) -> dict[str, Any]:
    """What the host's agent must run: its servers with their ports' bindings, and the MACs of
    normal ports bound here that VFs must reach through their PF (FDB entries)."""
    caller.require_host(host)
    with env.unit_of_work() as uow:
        session = uow.session
        rows = find_rows(session, HostRow, where={"name": host})
        if not rows:
            raise NotFound("host", host)
        row = rows[0]
        servers = find_rows(session, ServerRow, where={"host_id": row.id}, order_by=("id",))
        ports = find_rows(session, PortRow, where={"host_id": host}, order_by=("id",))
        by_server: dict[str, list[PortRow]] = {}
        for port in ports:
            by_server.setdefault(port.device_id, []).append(port)
        networks = {
            network.id: network
            for network in find_rows(session, NetworkRow)
            if network.id in {port.network_id for port in ports}
        }
        return {
            "host": host,
            "revision": row.desired_revision,
            # FDB entries with this prefix are the cloud's: the agent removes them when gone.
            "mac_prefix": env.settings.mac_prefix,
            "servers": [
                {
                    "id": server.id,
                    "name": server.name,
                    "status": server.status,
                    "task_state": server.task_state,
                    "vcpus": int(server.flavor["vcpus"]),
                    "memory_mib": int(server.flavor["ram"]),
                    "ports": [port_binding(p) for p in by_server.get(server.id, [])],
                }
                for server in servers
            ],
            "fdb": [
                {
                    "mac": port.mac_address,
                    "port_id": port.id,
                    "device_owner": port.device_owner,
                    "physical_network": networks[port.network_id].physical_network,
                    "vlan": networks[port.network_id].segmentation_id or 0,
                }
                for port in ports
                if port.vnic_type == "normal"
                and port.device_owner.startswith(FDB_OWNERS)
                and networks[port.network_id].physical_network
            ],
        }


def port_binding(port: PortRow) -> dict[str, Any]:
    """A bound port as its host's agent needs it."""
    return {
        "id": port.id,
        "mac_address": port.mac_address,
        "vnic_type": port.vnic_type,
        "admin_state_up": port.admin_state_up,
        "port_security_enabled": port.port_security_enabled,
        "propagate_uplink_status": port.propagate_uplink_status,
        "qos_max_kbps": port.qos_max_kbps,
        "qos_min_kbps": port.qos_min_kbps,
        "profile": port.profile,
        "vif_type": port.vif_type,
        "vif_details": port.vif_details,
        "status": port.status,
        "detaching": port.detaching,
    }
