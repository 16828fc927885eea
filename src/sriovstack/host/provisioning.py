"""Set a PF's VF count and bind VFs to a driver, refusing up front what the kernel would refuse."""

from __future__ import annotations

import errno
from collections.abc import Collection
from dataclasses import dataclass

from sriovstack.domain.addresses import PciAddress, vf_address
from sriovstack.domain.errors import (
    Conflict,
    InvalidInput,
    KernelError,
    VerificationFailed,
    VFsInUse,
)
from sriovstack.domain.inventory import PFEntry, VFEntry
from sriovstack.domain.kernelparams import module_name
from sriovstack.host.filters import model_of
from sriovstack.host.inventory import DEVICES, read_pf
from sriovstack.host.kernel import Kernel
from sriovstack.host.locating import find_pf

VFIO = "vfio-pci"


@dataclass(frozen=True, slots=True)
class VfCountChange:
    """What ``set_vf_count`` did, with what the kernel logged meanwhile."""

    pf: PFEntry  # as read after the change
    before: int
    after: int
    kernel_log: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def set_vf_count(
    kernel: Kernel,
    ref: str,
    count: int,
    *,
    force: bool = False,
    claimed: Collection[int] = (),
    vf_driver: str | None = None,
) -> VfCountChange:
    """Give PF ``ref`` exactly ``count`` VFs, passing through 0 as the kernel requires.

    Every VF vanishes when a non-zero count changes, so VFs in use (claimed, configured with a
    MAC, or bound to vfio-pci) make this refuse unless ``force``.
    """
    pf = find_pf(kernel, ref)
    log_mark = len(kernel.log())
    check_vf_count(kernel, pf, count)
    driver = _resolve_driver(pf, vf_driver)
    if driver is not None:
        check_driver_available(kernel, driver)
    if count != pf.num_vfs:
        in_use = vfs_in_use(pf, claimed) if pf.num_vfs else []
        if in_use and not force:
            raise VFsInUse(pf.name, [_describe(vf, claimed) for vf in in_use])
        _write_count(kernel, pf, count)
    after = read_pf(kernel, pf.address)
    if driver is not None:
        for vf in after.vfs:
            bind_vf(kernel, vf.address, driver)
        after = read_pf(kernel, pf.address)
    return VfCountChange(
        pf=after, before=pf.num_vfs, after=after.num_vfs, kernel_log=tuple(kernel.log()[log_mark:])
    )


def check_vf_count(kernel: Kernel, pf: PFEntry, count: int) -> None:
    """Refuse, before anything is written, a count the kernel would refuse; say how to fix it."""
    if not 0 <= count <= pf.total_vfs:
        raise InvalidInput(
            "count", f"must be 0..{pf.total_vfs} (sriov_totalvfs of {pf.name})", count
        )
    if count == pf.num_vfs or count == 0:
        return
    if pf.driver is None:
        raise Conflict(
            f"{pf.name}: no PF driver is bound, so the kernel cannot create VFs "
            "(bind the PF's driver first)"
        )
    if not vf_bars_assigned(kernel, pf.address):
        raise Conflict(
            f"{pf.name}: the firmware left its VF BARs unassigned, so the kernel will "
            "refuse with ENOMEM; boot with pci=realloc"
        )
    last = vf_address(pf.address, offset=pf.offset, stride=pf.stride, index=count - 1)
    bridge = _bus_range(kernel, pf.bridge)
    if bridge is not None and last.bus > bridge[1]:
        raise Conflict(
            f"{pf.name}: VF {count - 1} would be at {last}, on bus {last.bus:02x}, but "
            f"bridge {pf.bridge} forwards only buses {bridge[0]:02x}-{bridge[1]:02x}; "
            "boot with pci=assign-busses"
        )


def check_driver_available(kernel: Kernel, driver: str) -> None:
    """Refuse, before VFs are made, a VF driver that cannot take them on this host."""
    if driver == VFIO:
        if not (_entries(kernel, "class/iommu") or _entries(kernel, "kernel/iommu_groups")):
            raise Conflict(
                "vfio-pci needs the IOMMU, which is off: boot with intel_iommu=on "
                "(amd_iommu=on on AMD)"
            )
        return
    module = module_name(driver)
    if module in kernel.blacklisted_modules() and not kernel.exists(f"module/{module}"):
        raise Conflict(
            f"{driver} is blacklisted and not loaded, so it cannot take VFs: "
            "use vfio-pci, or lift the blacklist"
        )


def _entries(kernel: Kernel, path: str) -> list[str]:
    try:
        return kernel.listdir(path)
    except KernelError:
        return []


def vfs_in_use(pf: PFEntry, claimed: Collection[int] = ()) -> list[VFEntry]:
    """VFs someone relies on: claimed, given a MAC, or bound to vfio-pci for a guest."""
    return [
        vf
        for vf in pf.vfs
        if vf.index in claimed
        or vf.driver == VFIO
        or (vf.config is not None and not vf.config.mac.is_zero)
    ]


