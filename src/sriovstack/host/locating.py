"""Find a PF or VF on a host from what a person types (a netdev name or a PCI address), or
find a VF's PF and index from the VF's PCI address."""

from __future__ import annotations

import posixpath

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput, KernelError, NotFound
from sriovstack.domain.inventory import PFEntry, VFEntry
from sriovstack.host.inventory import DEVICES, read_inventory, read_pf
from sriovstack.host.kernel import Kernel


def find_pf(kernel: Kernel, ref: str) -> PFEntry:
    """The PF named by netdev (``enp3s0f1``) or PCI address (``0000:03:00.1`` or ``03:00.1``)."""
    address = _as_address(ref)
    if address is None:
        address = _address_of_netdev(kernel, ref)
    if address is not None and kernel.exists(f"{DEVICES}/{address}/sriov_totalvfs"):
        return read_pf(kernel, address)
    # Flat recorded trees have no class/net: look through the whole inventory.
    for pf in read_inventory(kernel).pfs:
        if ref in (pf.netdev, str(pf.address)) or pf.address == address:
            return pf
    known = ", ".join(pf.name for pf in read_inventory(kernel).pfs) or "none"
    raise NotFound("PF", ref, f"known PFs: {known}")


def find_vf(pf: PFEntry, index: int) -> VFEntry:
    """VF ``index`` of a PF, or a clear error naming the range."""
    vf = pf.vf(index)
    if vf is None:
        rule = (
            f"must be 0..{pf.num_vfs - 1} ({pf.name} has {pf.num_vfs} VFs)"
            if pf.num_vfs
            else f"{pf.name} has no VFs (set some with `sriovstack host set-vfs`)"
        )
        raise InvalidInput("index", rule, index)
    return vf


def locate_vf(kernel: Kernel, address: PciAddress) -> tuple[PciAddress, int]:
    """The PF of the VF at ``address`` and the VF's index there, or ``NotFound``.

    A handful of sysfs reads whatever the PF's VF count: the VF's ``physfn`` link, the PF's
    routing numbers and the one ``virtfn`` link they point to. Reading the PF (``read_pf``)
    would read every VF of it, which for a guest starting on one VF of 128 was most of its cost.
    """
    physfn = f"{DEVICES}/{address}/physfn"
    if not kernel.is_link(physfn):
        raise NotFound("VF", address)
    pf = PciAddress.parse(posixpath.basename(kernel.readlink(physfn)))
    base = f"{DEVICES}/{pf}"
    routed = _routed_index(kernel, base, pf, address)
    if routed is not None and _virtfn(kernel, base, routed) == address:
        return pf, routed
    # No routing numbers (a recorded tree may lack them) or they disagree with the links: the
    # virtfn links are what the kernel made, so they decide.
    indexes = [
        int(n[6:]) for n in kernel.listdir(base) if n.startswith("virtfn") and n[6:].isdigit()
    ]
    for index in sorted(indexes):
        if _virtfn(kernel, base, index) == address:
            return pf, index
    raise NotFound("VF", address, f"no virtfn link of PF {pf} points to it")


def _routed_index(kernel: Kernel, base: str, pf: PciAddress, vf: PciAddress) -> int | None:
    """The index the SR-IOV capability routes to ``vf``: RID = PF RID + offset + stride * index
    (the kernel's pci_iov_virtfn_bus/devfn); None when the numbers do not say."""
    try:
        offset = int(kernel.read(f"{base}/sriov_offset"))
        stride = int(kernel.read(f"{base}/sriov_stride"))
    except (KernelError, ValueError):
        return None
    distance = vf.routing_id - pf.routing_id - offset
    if vf.domain != pf.domain or stride <= 0 or distance < 0 or distance % stride:
        return None
    return distance // stride


def _virtfn(kernel: Kernel, base: str, index: int) -> PciAddress | None:
    try:
        return PciAddress.parse(posixpath.basename(kernel.readlink(f"{base}/virtfn{index}")))
    except (KernelError, InvalidInput):
        return None


def _as_address(ref: str) -> PciAddress | None:
    if ":" not in ref or "." not in ref:
        return None
    return PciAddress.parse(ref, "PF")


def _address_of_netdev(kernel: Kernel, ifname: str) -> PciAddress | None:
    if "/" in ifname or ifname in ("", ".", ".."):
        raise InvalidInput("PF", "must be a netdev name or a PCI address", ifname)
    path = f"class/net/{ifname}/device"
    if not kernel.is_link(path):
        return None
    try:
        return PciAddress.parse(posixpath.basename(kernel.readlink(path)))
    except InvalidInput:
        return None  # a netdev whose device is not a PCI function
