"""sriov_numvfs applies the kernel's checks in order; VF drivers bind as the kernel binds them."""

from __future__ import annotations

import errno
from dataclasses import replace

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import KernelError
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PF0 = "bus/pci/devices/0000:03:00.0"
PF1 = "bus/pci/devices/0000:03:00.1"


def errno_of(kernel: SimulatedKernel, path: str, value: str) -> int:
    with pytest.raises(KernelError) as exc:
        kernel.write(path, value)
    return exc.value.errno


def vf_addresses(kernel: SimulatedKernel, pf: str) -> list[str]:
    links = [n for n in kernel.listdir(pf) if n.startswith("virtfn")]
    return [kernel.readlink(f"{pf}/virtfn{i}")[3:] for i in range(len(links))]


@pytest.mark.parametrize("value", ["abc", "", "-1", "70000", "7 7", "0x"])
def test_unparsable_counts_are_einval(talk: SimulatedKernel, value: str) -> None:
    assert errno_of(talk, f"{PF1}/sriov_numvfs", value) == errno.EINVAL


def test_counts_parse_like_kstrtou16(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "0x3\n")
    assert talk.read(f"{PF1}/sriov_numvfs") == "3\n"
    talk.write(f"{PF1}/sriov_numvfs", "0")
    talk.write(f"{PF1}/sriov_numvfs", "010")  # leading zero: octal
    assert talk.read(f"{PF1}/sriov_numvfs") == "8\n"


def test_more_than_totalvfs_is_erange_even_before_the_driver_check(talk: SimulatedKernel) -> None:
    assert errno_of(talk, f"{PF1}/sriov_numvfs", "64") == errno.ERANGE
    talk.write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
    # Unbound, sriov_totalvfs is the capability's 64 again; 65 is still out of range...
    assert talk.read(f"{PF1}/sriov_totalvfs") == "64\n"
    assert errno_of(talk, f"{PF1}/sriov_numvfs", "65") == errno.ERANGE
    # ...and 64 passes the range check only to find no driver.
    assert errno_of(talk, f"{PF1}/sriov_numvfs", "64") == errno.ENOENT
    assert "no driver bound to device; cannot configure SR-IOV" in talk.log()[-1]


def test_writing_the_current_value_is_a_no_op_even_without_a_driver(talk: SimulatedKernel) -> None:
    talk.write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
    lines = len(talk.log())
    talk.write(f"{PF1}/sriov_numvfs", "0")
    assert len(talk.log()) == lines


def test_changing_a_nonzero_count_must_pass_through_zero(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "4")
    assert errno_of(talk, f"{PF1}/sriov_numvfs", "7") == errno.EBUSY
    assert "4 VFs already enabled. Disable before enabling 7 VFs" in talk.log()[-1]
    assert talk.read(f"{PF1}/sriov_numvfs") == "4\n"
    talk.write(f"{PF1}/sriov_numvfs", "0")
    talk.write(f"{PF1}/sriov_numvfs", "7")
    assert talk.read(f"{PF1}/sriov_numvfs") == "7\n"


def test_vfs_appear_and_vanish_all_together(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "7")
    assert len(vf_addresses(talk, PF1)) == 7
    assert all(talk.exists(f"bus/pci/devices/{a}") for a in vf_addresses(talk, PF1))
    talk.write(f"{PF1}/sriov_numvfs", "0")
    assert vf_addresses(talk, PF1) == []
    assert not talk.exists("bus/pci/devices/0000:04:10.1")


def test_unassigned_vf_bars_refuse_with_enomem_and_the_kernels_words() -> None:
    before = boot("talk-before")
    assert errno_of(before, f"{PF1}/sriov_numvfs", "7") == errno.ENOMEM
    assert "not enough MMIO resources for SR-IOV" in before.log()[-2]
    assert before.read(f"{PF1}/sriov_numvfs") == "0\n"


