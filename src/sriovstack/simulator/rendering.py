"""Render a simulated kernel's state as a sysfs tree with the kernel's exact file formats."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from functools import partial
from typing import Protocol

from sriovstack.domain.addresses import PciAddress
from sriovstack.simulator.assembly import Piece
from sriovstack.simulator.booting import BootedHost
from sriovstack.simulator.devices import SimNetdev, SimPF, SimVF
from sriovstack.simulator.sysfs import Dir, Drawing, Store, Tree

# IORESOURCE_MEM | IORESOURCE_MEM_64 | IORESOURCE_SIZEALIGN with the 64-bit BAR type bits.
_MEM64 = 0x140204
_EMPTY_RESOURCE = f"0x{0:016x} 0x{0:016x} 0x{0:016x}\n"
# include/uapi/linux/if.h: the dev->flags bits that /sys/class/net/<if>/flags shows
_IFF_UP, _IFF_BROADCAST, _IFF_LOOPBACK, _IFF_MULTICAST = 0x1, 0x2, 0x8, 0x1000


class Writes(Protocol):
    """The simulated kernel's handlers for writable attributes."""

    def numvfs(self, pf: SimPF) -> Store: ...
    def autoprobe(self, pf: SimPF) -> Store: ...
    def override(self, target: SimPF | SimVF) -> Store: ...
    def bind(self, driver: str) -> Store: ...
    def unbind(self, driver: str) -> Store: ...
    def drivers_probe(self) -> Store: ...


def render(
    host: BootedHost,
    pfs: list[SimPF],
    lo: SimNetdev | None,
    modules: set[str],
    drivers: set[str],
    writes: Writes,
) -> Tree:
    """Build the whole tree for the current state."""
    tree = Tree()
    for piece in pieces(host, pfs, lo, modules, drivers, writes):
        piece.draw(tree)
    return tree


def pieces(
    host: BootedHost,
    pfs: list[SimPF],
    lo: SimNetdev | None,
    modules: set[str],
    drivers: set[str],
    writes: Writes,
) -> Iterator[Piece]:
    """The tree in drawing order: the host's files, each PF then its VFs (keyed by address), lo."""
    names, loaded = tuple(sorted(drivers)), tuple(sorted(modules))
    yield Piece(
        "host",
        writes,
        (names, loaded),
        partial(_render_host, host=host, drivers=names, modules=loaded, writes=writes),
    )
    for pf in pfs:
        yield Piece(
            pf.address,
            pf,
            (
                pf.driver,
                pf.driver_override,
                pf.iommu_group,
                pf.autoprobe,
                len(pf.vfs),
                _netdev_inputs(pf.netdev),
            ),
            partial(_render_pf, host=host, pf=pf, writes=writes),
        )
        if not pf.boot.sriov:
            continue
        for vf in pf.vfs:
            yield Piece(
                vf.address,
                vf,
                (
                    vf.index,
                    vf.address,
                    vf.driver,
                    vf.driver_override,
                    vf.iommu_group,
                    _netdev_inputs(vf.netdev),
                    vf.netdev is not None and pf.vf_link_up(vf),
                ),
                partial(_render_vf, host=host, pf=pf, vf=vf, writes=writes),
            )
    if lo is not None:
        yield Piece("lo", None, _netdev_inputs(lo), partial(_render_lo, lo=lo))


def _netdev_inputs(netdev: SimNetdev | None) -> object:
    # A snapshot: the netdev object itself changes in place.
    if netdev is None:
        return None
    return (netdev.ifindex, netdev.ifname, netdev.mac, netdev.admin_up, netdev.mtu)


def _render_host(
    tree: Drawing,
    *,
    host: BootedHost,
    drivers: tuple[str, ...],
    modules: tuple[str, ...],
    writes: Writes,
) -> None:
    root = "devices/pci0000:00"
    # These directories are there even while nothing is in them.
    tree.put(root, Dir())
    tree.put("kernel/iommu_groups", Dir())
    tree.put("class/iommu", Dir())
    tree.attr("bus/pci/drivers_probe", None, writes.drivers_probe())
    tree.attr("bus/pci/drivers_autoprobe", "1\n")
    for name in drivers:
        base = f"bus/pci/drivers/{name}"
        tree.attr(f"{base}/bind", None, writes.bind(name))
        tree.attr(f"{base}/unbind", None, writes.unbind(name))
        tree.attr(f"{base}/new_id", None)
        tree.attr(f"{base}/remove_id", None)
    for module in modules:
        tree.attr(f"module/{module}/refcnt", "0\n")
    # The host bridge tells whose chipset (and so whose IOMMU) this is.
    intel = host.profile.cpu_vendor == "intel"
    _function_files(
        tree,
        f"{root}/0000:00:00.0",
        vendor=0x8086 if intel else 0x1022,
        device=0x0E00 if intel else 0x1480,
        klass=0x060000,
        numa=-1,
    )
    tree.link("bus/pci/devices/0000:00:00.0", f"{root}/0000:00:00.0")
    if host.iommu:
        tree.attr("devices/virtual/iommu/dmar0/uevent", "")
        tree.link("class/iommu/dmar0", "devices/virtual/iommu/dmar0")
    for bridge in host.bridges:
        path = f"{root}/{bridge.address}"
        _function_files(
            tree,
            path,
            vendor=0x8086 if bridge.vendor_id == 0 else bridge.vendor_id,
            device=bridge.device_id,
            klass=0x060400,
            numa=bridge.numa_node,
        )
        tree.attr(f"{path}/secondary_bus_number", f"{bridge.secondary_bus}\n")
        tree.attr(f"{path}/subordinate_bus_number", f"{bridge.subordinate_bus}\n")
        tree.attr(f"{path}/driver_override", "(null)\n")
        tree.link(f"bus/pci/devices/{bridge.address}", path)


