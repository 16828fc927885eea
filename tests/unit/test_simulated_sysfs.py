"""The simulated sysfs has the kernel's layout, file formats and relative links."""

from __future__ import annotations

import errno

import pytest
from tests.factories import boot

from sriovstack.domain.errors import KernelError
from sriovstack.simulator.kernel import SimulatedKernel

PF1 = "bus/pci/devices/0000:03:00.1"


def test_attribute_files_use_the_kernels_formats(talk: SimulatedKernel) -> None:
    assert talk.read(f"{PF1}/vendor") == "0x8086\n"
    assert talk.read(f"{PF1}/device") == "0x1528\n"
    assert talk.read(f"{PF1}/class") == "0x020000\n"
    assert talk.read(f"{PF1}/sriov_vf_device") == "1515\n"  # bare hex, unlike `device`
    assert talk.read(f"{PF1}/sriov_offset") == "384\n"  # decimal
    assert talk.read(f"{PF1}/sriov_stride") == "2\n"
    assert talk.read(f"{PF1}/sriov_totalvfs") == "63\n"
    assert talk.read(f"{PF1}/sriov_numvfs") == "0\n"
    assert talk.read(f"{PF1}/sriov_drivers_autoprobe") == "1\n"
    assert talk.read(f"{PF1}/driver_override") == "(null)\n"
    assert talk.read(f"{PF1}/numa_node") == "-1\n"


def test_resource_file_has_thirteen_lines_with_vf_bars_last() -> None:
    before = boot("talk-before").read(f"{PF1}/resource").splitlines()
    after = boot("talk-after").read(f"{PF1}/resource").splitlines()
    assert len(before) == len(after) == 13
    start, end, flags = before[7].split()
    assert int(start, 16) == int(end, 16) == 0 and int(flags, 16) != 0  # VF BAR 0 unassigned
    start, end, _ = after[7].split()
    assert int(end, 16) > int(start, 16) > 0


def test_functions_live_under_their_bridge_and_are_reached_by_relative_links(
    talk: SimulatedKernel,
) -> None:
    assert talk.readlink(PF1) == "../../../devices/pci0000:00/0000:00:03.2/0000:03:00.1"
    assert talk.readlink("class/net/enp3s0f1") == (
        "../../devices/pci0000:00/0000:00:03.2/0000:03:00.1/net/enp3s0f1"
    )
    assert talk.readlink(f"{PF1}/driver") == "../../../../bus/pci/drivers/ixgbe"
    assert talk.listdir(f"{PF1}/net") == ["enp3s0f1"]
    assert talk.read("class/net/enp3s0f1/device/sriov_vf_device") == "1515\n"
    assert talk.readlink("class/net/enp3s0f1/device") == "../../../0000:03:00.1"


def test_virtfn_and_physfn_are_sibling_links_even_on_the_next_bus(talk: SimulatedKernel) -> None:
    talk.write(f"{PF1}/sriov_numvfs", "7")
    assert talk.readlink(f"{PF1}/virtfn0") == "../0000:04:10.1"
    assert talk.readlink(f"{PF1}/virtfn6") == "../0000:04:11.5"
    assert talk.readlink("bus/pci/devices/0000:04:10.1/physfn") == "../0000:03:00.1"
    assert talk.read("bus/pci/devices/0000:04:10.1/device") == "0x1515\n"
    assert not talk.exists("bus/pci/devices/0000:04:10.1/sriov_numvfs")  # PF-only attribute


def test_bridge_shows_its_bus_range_as_decimal_numbers() -> None:
    bridge = "bus/pci/devices/0000:00:03.2"
    assert boot("talk-before").read(f"{bridge}/subordinate_bus_number") == "3\n"
    # pci=assign-busses makes the kernel reserve the bus the non-ARI PF's VFs need.
    assert boot("talk-after").read(f"{bridge}/subordinate_bus_number") == "4\n"


def test_iommu_groups_exist_only_with_the_iommu_on() -> None:
    off, on = boot("talk-before"), boot("talk-after")
    assert not off.exists(f"{PF1}/iommu_group")
    assert off.listdir("kernel/iommu_groups") == []
    assert off.listdir("class/iommu") == []
    group = on.readlink(f"{PF1}/iommu_group")
    assert group.startswith("../../../../kernel/iommu_groups/")
    number = group.rsplit("/", 1)[1]
    assert on.listdir(f"kernel/iommu_groups/{number}/devices") == ["0000:03:00.1"]
    assert on.listdir("class/iommu") == ["dmar0"]


def test_log_shows_the_iommu_the_way_the_kernel_version_words_it() -> None:
    assert "Intel-IOMMU: enabled" in "\n".join(boot("talk-after").log())
    assert "Intel-IOMMU: enabled" not in "\n".join(boot("talk-before").log())
    modern = "\n".join(boot("dual-socket").log())
    assert "DMAR: IOMMU enabled" in modern
    assert "iommu: Default domain type: Passthrough (set via kernel command line)" in modern


def test_read_only_write_only_and_missing_files_fail_like_kernfs(talk: SimulatedKernel) -> None:
    with pytest.raises(KernelError) as exc:
        talk.write(f"{PF1}/sriov_totalvfs", "5")
    assert exc.value.errno == errno.EACCES
    with pytest.raises(KernelError) as exc:
        talk.read("bus/pci/drivers/ixgbe/bind")
    assert exc.value.errno == errno.EACCES
    with pytest.raises(KernelError) as exc:
        talk.read(f"{PF1}/no_such_file")
    assert exc.value.errno == errno.ENOENT
    with pytest.raises(KernelError) as exc:
        talk.readlink(f"{PF1}/vendor")
    assert exc.value.errno == errno.EINVAL


def test_paths_cannot_escape_the_sysfs_root(talk: SimulatedKernel) -> None:
    for bad in ("/sys/bus", "bus/../../etc/passwd"):
        with pytest.raises(KernelError) as exc:
            talk.read(bad)
        assert exc.value.errno == errno.EINVAL


def test_cmdline_and_blacklist_come_from_the_boot_config() -> None:
    after = boot("talk-after")
    assert after.cmdline().endswith("intel_iommu=on iommu=pt pci=realloc pci=assign-busses")
    assert after.blacklisted_modules() == {"ixgbevf"}
    assert boot(
        "talk-before", cmdline="ro modprobe.blacklist=ixgbevf,igbvf"
    ).blacklisted_modules() == {
        "ixgbevf",
        "igbvf",
    }
