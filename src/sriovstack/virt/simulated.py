"""SimulatedHypervisor: guests in memory, taking VFs from a simulated kernel as libvirt would."""

from __future__ import annotations

import errno
import posixpath
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import Conflict, InvalidInput, KernelError, NotFound
from sriovstack.domain.observed import ObservedVF
from sriovstack.domain.vfconfig import VFConfigChange, VlanTag
from sriovstack.host.configuring import set_vf_config
from sriovstack.host.inventory import DEVICES, read_pf
from sriovstack.host.kernel import Kernel
from sriovstack.host.locating import locate_vf
from sriovstack.host.provisioning import VFIO, bind_vf
from sriovstack.virt.guests import (
    Guest,
    GuestNic,
    GuestSpec,
    NicKind,
    PowerState,
    canonical_uuid,
)

FORMAT = 1


@dataclass(frozen=True, slots=True)
class Lent:
    """A VF as it was before a guest took it (libvirt keeps this in its ``<pf>_vf<N>`` file)."""

    driver: str | None
    mac: MacAddress
    vlan: VlanTag


class GuestKernel(Kernel, Protocol):
    """A kernel whose VFs a guest can hold open through vfio (``SimulatedKernel``)."""

    def hold_vf(self, address: PciAddress, holder: str) -> None: ...

    def release_vf(self, address: PciAddress) -> None: ...


