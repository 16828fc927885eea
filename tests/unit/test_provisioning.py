"""Setting a PF's VF count and binding its VFs, against simulated hosts."""

from __future__ import annotations

import errno

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import (
    Conflict,
    InvalidInput,
    KernelError,
    NotFound,
    VerificationFailed,
    VFsInUse,
)
from sriovstack.domain.inventory import PFEntry
from sriovstack.host.inventory import read_pf
from sriovstack.host.provisioning import bind_vf, set_vf_count
from sriovstack.simulator.devices import SimPF
from sriovstack.simulator.kernel import SimulatedKernel

PF0, PF1 = "enp3s0f0", "enp3s0f1"  # the talk's X540 ports; PF1 is the one without ARI
PF1_ADDRESS = PciAddress.parse("0000:03:00.1")
PF1_SYSFS = f"bus/pci/devices/{PF1_ADDRESS}"
NO_IOMMU = "ro pci=realloc pci=assign-busses"  # the talk's host with every fix but the IOMMU


def pf1(kernel: SimulatedKernel) -> PFEntry:
    return read_pf(kernel, PF1_ADDRESS)


def writes(kernel: SimulatedKernel) -> int:
    return kernel.calls.get("write", 0)


def drivers(kernel: SimulatedKernel) -> list[str | None]:
    return [vf.driver for vf in pf1(kernel).vfs]


# ---------------------------------------------------------------------------- counts


@pytest.mark.parametrize("ref", [PF1, "0000:03:00.1", "03:00.1"])
def test_a_pf_is_named_by_netdev_or_by_long_or_short_pci_address(
    talk: SimulatedKernel, ref: str
) -> None:
    change = set_vf_count(talk, ref, 7)
    assert (change.before, change.after, change.changed) == (0, 7, True)
    assert change.pf.address == PF1_ADDRESS
    assert talk.read(f"{PF1_SYSFS}/sriov_numvfs") == "7\n"


def test_changing_a_nonzero_count_passes_through_zero(talk: SimulatedKernel) -> None:
    set_vf_count(talk, PF1, 4)
    change = set_vf_count(talk, PF1, 7)
    assert (change.before, change.after) == (4, 7)
    assert len(pf1(talk).vfs) == 7
    # The kernel refuses 4 -> 7 with EBUSY; the log shows the disable that avoided it.
    assert any("IOV Disabled" in line for line in change.kernel_log)
    assert not any("already enabled" in line for line in talk.log())


def test_count_zero_removes_every_vf(talk: SimulatedKernel) -> None:
    set_vf_count(talk, PF1, 4)
    change = set_vf_count(talk, PF1, 0)
    assert (change.before, change.after) == (4, 0)
    assert pf1(talk).vfs == ()


def test_the_same_count_again_is_a_no_op_that_writes_nothing(talk: SimulatedKernel) -> None:
    set_vf_count(talk, PF1, 7)
    lines, written = len(talk.log()), writes(talk)
    change = set_vf_count(talk, PF1, 7)
    assert not change.changed
    assert writes(talk) == written
    assert change.kernel_log == ()
    assert len(talk.log()) == lines


@pytest.mark.parametrize("count", [64, 100, -1])
def test_a_count_outside_0_to_totalvfs_is_refused_naming_count_and_the_range(
    talk: SimulatedKernel, count: int
) -> None:
    set_vf_count(talk, PF1, 3)
    written = writes(talk)
    with pytest.raises(InvalidInput) as exc:
        set_vf_count(talk, PF1, count)
    assert exc.value.field == "count"
    assert "0..63" in str(exc.value)
    assert writes(talk) == written
    assert len(pf1(talk).vfs) == 3


@pytest.mark.parametrize("ref", ["eth9", "0000:03:00.7", "lo"])
def test_an_unknown_pf_is_not_found_and_the_known_pfs_are_listed(
    talk: SimulatedKernel, ref: str
) -> None:
    with pytest.raises(NotFound) as exc:
        set_vf_count(talk, ref, 1)
    assert f"{PF0}, {PF1}" in str(exc.value)
    assert writes(talk) == 0


def test_kernel_log_of_the_result_holds_the_lines_the_kernel_printed(
    talk: SimulatedKernel,
) -> None:
    mark = len(talk.log())
    change = set_vf_count(talk, PF1, 2)
    assert change.kernel_log == tuple(talk.log()[mark:])
    assert change.kernel_log[-1].endswith(f"ixgbe 0000:03:00.1 {PF1}: SR-IOV enabled with 2 VFs")
    assert any("pci 0000:04:10.3: [8086:1515]" in line for line in change.kernel_log)


# ------------------------------------------------------------------------ pre-checks


def test_unassigned_vf_bars_are_refused_before_writing_naming_pci_realloc() -> None:
    before = boot("talk-before")
    with pytest.raises(Conflict) as exc:
        set_vf_count(before, PF0, 7)
    assert "pci=realloc" in str(exc.value)
    assert writes(before) == 0


