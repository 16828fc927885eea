"""Small inventories for the store tests: PFs of an X540 with as many VFs as a test needs."""

from __future__ import annotations

from dataclasses import replace

from sriovstack.domain.addresses import PciAddress, vf_address
from sriovstack.domain.inventory import HostInventory, PFEntry, VFEntry

PF0 = PciAddress.parse("0000:03:00.0")
PF1 = PciAddress.parse("0000:03:00.1")


def host_inventory(*pfs: PFEntry) -> HostInventory:
    return HostInventory(pfs=pfs)


def pf_entry(address: PciAddress = PF0, *, vfs: int = 4, **changes: object) -> PFEntry:
    """An X540 port (8086:1528, VFs 8086:1515, ARI offset 128 stride 2) with ``vfs`` VFs."""
    pf = PFEntry(
        address=address,
        vendor_id=0x8086,
        device_id=0x1528,
        vendor_name="Intel Corporation",
        device_name="Ethernet Controller 10-Gigabit X540-AT2",
        vf_device_name="X540 Ethernet Controller Virtual Function",
        model="x540",
        driver="ixgbe",
        netdev=f"enp{address.bus}s0f{address.function}",
        mac=None,
        admin_up=True,
        carrier=True,
        numa_node=0,
        iommu_group=None,
        total_vfs=63,
        num_vfs=vfs,
        offset=128,
        stride=2,
        vf_device_id=0x1515,
        autoprobe=True,
        bridge=None,
    )
    pf = replace(pf, **changes)  # type: ignore[arg-type]
    return replace(pf, vfs=tuple(vf_entry(pf, index) for index in range(vfs)))


def vf_entry(pf: PFEntry, index: int) -> VFEntry:
    return VFEntry(
        index=index,
        address=vf_address(pf.address, offset=pf.offset, stride=pf.stride, index=index),
        vendor_id=pf.vendor_id,
        device_id=pf.vf_device_id,
        driver="vfio-pci",
        driver_override=None,
        netdev=None,
        numa_node=pf.numa_node,
        iommu_group=None,
        config=None,
    )