def test_vf_buses_outside_the_bridge_range_refuse_with_enomem() -> None:
    realloc_only = boot("talk-before", cmdline="ro intel_iommu=on pci=realloc")
    # The non-ARI PF puts its VFs on bus 04; the bridge forwards only bus 03.
    assert errno_of(realloc_only, f"{PF1}/sriov_numvfs", "7") == errno.ENOMEM
    assert "can't enable 7 VFs (bus 04 out of range of [bus 03])" in realloc_only.log()[-2]
    # The ARI PF's VFs stay on bus 03, so it works on the same boot.
    realloc_only.write(f"{PF0}/sriov_numvfs", "7")
    assert vf_addresses(realloc_only, PF0)[:3] == ["0000:03:10.0", "0000:03:10.2", "0000:03:10.4"]


def test_the_talks_seven_vfs_land_where_the_talks_lspci_shows_them(talk: SimulatedKernel) -> None:
    talk.write("class/net/enp3s0f1/device/sriov_numvfs", "7")
    slots = [a.split(":", 2)[2] for a in vf_addresses(talk, PF1)]
    assert slots == ["10.1", "10.3", "10.5", "10.7", "11.1", "11.3", "11.5"]
    assert {talk.read(f"bus/pci/devices/{a}/device") for a in vf_addresses(talk, PF1)} == {
        "0x1515\n"
    }


def test_pci_noari_moves_even_the_lowest_pfs_vfs_to_the_next_bus() -> None:
    profile = load_profile("talk-after")
    noari = boot("talk-after", cmdline=profile.cmdline + " pci=noari")
    noari.write(f"{PF0}/sriov_numvfs", "2")
    assert noari.read(f"{PF0}/sriov_offset") == "384\n"
    assert vf_addresses(noari, PF0) == ["0000:04:10.0", "0000:04:10.2"]


def test_consecutive_layout_puts_the_second_pfs_vfs_after_the_first_ones() -> None:
    host = boot("dual-socket")
    host.write("bus/pci/devices/0000:17:00.0/sriov_numvfs", "64")
    host.write("bus/pci/devices/0000:17:00.1/sriov_numvfs", "2")
    first = vf_addresses(host, "bus/pci/devices/0000:17:00.0")
    second = vf_addresses(host, "bus/pci/devices/0000:17:00.1")
    last = PciAddress.parse(first[-1])
    assert PciAddress.parse(second[0]).routing_id == last.routing_id + 1
    assert not set(first) & set(second)


def test_host_vf_driver_binds_new_vfs_and_names_their_netdevs_after_the_pf() -> None:
    host = boot("talk-after", blacklist=frozenset())
    host.write(f"{PF1}/sriov_numvfs", "2")
    assert host.readlink("bus/pci/devices/0000:04:10.1/driver").endswith("/ixgbevf")
    assert host.listdir("bus/pci/devices/0000:04:10.3/net") == ["enp3s0f1v1"]
    assert host.exists("module/ixgbevf")


def test_a_blacklisted_vf_driver_leaves_new_vfs_unbound(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "2")
    assert not talk.exists("bus/pci/devices/0000:04:10.1/driver")
    assert not talk.exists("bus/pci/devices/0000:04:10.1/net")


def test_autoprobe_off_needs_driver_override_to_bind(talk: SimulatedKernel) -> None:
    host = boot("talk-after", blacklist=frozenset())
    host.write(f"{PF1}/sriov_drivers_autoprobe", "0")
    host.write(f"{PF1}/sriov_numvfs", "1")
    vf = "bus/pci/devices/0000:04:10.1"
    assert not host.exists(f"{vf}/driver")
    assert errno_of(host, "bus/pci/drivers/ixgbevf/bind", "0000:04:10.1") == errno.ENODEV
    host.write(f"{vf}/driver_override", "vfio-pci")
    host.write("bus/pci/drivers_probe", "0000:04:10.1")
    assert host.readlink(f"{vf}/driver").endswith("/vfio-pci")
    assert host.read(f"{vf}/driver_override") == "vfio-pci\n"


def test_vfio_pci_cannot_bind_without_an_iommu() -> None:
    host = boot("talk-before", cmdline="ro pci=realloc pci=assign-busses")
    host.write(f"{PF1}/sriov_numvfs", "1")
    vf = "bus/pci/devices/0000:04:10.1"
    if host.exists(f"{vf}/driver"):
        host.write("bus/pci/drivers/ixgbevf/unbind", "0000:04:10.1")
    host.write(f"{vf}/driver_override", "vfio-pci")
    host.write("bus/pci/drivers_probe", "0000:04:10.1")  # the probe fails; the write does not
    assert not host.exists(f"{vf}/driver")
    assert host.log()[-1].endswith("vfio-pci: probe of 0000:04:10.1 failed with error -22")