def test_vf_buses_outside_the_bridge_are_refused_before_writing_naming_assign_busses() -> None:
    realloc_only = boot("talk-before", cmdline="ro intel_iommu=on pci=realloc")
    with pytest.raises(Conflict) as exc:
        set_vf_count(realloc_only, PF1, 7)
    assert "pci=assign-busses" in str(exc.value)
    assert "bus 04" in str(exc.value)
    assert writes(realloc_only) == 0
    assert set_vf_count(realloc_only, PF0, 7).after == 7  # the ARI PF's VFs stay on bus 03


def test_a_pf_without_a_driver_is_refused_before_writing(talk: SimulatedKernel) -> None:
    talk.write("bus/pci/drivers/ixgbe/unbind", str(PF1_ADDRESS))
    written = writes(talk)
    with pytest.raises(Conflict) as exc:
        set_vf_count(talk, str(PF1_ADDRESS), 2)
    assert "no PF driver" in str(exc.value)
    assert writes(talk) == written


# ------------------------------------------------------------------------- VFs in use


def vfs_put_to_use(kernel: SimulatedKernel) -> None:
    """VF 0 gets a MAC, VF 1 is bound to vfio-pci; VF 2 is left for the caller to claim."""
    set_vf_count(kernel, PF1, 4)
    kernel.set_vf(PF1, 0, mac=MacAddress.parse("fa:16:3e:00:00:01"))
    kernel.write(f"bus/pci/devices/{pf1(kernel).vfs[1].address}/driver_override", "vfio-pci")
    kernel.write("bus/pci/drivers_probe", str(pf1(kernel).vfs[1].address))


def test_vfs_in_use_make_a_change_refuse_listing_them(talk: SimulatedKernel) -> None:
    vfs_put_to_use(talk)
    written = writes(talk)
    with pytest.raises(VFsInUse) as exc:
        set_vf_count(talk, PF1, 2, claimed=[2])
    listed = exc.value.in_use
    assert [item.split(" ")[1] for item in listed] == ["0", "1", "2"]
    assert "MAC fa:16:3e:00:00:01" in listed[0]
    assert "vfio-pci" in listed[1]
    assert "claimed" in listed[2]
    assert "--force" in str(exc.value)
    assert writes(talk) == written
    assert len(pf1(talk).vfs) == 4


def test_a_claimed_vf_is_said_to_be_claimed_even_when_it_has_a_mac(
    talk: SimulatedKernel,
) -> None:
    vfs_put_to_use(talk)
    with pytest.raises(VFsInUse) as exc:
        set_vf_count(talk, PF1, 0, claimed=[0])
    assert "claimed" in exc.value.in_use[0]
    assert "MAC fa:16:3e:00:00:01" in exc.value.in_use[0]


def test_force_goes_ahead_with_vfs_in_use(talk: SimulatedKernel) -> None:
    vfs_put_to_use(talk)
    change = set_vf_count(talk, PF1, 2, claimed=[2], force=True)
    assert (change.before, change.after) == (4, 2)
    assert all(vf.config is not None and vf.config.mac.is_zero for vf in change.pf.vfs)
    assert drivers(talk) == [None, None]


def test_vfs_in_use_do_not_block_a_call_that_keeps_the_count(talk: SimulatedKernel) -> None:
    vfs_put_to_use(talk)
    assert not set_vf_count(talk, PF1, 4, claimed=[2]).changed


# -------------------------------------------------------------------- kernel failures


def test_a_kernel_refusal_after_the_pre_checks_leaves_the_previous_vfs(
    talk: SimulatedKernel,
) -> None:
    # A guest holds VF 1 open through vfio. With force the pre-checks let the change through,
    # but the kernel cannot remove a VF a guest holds (the simulator fails the write of 0
    # with ETIMEDOUT where a real kernel would block): the error is the kernel's and the PF
    # keeps its four VFs, the held one still bound to vfio-pci.
    vfs_put_to_use(talk)
    held = pf1(talk).vfs[1].address
    talk.hold_vf(held, "qemu-kvm (4242)")
    with pytest.raises(KernelError) as exc:
        set_vf_count(talk, PF1, 2, force=True)
    assert exc.value.errno == errno.ETIMEDOUT
    assert len(pf1(talk).vfs) == 4
    assert pf1(talk).vfs[1].driver == "vfio-pci"


class FourTrafficClassesKernel(SimulatedKernel):
    """An X540 whose ixgbe runs DCB with 4 traffic classes: its driver enables at most 32 VFs.

    The simulator does not model DCB and ``sriov_totalvfs`` still says 63, so nothing the host
    can read predicts the refusal: it comes from the driver's ``sriov_configure`` once the
    count is 0 (EPERM as ixgbe_pci_sriov_enable returns it; only the refusal matters here).
    """

    def store_numvfs(self, pf: SimPF, text: str) -> None:
        if not pf.vfs and pf.driver and text.strip().isdigit() and int(text) > 32:
            self._say(
                f"ixgbe {pf.address}: Currently configured with 4 TCs, and 0 offloaded "
                "macvlans. Creating more than 32 VFs is not allowed"
            )
            raise KernelError(errno.EPERM, "write", "sriov_numvfs")
        super().store_numvfs(pf, text)