def _render_lo(tree: Drawing, *, lo: SimNetdev) -> None:
    _netdev_files(tree, f"devices/virtual/net/{lo.ifname}", lo, carrier=True, device_path=None)
    tree.link("class/net/lo", f"devices/virtual/net/{lo.ifname}")


def function_path(pf: SimPF, address: PciAddress | None = None) -> str:
    """Where a PF (or one of its VFs) lives: VFs are children of the PF's parent bridge."""
    return f"devices/pci0000:00/{pf.boot.bridge.address}/{address or pf.address}"


def _render_pf(tree: Drawing, *, host: BootedHost, pf: SimPF, writes: Writes) -> None:
    path = function_path(pf)
    model = pf.model
    _function_files(
        tree,
        path,
        vendor=model.vendor_id,
        device=pf.device_id,
        klass=0x020000,
        numa=pf.boot.card.numa_node,
    )
    tree.attr(f"{path}/resource", _pf_resources(pf))
    tree.attr(f"{path}/driver_override", _override_text(pf.driver_override), writes.override(pf))
    _bind(tree, path, pf.address, pf.driver, pf.iommu_group, host)
    if pf.netdev is not None:
        _netdev_files(
            tree, f"{path}/net/{pf.netdev.ifname}", pf.netdev, carrier=pf.carrier, device_path=path
        )
    if not pf.boot.sriov:
        return
    tree.attr(f"{path}/sriov_totalvfs", f"{pf.total_vfs}\n")
    tree.attr(f"{path}/sriov_numvfs", f"{len(pf.vfs)}\n", writes.numvfs(pf))
    tree.attr(f"{path}/sriov_offset", f"{pf.boot.offset}\n")
    tree.attr(f"{path}/sriov_stride", f"{pf.boot.stride}\n")
    tree.attr(f"{path}/sriov_vf_device", f"{model.vf_device_id:x}\n")
    tree.attr(f"{path}/sriov_drivers_autoprobe", f"{int(pf.autoprobe)}\n", writes.autoprobe(pf))
    tree.attr(f"{path}/sriov_vf_total_msix", "0\n")


def _render_vf(tree: Drawing, *, host: BootedHost, pf: SimPF, vf: SimVF, writes: Writes) -> None:
    path = function_path(pf, vf.address)
    tree.link(f"{function_path(pf)}/virtfn{vf.index}", path)
    model = pf.model
    _function_files(
        tree,
        path,
        vendor=model.vendor_id,
        device=model.vf_device_id,
        klass=0x020000,
        numa=pf.boot.card.numa_node,
    )
    tree.link(f"{path}/physfn", function_path(pf))
    tree.attr(f"{path}/resource", _vf_resources(pf, vf))
    tree.attr(f"{path}/driver_override", _override_text(vf.driver_override), writes.override(vf))
    tree.attr(f"{path}/sriov_vf_msix_count", None)
    _bind(tree, path, vf.address, vf.driver, vf.iommu_group, host)
    if vf.netdev is not None:
        _netdev_files(
            tree,
            f"{path}/net/{vf.netdev.ifname}",
            vf.netdev,
            carrier=pf.vf_link_up(vf),
            device_path=path,
        )


def _function_files(
    tree: Drawing, path: str, *, vendor: int, device: int, klass: int, numa: int
) -> None:
    tree.attr(f"{path}/vendor", f"0x{vendor:04x}\n")
    tree.attr(f"{path}/device", f"0x{device:04x}\n")
    tree.attr(f"{path}/subsystem_vendor", f"0x{vendor:04x}\n")
    tree.attr(f"{path}/subsystem_device", "0x0000\n")
    tree.attr(f"{path}/class", f"0x{klass:06x}\n")
    tree.attr(f"{path}/revision", "0x01\n")
    tree.attr(f"{path}/numa_node", f"{numa}\n")
    tree.attr(f"{path}/enable", "1\n")
    tree.attr(
        f"{path}/modalias",
        f"pci:v{vendor:08X}d{device:08X}sv{vendor:08X}sd00000000"
        f"bc{klass >> 16:02X}sc{(klass >> 8) & 0xFF:02X}i00\n",
    )


