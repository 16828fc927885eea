"""Runtime state of a simulated host's PCI functions and netdevs (what changes after boot)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.catalogue import NicModel
from sriovstack.domain.vfconfig import CLEAN, LinkState, VFConfig
from sriovstack.simulator.booting import BootedPF


@dataclass(slots=True)
class SimNetdev:
    """A netdev: a PF's, a VF's bound to a host driver, or a virtual one."""

    ifindex: int
    ifname: str
    mac: MacAddress
    admin_up: bool = False
    mtu: int = 1500


@dataclass(slots=True)
class SimVF:
    """A VF while it exists; ``config`` is what its PF's driver holds for it."""

    index: int
    address: PciAddress
    config: VFConfig = CLEAN
    driver: str | None = None
    driver_override: str | None = None
    netdev: SimNetdev | None = None
    iommu_group: int | None = None
    held_by: str | None = None  # a guest holding the vfio device open, e.g. "qemu-kvm (4242)"


@dataclass(slots=True)
class SimPF:
    """A PF and the VFs it currently has."""

    boot: BootedPF
    netdev: SimNetdev | None
    driver: str | None
    iommu_group: int | None
    driver_override: str | None = None
    autoprobe: bool = True
    vfs: list[SimVF] = field(default_factory=list)
    fdb: list[MacAddress] = field(default_factory=list)

    @property
    def address(self) -> PciAddress:
        return self.boot.address

    @property
    def model(self) -> NicModel:
        return self.boot.card.model

    @property
    def device_id(self) -> int:
        return self.boot.card.device_id

    @property
    def total_vfs(self) -> int:
        """sriov_totalvfs: the driver may lower it; unbound, it is the capability's value."""
        return self.boot.total_vfs if self.driver else self.boot.total_vfs_hw

    @property
    def netdev_name(self) -> str:
        return self.netdev.ifname if self.netdev is not None else self.boot.function.ifname

    def vf_link_up(self, vf: SimVF) -> bool:
        """Whether a VF's link is up: its admin link state wins, ``auto`` follows this PF's link."""
        if vf.config.link_state is LinkState.ENABLE:
            return True
        if vf.config.link_state is LinkState.DISABLE:
            return False
        return self.carrier

    @property
    def carrier(self) -> bool:
        # The simulated cable is always plugged: carrier follows the admin state.
        return self.netdev is not None and self.netdev.admin_up
