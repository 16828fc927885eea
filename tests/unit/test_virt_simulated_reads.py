"""What starting guests costs the SimulatedHypervisor in kernel calls, counted as
benchmarks/agent.py counts them: the same few calls for every guest, whatever the PF's VF
count, as libvirt looks at the one VF a NIC names (its sysfs, one RTM_GETLINK of its PF) and
never reads the PF's whole inventory; and a start that fails still fails as it did."""

from __future__ import annotations

import errno
import re
from collections import Counter
from typing import Any, cast

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import KernelError, NotFound
from sriovstack.domain.vfconfig import VFConfigChange, VlanTag
from sriovstack.host.configuring import set_vf_configs
from sriovstack.host.counting import CountingKernel
from sriovstack.host.inventory import read_pf
from sriovstack.host.locating import locate_vf
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind
from sriovstack.virt.simulated import GuestKernel, SimulatedHypervisor

PF = "enp3s0f1"
PF_ADDRESS = PciAddress.parse("0000:03:00.1")
VLAN = 2010


class RefusingKernel(SimulatedKernel):
    """A PF driver whose firmware does not answer VF settings."""

    def set_vf(self, ifname: str, index: int, **settings: Any) -> None:
        self._count("set_vf")
        raise KernelError(errno.EIO, "setlink", ifname, "firmware did not answer")


def host(vfs: int, kind: type[SimulatedKernel] = SimulatedKernel) -> SimulatedKernel:
    """The talk's host, ixgbevf allowed to load, with ``vfs`` VFs on enp3s0f1."""
    kernel = kind(boot("talk-after", blacklist=frozenset()).profile)
    set_vf_count(kernel, PF, vfs)
    return kernel


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def mac(index: int) -> MacAddress:
    return MacAddress.parse(f"fa:16:3e:00:00:{index:02x}")


def guest(index: int, address: PciAddress) -> GuestSpec:
    nic = GuestNic(f"port-{index}", mac(index), NicKind.HOSTDEV, pci_address=address, vlan=VLAN)
    return GuestSpec(f"00000000-0000-4000-8000-{index:012x}", f"vm{index}", 1, 1024, (nic,))


def configured(kernel: SimulatedKernel, guests: int) -> list[PciAddress]:
    """The first ``guests`` VFs with their port's MAC and VLAN, as the agent sets them before it
    starts a guest; their addresses."""
    changes = {i: VFConfigChange(mac=mac(i), vlan=VlanTag(VLAN)) for i in range(guests)}
    set_vf_configs(kernel, PF, changes)
    return [vf.address for vf in read_pf(kernel, PF_ADDRESS).vfs[:guests]]


def start_counted(vfs: int, guests: int) -> Counter[str]:
    """The kernel calls, by kind, of starting ``guests`` guests on a PF with ``vfs`` VFs."""
    kernel = host(vfs)
    addresses = configured(kernel, guests)
    counting = CountingKernel(kernel)
    hypervisor = SimulatedHypervisor(cast(GuestKernel, counting))
    for index, address in enumerate(addresses):
        hypervisor.start(guest(index, address))
    assert all(kernel.find_vf(a)[1].held_by for a in addresses)
    return Counter(counting.calls)


def test_every_start_costs_the_same_calls_whatever_the_guests_and_the_pfs_vf_count() -> None:
    one = start_counted(vfs=8, guests=1)
    # The sum over guests stays a fixed cost per guest: nothing reads the PF's VFs, whose count
    # (8 or 32) would show up in the reads as it did when each start read the PF's inventory.
    assert start_counted(vfs=8, guests=6) == Counter({k: 6 * n for k, n in one.items()})
    assert start_counted(vfs=32, guests=6) == Counter({k: 6 * n for k, n in one.items()})
    # Per guest, as libvirt: one RTM_GETLINK of the PF for the VF's MAC and VLAN (Linux has no
    # per-VF query), and no RTM_SETLINK for a VF the agent already configured.
    assert (one["link"], one["set_vf"]) == (1, 0)
    assert sum(one.values()) < 40, one


def test_a_start_on_a_vf_gone_from_the_host_fails_as_before() -> None:
    kernel = host(8)
    addresses = configured(kernel, 8)
    set_vf_count(kernel, PF, 4, force=True)  # VFs 4 to 7 are gone, their ports still bound
    configured(kernel, 4)
    hypervisor = SimulatedHypervisor(kernel)
    with pytest.raises(NotFound, match=exactly(f"VF {addresses[6]} not found")):
        hypervisor.start(guest(6, addresses[6]))
    # A guest whose second NIC is gone gives back the first VF it had taken, as it was.
    first = guest(1, addresses[1])
    gone = GuestNic("port-gone", mac(7), NicKind.HOSTDEV, pci_address=addresses[7], vlan=VLAN)
    with pytest.raises(NotFound, match=exactly(f"VF {addresses[7]} not found")):
        hypervisor.start(first.with_nic(gone))
    _, vf = kernel.find_vf(addresses[1])
    assert (vf.driver, vf.held_by, vf.config.mac) == ("ixgbevf", None, mac(1))
    assert hypervisor.guests() == []
    hypervisor.start(first)  # the VFs left still go to guests


def test_a_vf_the_kernel_refuses_to_program_fails_the_start_and_goes_back() -> None:
    kernel = host(8, RefusingKernel)
    address = read_pf(kernel, PF_ADDRESS).vfs[2].address  # clean: its MAC must be set
    hypervisor = SimulatedHypervisor(kernel)
    with pytest.raises(KernelError, match="firmware did not answer"):
        hypervisor.start(guest(2, address))
    _, vf = kernel.find_vf(address)
    assert (vf.driver, vf.held_by) == ("ixgbevf", None)
    assert hypervisor.guests() == []


class NoRoutingNumbers(SimulatedKernel):
    """A recorded tree without the PF's sriov_offset and sriov_stride."""

    def read(self, path: str) -> str:
        if path.endswith(("/sriov_offset", "/sriov_stride")):
            raise KernelError(errno.ENOENT, "open", path)
        return super().read(path)


@pytest.mark.parametrize("kind", [SimulatedKernel, NoRoutingNumbers])
def test_locate_vf_finds_what_the_pfs_inventory_lists(kind: type[SimulatedKernel]) -> None:
    kernel = host(8, kind)
    for vf in read_pf(kernel, PF_ADDRESS).vfs:
        assert locate_vf(kernel, vf.address) == (PF_ADDRESS, vf.index)
    with pytest.raises(NotFound, match=exactly("VF 0000:03:00.1 not found")):
        locate_vf(kernel, PF_ADDRESS)  # a PF is no VF