class SimulatedHypervisor:
    """Guests in memory; with a kernel, their passed-through devices taken from it.

    A running guest's HOSTDEV VF is bound to vfio-pci, held open and given the NIC's MAC and
    VLAN, as libvirt's managed hostdev does; when the guest stops the VF gets back the MAC,
    VLAN and driver it had. Simplification, on purpose: the simulated kernel cannot bind a PF
    to vfio-pci, so a whole PF passed through is only checked (it exists and has no VFs) and
    reserved here. Without a kernel, guests still never share a device.
    """

    def __init__(self, kernel: GuestKernel | None = None) -> None:
        self.kernel = kernel
        self._guests: dict[str, Guest] = {}
        self._lent: dict[PciAddress, Lent] = {}  # VFs running guests hold, as they were before

    # -- the Hypervisor protocol ---------------------------------------------------------
    def guests(self) -> list[Guest]:
        return [self._guests[uuid] for uuid in sorted(self._guests)]

    def guest(self, uuid: str) -> Guest | None:
        return self._guests.get(canonical_uuid(uuid))

    def start(self, spec: GuestSpec) -> Guest:
        current = self._guests.get(spec.uuid)
        if current is not None and current.spec != spec:
            raise Conflict(
                f"guest {_name(current.spec)} exists with another spec; "
                "change its NICs by attach and detach, or destroy it first"
            )
        named = next((g for g in self._guests.values() if g.spec.name == spec.name), None)
        if named is not None and named.uuid != spec.uuid:
            raise Conflict(f"the name {spec.name!r} is taken by guest {_name(named.spec)}")
        if current is not None and current.running:
            return current
        self._take_all(spec)
        guest = Guest(spec, PowerState.RUNNING)
        self._guests[spec.uuid] = guest
        return guest

    def destroy(self, uuid: str) -> None:
        guest = self.guest(uuid)
        if guest is None:
            return
        if guest.running:
            self._give_back_all(guest.spec)
        del self._guests[guest.uuid]

    def attach_nic(self, uuid: str, nic: GuestNic) -> None:
        guest = self._require(uuid)
        plugged = guest.spec.nic(nic.port_id)
        if plugged == nic:
            return
        if plugged is not None:
            raise Conflict(
                f"port {nic.port_id} is plugged into guest {_name(guest.spec)} as another NIC; "
                "detach it first"
            )
        spec = guest.spec.with_nic(nic)
        if guest.running:
            self._take(nic, guest.spec)
        self._guests[guest.uuid] = replace(guest, spec=spec)

    def detach_nic(self, uuid: str, port_id: str) -> None:
        guest = self._require(uuid)
        nic = guest.spec.nic(port_id)
        if nic is None:
            return
        if guest.running:
            self._give_back(nic)
        self._guests[guest.uuid] = replace(guest, spec=guest.spec.without_nic(port_id))

    def power_off(self, uuid: str) -> None:
        guest = self._require(uuid)
        if not guest.running:
            return
        self._give_back_all(guest.spec)
        self._guests[guest.uuid] = replace(guest, power_state=PowerState.SHUTDOWN)

    def power_on(self, uuid: str) -> None:
        guest = self._require(uuid)
        if guest.power_state is PowerState.RUNNING:
            return
        if not guest.running:
            self._take_all(guest.spec)
        self._guests[guest.uuid] = replace(guest, power_state=PowerState.RUNNING)

    # -- devices -------------------------------------------------------------------------
    def _require(self, uuid: str) -> Guest:
        guest = self.guest(uuid)
        if guest is None:
            raise NotFound("guest", uuid)
        return guest

    def _take_all(self, spec: GuestSpec) -> None:
        """Take every NIC's device, or none: a failure gives back what was taken."""
        taken: list[GuestNic] = []
        try:
            for nic in spec.nics:
                self._take(nic, spec)
                taken.append(nic)
        except BaseException:
            for nic in reversed(taken):
                self._give_back(nic)
            raise

    def _give_back_all(self, spec: GuestSpec) -> None:
        for nic in reversed(spec.nics):
            self._give_back(nic)

    def _take(self, nic: GuestNic, spec: GuestSpec) -> None:
        holder = self._holder(nic, spec.uuid)
        if holder is not None:
            what = f"netdev {nic.source_dev}" if nic.kind is NicKind.MACVTAP else nic.pci_address
            raise Conflict(f"{what} is held by guest {_name(holder)}")
        kernel = self.kernel
        if kernel is None or nic.kind is NicKind.BRIDGE:
            return
        if nic.kind is NicKind.MACVTAP:
            if not kernel.exists(f"class/net/{nic.source_dev}"):
                raise NotFound(
                    "netdev", nic.source_dev, "macvtap needs the VF's netdev on the host"
                )
        elif nic.kind is NicKind.HOSTDEV_PF:
            _check_whole_pf(kernel, _address(nic))
        else:
            self._take_vf(kernel, nic, f"guest {_name(spec)}")

    def _take_vf(self, kernel: GuestKernel, nic: GuestNic, holder: str) -> None:
        """As libvirt's managed hostdev: bind the VF to vfio-pci, open it, set its MAC and VLAN."""
        address = _address(nic)
        vf = _observe_vf(kernel, address)
        lent = Lent(vf.driver, vf.mac, vf.vlan)
        bind_vf(kernel, address, VFIO)
        try:
            # Opened before it is programmed, so a VF someone else holds is left untouched.
            kernel.hold_vf(address, holder)
        except KernelError as exc:
            _restore(kernel, address, lent)
            if exc.errno == errno.EBUSY:
                raise Conflict(f"{address} is {exc.detail}") from None
            raise
        try:
            # Binding the VF to vfio-pci leaves the PF's settings for it alone: what was observed
            # before still holds.
            _program(kernel, vf, nic.mac, VlanTag(nic.vlan or 0))
        except BaseException:
            kernel.release_vf(address)
            _restore(kernel, address, lent)
            raise
        self._lent[address] = lent

    def _give_back(self, nic: GuestNic) -> None:
        kernel = self.kernel
        if kernel is None or nic.kind is not NicKind.HOSTDEV:
            return
        address = _address(nic)
        lent = self._lent.pop(address, None)
        try:
            kernel.release_vf(address)
        except NotFound:
            return  # the VF is gone (its PF's VF count changed): nothing to give back
        if lent is not None:
            _restore(kernel, address, lent)

    def _holder(self, nic: GuestNic, uuid: str) -> GuestSpec | None:
        """The other running guest that has ``nic``'s device, if any."""
        vf_netdevs = self._netdevs_of(nic) if nic.kind is NicKind.HOSTDEV else set()
        for guest in self._guests.values():
            if guest.uuid == uuid or not guest.running:
                continue
            for other in guest.spec.nics:
                if other.kind is NicKind.BRIDGE:
                    continue
                if (nic.pci_address is not None and other.pci_address == nic.pci_address) or (
                    other.source_dev is not None
                    and other.source_dev in {nic.source_dev, *vf_netdevs}
                ):
                    return guest.spec
        return None

    def _netdevs_of(self, nic: GuestNic) -> set[str]:
        """The VF's netdevs on the host: a macvtap on one of them loses it when vfio takes it."""
        if self.kernel is None:
            return set()
        try:
            return set(self.kernel.listdir(f"{DEVICES}/{nic.pci_address}/net"))
        except KernelError:
            return set()

    # -- state files ---------------------------------------------------------------------
    def save(self) -> dict[str, Any]:
        """The guests as plain JSON data (the kernel saves its own state)."""
        return {
            "format": FORMAT,
            "guests": [
                {"spec": spec_data(g.spec), "power_state": g.power_state.name.lower()}
                for g in self.guests()
            ],
            "lent": [
                {"address": str(a), "driver": v.driver, "mac": str(v.mac), "vlan": v.vlan.vlan}
                for a, v in sorted(self._lent.items())
            ],
        }

    @classmethod
    def load(cls, data: dict[str, Any], kernel: GuestKernel | None = None) -> SimulatedHypervisor:
        """A hypervisor with the guests ``save`` wrote, over a kernel restored alongside."""
        if data.get("format") != FORMAT:
            raise InvalidInput("hypervisor state format", f"must be {FORMAT}", data.get("format"))
        hypervisor = cls(kernel)
        try:
            for item in data["guests"]:
                spec = spec_from_data(item["spec"])
                state = PowerState[item["power_state"].upper()]
                hypervisor._guests[spec.uuid] = Guest(spec, state)
            for item in data["lent"]:
                mac, vlan = MacAddress.parse(item["mac"]), VlanTag(item["vlan"])
                hypervisor._lent[PciAddress.parse(item["address"])] = Lent(
                    item["driver"], mac, vlan
                )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput("hypervisor state", f"is damaged ({exc!r})") from None
        return hypervisor


