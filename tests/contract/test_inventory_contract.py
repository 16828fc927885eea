"""Host logic reads the same host whichever kernel it has: inventory and doctor on both kernels.

A simulated host and its export read by ``LinuxKernel`` give the same inventory, field by field,
but for what only rtnetlink knows: an exported tree has no live netdevs, so its VF configs are
missing and the PF says why. The recorded trees, read by ``LinuxKernel``, give what their
``EXPECTED.toml`` lists, and the doctor finds on them what their README describes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from tests.contract.hosts import Exported, SysfsOnly, boot_host, cases, mixed

from sriovstack.domain.inventory import PFEntry, VFEntry
from sriovstack.domain.observed import ObservedLink
from sriovstack.host.doctor import Finding, Severity, examine
from sriovstack.host.inventory import read_inventory
from sriovstack.host.kernel import Kernel
from sriovstack.host.linux import LinuxKernel
from sriovstack.simulator.exporting import export_host
from sriovstack.simulator.kernel import SimulatedKernel

RECORDED = Path(__file__).parent.parent / "data" / "sysfs"

# What only rtnetlink can tell: the exported side has none of it.
PF_RTNETLINK_ONLY = {"vf_config_note"}
VF_RTNETLINK_ONLY = {"config"}


def _differences(sim: Any, linux: Any, where: str, skip: set[str]) -> list[str]:
    """Every field that differs, but those in ``skip`` and the VFs (compared one by one)."""
    names = [f.name for f in fields(sim) if f.name not in skip and f.name != "vfs"]
    return [
        f"{where}.{name}: sim={getattr(sim, name)!r} linux={getattr(linux, name)!r}"
        for name in names
        if getattr(sim, name) != getattr(linux, name)
    ]


def _pf_differences(sim: PFEntry, linux: PFEntry) -> list[str]:
    out = _differences(sim, linux, sim.name, PF_RTNETLINK_ONLY)
    if [v.index for v in sim.vfs] != [v.index for v in linux.vfs]:
        return [*out, f"{sim.name}: VF indexes differ"]
    for a, b in zip(sim.vfs, linux.vfs, strict=True):
        out += _differences(a, b, f"{sim.name} vf {a.index}", VF_RTNETLINK_ONLY)
    return out


def _readers(host: Exported) -> dict[str, Kernel]:
    """Two ways to have no rtnetlink: the export on disk, and the simulator with it refused."""
    return {"export": host.linux, "sysfs-only": SysfsOnly(host.sim)}


@pytest.mark.parametrize("reader", ["export", "sysfs-only"])
def test_inventory_is_the_same_on_both_kernels(exported: Exported, reader: str) -> None:
    sim, other = read_inventory(exported.sim), read_inventory(_readers(exported)[reader])
    assert [p.address for p in other.pfs] == [p.address for p in sim.pfs]
    differences = [
        d for a, b in zip(sim.pfs, other.pfs, strict=True) for d in _pf_differences(a, b)
    ]
    assert differences == []
    assert other.bridges == sim.bridges
    assert other.other_nics == sim.other_nics
    assert other.notes == sim.notes


@pytest.mark.parametrize("reader", ["export", "sysfs-only"])
def test_the_rtnetlink_less_side_says_why_vf_configs_are_missing(
    exported: Exported, reader: str
) -> None:
    sim, other = read_inventory(exported.sim), read_inventory(_readers(exported)[reader])
    for on_sim, on_other in zip(sim.pfs, other.pfs, strict=True):
        assert all(vf.config is None for vf in on_other.vfs)
        if on_sim.netdev is not None:
            assert all(vf.config is not None for vf in on_sim.vfs)
            assert on_sim.vf_config_note == ""
        if on_other.vfs:
            assert on_other.vf_config_note.startswith(
                f"rtnetlink did not answer for {on_sim.netdev}: "
            )


def test_doctor_finds_the_same_on_both_kernels(exported: Exported) -> None:
    assert examine(exported.linux).findings == examine(exported.sim).findings


def test_the_hosts_cover_what_the_contract_is_about() -> None:
    """The states must reach what the comparisons are for, refusals along the way or not."""
    seen: dict[str, bool] = {}
    for case in cases():
        for name, found in _coverage(case.build()).items():
            seen[name] = seen.get(name, False) or found
    assert [name for name, found in seen.items() if not found] == []


def _coverage(kernel: SimulatedKernel) -> dict[str, bool]:
    inventory = read_inventory(kernel)
    pfs = inventory.pfs
    vfs = [(pf, vf) for pf in pfs for vf in pf.vfs]
    return {
        "vf on vfio-pci": any(vf.driver == "vfio-pci" for _, vf in vfs),
        "vf on the host's driver with a netdev": any(vf.netdev for _, vf in vfs),
        "vf without a driver": any(vf.driver is None for _, vf in vfs),
        "vf with an iommu group": any(vf.iommu_group is not None for _, vf in vfs),
        "vf on the next bus": any(vf.address.bus != pf.address.bus for pf, vf in vfs),
        "pf admin down": any(pf.admin_up is False for pf in pfs),
        "pf up with carrier": any(pf.admin_up and pf.carrier for pf in pfs),
        "netdev up without carrier": any(
            kernel.read(f"class/net/{link.ifname}/carrier") == "0\n"
            for link in kernel.links()
            if link.admin_up
        ),
        "nic without sr-iov": bool(inventory.other_nics),
        "blacklist on the command line": "modprobe.blacklist=" in kernel.cmdline(),
        "blacklist in modprobe.d": bool(kernel.profile.blacklist),
    }


def test_a_down_pf_reads_down_without_carrier_from_its_export(tmp_path: Path) -> None:
    """talk-before boots with its PF links down: sysfs says so through flags and carrier."""
    export_host(boot_host("talk-before"), tmp_path)
    inventory = read_inventory(LinuxKernel(tmp_path / "sys", rtnetlink=False))
    assert [(p.netdev, p.admin_up, p.carrier) for p in inventory.pfs] == [
        ("enp3s0f0", False, False),
        ("enp3s0f1", False, False),
    ]


class _SameNameElsewhere(SysfsOnly):
    """rtnetlink of another machine: a netdev of the same name, another device (ifindex)."""

    def link(self, ifname: str) -> ObservedLink:
        link = self._kernel.link(ifname)
        return replace(link, index=link.index + 1000)


def test_a_netdev_of_the_same_name_elsewhere_lends_no_vf_configs() -> None:
    kernel = boot_host("talk-after")
    mixed(kernel)
    for pf in read_inventory(_SameNameElsewhere(kernel)).pfs:
        assert pf.vfs and all(vf.config is None for vf in pf.vfs)
        assert "not the same device" in pf.vf_config_note
        assert pf.admin_up is not None  # from sysfs, not from the other device


# ------------------------------------------------------------------------------------------
# the recorded trees


def _expected(tree: str) -> dict[str, Any]:
    with (RECORDED / tree / "EXPECTED.toml").open("rb") as handle:
        return tomllib.load(handle)


def _recorded(tree: str) -> LinuxKernel:
    return LinuxKernel(RECORDED / tree / "sys", rtnetlink=False)


def _hex(value: int) -> str:
    return f"{value:04x}"


# EXPECTED.toml key -> how to read it off an entry. An absent key means "none", so every key
# is compared for every entry, whether the file lists it or not.
PF_KEYS: dict[str, Callable[[PFEntry], object]] = {
    "address": lambda p: str(p.address),
    "vendor": lambda p: _hex(p.vendor_id),
    "device": lambda p: _hex(p.device_id),
    "driver": lambda p: p.driver,
    "ifname": lambda p: p.netdev,
    "numa_node": lambda p: p.numa_node,
    "sriov_totalvfs": lambda p: p.total_vfs,
    "sriov_numvfs": lambda p: p.num_vfs,
    "sriov_offset": lambda p: p.offset,
    "sriov_stride": lambda p: p.stride,
    "sriov_vf_device": lambda p: _hex(p.vf_device_id),
    "sriov_drivers_autoprobe": lambda p: p.autoprobe,
    "iommu_group": lambda p: p.iommu_group,
}
VF_KEYS: dict[str, Callable[[VFEntry], object]] = {
    "index": lambda v: v.index,
    "address": lambda v: str(v.address),
    "driver": lambda v: v.driver,
    "ifname": lambda v: v.netdev,
    "iommu_group": lambda v: v.iommu_group,
    "driver_override": lambda v: v.driver_override,
}
# EXPECTED.toml writes numa_node as sysfs does: -1 for "no node", which the inventory says as None
TRANSLATE: dict[str, Callable[[Any], object]] = {"numa_node": lambda v: None if v == -1 else v}


def _same(value: Any) -> Any:
    return value


def _mismatches(
    keys: dict[str, Callable[[Any], object]], want: dict[str, Any], entry: object, where: str
) -> list[str]:
    out = []
    unknown = set(want) - set(keys) - {"vf"}
    if unknown:
        out.append(f"{where}: EXPECTED.toml has keys this test does not check: {sorted(unknown)}")
    for key, read in keys.items():
        translate: Callable[[Any], Any] = TRANSLATE.get(key, _same)
        wanted, got = translate(want.get(key)), read(entry)
        if wanted != got:
            out.append(f"{where}.{key}: expected {wanted!r}, read {got!r}")
    return out


@pytest.mark.parametrize("tree", ["flat-82599", "nested-x710"])
def test_recorded_tree_reads_as_expected(tree: str) -> None:
    expected = _expected(tree)
    inventory = read_inventory(_recorded(tree))
    assert [str(p.address) for p in inventory.pfs] == [p["address"] for p in expected["pf"]]
    out: list[str] = []
    for want, pf in zip(expected["pf"], inventory.pfs, strict=True):
        out += _mismatches(PF_KEYS, want, pf, pf.name)
        vfs = want.get("vf", [])
        if len(vfs) != len(pf.vfs):
            out.append(f"{pf.name}: {len(pf.vfs)} VFs read, {len(vfs)} expected")
            continue
        for want_vf, vf in zip(vfs, pf.vfs, strict=True):
            out += _mismatches(VF_KEYS, want_vf, vf, f"{pf.name} vf {vf.index}")
            # a VF shows its PF's vendor and the PF's VF device id (linux-sriov.md §1.3)
            if (vf.vendor_id, vf.device_id) != (pf.vendor_id, pf.vf_device_id):
                out.append(f"{pf.name} vf {vf.index}: ids {vf.vendor_id:04x}:{vf.device_id:04x}")
    assert out == []


@pytest.mark.parametrize("tree", ["flat-82599", "nested-x710"])
def test_recorded_pf_netdevs_read_from_sysfs_alone(tree: str) -> None:
    """Without rtnetlink, the PF's MAC, admin state and carrier still come from sysfs."""
    netdevs = {n["ifname"]: n for n in _expected(tree)["netdev"]}
    for pf in read_inventory(_recorded(tree)).pfs:
        want = netdevs[pf.netdev]
        assert str(pf.mac) == want["mac"], pf.name
        assert pf.carrier is want.get("carrier", False), pf.name
        if want["operstate"] == "up":
            assert pf.admin_up is True, pf.name
        if pf.vfs:
            assert all(vf.config is None for vf in pf.vfs)
            assert "not live" in pf.vf_config_note


