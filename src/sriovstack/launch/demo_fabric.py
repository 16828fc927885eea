"""The fabric under the demo's hosts: their kernels and guests as they are now, and what the
API knows of networks and ports (fixed IPs, the DHCP port and the host it is bound to)."""

from __future__ import annotations

from collections.abc import Iterable

from sriovstack.agent.binding import DEFAULT_BRIDGE
from sriovstack.client import Client
from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.model import DhcpServer, FabricHost
from sriovstack.fabric.tracing import Fabric
from sriovstack.launch.demo import DemoHost
from sriovstack.launch.fabricview import fabric_network, first_ip, port_addresses
from sriovstack.services.dhcp import DHCP_OWNER

NEUTRON = "/networking/v2.0"


def demo_fabric(hosts: Iterable[DemoHost], admin: Client) -> Fabric:
    """The fabric over ``hosts``, with every network and port ``admin`` (an admin) sees.

    The agent plugs normal ports into the integration bridge; on a host it is patched to the
    physical bridge on the host's uplink, which the fabric models as one bridge there.
    """
    networks = admin.get(f"{NEUTRON}/networks")["networks"]
    ports = admin.get(f"{NEUTRON}/ports")["ports"]
    return Fabric(
        hosts=tuple(
            FabricHost(host.name, host.kernel, host.hypervisor, {DEFAULT_BRIDGE: host.uplink})
            for host in hosts
        ),
        networks=tuple(fabric_network(n) for n in networks),
        ports=tuple(port_addresses(p for p in ports if p["device_owner"] != DHCP_OWNER)),
        dhcp_servers=tuple(
            DhcpServer(
                p["network_id"], MacAddress.parse(p["mac_address"]), ip, host, DEFAULT_BRIDGE
            )
            for p in ports
            if p["device_owner"] == DHCP_OWNER
            and (ip := first_ip(p)) is not None
            and (host := p.get("binding:host_id"))
        ),
    )
