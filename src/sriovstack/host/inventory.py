"""Read a host's SR-IOV inventory through the kernel seam: sysfs, plus one rtnetlink call per PF.

Where rtnetlink cannot answer (a recorded or exported tree) sysfs alone gives all but VF configs.
"""

from __future__ import annotations

import errno
import posixpath

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.catalogue import load_catalogue
from sriovstack.domain.errors import InvalidInput, KernelError
from sriovstack.domain.inventory import BridgeEntry, HostInventory, NicEntry, PFEntry, VFEntry
from sriovstack.domain.observed import ObservedLink, ObservedVF
from sriovstack.host.kernel import Kernel

DEVICES = "bus/pci/devices"
_IFF_UP = 0x1  # include/uapi/linux/if.h


def read_inventory(kernel: Kernel) -> HostInventory:
    """Every PF with its VFs, the bridges above them, and NICs without SR-IOV."""
    pfs: list[PFEntry] = []
    others: list[NicEntry] = []
    for name in kernel.listdir(DEVICES):
        address = _address(name)
        if address is None:
            continue
        base = f"{DEVICES}/{name}"
        if not _read(kernel, f"{base}/class").startswith("0x02"):
            continue  # not a network controller
        if _is_link(kernel, f"{base}/physfn"):
            continue  # a VF: read through its PF
        if kernel.exists(f"{base}/sriov_totalvfs"):
            pfs.append(read_pf(kernel, address))
        else:
            others.append(_nic(kernel, address))
    bridges = {pf.bridge for pf in pfs if pf.bridge is not None}
    return HostInventory(
        pfs=tuple(sorted(pfs, key=lambda p: p.address)),
        bridges=tuple(_bridge(kernel, b) for b in sorted(bridges)),
        other_nics=tuple(others),
    )


def read_pf(kernel: Kernel, address: PciAddress) -> PFEntry:
    """One PF: sysfs attributes, its VFs' functions, and its VFs' config in one rtnetlink call."""
    base = f"{DEVICES}/{address}"
    vendor = _hex(kernel, f"{base}/vendor")
    device = _hex(kernel, f"{base}/device")
    vf_device = int(_read(kernel, f"{base}/sriov_vf_device").strip() or "0", 16)
    model = load_catalogue().by_pci_id(vendor, device)
    netdev = _netdev(kernel, base)
    link, note = _rtnetlink(kernel, base, netdev)
    mac, admin_up, carrier = _link_state(kernel, base, netdev, link)
    configs = {vf.index: vf for vf in link.vfs} if link is not None else {}
    vfs = tuple(
        _vf(kernel, base, index, configs.get(index)) for index in _virtfn_indexes(kernel, base)
    )
    return PFEntry(
        address=address,
        vendor_id=vendor,
        device_id=device,
        vendor_name=model.vendor_name if model else f"{vendor:04x}",
        device_name=model.pf_devices.get(device, model.name) if model else f"{device:04x}",
        vf_device_name=model.vf_device_name if model else f"{vf_device:04x}",
        model=model.key if model else None,
        driver=_link_name(kernel, f"{base}/driver"),
        netdev=netdev,
        mac=mac,
        admin_up=admin_up,
        carrier=carrier,
        numa_node=_numa(kernel, base),
        iommu_group=_group(kernel, base),
        total_vfs=_int(kernel, f"{base}/sriov_totalvfs"),
        num_vfs=_int(kernel, f"{base}/sriov_numvfs"),
        offset=_int_or(kernel, f"{base}/sriov_offset", 0) or 0,
        stride=_int_or(kernel, f"{base}/sriov_stride", 0) or 0,
        vf_device_id=vf_device,
        autoprobe=_int_or(kernel, f"{base}/sriov_drivers_autoprobe", 1) != 0,
        bridge=_parent_bridge(kernel, address),
        vfs=vfs,
        vf_config_note=note if vfs else "",
    )


def _vf(kernel: Kernel, pf_base: str, index: int, config: ObservedVF | None) -> VFEntry:
    address = PciAddress.parse(posixpath.basename(kernel.readlink(f"{pf_base}/virtfn{index}")))
    base = f"{DEVICES}/{address}"
    return VFEntry(
        index=index,
        address=address,
        vendor_id=_hex(kernel, f"{base}/vendor"),
        device_id=_hex(kernel, f"{base}/device"),
        driver=_link_name(kernel, f"{base}/driver"),
        driver_override=_override(kernel, base),
        netdev=_netdev(kernel, base),
        numa_node=_numa(kernel, base),
        iommu_group=_group(kernel, base),
        config=config,
    )


def _virtfn_indexes(kernel: Kernel, base: str) -> list[int]:
    names = kernel.listdir(base)
    return sorted(
        int(n[len("virtfn") :]) for n in names if n.startswith("virtfn") and n[6:].isdigit()
    )


def _nic(kernel: Kernel, address: PciAddress) -> NicEntry:
    base = f"{DEVICES}/{address}"
    vendor, device = _hex(kernel, f"{base}/vendor"), _hex(kernel, f"{base}/device")
    model = load_catalogue().by_pci_id(vendor, device)
    return NicEntry(
        address=address,
        vendor_id=vendor,
        device_id=device,
        driver=_link_name(kernel, f"{base}/driver"),
        netdev=_netdev(kernel, base),
        model=model.key if model else None,
    )


def _bridge(kernel: Kernel, address: PciAddress) -> BridgeEntry:
    base = f"{DEVICES}/{address}"
    return BridgeEntry(
        address=address,
        secondary_bus=_int_or(kernel, f"{base}/secondary_bus_number", None),
        subordinate_bus=_int_or(kernel, f"{base}/subordinate_bus_number", None),
    )