def test_recorded_bridges_follow_the_layout() -> None:
    flat = read_inventory(_recorded("flat-82599"))
    assert flat.bridges == () and all(pf.bridge is None for pf in flat.pfs)
    want = _expected("nested-x710")["bridge"]
    nested = read_inventory(_recorded("nested-x710"))
    assert [(str(b.address), b.secondary_bus, b.subordinate_bus) for b in nested.bridges] == [
        (want["address"], want["secondary_bus_number"], want["subordinate_bus_number"])
    ]
    assert {str(pf.bridge) for pf in nested.pfs} == {want["address"]}


def _finding(findings: tuple[Finding, ...], check: str, subject: str) -> Finding:
    (found,) = [f for f in findings if f.check == check and f.subject == subject]
    return found


def test_doctor_on_the_nested_x710_tree() -> None:
    findings = examine(_recorded("nested-x710")).findings
    assert _finding(findings, "iommu", "host").severity is Severity.OK
    assert _finding(findings, "iommu-pt", "host").severity is Severity.OK
    vf_driver = _finding(findings, "vf-driver", "ens785f0")
    assert vf_driver.severity is Severity.WARNING
    assert vf_driver.summary.startswith("4 VFs are bound to the host's iavf")
    assert _finding(findings, "pf-link", "ens785f0").severity is Severity.OK
    # admin up without carrier, known from sysfs alone
    assert _finding(findings, "pf-link", "ens785f1").summary.startswith("the PF has no carrier")
    assert not [f for f in findings if f.check in ("vf-bars", "vf-bus-range", "pf-driver")]


def test_doctor_on_the_flat_82599_tree() -> None:
    findings = examine(_recorded("flat-82599")).findings
    iommu = _finding(findings, "iommu", "host")
    assert iommu.severity is Severity.ERROR
    assert any("intel_iommu=off" in line for line in iommu.evidence)
    vf_driver = _finding(findings, "vf-driver", "ens5f0")
    assert vf_driver.severity is Severity.WARNING
    assert vf_driver.summary.startswith("4 VFs are bound to the host's ixgbevf")
    assert _finding(findings, "pf-link", "ens5f1").severity is Severity.WARNING
    # the flat layout keeps no bridge: no bus-range finding can be made, none is invented
    assert not [f for f in findings if f.check in ("vf-bars", "vf-bus-range", "pf-driver")]
