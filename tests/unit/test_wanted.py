"""The saved VF layout: recorded after a change, re-applied at boot, refused when corrupt."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.host.inventory import read_pf
from sriovstack.host.provisioning import set_vf_count
from sriovstack.host.wanted import WantedPF, apply_wanted, load_wanted, record, save_wanted
from sriovstack.simulator.kernel import SimulatedKernel

PF0, PF1 = "enp3s0f0", "enp3s0f1"
PF0_ADDRESS, PF1_ADDRESS = PciAddress.parse("0000:03:00.0"), PciAddress.parse("0000:03:00.1")


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return tmp_path / "sriovstack" / "vfs.json"


def test_an_absent_layout_file_wants_nothing(layout: Path) -> None:
    assert load_wanted(layout) == {}


def test_a_saved_layout_loads_back_the_same(layout: Path) -> None:
    wanted = {
        PF1_ADDRESS: WantedPF(PF1_ADDRESS, PF1, 7, "vfio-pci"),
        PF0_ADDRESS: WantedPF(PF0_ADDRESS, None, 0),
    }
    save_wanted(layout, wanted)
    assert load_wanted(layout) == wanted
    assert [p.name for p in layout.parent.iterdir()] == ["vfs.json"]  # no temporary left


def test_a_recorded_change_is_what_loads_back(talk: SimulatedKernel, layout: Path) -> None:
    record(layout, set_vf_count(talk, PF1, 7, vf_driver="vfio-pci"), "vfio-pci")
    record(layout, set_vf_count(talk, PF0, 2), None)
    assert load_wanted(layout) == {
        PF0_ADDRESS: WantedPF(PF0_ADDRESS, PF0, 2, None),
        PF1_ADDRESS: WantedPF(PF1_ADDRESS, PF1, 7, "vfio-pci"),
    }


def test_recording_a_new_count_without_a_driver_keeps_the_saved_driver(
    talk: SimulatedKernel, layout: Path
) -> None:
    record(layout, set_vf_count(talk, PF1, 7, vf_driver="vfio-pci"), "vfio-pci")
    record(layout, set_vf_count(talk, PF1, 4, force=True), None)
    assert load_wanted(layout)[PF1_ADDRESS] == WantedPF(PF1_ADDRESS, PF1, 4, "vfio-pci")


def test_applying_the_layout_at_boot_recreates_the_vfs_and_binds_the_driver(
    talk: SimulatedKernel, layout: Path
) -> None:
    record(layout, set_vf_count(talk, PF1, 7, vf_driver="vfio-pci"), "vfio-pci")
    rebooted = boot("talk-after")
    report = apply_wanted(rebooted, load_wanted(layout))
    assert report == [f"{PF1}: 0 -> 7 VFs on vfio-pci"]
    pf = read_pf(rebooted, PF1_ADDRESS)
    assert [vf.driver for vf in pf.vfs] == ["vfio-pci"] * 7
    assert apply_wanted(rebooted, load_wanted(layout)) == [f"{PF1}: 7 VFs on vfio-pci"]


def test_a_pf_that_fails_is_reported_and_the_others_still_applied() -> None:
    # Booted with pci=realloc but not pci=assign-busses: the non-ARI PF's VFs cannot fit.
    host = boot("talk-before", cmdline="ro intel_iommu=on pci=realloc")
    gone = PciAddress.parse("0000:01:00.0")  # a NIC taken out since the layout was saved
    wanted = {
        gone: WantedPF(gone, "enp1s0f0", 4),
        PF0_ADDRESS: WantedPF(PF0_ADDRESS, PF0, 2, "vfio-pci"),
        PF1_ADDRESS: WantedPF(PF1_ADDRESS, PF1, 7),
    }
    report = apply_wanted(host, wanted)
    assert report[0].startswith("enp1s0f0: failed: PF 0000:01:00.0 not found")
    assert report[1] == f"{PF0}: 0 -> 2 VFs on vfio-pci"
    assert report[2].startswith(f"{PF1}: failed: ")
    assert "pci=assign-busses" in report[2]
    assert [vf.driver for vf in read_pf(host, PF0_ADDRESS).vfs] == ["vfio-pci"] * 2
    assert read_pf(host, PF1_ADDRESS).vfs == ()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe",
        b"null",
        b"[]",
        b'{"pfs": []}',
        b'{"pfs": {"0000:03:00.1": 7}}',
        b'{"pfs": {"0000:03:00.1": {}}}',
        b'{"pfs": {"not-an-address": {"num_vfs": 7}}}',
        b'{"pfs": {"0000:03:00.1": {"num_vfs": "many"}}}',
        b'{"pfs": {"0000:03:00.1": {"num_vfs": -1}}}',
        b'{"pfs": {"0000:03:00.1": {"num_vfs": 2.5}}}',
        b'{"pfs": {"0000:03:00.1": {"num_vfs": true}}}',
        b'{"pfs": {"0000:03:00.1": {"num_vfs": 7, "vf_driver": 5}}}',
    ],
)
def test_a_corrupt_layout_file_is_refused_naming_the_file(layout: Path, content: bytes) -> None:
    layout.parent.mkdir(parents=True)
    layout.write_bytes(content)
    with pytest.raises(InvalidInput) as exc:
        load_wanted(layout)
    assert exc.value.field == str(layout)
    assert "VF layout file" in str(exc.value)