def _describe(vf: VFEntry, claimed: Collection[int]) -> str:
    why = [str(vf.address)]
    if vf.index in claimed:
        why.append("claimed")
    if vf.driver == VFIO:
        why.append("bound to vfio-pci")
    if vf.config is not None and not vf.config.mac.is_zero:
        why.append(f"MAC {vf.config.mac}")
    return f"VF {vf.index} ({', '.join(why)})"


def _write_count(kernel: Kernel, pf: PFEntry, count: int) -> None:
    path = f"{DEVICES}/{pf.address}/sriov_numvfs"
    if pf.num_vfs:
        kernel.write(path, "0")  # N -> M is EBUSY: the kernel wants N -> 0 -> M
    if not count:
        return
    try:
        kernel.write(path, str(count))
    except KernelError as exc:
        restored = _restore(kernel, path, pf.num_vfs)
        raise KernelError(exc.errno, exc.op, exc.target, f"{exc.detail}; {restored}") from exc


def _restore(kernel: Kernel, path: str, count: int) -> str:
    if not count:
        return "the PF has no VFs"
    try:
        kernel.write(path, str(count))
    except KernelError as exc:
        return f"restoring {count} VFs failed too ({exc})"
    return f"restored the previous {count} VFs"


def vf_bars_assigned(kernel: Kernel, address: PciAddress) -> bool:
    """Whether the PF's VF BARs (resource lines 7-12) got address space at boot.

    An unassigned resource keeps its flags but has start and end 0.
    """
    try:
        lines = kernel.read(f"{DEVICES}/{address}/resource").splitlines()
    except KernelError:
        return True  # nothing to go on: let the kernel decide
    for line in lines[7:13]:
        fields = line.split()
        if (
            len(fields) == 3
            and int(fields[2], 16)
            and not int(fields[0], 16)
            and not int(fields[1], 16)
        ):
            return False
    return True


def _bus_range(kernel: Kernel, bridge: PciAddress | None) -> tuple[int, int] | None:
    if bridge is None:
        return None
    try:
        secondary = int(kernel.read(f"{DEVICES}/{bridge}/secondary_bus_number"))
        subordinate = int(kernel.read(f"{DEVICES}/{bridge}/subordinate_bus_number"))
    except (KernelError, ValueError):
        return None
    return secondary, subordinate


def _resolve_driver(pf: PFEntry, name: str | None) -> str | None:
    if name is None:
        return None
    model = model_of(pf)
    host_driver = model.vf_driver if model else None
    if name == "host":
        if host_driver is None:
            raise InvalidInput("vf-driver", f"the host VF driver of {pf.name} is unknown; name it")
        return host_driver
    allowed = {VFIO} | ({host_driver} if host_driver else set())
    if name not in allowed and model is not None:
        raise InvalidInput(
            "vf-driver", f"must be one of {', '.join(sorted(allowed))} or host", name
        )
    return name


def bind_vf(kernel: Kernel, address: PciAddress, driver: str) -> None:
    """Bind a VF to ``driver`` through driver_override, which works even with autoprobe off.

    If the new driver does not take the VF, the previous binding is put back.
    """
    base = f"{DEVICES}/{address}"
    current = _driver(kernel, base)
    if current == driver:
        return
    previous = kernel.read(f"{base}/driver_override").strip()
    previous = "" if previous == "(null)" else previous
    mark = len(kernel.log())
    kernel.write(f"{base}/driver_override", driver)
    if current is not None:
        try:
            kernel.write(f"bus/pci/drivers/{current}/unbind", str(address))
        except KernelError:
            # e.g. a guest holds the VF: it keeps its driver, so it keeps its override too.
            kernel.write(f"{base}/driver_override", previous)
            raise
    kernel.write("bus/pci/drivers_probe", str(address))
    if _driver(kernel, base) == driver:
        return
    said = [line for line in kernel.log()[mark:] if str(address) in line]
    _put_back(kernel, address, current, previous)
    hint = (
        " (vfio-pci needs the IOMMU: boot with intel_iommu=on or amd_iommu=on)"
        if any("error -22" in line for line in said) and driver == VFIO
        else ""
    )
    raise VerificationFailed(
        f"{address}: {driver} did not bind{hint}" + (f"; kernel: {said[-1]}" if said else "")
    )


def _put_back(kernel: Kernel, address: PciAddress, driver: str | None, override: str) -> None:
    """Rebind a VF to the driver it had and restore its driver_override."""
    base = f"{DEVICES}/{address}"
    if driver is not None:
        # Through driver_override: with autoprobe off a plain probe would leave it unbound.
        kernel.write(f"{base}/driver_override", driver)
        kernel.write("bus/pci/drivers_probe", str(address))
    kernel.write(f"{base}/driver_override", override)


def _driver(kernel: Kernel, base: str) -> str | None:
    try:
        return kernel.readlink(f"{base}/driver").rsplit("/", 1)[-1]
    except KernelError as exc:
        if exc.errno in (errno.ENOENT, errno.EINVAL):
            return None
        raise
