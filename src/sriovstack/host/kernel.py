"""The kernel seam: the small set of calls a host's kernel offers to SR-IOV host logic.

``LinuxKernel`` (host/linux.py) answers them from the real machine and ``SimulatedKernel``
(simulator/kernel.py) from a model of the kernel and the NIC; both fit this protocol
structurally and neither imports it. Every failure is a ``KernelError`` carrying the errno
the real kernel would return, so host logic can tell EBUSY from ENOMEM without knowing
which kernel it has.

Paths are relative to the sysfs root and use ``/``: ``bus/pci/devices/0000:03:00.1/sriov_numvfs``.
"""

from __future__ import annotations

from typing import Protocol

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.observed import FdbEntry, ObservedLink
from sriovstack.domain.vfconfig import LinkState, TxRate, VlanTag


class Kernel(Protocol):
    """What host logic may ask of a kernel."""

    # sysfs
    def read(self, path: str) -> str:
        """Content of a sysfs file, exactly as the kernel formats it (with its newline)."""
        ...

    def write(self, path: str, value: str) -> None:
        """Write a sysfs attribute; the kernel's checks apply."""
        ...

    def listdir(self, path: str) -> list[str]:
        """Names in a sysfs directory, sorted."""
        ...

    def readlink(self, path: str) -> str:
        """Target of a sysfs symlink as stored (usually relative, e.g. ``../0000:03:10.1``)."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a path exists (following symlinks)."""
        ...

    def is_link(self, path: str) -> bool:
        """Whether the last component of a path is a symlink."""
        ...

    # rtnetlink
    def links(self) -> list[ObservedLink]:
        """Every netdev, without VF info (one RTM_GETLINK dump)."""
        ...

    def link(self, ifname: str) -> ObservedLink:
        """One netdev with its VF info, VF stats skipped (one RTM_GETLINK)."""
        ...

    def set_vf(
        self,
        ifname: str,
        index: int,
        *,
        mac: MacAddress | None = None,
        vlan: VlanTag | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
        link_state: LinkState | None = None,
        rate: TxRate | None = None,
    ) -> None:
        """Set VF attributes on PF ``ifname`` in one RTM_SETLINK.

        The kernel applies them in a fixed order (MAC, VLAN, rate, spoof check, link state,
        trust) and stops at the first failure, keeping what it applied before: not atomic.
        """
        ...

    def set_link(self, ifname: str, *, up: bool) -> None:
        """Bring a netdev administratively up or down."""
        ...

    def fdb_add(self, ifname: str, mac: MacAddress) -> None:
        """``bridge fdb add MAC dev IFNAME self permanent``: a unicast filter on the device."""
        ...

    def fdb_del(self, ifname: str, mac: MacAddress) -> None:
        """Remove an entry added by ``fdb_add``."""
        ...

    def fdb_list(self, ifname: str) -> list[FdbEntry]:
        """FDB entries on one device."""
        ...

    # boot-time facts
    def cmdline(self) -> str:
        """The kernel command line (``/proc/cmdline``); empty when unknown."""
        ...

    def log(self) -> list[str]:
        """Kernel log lines, oldest first, as ``dmesg`` prints them."""
        ...

    def blacklisted_modules(self) -> frozenset[str]:
        """Modules modprobe refuses to load (``modprobe.blacklist=`` and ``/etc/modprobe.d``)."""
        ...
