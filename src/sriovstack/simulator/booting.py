"""What a simulated machine is after boot: the facts the kernel command line and firmware decide.

Pure functions of a ``HostProfile``: IOMMU state, VF BAR assignment, bridge bus ranges, ARI,
VF routing, and the kernel log lines a real kernel prints while finding all that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sriovstack.domain.addresses import PciAddress, vf_address
from sriovstack.domain.kernelparams import KernelParams
from sriovstack.simulator.profiles import BridgeProfile, CardProfile, FunctionProfile, HostProfile


@dataclass(frozen=True, slots=True)
class BootedPF:
    """A PF as the kernel set it up at boot."""

    card: CardProfile
    function: FunctionProfile
    position: int  # 0-based PF position on its card
    ari: bool
    total_vfs_hw: int
    total_vfs: int  # what sriov_totalvfs shows with the PF driver bound
    offset: int
    stride: int
    vf_bars_assigned: bool
    bridge: BridgeProfile
    sriov: bool = True  # False: firmware hides the SR-IOV capability, so no sriov_* files

    @property
    def address(self) -> PciAddress:
        return self.function.address

    def vf_address(self, index: int) -> PciAddress:
        """VF routing per the SR-IOV capability: PF RID + offset + stride * index."""
        return vf_address(self.address, offset=self.offset, stride=self.stride, index=index)


@dataclass(frozen=True, slots=True)
class BootedHost:
    """The machine after boot."""

    profile: HostProfile
    cmdline: KernelParams
    iommu: bool
    passthrough: bool
    bridges: tuple[BridgeProfile, ...]  # with the bus ranges the kernel ended up with
    pfs: tuple[BootedPF, ...]
    log: tuple[str, ...]

    def bridge(self, address: PciAddress) -> BridgeProfile:
        return next(b for b in self.bridges if b.address == address)


def boot(profile: HostProfile) -> BootedHost:
    """Boot a profile: decide every boot-time fact, and the log lines that show them."""
    cmd = KernelParams.parse(profile.cmdline)
    iommu = _iommu_on(profile, cmd)
    pfs = tuple(_booted_pfs(profile, cmd))
    bridges = tuple(_bus_range(b, pfs, cmd) for b in profile.bridges)
    by_addr = {b.address: b for b in bridges}
    pfs = tuple(_with_bridge(pf, by_addr[pf.card.bridge]) for pf in pfs)
    booted = BootedHost(
        profile=profile,
        cmdline=cmd,
        iommu=iommu,
        passthrough=iommu and cmd.passthrough,
        bridges=bridges,
        pfs=pfs,
        log=(),
    )
    return _with_log(booted)


def _iommu_on(profile: HostProfile, cmd: KernelParams) -> bool:
    if cmd.iommu_off:
        return False
    chosen = cmd.intel_iommu if profile.cpu_vendor == "intel" else cmd.amd_iommu
    return profile.iommu_default_on if chosen is None else chosen


def _booted_pfs(profile: HostProfile, cmd: KernelParams) -> list[BootedPF]:
    out = []
    bridges = {b.address: b for b in profile.bridges}
    for card in profile.cards:
        bridge = bridges[card.bridge]
        preceding = 0
        for position, fn in enumerate(card.functions):
            model = card.model
            ari = fn.ari and bridge.ari_forwarding and not cmd.noari
            total_hw = fn.total_vfs or model.total_vfs_hw
            total = min(total_hw, model.total_vfs_linux) if fn.total_vfs is None else total_hw
            offset = model.vf_offset(0, ari=ari)
            if model.vf_layout == "consecutive":
                # Each PF's VFs follow the previous PF's: the offset counts from this PF's own RID.
                offset += preceding - position
            preceding += total_hw
            out.append(
                BootedPF(
                    card=card,
                    function=fn,
                    position=position,
                    ari=ari,
                    total_vfs_hw=total_hw,
                    total_vfs=total,
                    offset=offset,
                    stride=model.vf_stride(ari=ari),
                    vf_bars_assigned=profile.firmware_assigns_vf_bars or cmd.realloc,
                    bridge=bridge,
                    sriov=card.sriov_in_firmware,
                )
            )
    return out


def _bus_range(
    bridge: BridgeProfile, pfs: tuple[BootedPF, ...], cmd: KernelParams
) -> BridgeProfile:
    """With pci=assign-busses the kernel numbers buses itself and reserves the VFs' buses."""
    if not cmd.assign_busses:
        return bridge
    mine = [pf for pf in pfs if pf.card.bridge == bridge.address and pf.sriov]
    needed = max(
        (pf.vf_address(pf.total_vfs_hw - 1).bus for pf in mine), default=bridge.secondary_bus
    )
    return BridgeProfile(
        address=bridge.address,
        vendor_id=bridge.vendor_id,
        device_id=bridge.device_id,
        secondary_bus=bridge.secondary_bus,
        subordinate_bus=max(bridge.subordinate_bus, needed),
        ari_forwarding=bridge.ari_forwarding,
        numa_node=bridge.numa_node,
    )


