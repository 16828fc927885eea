"""LinuxKernel's file side on a recorded host tree: sysfs calls, errno translation, boot facts."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from sriovstack.domain.errors import InvalidInput, KernelError
from sriovstack.domain.kernelparams import KernelParams, modprobe_blacklist
from sriovstack.host.linux import LinuxKernel, dmesg_lines

PF = "bus/pci/devices/0000:03:00.0"


def _cmdline_blacklist(cmdline: str) -> frozenset[str]:
    return KernelParams.parse(cmdline).blacklist


VF = "bus/pci/devices/0000:03:10.0"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host root: ``sys`` laid out like sysfs around one PF with one VF."""
    sys = tmp_path / "sys"
    pf = sys / PF
    vf = sys / VF
    pf.mkdir(parents=True)
    vf.mkdir(parents=True)
    (sys / "bus/pci/drivers/ixgbevf").mkdir(parents=True)
    files = {
        "vendor": "0x8086\n",
        "device": "0x10fb\n",
        "sriov_totalvfs": "63\n",
        "sriov_numvfs": "1\n",
        "sriov_vf_device": "10ed\n",
        "driver_override": "(null)\n",
        "resource": "0x00000000fb000000 0x00000000fb3fffff 0x0000000000140204\n" * 2,
    }
    for name, text in files.items():
        (pf / name).write_text(text)
    (vf / "vendor").write_text("0x8086\n")
    os.symlink("../0000:03:10.0", pf / "virtfn0")
    os.symlink("../0000:03:00.0", vf / "physfn")
    os.symlink("../../drivers/ixgbevf", vf / "driver")
    # the PF's driver module is not in this tree: a dangling link, as in partial recordings
    os.symlink("../../drivers/ixgbe", pf / "driver")
    (pf / "net/eth0").mkdir(parents=True)
    os.symlink("../../../0000:03:00.0", pf / "net/eth0/device")
    (sys / "class/net").mkdir(parents=True)
    os.symlink(f"../../{PF}/net/eth0", sys / "class/net/eth0")
    return tmp_path


@pytest.fixture
def kernel(host: Path) -> LinuxKernel:
    return LinuxKernel(host / "sys")


# ------------------------------------------------------------------------------------------
# reading


def test_read_returns_the_file_exactly(kernel: LinuxKernel) -> None:
    assert kernel.read(f"{PF}/vendor") == "0x8086\n"
    assert kernel.read(f"{PF}/sriov_vf_device") == "10ed\n"
    assert kernel.read(f"{PF}/driver_override") == "(null)\n"
    assert kernel.read(f"{PF}/resource").count("\n") == 2


def test_read_follows_relative_links(kernel: LinuxKernel) -> None:
    assert kernel.read(f"{PF}/virtfn0/physfn/sriov_totalvfs") == "63\n"
    assert kernel.read("class/net/eth0/device/sriov_numvfs") == "1\n"


def test_dotdot_after_a_link_goes_up_from_the_link_target(kernel: LinuxKernel) -> None:
    # class/net/eth0 is a link into the PF's net/ directory: '..' climbs from there
    assert kernel.read("class/net/eth0/../../vendor") == "0x8086\n"


def test_str_and_path_roots_are_the_same(host: Path) -> None:
    assert LinuxKernel(str(host / "sys")).read(f"{VF}/vendor") == "0x8086\n"


