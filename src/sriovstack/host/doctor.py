"""Examine a host for what stops SR-IOV working: each finding with its evidence and its fix."""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass

from sriovstack.domain.addresses import vf_address
from sriovstack.domain.catalogue import load_catalogue
from sriovstack.domain.errors import KernelError
from sriovstack.domain.inventory import HostInventory, PFEntry
from sriovstack.domain.kernelparams import KernelParams, module_name
from sriovstack.host.inventory import DEVICES, read_inventory
from sriovstack.host.kernel import Kernel
from sriovstack.host.provisioning import vf_bars_assigned

_INTEL, _AMD = 0x8086, 0x1022


class Severity(enum.IntEnum):
    """How much a finding matters; a host is clean when nothing is above INFO."""

    OK = 0
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result about the host or one PF."""

    check: str
    severity: Severity
    subject: str
    summary: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class DoctorReport:
    findings: tuple[Finding, ...]

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)

    @property
    def clean(self) -> bool:
        return self.worst <= Severity.INFO


def examine(kernel: Kernel) -> DoctorReport:
    """Run every check against the host behind ``kernel``."""
    inventory = read_inventory(kernel)
    facts = _Facts(kernel)
    findings = [*_iommu(facts), *_passthrough(facts)]
    for pf in inventory.pfs:
        findings += _pf_checks(kernel, facts, inventory, pf)
    findings += _sriov_in_firmware(inventory)
    if not inventory.pfs and not inventory.other_nics:
        findings.append(
            Finding(
                "nics",
                Severity.WARNING,
                "host",
                "no network functions found",
                (f"{DEVICES}/ lists no class 0x02 function",),
            )
        )
    return DoctorReport(tuple(findings))


class _Facts:
    """Host-wide facts read once: command line, log, IOMMU state, platform vendor."""

    def __init__(self, kernel: Kernel) -> None:
        self.cmdline = kernel.cmdline()
        self.params = KernelParams.parse(self.cmdline)
        self.log = kernel.log()
        self.blacklist = kernel.blacklisted_modules()
        self.iommu_units = _list(kernel, "class/iommu")
        self.groups = _list(kernel, "kernel/iommu_groups")
        self.vendor = _platform_vendor(kernel, self.log)

    @property
    def iommu_on(self) -> bool:
        return bool(self.iommu_units or self.groups)

    def lines(self, *needles: str) -> tuple[str, ...]:
        return tuple(line for line in self.log if any(n in line for n in needles))

    def cmdline_evidence(self) -> str:
        return f"/proc/cmdline: {self.cmdline}" if self.cmdline else "/proc/cmdline: (unknown)"


def _list(kernel: Kernel, path: str) -> list[str]:
    try:
        return kernel.listdir(path)
    except KernelError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise


def _platform_vendor(kernel: Kernel, log: list[str]) -> int | None:
    try:
        return int(kernel.read(f"{DEVICES}/0000:00:00.0/vendor"), 16)
    except (KernelError, ValueError):
        pass
    if any("AMD-Vi" in line for line in log):
        return _AMD
    if any("DMAR" in line or "Intel-IOMMU" in line for line in log):
        return _INTEL
    return None


def _iommu(f: _Facts) -> list[Finding]:
    param = "amd_iommu=on" if f.vendor == _AMD else "intel_iommu=on"
    said = f.lines(
        "IOMMU enabled",
        "Intel-IOMMU: enabled",
        "AMD-Vi: Found IOMMU",
        "IOMMU disabled",
        "Intel-IOMMU: disabled",
    )
    if f.iommu_on:
        return [
            Finding(
                "iommu",
                Severity.OK,
                "host",
                "the IOMMU is on",
                (
                    f"class/iommu/: {', '.join(f.iommu_units) or '-'}",
                    f"kernel/iommu_groups/: {len(f.groups)} groups",
                    *said[:2],
                ),
            )
        ]
    return [
        Finding(
            "iommu",
            Severity.ERROR,
            "host",
            "the IOMMU is off: VFs cannot be passed to guests through vfio-pci",
            (
                "class/iommu/ is empty",
                "kernel/iommu_groups/ is empty",
                f.cmdline_evidence(),
                *said[:2],
            ),
            f"add {param} to the kernel command line and reboot",
        )
    ]


def _passthrough(f: _Facts) -> list[Finding]:
    if f.params.passthrough:
        return [
            Finding(
                "iommu-pt",
                Severity.OK,
                "host",
                "host DMA bypasses IOMMU translation",
                (f.cmdline_evidence(), *f.lines("Default domain type: Passthrough")),
            )
        ]
    if not f.iommu_on:
        # Nothing is translated yet; say it now so both parameters go in with one reboot.
        return [
            Finding(
                "iommu-pt",
                Severity.INFO,
                "host",
                "once the IOMMU is on, host DMA will be translated too, which costs the host's "
                "own I/O performance",
                (f.cmdline_evidence(),),
                "add iommu=pt with the IOMMU parameter",
            )
        ]
    return [
        Finding(
            "iommu-pt",
            Severity.WARNING,
            "host",
            "host DMA is translated by the IOMMU, which costs the host's own I/O performance",
            (f.cmdline_evidence(), *f.lines("Default domain type: Translated")),
            "add iommu=pt to the kernel command line and reboot",
        )
    ]


def _pf_checks(kernel: Kernel, f: _Facts, inv: HostInventory, pf: PFEntry) -> list[Finding]:
    return [
        *_pf_driver(pf),
        *_pf_link(pf),
        *_vf_bars(kernel, f, pf),
        *_ari(pf),
        *_bus_range(inv, pf),
        *_vf_driver(f, pf),
    ]


def _pf_driver(pf: PFEntry) -> list[Finding]:
    if pf.driver is not None:
        return []
    model = load_catalogue().by_pci_id(pf.vendor_id, pf.device_id)
    module = model.pf_driver if model else "the PF's driver"
    return [
        Finding(
            "pf-driver",
            Severity.ERROR,
            pf.name,
            "no driver is bound to the PF, so it cannot create VFs",
            (f"{DEVICES}/{pf.address}/driver is absent",),
            f"modprobe {module}",
        )
    ]


def _pf_link(pf: PFEntry) -> list[Finding]:
    if pf.netdev is None or pf.admin_up is None:
        return []
    evidence = (
        f"class/net/{pf.netdev}: admin {'up' if pf.admin_up else 'down'}, "
        f"carrier {'on' if pf.carrier else 'off'}",
    )
    if not pf.admin_up:
        return [
            Finding(
                "pf-link",
                Severity.WARNING,
                pf.name,
                "the PF is down: its VFs pass no traffic and cannot learn their MAC",
                evidence,
                f"ip link set dev {pf.netdev} up",
            )
        ]
    if not pf.carrier:
        return [
            Finding(
                "pf-link",
                Severity.WARNING,
                pf.name,
                "the PF has no carrier: VFs with link state auto are down",
                evidence,
                "check the cable and the switch port",
            )
        ]
    return [Finding("pf-link", Severity.OK, pf.name, "the PF is up", evidence)]


def _vf_bars(kernel: Kernel, f: _Facts, pf: PFEntry) -> list[Finding]:
    if vf_bars_assigned(kernel, pf.address):
        return []
    said = tuple(line for line in f.lines(str(pf.address)) if "BAR" in line)
    said += f.lines("try booting with pci=realloc")
    return [
        Finding(
            "vf-bars",
            Severity.ERROR,
            pf.name,
            "the firmware left the VF BARs unassigned: enabling VFs fails with ENOMEM",
            (f"{DEVICES}/{pf.address}/resource: VF BAR lines have flags but no address", *said),
            "add pci=realloc to the kernel command line and reboot",
        )
    ]


def _ari(pf: PFEntry) -> list[Finding]:
    reach = pf.address.devfn + pf.offset
    if reach < 256:
        return [
            Finding(
                "ari",
                Severity.OK,
                pf.name,
                f"its VFs start on the PF's own bus {pf.address.bus:02x} (ARI in use)",
                (f"{DEVICES}/{pf.address}/sriov_offset: {pf.offset}",),
            )
        ]
    return [
        Finding(
            "ari",
            Severity.INFO,
            pf.name,
            f"no ARI for this PF: VF offset {pf.offset} puts its VFs on bus "
            f"{pf.address.bus + (reach >> 8):02x}, which the bridge above must forward",
            (
                f"{DEVICES}/{pf.address}/sriov_offset: {pf.offset}",
                f"{DEVICES}/{pf.address}/sriov_stride: {pf.stride}",
            ),
        )
    ]


def _bus_range(inv: HostInventory, pf: PFEntry) -> list[Finding]:
    bridge = inv.bridge(pf.bridge)
    if bridge is None or bridge.subordinate_bus is None or pf.total_vfs == 0:
        return []
    fits = sum(
        1
        for i in range(pf.total_vfs)
        if vf_address(pf.address, offset=pf.offset, stride=pf.stride, index=i).bus
        <= bridge.subordinate_bus
    )
    if fits == pf.total_vfs:
        return []
    last = vf_address(pf.address, offset=pf.offset, stride=pf.stride, index=pf.total_vfs - 1)
    return [
        Finding(
            "vf-bus-range",
            Severity.ERROR,
            pf.name,
            f"only {fits} of {pf.total_vfs} VFs fit in the buses bridge {bridge.address} forwards: "
            f"VFs would need bus {last.bus:02x}",
            (
                f"{DEVICES}/{bridge.address}/secondary_bus_number: {bridge.secondary_bus}",
                f"{DEVICES}/{bridge.address}/subordinate_bus_number: {bridge.subordinate_bus}",
                f"{DEVICES}/{pf.address}/sriov_offset: {pf.offset}, sriov_stride: {pf.stride}, "
                f"sriov_totalvfs: {pf.total_vfs}",
            ),
            "add pci=assign-busses to the kernel command line and reboot",
        )
    ]


def _vf_driver(f: _Facts, pf: PFEntry) -> list[Finding]:
    model = load_catalogue().by_pci_id(pf.vendor_id, pf.device_id)
    if model is None:
        return []
    host_driver = model.vf_driver
    bound = [vf for vf in pf.vfs if vf.driver == host_driver]
    fix = (
        f"echo blacklist {host_driver} >> /etc/modprobe.d/blacklist.conf, or "
        f"echo 0 > /sys/bus/pci/devices/{pf.address}/sriov_drivers_autoprobe"
        if host_driver != model.pf_driver
        else f"echo 0 > /sys/bus/pci/devices/{pf.address}/sriov_drivers_autoprobe "
        f"({host_driver} drives the PF too, so it cannot be blacklisted)"
    )
    if bound:
        return [
            Finding(
                "vf-driver",
                Severity.WARNING,
                pf.name,
                f"{len(bound)} VFs are bound to the host's {host_driver}, not free for guests",
                tuple(f"{DEVICES}/{vf.address}/driver -> {host_driver}" for vf in bound[:4]),
                fix,
            )
        ]
    if (
        pf.autoprobe
        and module_name(host_driver) not in f.blacklist
        and host_driver != model.pf_driver
    ):
        return [
            Finding(
                "vf-driver",
                Severity.INFO,
                pf.name,
                f"new VFs will be bound to the host's {host_driver}",
                (
                    f"{DEVICES}/{pf.address}/sriov_drivers_autoprobe: 1",
                    f"{host_driver} is not blacklisted",
                ),
                fix,
            )
        ]
    return []


def _sriov_in_firmware(inv: HostInventory) -> list[Finding]:
    out = []
    for nic in inv.other_nics:
        model = load_catalogue().by_pci_id(nic.vendor_id, nic.device_id)
        if model is None or nic.device_id == model.vf_device_id:
            continue
        fix = (
            f"mlxconfig -d {nic.address} set SRIOV_EN=1 NUM_OF_VFS=8, then reboot"
            if model.firmware_sriov_toggle and model.vendor_id == 0x15B3
            else "enable SR-IOV for the NIC in the system firmware (BIOS/UEFI) setup"
        )
        out.append(
            Finding(
                "sriov-firmware",
                Severity.WARNING,
                nic.netdev or str(nic.address),
                f"the {model.name} supports SR-IOV but shows no SR-IOV capability: it is off "
                "in firmware",
                (f"{DEVICES}/{nic.address}/sriov_totalvfs is absent",),
                fix,
            )
        )
    return out