def spec_data(spec: GuestSpec) -> dict[str, Any]:
    """A spec as plain JSON data."""
    return {
        "uuid": spec.uuid,
        "name": spec.name,
        "vcpus": spec.vcpus,
        "memory_mib": spec.memory_mib,
        "nics": [
            {
                "port_id": n.port_id,
                "mac": str(n.mac),
                "kind": str(n.kind),
                "pci_address": str(n.pci_address) if n.pci_address else None,
                "vlan": n.vlan,
                "source_dev": n.source_dev,
                "bridge": n.bridge,
            }
            for n in spec.nics
        ],
    }


def spec_from_data(data: dict[str, Any]) -> GuestSpec:
    """The spec ``spec_data`` wrote."""
    nics = tuple(
        GuestNic(
            port_id=n["port_id"],
            mac=MacAddress.parse(n["mac"]),
            kind=NicKind(n["kind"]),
            pci_address=PciAddress.parse(n["pci_address"]) if n["pci_address"] else None,
            vlan=n["vlan"],
            source_dev=n["source_dev"],
            bridge=n["bridge"],
        )
        for n in data["nics"]
    )
    return GuestSpec(data["uuid"], data["name"], data["vcpus"], data["memory_mib"], nics)


def _check_whole_pf(kernel: Kernel, address: PciAddress) -> None:
    base = f"{DEVICES}/{address}"
    if not kernel.exists(base) or kernel.is_link(f"{base}/physfn"):
        raise NotFound("PF", address)
    if kernel.exists(f"{base}/sriov_numvfs") and kernel.read(f"{base}/sriov_numvfs").strip() != "0":
        # Its VFs would vanish under whoever uses them (Nova: such a PF is unavailable).
        raise Conflict(f"PF {address} has VFs, so it cannot be passed through whole")


@dataclass(frozen=True, slots=True)
class _VfState:
    """One VF as libvirt looks at it before a guest takes it or after one gave it back."""

    pf: PciAddress
    index: int
    driver: str | None
    mac: MacAddress
    vlan: VlanTag