def _with_bridge(pf: BootedPF, bridge: BridgeProfile) -> BootedPF:
    return replace(pf, bridge=bridge)


def legacy_log_style(kernel_version: str) -> bool:
    """Kernels before 4.x (e.g. CentOS 7's 3.10) word IOMMU and BAR messages differently."""
    try:
        return int(kernel_version.split(".")[0]) < 4
    except ValueError:
        return False


def _with_log(host: BootedHost) -> BootedHost:
    p = host.profile
    old = legacy_log_style(p.kernel_version)
    lines: list[tuple[float, str]] = [
        (0.0, f"Linux version {p.kernel_version} (sriovstack simulator)"),
        (0.0, f"Command line: {p.cmdline}"),
    ]
    lines += _iommu_lines(host, old)
    t = 0.30
    unassigned = False
    for pf in host.pfs:
        t += 0.001
        m = pf.card.model
        ids = f"{m.vendor_id:04x}:{pf.card.device_id:04x}"
        lines.append((t, f"pci {pf.address}: [{ids}] type 00 class 0x020000"))
        size = m.vf_bar_bytes * pf.total_vfs_hw
        if not pf.sriov:
            continue
        if pf.vf_bars_assigned:
            label = "VF(n) BAR0 space:" if old else "VF BAR 0"
            lines.append(
                (
                    t,
                    f"pci {pf.address}: {label} [mem size {size:#010x} 64bit] "
                    f"(contains BAR0 for {pf.total_vfs_hw} VFs)",
                )
            )
        else:
            unassigned = True
            if old:
                lines.append(
                    (t + 0.2, f"pci {pf.address}: BAR 7: can't assign mem (size {size:#x})")
                )
                lines.append(
                    (t + 0.2, f"pci {pf.address}: BAR 10: can't assign mem (size {size:#x})")
                )
            else:
                lines.append(
                    (
                        t + 0.2,
                        f"pci {pf.address}: VF BAR 0 [mem size {size:#010x} 64bit]: "
                        "can't assign; no space",
                    )
                )
                lines.append(
                    (
                        t + 0.2,
                        f"pci {pf.address}: VF BAR 0 [mem size {size:#010x} 64bit]: "
                        "failed to assign",
                    )
                )
    if unassigned:
        lines.append(
            (
                0.52,
                "pci_bus 0000:00: Some PCI device resources are unassigned, "
                "try booting with pci=realloc",
            )
        )
    for b in host.bridges:
        lines.append(
            (
                0.31,
                f"pci {b.address}: PCI bridge to [bus {b.secondary_bus:02x}"
                + (f"-{b.subordinate_bus:02x}]" if b.subordinate_bus != b.secondary_bus else "]"),
            )
        )
    t = 2.0
    for pf in host.pfs:
        t += 0.05
        driver = pf.card.model.pf_driver
        lines.append(
            (
                t,
                f"{driver} {pf.address}: {pf.card.model.name} PF at {pf.function.ifname}, "
                f"{pf.card.model.link_speed_mbps // 1000} Gb/s capable",
            )
        )
    lines.sort(key=lambda item: item[0])
    return BootedHost(
        profile=host.profile,
        cmdline=host.cmdline,
        iommu=host.iommu,
        passthrough=host.passthrough,
        bridges=host.bridges,
        pfs=host.pfs,
        log=tuple(stamp(t, text) for t, text in lines),
    )


def _iommu_lines(host: BootedHost, old: bool) -> list[tuple[float, str]]:
    p = host.profile
    if p.cpu_vendor == "intel":
        if host.iommu:
            first = "Intel-IOMMU: enabled" if old else "DMAR: IOMMU enabled"
            out = [(0.0, first)]
            if not old:
                out.append((0.02, "DMAR: Intel(R) Virtualization Technology for Directed I/O"))
        elif host.cmdline.intel_iommu is False:
            out = [(0.0, "Intel-IOMMU: disabled" if old else "DMAR: IOMMU disabled")]
        else:
            out = []
    else:
        out = (
            [
                (0.9, "AMD-Vi: Found IOMMU at 0000:00:00.2 cap 0x40"),
                (0.9, "AMD-Vi: Interrupt remapping enabled"),
            ]
            if host.iommu
            else []
        )
    if host.iommu and not old:
        kind = "Passthrough" if host.passthrough else "Translated"
        why = " (set via kernel command line)" if host.cmdline.passthrough else ""
        out.append((0.17, f"iommu: Default domain type: {kind}{why}"))
    return out


def stamp(seconds: float, text: str) -> str:
    """Format a log line the way ``dmesg`` does."""
    whole = int(seconds)
    micro = round((seconds - whole) * 1_000_000)
    return f"[{whole:5d}.{micro:06d}] {text}"