def test_reading_a_missing_file_is_enoent(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.read(f"{PF}/sriov_offset")
    assert caught.value.errno == errno.ENOENT
    assert (caught.value.op, caught.value.target) == ("read", f"{PF}/sriov_offset")
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_reading_a_directory_is_eisdir(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.read(PF)
    assert caught.value.errno == errno.EISDIR


def test_reading_through_a_dangling_link_is_enoent(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.read(f"{PF}/driver/bind")
    assert caught.value.errno == errno.ENOENT


# ------------------------------------------------------------------------------------------
# writing


def test_write_leaves_exactly_the_value(kernel: LinuxKernel, host: Path) -> None:
    kernel.write(f"{PF}/sriov_numvfs", "0")  # shorter than the "1\n" that was there
    assert (host / "sys" / PF / "sriov_numvfs").read_bytes() == b"0"
    kernel.write(f"{PF}/driver_override", "vfio-pci\n")  # longer than before
    assert kernel.read(f"{PF}/driver_override") == "vfio-pci\n"


def test_write_may_clear_a_file(kernel: LinuxKernel) -> None:
    kernel.write(f"{PF}/driver_override", "")
    assert kernel.read(f"{PF}/driver_override") == ""


def test_write_follows_links(kernel: LinuxKernel, host: Path) -> None:
    kernel.write("class/net/eth0/device/sriov_numvfs", "4\n")
    assert (host / "sys" / PF / "sriov_numvfs").read_text() == "4\n"


def test_write_never_creates_a_file(kernel: LinuxKernel, host: Path) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.write(f"{PF}/sriov_drivers_autoprobe", "0")
    assert caught.value.errno == errno.ENOENT
    assert caught.value.op == "write"
    assert not (host / "sys" / PF / "sriov_drivers_autoprobe").exists()


def test_writing_a_directory_is_eisdir(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.write(PF, "1")
    assert caught.value.errno == errno.EISDIR
    assert isinstance(caught.value.__cause__, OSError)


# ------------------------------------------------------------------------------------------
# directories and links


def test_listdir_is_sorted_and_includes_links(kernel: LinuxKernel) -> None:
    assert kernel.listdir(PF) == [
        "device",
        "driver",
        "driver_override",
        "net",
        "resource",
        "sriov_numvfs",
        "sriov_totalvfs",
        "sriov_vf_device",
        "vendor",
        "virtfn0",
    ]


def test_listdir_of_the_root(kernel: LinuxKernel) -> None:
    assert kernel.listdir("") == ["bus", "class"]
    assert kernel.listdir(".") == ["bus", "class"]


def test_listdir_through_a_link(kernel: LinuxKernel) -> None:
    assert kernel.listdir("class/net/eth0") == ["device"]


def test_listdir_of_a_file_is_enotdir(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.listdir(f"{PF}/vendor")
    assert caught.value.errno == errno.ENOTDIR
    assert caught.value.op == "listdir"


def test_readlink_returns_the_stored_target(kernel: LinuxKernel) -> None:
    assert kernel.readlink(f"{PF}/virtfn0") == "../0000:03:10.0"
    assert kernel.readlink(f"{VF}/physfn") == "../0000:03:00.0"
    assert kernel.readlink(f"{PF}/driver") == "../../drivers/ixgbe"


def test_readlink_of_a_plain_file_is_einval(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.readlink(f"{PF}/vendor")
    assert caught.value.errno == errno.EINVAL


def test_readlink_of_nothing_is_enoent(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.readlink(f"{PF}/iommu_group")
    assert caught.value.errno == errno.ENOENT


def test_exists_follows_links(kernel: LinuxKernel) -> None:
    assert kernel.exists(f"{PF}/virtfn0")
    assert kernel.exists(f"{VF}/driver")
    assert kernel.exists("")
    assert not kernel.exists(f"{PF}/driver")  # dangling
    assert not kernel.exists(f"{PF}/iommu_group")


def test_is_link_looks_at_the_last_component_only(kernel: LinuxKernel) -> None:
    assert kernel.is_link(f"{PF}/virtfn0")
    assert kernel.is_link(f"{PF}/driver")  # dangling, still a link
    assert not kernel.is_link(f"{PF}/vendor")
    assert not kernel.is_link(f"{PF}/virtfn0/vendor")
    assert not kernel.is_link(f"{PF}/iommu_group")


# ------------------------------------------------------------------------------------------
# staying inside the root

CALLS: dict[str, Callable[[LinuxKernel, str], object]] = {
    "read": lambda k, p: k.read(p),
    "write": lambda k, p: k.write(p, "1"),
    "listdir": lambda k, p: k.listdir(p),
    "readlink": lambda k, p: k.readlink(p),
    "exists": lambda k, p: k.exists(p),
    "is_link": lambda k, p: k.is_link(p),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(
    "path", ["..", "../outside", f"{PF}/../../../../../outside", "bus/../..", "/etc/hostname"]
)
def test_paths_out_of_the_root_are_refused(
    kernel: LinuxKernel, host: Path, call: str, path: str
) -> None:
    (host / "outside").write_text("secret\n")
    with pytest.raises(InvalidInput):
        CALLS[call](kernel, path)
    assert (host / "outside").read_text() == "secret\n"


def test_dotdot_that_stays_inside_is_allowed(kernel: LinuxKernel) -> None:
    assert kernel.read("bus/pci/../pci/devices/./0000:03:00.0/vendor") == "0x8086\n"


# ------------------------------------------------------------------------------------------
# boot-time facts from the host root around the sysfs root


def test_cmdline_without_its_newline(kernel: LinuxKernel, host: Path) -> None:
    (host / "proc").mkdir()
    (host / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on\n")
    assert kernel.cmdline() == "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on"


def test_cmdline_is_empty_when_unknown(kernel: LinuxKernel) -> None:
    assert kernel.cmdline() == ""


def test_log_of_a_recorded_host_is_its_dmesg_file(kernel: LinuxKernel, host: Path) -> None:
    (host / "var/log").mkdir(parents=True)
    (host / "var/log/dmesg").write_text(
        "[    0.000000] Linux version 6.8.0\n"
        "[    1.234567] DMAR: IOMMU enabled\n"
        "[    5.000001] ixgbe 0000:03:00.0 eth0: SR-IOV enabled with 1 VFs\n"
    )
    assert kernel.log() == [
        "[    0.000000] Linux version 6.8.0",
        "[    1.234567] DMAR: IOMMU enabled",
        "[    5.000001] ixgbe 0000:03:00.0 eth0: SR-IOV enabled with 1 VFs",
    ]


def test_log_is_empty_without_a_dmesg_file(kernel: LinuxKernel) -> None:
    assert kernel.log() == []


def test_log_of_this_machine_reads_like_dmesg() -> None:
    # /dev/kmsg may be unreadable (dmesg_restrict, containers): then the log is empty
    lines = LinuxKernel("/sys").log()
    stamp = re.compile(r"^\[ *\d+\.\d{6}\] ")
    assert all(isinstance(line, str) and stamp.match(line) for line in lines)


def test_blacklist_joins_command_line_and_modprobe_d(kernel: LinuxKernel, host: Path) -> None:
    (host / "proc").mkdir()
    (host / "proc/cmdline").write_text(
        "root=/dev/sda1 modprobe.blacklist=ixgbevf,iavf module_blacklist=igbvf quiet\n"
    )
    (host / "etc/modprobe.d").mkdir(parents=True)
    (host / "etc/modprobe.d/x.conf").write_text(
        "# keep VF drivers off the host\n"
        "blacklist mlx5-core  # a comment after the name\n"
        "#blacklist nouveau\n"
        "options vfio-pci ids=8086:10ed\n"
        "install bnxt_en /bin/true\n"
        "  blacklist\tbnxt_en\n"
    )
    (host / "etc/modprobe.d/ignored.txt").write_text("blacklist e1000e\n")
    assert kernel.blacklisted_modules() == frozenset(
        {"ixgbevf", "iavf", "igbvf", "mlx5_core", "bnxt_en"}
    )


def test_blacklist_is_empty_on_a_bare_host(kernel: LinuxKernel) -> None:
    assert kernel.blacklisted_modules() == frozenset()


# ------------------------------------------------------------------------------------------
# the pure parsers behind them


@pytest.mark.parametrize(
    ("record", "lines"),
    [
        (
            "6,339,5140900,-;NET: Registered PF_INET6 protocol family\n",
            ["[    5.140900] NET: Registered PF_INET6 protocol family"],
        ),
        (
            "3,1021,93210000123,-,caller=T1;ixgbe 0000:03:00.0: can't enable 1 VFs\n"
            " SUBSYSTEM=pci\n DEVICE=+pci:0000:03:00.0\n",
            ["[93210.000123] ixgbe 0000:03:00.0: can't enable 1 VFs"],
        ),
        ("4,2,0,c;path C:\\x5cwin\\x09tab\n", ["[    0.000000] path C:\\win\ttab"]),
        ("6,3,7,-;first\\x0asecond\n", ["[    0.000007] first", "[    0.000007] second"]),
        ("not a record\n", []),
        ("6,3;short header\n", []),
        ("6,3,x,-;no timestamp\n", []),
    ],
)
def test_dmesg_lines(record: str, lines: list[str]) -> None:
    assert dmesg_lines(record) == lines


def test_cmdline_blacklist_normalises_names_and_skips_empty_ones() -> None:
    assert _cmdline_blacklist(
        'modprobe.blacklist="a-b,,c" module_blacklist= xmodule_blacklist=d'
    ) == {
        "a_b",
        "c",
    }


def test_modprobe_blacklist_reads_only_blacklist_lines() -> None:
    assert modprobe_blacklist("blacklist a\nblacklist\nalias b c\nblacklist d e\n") == {"a", "d"}