def test_a_kernel_refusal_after_writing_zero_restores_the_previous_count() -> None:
    kernel = FourTrafficClassesKernel(boot().profile)
    set_vf_count(kernel, PF1, 7)
    with pytest.raises(KernelError) as exc:
        set_vf_count(kernel, PF1, 40)
    assert exc.value.errno == errno.EPERM
    assert "restored the previous 7 VFs" in str(exc.value)
    assert kernel.read(f"{PF1_SYSFS}/sriov_numvfs") == "7\n"
    assert len(pf1(kernel).vfs) == 7


# ----------------------------------------------------------------------------- drivers


def test_vfio_pci_binds_every_vf_even_with_autoprobe_off(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1_SYSFS}/sriov_drivers_autoprobe", "0")
    change = set_vf_count(talk, PF1, 3, vf_driver="vfio-pci")
    assert [vf.driver for vf in change.pf.vfs] == ["vfio-pci"] * 3
    for vf in change.pf.vfs:
        assert talk.readlink(f"bus/pci/devices/{vf.address}/driver").endswith("/vfio-pci")


def test_host_binds_the_models_vf_driver() -> None:
    host = boot("talk-after", blacklist=frozenset())  # ixgbevf may load
    host.write(f"{PF1_SYSFS}/sriov_drivers_autoprobe", "0")  # so new VFs come up unbound
    change = set_vf_count(host, PF1, 2, vf_driver="host")
    assert [vf.driver for vf in change.pf.vfs] == ["ixgbevf", "ixgbevf"]
    assert [vf.netdev for vf in change.pf.vfs] == ["enp3s0f1v0", "enp3s0f1v1"]


def test_a_driver_the_nic_cannot_use_is_refused_before_writing(talk: SimulatedKernel) -> None:
    with pytest.raises(InvalidInput) as exc:
        set_vf_count(talk, PF1, 2, vf_driver="iavf")
    assert exc.value.field == "vf-driver"
    assert writes(talk) == 0


def test_vfio_pci_without_an_iommu_is_refused_before_any_vf_is_made() -> None:
    host = boot("talk-before", cmdline=NO_IOMMU)
    writes = host.calls.get("write", 0)
    with pytest.raises(Conflict, match="intel_iommu=on"):
        set_vf_count(host, PF1, 2, vf_driver="vfio-pci")
    assert host.calls.get("write", 0) == writes
    assert pf1(host).num_vfs == 0


def test_a_blacklisted_host_vf_driver_is_refused_before_any_vf_is_made(
    talk: SimulatedKernel,
) -> None:
    with pytest.raises(Conflict, match="ixgbevf is blacklisted"):
        set_vf_count(talk, PF1, 2, vf_driver="host")
    assert pf1(talk).num_vfs == 0


def test_vfio_pci_without_an_iommu_fails_verification_and_leaves_the_vf_as_it_was() -> None:
    host = boot("talk-before", cmdline=NO_IOMMU)  # ixgbevf not blacklisted: it takes new VFs
    set_vf_count(host, PF1, 2)
    assert drivers(host) == ["ixgbevf", "ixgbevf"]
    with pytest.raises(VerificationFailed) as exc:
        bind_vf(host, pf1(host).vfs[0].address, "vfio-pci")
    assert "intel_iommu=on" in str(exc.value)
    assert "failed with error -22" in str(exc.value)
    vf = pf1(host).vfs[0]
    assert (vf.driver, vf.driver_override, vf.netdev) == ("ixgbevf", None, "enp3s0f1v0")


def test_a_failed_bind_puts_the_previous_driver_back_even_with_autoprobe_off() -> None:
    # The doctor's advice (autoprobe 0) taken after ixgbevf already holds the VFs: putting
    # the old binding back must not rely on autoprobe.
    host = boot("talk-before", cmdline=NO_IOMMU)
    set_vf_count(host, PF1, 1)
    host.write(f"{PF1_SYSFS}/sriov_drivers_autoprobe", "0")
    with pytest.raises(VerificationFailed):
        bind_vf(host, pf1(host).vfs[0].address, "vfio-pci")
    vf = pf1(host).vfs[0]
    assert (vf.driver, vf.driver_override) == ("ixgbevf", None)


def test_a_vf_held_by_a_guest_keeps_its_binding_when_a_rebind_fails() -> None:
    talk = boot("talk-after", blacklist=frozenset())  # ixgbevf loadable
    set_vf_count(talk, PF1, 1, vf_driver="vfio-pci")
    vf = pf1(talk).vfs[0]
    talk.hold_vf(vf.address, "qemu-kvm (4242)")
    with pytest.raises(KernelError) as exc:
        set_vf_count(talk, PF1, 1, vf_driver="host")
    assert exc.value.errno == errno.ETIMEDOUT
    after = pf1(talk).vfs[0]
    assert (after.driver, after.driver_override) == ("vfio-pci", "vfio-pci")