def _bind(
    tree: Drawing,
    path: str,
    address: PciAddress,
    driver: str | None,
    group: int | None,
    host: BootedHost,
) -> None:
    tree.link(f"bus/pci/devices/{address}", path)
    if driver is not None:
        tree.link(f"{path}/driver", f"bus/pci/drivers/{driver}")
        tree.link(f"bus/pci/drivers/{driver}/{address}", path)
    if group is not None and host.iommu:
        group_dir = f"kernel/iommu_groups/{group}"
        tree.link(f"{path}/iommu_group", group_dir)
        tree.link(f"{group_dir}/devices/{address}", path)
        tree.attr(f"{group_dir}/type", "identity\n" if host.passthrough else "DMA\n")


def _netdev_files(
    tree: Drawing, path: str, netdev: SimNetdev, *, carrier: bool, device_path: str | None
) -> None:
    up = netdev.admin_up
    loopback = netdev.ifname == "lo"
    tree.attr(f"{path}/address", f"{netdev.mac}\n")
    tree.attr(f"{path}/ifindex", f"{netdev.ifindex}\n")
    tree.attr(f"{path}/mtu", f"{netdev.mtu}\n")
    tree.attr(f"{path}/operstate", _operstate(up, carrier, loopback=loopback))
    flags = (_IFF_LOOPBACK if loopback else _IFF_BROADCAST | _IFF_MULTICAST) | (
        _IFF_UP if up else 0
    )
    tree.attr(f"{path}/flags", f"{flags:#x}\n")
    if up:
        tree.attr(f"{path}/carrier", f"{int(carrier)}\n")
    else:
        # carrier_show() answers only while the device is running: EINVAL when it is down.
        tree.attr(f"{path}/carrier", None, error=errno.EINVAL)
    if device_path is not None:
        tree.link(f"{path}/device", device_path)
        tree.link(f"class/net/{netdev.ifname}", path)


def _operstate(up: bool, carrier: bool, *, loopback: bool) -> str:
    # The loopback driver never reports an operstate (IF_OPER_UNKNOWN); others go "up" only
    # once they are up and have carrier.
    if loopback and up:
        return "unknown\n"
    return "up\n" if up and carrier else "down\n"


def _override_text(value: str | None) -> str:
    # An unset driver_override is a NULL pointer that the kernel prints with "%s".
    return f"{value}\n" if value is not None else "(null)\n"


def _bar(start: int, size: int, flags: int = _MEM64) -> str:
    return f"0x{start:016x} 0x{start + size - 1:016x} 0x{flags:016x}\n"


def _pf_resources(pf: SimPF) -> str:
    """13 lines: BARs 0-5, ROM, then VF BARs 0-5 (unassigned ones keep flags, start/end 0)."""
    base = _mmio_base(pf.address)
    vf_span = pf.model.vf_bar_bytes * pf.boot.total_vfs_hw
    lines = [
        _bar(base, 0x200000),
        _EMPTY_RESOURCE,
        _EMPTY_RESOURCE,
        _EMPTY_RESOURCE,
        _bar(base + 0x200000, 0x4000),
        _EMPTY_RESOURCE,
        _EMPTY_RESOURCE,
    ]
    if pf.boot.vf_bars_assigned:
        vf_base = base + 0x1000000
        lines += [
            _bar(vf_base, vf_span),
            _EMPTY_RESOURCE,
            _EMPTY_RESOURCE,
            _bar(vf_base + vf_span, vf_span),
            _EMPTY_RESOURCE,
            _EMPTY_RESOURCE,
        ]
    else:
        unassigned = f"0x{0:016x} 0x{0:016x} 0x{_MEM64:016x}\n"
        lines += [
            unassigned,
            _EMPTY_RESOURCE,
            _EMPTY_RESOURCE,
            unassigned,
            _EMPTY_RESOURCE,
            _EMPTY_RESOURCE,
        ]
    return "".join(lines)


def _vf_resources(pf: SimPF, vf: SimVF) -> str:
    size = pf.model.vf_bar_bytes
    vf_base = _mmio_base(pf.address) + 0x1000000 + vf.index * size
    span = size * pf.boot.total_vfs_hw
    return "".join(
        [
            _bar(vf_base, size),
            _EMPTY_RESOURCE,
            _EMPTY_RESOURCE,
            _bar(vf_base + span, size),
            *([_EMPTY_RESOURCE] * 9),
        ]
    )


def _mmio_base(address: PciAddress) -> int:
    return 0xC0000000 + (address.bus << 24) + (address.devfn << 17)