# Why a VF is looked at on its own rather than guests started as a batch sharing one PF read:
# libvirt starts one domain at a time and, for each <interface type='hostdev'>, finds the VF's
# PF and index in sysfs, saves the VF's MAC and VLAN from one RTM_GETLINK of the PF
# (virNetDevSaveNetConfig) and sets them with one RTM_SETLINK. The Hypervisor protocol keeps
# that shape, so the libvirt driver needs no batch it could only fake; and a read shared across
# starts would be a cache that a VF changed in between (by hand, by the agent) makes stale.
# So each start costs what libvirt's does: a few sysfs reads of that VF and one RTM_GETLINK,
# never the PF's whole inventory (sysfs of all its VFs), whatever the PF's VF count.
def _observe_vf(kernel: Kernel, address: PciAddress) -> _VfState:
    """The VF's PF, index, driver, MAC and VLAN; ``NotFound`` if there is no such VF."""
    pf, index = locate_vf(kernel, address)
    observed = _vf_config(kernel, pf, index)
    if observed is None:
        # rtnetlink cannot say: the PF's inventory says why, in the words the host layer uses.
        entry = read_pf(kernel, pf)
        listed = entry.vf(index)
        if listed is None or listed.config is None:
            raise Conflict(f"{entry.name}: VF configs are unavailable ({entry.vf_config_note})")
        observed = listed.config
    driver = _driver(kernel, address)
    return _VfState(pf, index, driver, observed.mac, observed.vlan)


def _vf_config(kernel: Kernel, pf: PciAddress, index: int) -> ObservedVF | None:
    """VF ``index`` as one RTM_GETLINK of its PF's netdev reports it, or None when it cannot."""
    base = f"{DEVICES}/{pf}"
    try:
        netdevs = kernel.listdir(f"{base}/net")
        if not netdevs:
            return None
        link = kernel.link(netdevs[0])
        ifindex = kernel.read(f"{base}/net/{netdevs[0]}/ifindex").strip()
    except KernelError:
        return None
    if ifindex != str(link.index):
        return None  # rtnetlink describes another device than sysfs does (read_pf explains)
    return next((vf for vf in link.vfs if vf.index == index), None)


def _driver(kernel: Kernel, address: PciAddress) -> str | None:
    try:
        return posixpath.basename(kernel.readlink(f"{DEVICES}/{address}/driver"))
    except KernelError as exc:
        if exc.errno in (errno.ENOENT, errno.EINVAL):
            return None
        raise


def _program(kernel: Kernel, vf: _VfState, mac: MacAddress, vlan: VlanTag) -> None:
    """Give the VF this MAC and VLAN through its PF, checked and read back by the host layer.

    A VF that already has them (the agent configures a port's VF before its guest starts) is
    left alone: ``set_vf_config`` would write nothing either, only re-read the whole PF.
    """
    if (vf.mac, vf.vlan) == (mac, vlan):
        return
    set_vf_config(kernel, str(vf.pf), vf.index, VFConfigChange(mac=mac, vlan=vlan))


def _restore(kernel: Kernel, address: PciAddress, lent: Lent) -> None:
    """Give a VF back as it was: MAC and VLAN, then its driver (libvirt's release order)."""
    vf = _observe_vf(kernel, address)
    _program(kernel, vf, lent.mac, lent.vlan)
    if lent.driver == VFIO or vf.driver == lent.driver:
        return
    if lent.driver is not None:
        bind_vf(kernel, address, lent.driver)
        return
    # It had no driver (e.g. its host driver is blacklisted): unbind vfio-pci, leave it free.
    kernel.write(f"{DEVICES}/{address}/driver_override", "\n")
    kernel.write(f"bus/pci/drivers/{VFIO}/unbind", str(address))


def _address(nic: GuestNic) -> PciAddress:
    assert nic.pci_address is not None  # GuestNic requires it of HOSTDEV and HOSTDEV_PF
    return nic.pci_address


def _name(spec: GuestSpec) -> str:
    return f"{spec.name} ({spec.uuid})"