def test_bind_and_unbind_refuse_the_wrong_state(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "1")
    vf = "bus/pci/devices/0000:04:10.1"
    talk.write(f"{vf}/driver_override", "vfio-pci")
    talk.write("bus/pci/drivers/vfio-pci/bind", "0000:04:10.1")
    assert errno_of(talk, "bus/pci/drivers/vfio-pci/bind", "0000:04:10.1") == errno.EBUSY
    assert errno_of(talk, "bus/pci/drivers/ixgbevf/unbind", "0000:04:10.1") in (
        errno.ENODEV,
        errno.ENOENT,  # the ixgbevf driver directory only exists once the module is loaded
    )
    assert errno_of(talk, "bus/pci/drivers/vfio-pci/bind", "0000:99:00.0") == errno.ENODEV
    talk.write("bus/pci/drivers/vfio-pci/unbind", "0000:04:10.1")
    assert not talk.exists(f"{vf}/driver")


def test_driver_override_is_cleared_by_an_empty_write_and_refuses_overlong_names(
    talk: SimulatedKernel,
) -> None:
    talk.write(f"{PF1}/driver_override", "vfio-pci\n")
    assert talk.read(f"{PF1}/driver_override") == "vfio-pci\n"
    talk.write(f"{PF1}/driver_override", "\n")
    assert talk.read(f"{PF1}/driver_override") == "(null)\n"
    assert errno_of(talk, f"{PF1}/driver_override", "x" * 5000) == errno.EINVAL


@pytest.mark.parametrize(
    ("value", "expected"), [("0", "0"), ("n", "0"), ("off", "0"), ("Y", "1"), ("on", "1")]
)
def test_autoprobe_parses_like_kstrtobool(talk: SimulatedKernel, value: str, expected: str) -> None:
    talk.write(f"{PF1}/sriov_drivers_autoprobe", value)
    assert talk.read(f"{PF1}/sriov_drivers_autoprobe") == f"{expected}\n"


def test_autoprobe_refuses_other_words(talk: SimulatedKernel) -> None:
    assert errno_of(talk, f"{PF1}/sriov_drivers_autoprobe", "maybe") == errno.EINVAL


def test_a_vf_held_by_a_guest_blocks_removal_until_released(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "2")
    vf = PciAddress.parse("0000:04:10.3")
    talk.write(f"bus/pci/devices/{vf}/driver_override", "vfio-pci")
    talk.write("bus/pci/drivers_probe", str(vf))
    talk.hold_vf(vf, "qemu-kvm (4242)")
    assert errno_of(talk, f"{PF1}/sriov_numvfs", "0") == errno.ETIMEDOUT
    assert "Relaying device request to user" in talk.log()[-1]
    assert talk.read(f"{PF1}/sriov_numvfs") == "2\n"
    assert errno_of(talk, "bus/pci/drivers/vfio-pci/unbind", str(vf)) == errno.ETIMEDOUT
    talk.release_vf(vf)
    talk.write(f"{PF1}/sriov_numvfs", "0")
    assert talk.read(f"{PF1}/sriov_numvfs") == "0\n"


def test_unbinding_the_pf_driver_removes_its_netdev_and_vfs(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "3")
    talk.write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
    assert not talk.exists(f"{PF1}/driver")
    assert not talk.exists("class/net/enp3s0f1")
    assert talk.read(f"{PF1}/sriov_numvfs") == "0\n"
    talk.write("bus/pci/drivers/ixgbe/bind", "0000:03:00.1")
    assert talk.listdir(f"{PF1}/net") == ["enp3s0f1"]


def test_sriov_off_in_firmware_shows_no_sriov_files() -> None:
    profile = load_profile("dual-socket")
    cards = (profile.cards[0], replace(profile.cards[1], sriov_in_firmware=False))
    host = SimulatedKernel(replace(profile, cards=cards))
    assert host.exists("bus/pci/devices/0000:17:00.0/sriov_totalvfs")
    assert host.exists("bus/pci/devices/0000:98:00.0/vendor")
    assert not host.exists("bus/pci/devices/0000:98:00.0/sriov_totalvfs")
