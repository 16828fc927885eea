"""The DHCP port of a network: what Neutron's DHCP agent makes when it serves a subnet.

With ``dhcp_host`` set (the host where the DHCP servers run, DevStack's q-dhcp), a network
that gets its first DHCP-enabled subnet gets one ``network:dhcp`` port there, bound like a
normal port, taking the first free address (so the first server gets the next one: 10.0.0.3
in the talk). Its MAC must reach VFs on shared PFs, so its host's agent adds an FDB entry.
"""

from __future__ import annotations

from typing import Any

from sriovstack.services.desired import touch_host
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.networks import visible_network
from sriovstack.services.ports import new_port
from sriovstack.store.network_tables import PortRow
from sriovstack.store.querying import find_rows

DHCP_OWNER = "network:dhcp"


def ensure_dhcp_port(env: Environment, caller: Caller, subnet: dict[str, Any]) -> str | None:
    """The network's DHCP port, made for ``subnet`` if there is none; None without a DHCP host
    or when the subnet does not use DHCP."""
    host = env.settings.dhcp_host
    if not host or not subnet.get("enable_dhcp"):
        return None
    with env.unit_of_work() as uow:
        session = uow.session
        network = visible_network(session, caller, subnet["network_id"])
        existing = find_rows(
            session, PortRow, where={"network_id": network.id, "device_owner": DHCP_OWNER}
        )
        if existing:
            return existing[0].id
        port = new_port(
            env,
            session,
            caller,
            network,
            {
                "fixed_ips": [{"subnet_id": subnet["id"]}],
                "project_id": network.project_id,
            },
        )
        port.device_owner, port.device_id = DHCP_OWNER, f"dhcp-{network.id}"
        port.host_id, port.vif_type = host, "ovs"
        port.vif_details = {"port_filter": True, "connectivity": "l2"}
        port.status = "ACTIVE"
        touch_host(session, name=host)
        port_id = port.id
        uow.commit()
    return port_id
