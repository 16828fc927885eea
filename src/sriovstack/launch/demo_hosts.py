"""The demo's hosts: the talk's sriov-1, and sriov-2 whose OVS bridge sits on its VFs' own PF.

sriov-1 is the shipped fleet's (the talk's local.conf). sriov-2 is the case the talk's "PF
Promiscuous Mode" slide is about and Neutron's FDB extension exists for: its Open vSwitch
bridge br-enp3s0f1 has enp3s0f1 as its uplink, the very PF whose VFs it offers on physnet1.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sriovstack.agent.config import SriovSettings
from sriovstack.domain.hostconfig import HostConfig, parse_local_conf
from sriovstack.launch.fleet import Fleet, FleetHost, default_fleet

CONTROLLER = "sriov-1"
SHARED = "sriov-2"

SHARED_LOCAL_CONF = """\
# sriov-2: a compute node like the talk's host, but its OVS bridge is on enp3s0f1, the PF
# whose VFs it offers: OVS guests and VF guests share one NIC port.
[[local|localrc]]
HOST_IP=192.168.1.117
SERVICE_HOST=192.168.1.116
ENABLED_SERVICES=n-cpu,q-agt,q-sriov-agt,placement-client
PHYSICAL_NETWORK=physnet1
OVS_PHYSICAL_BRIDGE=br-enp3s0f1
PUBLIC_INTERFACE=enp3s0f1
PHYSICAL_DEVICE_MAPPINGS=physnet1:enp3s0f1

[[post-config|$NOVA_CONF]]
[DEFAULT]
pci_passthrough_whitelist={"devname":"enp3s0f1","physical_network":"physnet1"}
"""

FDB_LOCAL_CONF = """\
[[post-config|/$Q_PLUGIN_CONF_FILE]]
[FDB]
shared_physical_device_mappings = physnet1:enp3s0f1
"""
"""What turns on the FDB step for sriov-2's PF: Neutron's FDB extension option."""

UPLINKS = {CONTROLLER: "enp3s0f0", SHARED: "enp3s0f1"}
"""Each host's OVS_PHYSICAL_BRIDGE uplink (PUBLIC_INTERFACE)."""


def shared_config(*, fdb: bool) -> HostConfig:
    """sriov-2's configuration, with or without ``[FDB] shared_physical_device_mappings``."""
    return parse_local_conf(SHARED_LOCAL_CONF + ("\n" + FDB_LOCAL_CONF if fdb else ""))


def demo_fleet() -> Fleet:
    """sriov-1 as ``sriovstack up`` ships it (the controller) and sriov-2."""
    shipped = default_fleet()
    talk = shipped.host(CONTROLLER)
    shared = FleetHost(
        name=SHARED,
        profile="talk-after",
        vfs={"enp3s0f1": 7},
        sriov=SriovSettings(shared_config(fdb=False), Path("sriov-2-local.conf"), "local.conf"),
    )
    return replace(shipped, source="the demo", hosts=(talk, shared), controller=CONTROLLER)
