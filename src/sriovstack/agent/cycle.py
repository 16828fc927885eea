"""One agent cycle: observe the host, report it, plan the VFs against the desired state, apply
only what differs, verify by reading back, start and stop guests, and report each server."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sriovstack.client import ApiError, Client
from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput, SriovstackError
from sriovstack.domain.hostconfig import HostConfig
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.reconciling import (
    Action,
    BoundPort,
    Configure,
    VfKey,
    plan_vfs,
    wanted_config,
)
from sriovstack.domain.reporting import HostFacts, HostReport, offered_devices, report_to_wire
from sriovstack.domain.vfconfig import VFConfig
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.inventory import read_inventory
from sriovstack.host.kernel import Kernel
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind
from sriovstack.virt.hypervisor import Hypervisor

VF_VIF_TYPES = ("hw_veb",)  # ports whose VF the agent configures (direct, macvtap, ...)
LIVE = ("BUILD", "ACTIVE")  # server states whose guests should run here
DEFAULT_BRIDGE = "br-int"  # where normal ports plug in, when nothing better is known


@dataclass
class AgentMemory:
    """What an agent keeps between cycles: its last report and the VF configs it verified."""

    last_report: HostReport | None = None
    verified: dict[VfKey, VFConfig] = field(default_factory=dict)


@dataclass
class CycleResult:
    """What one cycle did, for logs, tests and benchmarks."""

    reported: bool = False
    actions: tuple[Action, ...] = ()
    drift: tuple[str, ...] = ()  # ports whose VF had been changed by hand
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # server ID -> why


@dataclass
class Agent:
    """The agent of one host: its API client, its kernel, its hypervisor and configuration."""

    host: str
    client: Client
    kernel: Kernel
    hypervisor: Hypervisor
    config: HostConfig
    facts: HostFacts
    memory: AgentMemory = field(default_factory=AgentMemory)

    def cycle(self) -> CycleResult:
        """One pass from any state towards the desired one; safe to repeat at any point."""
        result = CycleResult()
        inventory = read_inventory(self.kernel)
        report = self._report(inventory)
        result.reported = report != self.memory.last_report
        if result.reported:
            self.client.put(f"/v1/hosts/{self.host}/inventory", report_to_wire(report))
            self.memory.last_report = report
        else:
            self.client.post(f"/v1/hosts/{self.host}/heartbeat", {})
        servers = self.client.get(f"/v1/hosts/{self.host}/servers")["servers"]
        live = [server for server in servers if server["status"] in LIVE]
        # Guests that must go go first: their VFs come back from vfio before the plan is made.
        result.stopped = self._stop_unwanted({str(server["id"]).lower() for server in live})
        if result.stopped:
            inventory = read_inventory(self.kernel)
        bound = [port for server in live for port in _bound_ports(server)]
        managed = [(pf.address, vf.index) for pf in report.pfs for vf in pf.vfs]
        result.actions = plan_vfs(
            bound, _observed(inventory), managed=managed, verified=self.memory.verified
        )
        errors = self._apply(result.actions)
        result.drift = tuple(
            a.port_id for a in result.actions if isinstance(a, Configure) and a.drift
        )
        # Nothing written: what was just observed is what a re-read would show.
        after = _observed(read_inventory(self.kernel)) if result.actions else _observed(inventory)
        verified = self._verify(bound, after)
        self._guests(live, inventory, verified, errors, result)
        return result

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the host's desired state to change (long-poll);
        True when it changed, False when the time ran out."""
        time.sleep(timeout)
        return False

    # -- steps --------------------------------------------------------------------------------
    def _report(self, inventory: HostInventory) -> HostReport:
        agent = self.config.agent if self.config.agent.device_mappings.physnets else None
        pfs = offered_devices(inventory, self.config.device_specs, agent)
        return HostReport(self.host, self.facts, pfs)

    def _apply(self, actions: Sequence[Action]) -> dict[str, str]:
        """Apply each action; a failure is recorded for its port, and the others go on."""
        errors: dict[str, str] = {}
        for action in actions:
            try:
                set_vf_config(self.kernel, str(action.pf), action.vf_index, action.change)
            except SriovstackError as exc:
                if isinstance(action, Configure):
                    errors[action.port_id] = str(exc)
        return errors

    def _verify(self, bound: Sequence[BoundPort], observed: Mapping[VfKey, VFConfig]) -> set[str]:
        """The ports whose VF, as read back, carries exactly what the port wants."""
        verified = set()
        self.memory.verified = {}
        for port in bound:
            wanted = wanted_config(port)
            if observed.get(port.key) == wanted:
                verified.add(port.port_id)
                self.memory.verified[port.key] = wanted
        return verified

    def _guests(
        self,
        live: Sequence[Mapping[str, Any]],
        inventory: HostInventory,
        verified: set[str],
        errors: Mapping[str, str],
        result: CycleResult,
    ) -> None:
        wanted = {str(server["id"]).lower(): server for server in live}
        for uuid, server in wanted.items():
            vf_ports = [p["id"] for p in server["ports"] if p["vif_type"] in VF_VIF_TYPES]
            failures = [f"port {p}: {errors[p]}" for p in vf_ports if p in errors]
            if failures:
                self._fail(server, "; ".join(failures), result)
                continue
            if any(p not in verified for p in vf_ports):
                continue  # not there yet: the next cycle tries again
            try:
                if self.hypervisor.guest(uuid) is None:
                    self.hypervisor.start(_guest_spec(server, inventory))
                    result.started.append(uuid)
            except SriovstackError as exc:
                self._fail(server, f"the guest could not start: {exc}", result)
                continue
            if server["status"] == "BUILD":
                self._status(server, {"status": "ACTIVE"})
                result.activated.append(uuid)

    def _stop_unwanted(self, wanted: set[str]) -> list[str]:
        stopped = []
        for guest in self.hypervisor.guests():
            if guest.spec.uuid not in wanted:
                self.hypervisor.destroy(guest.spec.uuid)
                stopped.append(guest.spec.uuid)
        return stopped

    def _fail(self, server: Mapping[str, Any], why: str, result: CycleResult) -> None:
        result.failed[str(server["id"])] = why
        if server["status"] == "BUILD":
            self._status(server, {"status": "ERROR", "fault": why})

    def _status(self, server: Mapping[str, Any], body: dict[str, Any]) -> None:
        try:
            self.client.put(f"/v1/hosts/{self.host}/servers/{server['id']}/status", body)
        except ApiError as exc:
            if exc.status != 409:
                raise
            # Refused (a device vanished meanwhile): the next cycle sees the new state.


