"""Find a PF or VF on a host from what a person types: a netdev name or a PCI address."""

from __future__ import annotations

import posixpath

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput, NotFound
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
