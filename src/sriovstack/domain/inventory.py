"""A host's SR-IOV inventory as observed: each PF and VF with PCI facts, driver, netdev, config."""

from __future__ import annotations

from dataclasses import dataclass, field

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.observed import ObservedVF


@dataclass(frozen=True, slots=True)
class VFEntry:
    """A VF: its PCI function and, when rtnetlink answered, the config its PF holds for it."""

    index: int
    address: PciAddress
    vendor_id: int
    device_id: int
    driver: str | None
    driver_override: str | None
    netdev: str | None
    numa_node: int | None
    iommu_group: int | None
    config: ObservedVF | None


@dataclass(frozen=True, slots=True)
class PFEntry:
    """A PF with its SR-IOV capability as sysfs shows it and its VFs."""

    address: PciAddress
    vendor_id: int
    device_id: int
    vendor_name: str
    device_name: str
    vf_device_name: str
    model: str | None  # catalogue key, None for a NIC the catalogue does not know
    driver: str | None
    netdev: str | None
    mac: MacAddress | None
    admin_up: bool | None
    carrier: bool | None
    numa_node: int | None
    iommu_group: int | None
    total_vfs: int
    num_vfs: int
    offset: int
    stride: int
    vf_device_id: int
    autoprobe: bool
    bridge: PciAddress | None
    vfs: tuple[VFEntry, ...] = ()
    vf_config_note: str = ""  # why VF configs are missing, when they are

    @property
    def name(self) -> str:
        """The PF as people name it: its netdev, else its PCI address."""
        return self.netdev or str(self.address)

    def vf(self, index: int) -> VFEntry | None:
        return next((v for v in self.vfs if v.index == index), None)


@dataclass(frozen=True, slots=True)
class BridgeEntry:
    """An upstream bridge of a PF and the bus range it forwards."""

    address: PciAddress
    secondary_bus: int | None
    subordinate_bus: int | None


@dataclass(frozen=True, slots=True)
class NicEntry:
    """A network function without an SR-IOV capability (or with it switched off in firmware)."""

    address: PciAddress
    vendor_id: int
    device_id: int
    driver: str | None
    netdev: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class HostInventory:
    """Everything observed about a host's SR-IOV devices at one moment."""

    pfs: tuple[PFEntry, ...]
    bridges: tuple[BridgeEntry, ...] = ()
    other_nics: tuple[NicEntry, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def bridge(self, address: PciAddress | None) -> BridgeEntry | None:
        return next((b for b in self.bridges if b.address == address), None)
