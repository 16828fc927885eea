"""The doctor: on the talk's host it finds what the talk fixed, and each check stands alone."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.factories import boot

from sriovstack.host.doctor import DoctorReport, Finding, Severity, examine
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PF0, PF1 = "enp3s0f0", "enp3s0f1"  # the talk's X540 ports; PF1 is the one without ARI
ERROR, WARNING, INFO, OK = Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.OK


def one(report: DoctorReport, check: str, subject: str = "host") -> Finding:
    found = [f for f in report.findings if f.check == check and f.subject == subject]
    assert len(found) == 1, f"{check} on {subject}: {found}"
    return found[0]


def checks(report: DoctorReport, check: str) -> dict[str, Severity]:
    return {f.subject: f.severity for f in report.findings if f.check == check}


def evidence(finding: Finding) -> str:
    return "\n".join(finding.evidence)


# ---------------------------------------------------------------------- the talk's host


@pytest.fixture(scope="module")
def before() -> DoctorReport:
    return examine(boot("talk-before"))


def test_before_the_fixes_the_findings_are_exactly_the_talks(before: DoctorReport) -> None:
    seen = {(f.check, f.subject, f.severity) for f in before.findings}
    assert seen == {
        ("iommu", "host", ERROR),
        ("iommu-pt", "host", INFO),
        ("vf-bars", PF0, ERROR),
        ("vf-bars", PF1, ERROR),
        ("vf-bus-range", PF1, ERROR),
        ("ari", PF0, OK),
        ("ari", PF1, INFO),
        ("vf-driver", PF0, INFO),
        ("vf-driver", PF1, INFO),
        ("pf-link", PF0, WARNING),
        ("pf-link", PF1, WARNING),
    }
    assert len(before.findings) == len(seen)
    assert before.worst is ERROR
    assert not before.clean


def test_the_iommu_is_off_and_intel_iommu_on_is_the_fix(before: DoctorReport) -> None:
    finding = one(before, "iommu")
    assert finding.fix is not None and "intel_iommu=on" in finding.fix
    assert "class/iommu" in evidence(finding)
    assert "/proc/cmdline: BOOT_IMAGE=/vmlinuz-3.10.0-327.10.1.el7.x86_64" in evidence(finding)


def test_with_the_iommu_off_iommu_pt_is_advised_alongside_it(before: DoctorReport) -> None:
    finding = one(before, "iommu-pt")
    assert finding.severity is INFO
    assert finding.fix is not None and "iommu=pt" in finding.fix
    assert "/proc/cmdline" in evidence(finding)


def test_with_the_iommu_on_and_no_iommu_pt_host_dma_is_translated() -> None:
    report = examine(boot("talk-before", cmdline="ro intel_iommu=on"))
    finding = one(report, "iommu-pt")
    assert finding.severity is WARNING
    assert finding.fix is not None and "iommu=pt" in finding.fix


@pytest.mark.parametrize(("pf", "address"), [(PF0, "0000:03:00.0"), (PF1, "0000:03:00.1")])
def test_unassigned_vf_bars_show_the_kernels_lines_and_pci_realloc(
    before: DoctorReport, pf: str, address: str
) -> None:
    finding = one(before, "vf-bars", pf)
    assert finding.fix is not None and "pci=realloc" in finding.fix
    assert f"bus/pci/devices/{address}/resource" in finding.evidence[0]
    cant_assign = [line for line in finding.evidence if "can't assign" in line]
    assert len(cant_assign) == 2
    assert all(f"pci {address}: BAR " in line for line in cant_assign)
    assert any("try booting with pci=realloc" in line for line in finding.evidence)


def test_unassigned_vf_bars_on_a_current_kernel_show_its_wording() -> None:
    report = examine(boot("dual-socket", firmware_assigns_vf_bars=False))
    finding = one(report, "vf-bars", "ens785f0")
    said = [line for line in finding.evidence if "pci 0000:17:00.0: VF BAR 0 [mem size" in line]
    assert [line.rsplit(": ", 1)[-1] for line in said] == [
        "can't assign; no space",
        "failed to assign",
    ]


def test_only_the_non_ari_pfs_vfs_fall_outside_the_bridges_buses(before: DoctorReport) -> None:
    assert checks(before, "vf-bus-range") == {PF1: ERROR}
    finding = one(before, "vf-bus-range", PF1)
    assert finding.fix is not None and "pci=assign-busses" in finding.fix
    assert "bus/pci/devices/0000:00:03.2/secondary_bus_number: 3" in finding.evidence
    assert "bus/pci/devices/0000:00:03.2/subordinate_bus_number: 3" in finding.evidence
    assert "bus 04" in finding.summary


def test_ari_is_reported_per_pf(before: DoctorReport) -> None:
    assert checks(before, "ari") == {PF0: OK, PF1: INFO}
    assert "sriov_offset: 384" in evidence(one(before, "ari", PF1))
    assert "sriov_offset: 128" in evidence(one(before, "ari", PF0))


def test_ixgbevf_not_blacklisted_is_worth_knowing(before: DoctorReport) -> None:
    finding = one(before, "vf-driver", PF1)
    assert finding.severity is INFO
    assert "ixgbevf is not blacklisted" in finding.evidence
    assert finding.fix is not None and "blacklist ixgbevf" in finding.fix
    assert "sriov_drivers_autoprobe" in finding.fix


@pytest.mark.parametrize("pf", [PF0, PF1])
def test_a_pf_that_is_down_is_told_to_come_up(before: DoctorReport, pf: str) -> None:
    finding = one(before, "pf-link", pf)
    assert finding.severity is WARNING
    assert finding.fix == f"ip link set dev {pf} up"
    assert f"class/net/{pf}: admin down" in evidence(finding)


def test_after_the_fixes_the_report_is_clean() -> None:
    report = examine(boot("talk-after"))
    assert report.clean
    assert [f for f in report.findings if f.severity > INFO] == []
    assert one(report, "iommu").severity is OK
    assert one(report, "iommu-pt").severity is OK
    assert checks(report, "pf-link") == {PF0: OK, PF1: OK}
    assert checks(report, "vf-bars") == checks(report, "vf-bus-range") == {}
    assert checks(report, "vf-driver") == {}  # ixgbevf is blacklisted


# ------------------------------------------------------------------- each check alone


def test_an_amd_host_is_told_amd_iommu_on() -> None:
    finding = one(examine(boot("talk-before", cpu_vendor="amd")), "iommu")
    assert finding.severity is ERROR
    assert finding.fix is not None and "amd_iommu=on" in finding.fix
    assert "intel_iommu" not in finding.fix


def test_vfs_bound_to_the_host_vf_driver_are_listed() -> None:
    host = boot("talk-after", blacklist=frozenset())
    change = set_vf_count(host, PF1, 3)
    finding = one(examine(host), "vf-driver", PF1)
    assert finding.severity is WARNING
    assert "3 VFs" in finding.summary
    assert list(finding.evidence) == [
        f"bus/pci/devices/{vf.address}/driver -> ixgbevf" for vf in change.pf.vfs
    ]
    assert finding.fix is not None and "blacklist ixgbevf" in finding.fix


def test_autoprobe_off_silences_the_vf_driver_note() -> None:
    host = boot("talk-before")
    host.write("bus/pci/devices/0000:03:00.1/sriov_drivers_autoprobe", "0")
    assert checks(examine(host), "vf-driver") == {PF0: INFO}


def test_a_vf_driver_blacklisted_on_the_command_line_silences_the_note() -> None:
    host = boot("talk-before", cmdline="ro modprobe.blacklist=ixgbevf")
    assert checks(examine(host), "vf-driver") == {}


def test_a_pf_without_its_driver_is_told_to_load_it(talk: SimulatedKernel) -> None:
    talk.write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
    finding = one(examine(talk), "pf-driver", "0000:03:00.1")
    assert finding.severity is ERROR
    assert finding.fix == "modprobe ixgbe"
    assert "bus/pci/devices/0000:03:00.1/driver is absent" in finding.evidence


def test_a_pf_brought_down_is_a_warning(talk: SimulatedKernel) -> None:
    talk.set_link(PF1, up=False)
    assert checks(examine(talk), "pf-link") == {PF0: OK, PF1: WARNING}


def test_sriov_off_in_firmware_is_told_to_switch_it_on_with_mlxconfig() -> None:
    profile = load_profile("dual-socket")
    connectx = replace(profile.cards[1], sriov_in_firmware=False)
    report = examine(SimulatedKernel(replace(profile, cards=(profile.cards[0], connectx))))
    assert checks(report, "sriov-firmware") == {"ens801f0np0": WARNING, "ens801f1np1": WARNING}
    finding = one(report, "sriov-firmware", "ens801f0np0")
    assert finding.fix is not None
    assert finding.fix.startswith("mlxconfig -d 0000:98:00.0 set SRIOV_EN=1")
    assert "bus/pci/devices/0000:98:00.0/sriov_totalvfs is absent" in finding.evidence
    assert checks(report, "ari") == {"ens785f0": OK, "ens785f1": OK}  # the E810 is still a PF


def test_a_host_with_sriov_in_firmware_has_no_firmware_finding() -> None:
    assert checks(examine(boot("dual-socket")), "sriov-firmware") == {}