def _parent_bridge(kernel: Kernel, address: PciAddress) -> PciAddress | None:
    """The bridge above a function, from where ``bus/pci/devices/<bdf>`` points in ``devices/``.

    Flat recorded trees keep real directories there: the parent is then unknown.
    """
    path = f"{DEVICES}/{address}"
    if not _is_link(kernel, path):
        return None
    parent = posixpath.basename(posixpath.dirname(kernel.readlink(path)))
    return _address(parent)


def _address(name: str) -> PciAddress | None:
    try:
        return PciAddress.parse(name)
    except InvalidInput:
        return None


def _read(kernel: Kernel, path: str) -> str:
    try:
        return kernel.read(path)
    except KernelError as exc:
        if exc.errno in (errno.ENOENT, errno.EACCES, errno.EOPNOTSUPP):
            return ""
        raise


def _hex(kernel: Kernel, path: str) -> int:
    text = _read(kernel, path).strip()
    try:
        return int(text, 16) if text else 0
    except ValueError:
        raise InvalidInput(path, "must hold a hex number like 0x8086", text) from None


def _int(kernel: Kernel, path: str) -> int:
    value = _int_or(kernel, path, None)
    if value is None:
        raise InvalidInput(path, "must exist and hold a number")
    return value


def _int_or(kernel: Kernel, path: str, default: int | None) -> int | None:
    text = _read(kernel, path).strip()
    if not text:
        return default
    try:
        return int(text, 10)
    except ValueError:
        raise InvalidInput(path, "must hold a decimal number", text) from None


def _numa(kernel: Kernel, base: str) -> int | None:
    value = _int_or(kernel, f"{base}/numa_node", -1)
    return None if value is None or value < 0 else value


def _is_link(kernel: Kernel, path: str) -> bool:
    return kernel.is_link(path)


def _link_name(kernel: Kernel, path: str) -> str | None:
    """Basename of a link such as ``driver``: recorded trees may hold dangling targets."""
    try:
        return posixpath.basename(kernel.readlink(path))
    except KernelError as exc:
        if exc.errno in (errno.ENOENT, errno.EINVAL):
            return None
        raise


def _group(kernel: Kernel, base: str) -> int | None:
    name = _link_name(kernel, f"{base}/iommu_group")
    return int(name) if name and name.isdigit() else None


def _override(kernel: Kernel, base: str) -> str | None:
    text = _read(kernel, f"{base}/driver_override").strip()
    return None if text in ("", "(null)") else text


def _netdev(kernel: Kernel, base: str) -> str | None:
    try:
        names = kernel.listdir(f"{base}/net")
    except KernelError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    return names[0] if names else None


def _rtnetlink(kernel: Kernel, base: str, netdev: str | None) -> tuple[ObservedLink | None, str]:
    """The PF's netdev with its VF configs, or why there is none."""
    if netdev is None:
        return None, "the PF has no netdev (no driver bound): VF configs cannot be read"
    try:
        link = kernel.link(netdev)
    except KernelError as exc:
        return None, f"rtnetlink did not answer for {netdev}: {exc}"
    # A tree on disk (--sysfs-root) may name a netdev that this machine also has: only the
    # same ifindex shows that rtnetlink describes the device sysfs describes.
    ifindex = _int_or(kernel, f"{base}/net/{netdev}/ifindex", None)
    if ifindex is not None and ifindex != link.index:
        return None, (
            f"rtnetlink's {netdev} is ifindex {link.index} but sysfs says {ifindex}: "
            "these are not the same device, so VF configs cannot be read"
        )
    return link, ""


def _link_state(
    kernel: Kernel, base: str, netdev: str | None, link: ObservedLink | None
) -> tuple[MacAddress | None, bool | None, bool | None]:
    """MAC, admin state and carrier: from rtnetlink, else from the netdev's sysfs files.

    Without rtnetlink (a recorded or exported tree) sysfs still says all three.
    """
    if link is not None:
        return link.mac, link.admin_up, link.carrier
    if netdev is None:
        return None, None, None
    path = f"{base}/net/{netdev}"
    admin_up = _admin_up(kernel, path)
    return _mac(kernel, path), admin_up, _carrier(kernel, path, admin_up)


def _mac(kernel: Kernel, path: str) -> MacAddress | None:
    text = _read(kernel, f"{path}/address").strip()
    try:
        return MacAddress.parse(text) if text else None
    except InvalidInput:
        return None


def _admin_up(kernel: Kernel, path: str) -> bool | None:
    """IFF_UP in ``flags`` (``"0x1003"``): the device is administratively up."""
    text = _read(kernel, f"{path}/flags").strip()
    try:
        return bool(int(text, 16) & _IFF_UP) if text else None
    except ValueError:
        return None


def _carrier(kernel: Kernel, path: str, admin_up: bool | None) -> bool | None:
    """``carrier`` reads 1 or 0 while the device is up; a down device has no carrier."""
    try:
        text = kernel.read(f"{path}/carrier").strip()
    except KernelError as exc:
        if exc.errno == errno.EINVAL:
            return False  # carrier_show() refuses while the device is down
        if exc.errno not in (errno.ENOENT, errno.EACCES, errno.EOPNOTSUPP):
            raise
        # a recorded tree lacks the file of a down device: it could not be read either
        return False if admin_up is False else None
    return {"1": True, "0": False}.get(text)
