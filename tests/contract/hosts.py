"""The contract suite's hosts: shipped profiles in a few states, and views without rtnetlink.

The views are the export read by ``LinuxKernel`` and ``SysfsOnly``, the simulator itself.

Each state is reached only through ``Kernel`` calls, as host logic or an operator would reach
it, and a refusal along the way is part of the state (talk-before cannot create VFs: its VF
BARs are unassigned). ``test_the_hosts_cover_what_the_contract_is_about`` checks that the
refusals do not leave the suite without VFs, drivers or links to compare.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from sriovstack.domain.errors import KernelError
from sriovstack.domain.vfconfig import LinkState
from sriovstack.host.linux import LinuxKernel
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import HostProfile, load_profile, profile_names

DEVICES = "bus/pci/devices"
VFIO = "vfio-pci"
# Enough VFs for interleaved strides, next-bus VFs and both kinds of driver on one PF; few
# enough that exporting every host in every state takes seconds, not minutes.
VFS_PER_PF = 4


def _variants() -> dict[str, HostProfile]:
    """Shipped profiles changed to reach what none of them has as it stands."""
    before = load_profile("talk-before")
    after = load_profile("talk-after")
    return {
        # VFs without an IOMMU: they land on the host's ixgbevf and vfio-pci cannot probe
        "talk-before+realloc": before.booted_with("pci=realloc pci=assign-busses"),
        # the VF driver blacklisted on the command line rather than in /etc/modprobe.d
        "talk-after+cmdline-blacklist": replace(after, blacklist=frozenset()).booted_with(
            "modprobe.blacklist=ixgbevf"
        ),
    }


def host_names() -> list[str]:
    return [*profile_names(), *_variants()]


def boot_host(name: str) -> SimulatedKernel:
    variants = _variants()
    return SimulatedKernel(variants[name] if name in variants else load_profile(name))


# ------------------------------------------------------------------------------------------
# states


def _attempt(kernel: SimulatedKernel, path: str, value: str) -> None:
    # the refusal, and what the kernel logged about it, are part of the state
    with suppress(KernelError):
        kernel.write(path, value)


def _pfs(kernel: SimulatedKernel) -> list[str]:
    return [
        name
        for name in kernel.listdir(DEVICES)
        if kernel.exists(f"{DEVICES}/{name}/sriov_totalvfs")
    ]


def _vfs(kernel: SimulatedKernel, pf: str) -> list[str]:
    base = f"{DEVICES}/{pf}"
    links = sorted(
        (int(n[len("virtfn") :]), n) for n in kernel.listdir(base) if n.startswith("virtfn")
    )
    return [kernel.readlink(f"{base}/{name}").rsplit("/", 1)[-1] for _, name in links]


def _driver(kernel: SimulatedKernel, address: str) -> str | None:
    path = f"{DEVICES}/{address}/driver"
    return kernel.readlink(path).rsplit("/", 1)[-1] if kernel.is_link(path) else None


def fresh(kernel: SimulatedKernel) -> None:
    """As booted."""


def with_vfs(kernel: SimulatedKernel) -> None:
    """Every PF asked for as many VFs as it allows, up to VFS_PER_PF."""
    for pf in _pfs(kernel):
        total = int(kernel.read(f"{DEVICES}/{pf}/sriov_totalvfs"))
        _attempt(kernel, f"{DEVICES}/{pf}/sriov_numvfs", str(min(total, VFS_PER_PF)))


def mixed(kernel: SimulatedKernel) -> None:
    """VFs on both drivers, every netdev up but the last PF's, and VF link states forced.

    The even VFs are moved to vfio-pci; the odd ones keep what autoprobe gave them: the host's
    VF driver unless it is blacklisted.
    """
    with_vfs(kernel)
    for pf in _pfs(kernel):
        for vf in _vfs(kernel, pf)[::2]:
            _to_vfio(kernel, vf)
    pf_names = [
        kernel.listdir(f"{DEVICES}/{pf}/net")[0]
        for pf in _pfs(kernel)
        if kernel.exists(f"{DEVICES}/{pf}/net")
    ]
    for link in kernel.links():
        kernel.set_link(link.ifname, up=link.ifname != pf_names[-1])
    _force_link_states(kernel, pf_names[0])


def _to_vfio(kernel: SimulatedKernel, vf: str) -> None:
    """The route that works whatever autoprobe says: driver_override, then drivers_probe."""
    driver = _driver(kernel, vf)
    if driver is not None:
        _attempt(kernel, f"bus/pci/drivers/{driver}/unbind", vf)
    _attempt(kernel, f"{DEVICES}/{vf}/driver_override", VFIO)
    _attempt(kernel, "bus/pci/drivers_probe", vf)


def _force_link_states(kernel: SimulatedKernel, pf: str) -> None:
    # disable drops the carrier of an up VF netdev, enable forces it, auto follows the PF
    states = (LinkState.DISABLE, LinkState.ENABLE, LinkState.AUTO)
    for index in range(kernel.link(pf).num_vfs or 0):
        kernel.set_vf(pf, index, link_state=states[index % 3])


STATES: dict[str, Callable[[SimulatedKernel], None]] = {
    "fresh": fresh,
    "vfs": with_vfs,
    "mixed": mixed,
}


@dataclass(frozen=True, slots=True)
class Case:
    host: str
    state: str

    @property
    def id(self) -> str:
        return f"{self.host}/{self.state}"

    def build(self) -> SimulatedKernel:
        kernel = boot_host(self.host)
        STATES[self.state](kernel)
        return kernel


@dataclass(frozen=True, slots=True)
class Exported:
    """One simulated host and the same host read back from its export by ``LinuxKernel``."""

    case: Case
    sim: SimulatedKernel
    linux: LinuxKernel


class SysfsOnly:
    """A simulated host seen without rtnetlink: what host logic has on a recorded tree.

    Unlike an export, it keeps kernfs behaviour (a down netdev's ``carrier`` fails with EINVAL),
    so host logic's sysfs fallbacks meet the errno a real kernel gives. Reads only.
    """

    def __init__(self, kernel: SimulatedKernel) -> None:
        self._kernel = kernel

    def read(self, path: str) -> str:
        return self._kernel.read(path)

    def listdir(self, path: str) -> list[str]:
        return self._kernel.listdir(path)

    def readlink(self, path: str) -> str:
        return self._kernel.readlink(path)

    def exists(self, path: str) -> bool:
        return self._kernel.exists(path)

    def is_link(self, path: str) -> bool:
        return self._kernel.is_link(path)

    def cmdline(self) -> str:
        return self._kernel.cmdline()

    def log(self) -> list[str]:
        return self._kernel.log()

    def blacklisted_modules(self) -> frozenset[str]:
        return self._kernel.blacklisted_modules()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # every rtnetlink call, and write: refused as for a netdev this host does not have
        def refuse(*args: object, **kwargs: object) -> Any:
            raise KernelError(errno.ENODEV, name, "sysfs only", "no rtnetlink here")

        return refuse


def cases() -> list[Case]:
    return [Case(host, state) for host in host_names() for state in STATES]