def _observed(inventory: HostInventory) -> dict[VfKey, VFConfig]:
    return {
        (pf.address, vf.index): vf.config.config()
        for pf in inventory.pfs
        for vf in pf.vfs
        if vf.config is not None
    }


def _bound_ports(server: Mapping[str, Any]) -> list[BoundPort]:
    """The server's ports bound to a VF of this host, read from their bindings."""
    ports = []
    for port in server["ports"]:
        profile = port.get("profile") or {}
        if port["vif_type"] not in VF_VIF_TYPES or "pf_address" not in profile:
            continue
        details = port.get("vif_details") or {}
        ports.append(
            BoundPort(
                port_id=port["id"],
                pf=PciAddress.parse(profile["pf_address"]),
                vf_index=int(profile["vf_num"]),
                mac=MacAddress.parse(port["mac_address"]),
                vlan=int(details.get("vlan", 0)),
                admin_state_up=bool(port["admin_state_up"]),
                port_security_enabled=bool(port["port_security_enabled"]),
                trusted=profile.get("trusted") is True,
                propagate_uplink_status=bool(port.get("propagate_uplink_status", False)),
                max_kbps=port.get("qos_max_kbps"),
                min_kbps=port.get("qos_min_kbps"),
            )
        )
    return ports


def _guest_spec(server: Mapping[str, Any], inventory: HostInventory) -> GuestSpec:
    nics = [_nic(port, inventory) for port in server["ports"]]
    return GuestSpec(
        uuid=str(server["id"]),
        name=str(server["name"]),
        vcpus=int(server["vcpus"]),
        memory_mib=int(server["memory_mib"]),
        nics=tuple(nics),
    )


def _nic(port: Mapping[str, Any], inventory: HostInventory) -> GuestNic:
    mac = MacAddress.parse(port["mac_address"])
    port_id = str(port["id"])
    profile = port.get("profile") or {}
    vlan = int((port.get("vif_details") or {}).get("vlan", 0)) or None
    if port["vif_type"] == "hostdev_physical":
        address = PciAddress.parse(profile["pci_slot"])
        return GuestNic(port_id, mac, NicKind.HOSTDEV_PF, pci_address=address)
    if port["vif_type"] in VF_VIF_TYPES:
        address = PciAddress.parse(profile["pci_slot"])
        if port["vnic_type"] == "macvtap":
            netdev = _vf_netdev(inventory, address)
            return GuestNic(port_id, mac, NicKind.MACVTAP, vlan=vlan, source_dev=netdev)
        return GuestNic(port_id, mac, NicKind.HOSTDEV, pci_address=address, vlan=vlan)
    return GuestNic(port_id, mac, NicKind.BRIDGE, bridge=DEFAULT_BRIDGE)


def _vf_netdev(inventory: HostInventory, address: PciAddress) -> str:
    for pf in inventory.pfs:
        for vf in pf.vfs:
            if vf.address == address and vf.netdev:
                return vf.netdev
    raise InvalidInput("binding:profile.pci_slot", f"VF {address} has no netdev for macvtap")
