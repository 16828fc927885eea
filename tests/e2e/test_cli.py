"""The ``sriovstack host`` and ``sim`` commands on simulated hosts, run one after another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.running import AFTER, BEFORE, TALK_FIXES, TALK_VFS, Cli, pf_of

PF = "enp3s0f1"
CLEAN = {
    "mac": "00:00:00:00:00:00",
    "vlan": {"vlan": 0, "qos": 0, "proto": "802.1Q"},
    "spoofchk": True,
    "trust": False,
    "link_state": "auto",
    "rate": {"min_mbps": 0, "max_mbps": 0},
}


def vfs_of(cli: Cli, *where: str, pf: str = PF) -> list[dict[str, Any]]:
    vfs: list[dict[str, Any]] = pf_of(cli.ok("host", "show", *where, "--json").json(), pf)["vfs"]
    return vfs


def flagged(cli: Cli, *where: str) -> set[tuple[str, str]]:
    """(check, subject) of every doctor finding worse than OK."""
    report = cli("host", "doctor", *where, "--json").json()
    return {(f["check"], f["subject"]) for f in report["findings"] if f["severity"] != "ok"}


# The talk's scenario: seven VFs at the addresses of its `lspci -vt`


def test_seven_vfs_land_at_the_talks_addresses(cli: Cli) -> None:
    cli.ok("host", "set-vfs", PF, "7", *AFTER)

    inventory = cli.ok("host", "show", *AFTER, "--json").json()
    pf = pf_of(inventory, PF)
    assert pf["address"] == "0000:03:00.1"
    assert (pf["num_vfs"], pf["total_vfs"]) == (7, 63)
    assert [vf["address"] for vf in pf["vfs"]] == TALK_VFS
    assert [vf["index"] for vf in pf["vfs"]] == list(range(7))
    assert {(vf["vendor_id"], vf["device_id"]) for vf in pf["vfs"]} == {(0x8086, 0x1515)}
    assert pf_of(inventory, "enp3s0f0")["vfs"] == []


def test_show_prints_the_vfs_under_their_pf(cli: Cli) -> None:
    cli.ok("host", "set-vfs", PF, "7", *AFTER)

    lines = cli.ok("host", "show", *AFTER).out.splitlines()

    assert "talk-after: 2 PFs, 7 VFs" in lines[0]
    at = next(i for i, line in enumerate(lines) if "0000:03:00.1" in line and PF in line)
    assert "VFs 7/63" in lines[at]
    under = lines[at + 1 : at + 8]
    assert [line.split("[8086:1515]")[0].split()[-1] for line in under] == [
        a.removeprefix("0000:") for a in TALK_VFS
    ]
    assert all(f"VF {i}" in line for i, line in enumerate(under))
    indent = len(lines[at]) - len(lines[at].lstrip("│├└─ "))
    assert all(len(line) - len(line.lstrip("│├└─ ")) > indent for line in under)
    table = "\n".join(lines[at + 8 :])
    assert f"{PF} (0000:03:00.1) VFs" in table
    assert all(address in table for address in TALK_VFS)


def test_set_vfs_reports_what_the_kernel_did(cli: Cli) -> None:
    out = cli.ok("host", "set-vfs", PF, "7", *AFTER).out

    assert f"{PF} (0000:03:00.1): 0 -> 7 VFs" in out
    assert "pci 0000:04:11.5: [8086:1515]" in out
    assert "SR-IOV enabled with 7 VFs" in out
    assert cli.ok("host", "set-vfs", PF, "7", *AFTER).out.startswith(
        f"{PF} (0000:03:00.1): already 7"
    )


def test_set_vfs_json(cli: Cli) -> None:
    change = cli.ok("host", "set-vfs", PF, "7", *AFTER, "--json").json()

    assert (change["before"], change["after"]) == (0, 7)
    assert [vf["address"] for vf in change["pf"]["vfs"]] == TALK_VFS
    assert any("SR-IOV enabled with 7 VFs" in line for line in change["kernel_log"])


def test_set_vfs_by_pci_address_and_back_to_zero(cli: Cli) -> None:
    cli.ok("host", "set-vfs", "0000:03:00.1", "3", *AFTER)
    assert len(vfs_of(cli, *AFTER)) == 3

    out = cli.ok("host", "set-vfs", "03:00.1", "0", *AFTER).out

    assert "3 -> 0 VFs" in out
    assert vfs_of(cli, *AFTER) == []


def test_successive_commands_see_the_same_host(cli: Cli, state_dir: Path) -> None:
    cli.ok("host", "set-vfs", PF, "7", *AFTER)
    cli.ok("host", "vf", "set", PF, "2", "--vlan", "42", *AFTER)

    assert (state_dir / "sim-talk-after.json").is_file()
    vfs = vfs_of(cli, *AFTER)
    assert len(vfs) == 7
    assert [vf["config"]["vlan"]["vlan"] for vf in vfs] == [0, 0, 42, 0, 0, 0, 0]
    assert vfs_of(cli, *BEFORE, pf="enp3s0f1") == []  # another profile, another host


def test_state_option_chooses_the_file(cli: Cli, state_dir: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.json"
    cli.ok("host", "set-vfs", PF, "7", *AFTER, "--state", str(mine))

    assert mine.is_file()
    assert not (state_dir / "sim-talk-after.json").exists()
    assert len(vfs_of(cli, *AFTER, "--state", str(mine))) == 7
    assert len(vfs_of(cli, *AFTER, "--state-file", str(mine))) == 7
    assert vfs_of(cli, *AFTER) == []


def test_state_file_is_kept_by_vf_set_whose_state_is_the_link(cli: Cli, tmp_path: Path) -> None:
    mine = str(tmp_path / "mine.json")
    cli.ok("host", "set-vfs", PF, "2", *AFTER, "--state", mine)

    result = cli.ok(
        "host", "vf", "set", PF, "1", "--state", "disable", *AFTER, "--state-file", mine
    )

    assert "changed link_state" in result.out
    assert [vf["config"]["link_state"] for vf in vfs_of(cli, *AFTER, "--state", mine)] == [
        "auto",
        "disable",
    ]


# host doctor


def test_doctor_finds_the_talks_problems(cli: Cli) -> None:
    result = cli("host", "doctor", *BEFORE)

    assert result.code == 1
    out = result.out
    assert "ERROR    host: the IOMMU is off" in out
    assert "seen: class/iommu/ is empty" in out
    assert "fix:  add intel_iommu=on to the kernel command line and reboot" in out
    assert "fix:  add iommu=pt with the IOMMU parameter" in out
    assert "fix:  add pci=realloc to the kernel command line and reboot" in out
    assert "BAR 7: can't assign mem" in out
    assert "fix:  add pci=assign-busses to the kernel command line and reboot" in out
    assert "fix:  ip link set dev enp3s0f0 up" in out
    assert "needs attention" in out.splitlines()[-1]
    assert result.err == ""


def test_doctor_json_lists_findings_with_evidence_and_fixes(cli: Cli) -> None:
    result = cli("host", "doctor", *BEFORE, "--json")

    assert result.code == 1
    report = result.json()
    assert report["clean"] is False
    by_key = {(f["check"], f["subject"]): f for f in report["findings"]}
    assert {
        ("iommu", "host"),
        ("iommu-pt", "host"),
        ("vf-bars", "enp3s0f0"),
        ("vf-bars", "enp3s0f1"),
        ("vf-bus-range", "enp3s0f1"),
        ("pf-link", "enp3s0f0"),
        ("pf-link", "enp3s0f1"),
    } <= set(by_key)
    iommu = by_key[("iommu", "host")]
    assert iommu["severity"] == "error"
    assert iommu["evidence"]
    assert "intel_iommu=on" in iommu["fix"]
    assert by_key[("vf-bus-range", "enp3s0f1")]["severity"] == "error"


def test_doctor_is_clean_after_the_fixes(cli: Cli) -> None:
    result = cli("host", "doctor", *AFTER)

    assert result.code == 0
    assert result.out.splitlines()[-1].startswith("clean:")
    assert cli("host", "doctor", *AFTER, "--json").json()["clean"] is True
    verbose = cli("host", "doctor", *AFTER, "--verbose").out
    assert "OK" in verbose
    assert "OK" not in result.out


# Rebooting with the talk's kernel parameters, and the saved VF layout


def test_reboot_with_the_talks_parameters_clears_the_findings(cli: Cli) -> None:
    assert cli("host", "set-vfs", PF, "7", *BEFORE).code == 4  # VF BARs unassigned

    booted = cli.ok("sim", "reboot", "talk-before", "--append", TALK_FIXES).out
    assert TALK_FIXES in booted
    assert {("iommu", "host"), ("vf-bars", PF), ("vf-bus-range", PF)}.isdisjoint(
        flagged(cli, *BEFORE)
    )
    assert ("pf-link", PF) in flagged(cli, *BEFORE)  # a reboot leaves the links down

    assert cli.ok("host", "link", "enp3s0f0", "up", *BEFORE).out.strip() == "enp3s0f0: up"
    cli.ok("host", "link", PF, "up", *BEFORE)

    left = flagged(cli, *BEFORE)
    assert {check for check, _ in left} <= {"ari", "vf-driver"}  # INFO: ixgbevf, no ARI
    assert cli("host", "doctor", *BEFORE).code == 0
    assert "Intel-IOMMU: enabled" in cli.ok("host", "dmesg", "--grep", "IOMMU", *BEFORE).out
    cli.ok("host", "set-vfs", PF, "7", *BEFORE)
    assert [vf["address"] for vf in vfs_of(cli, *BEFORE)] == TALK_VFS


def test_link_down_and_up(cli: Cli) -> None:
    cli.ok("host", "link", PF, "down", *AFTER)
    assert pf_of(cli.ok("host", "show", *AFTER, "--json").json(), PF)["admin_up"] is False
    assert ("pf-link", PF) in flagged(cli, *AFTER)

    cli.ok("host", "link", "0000:03:00.1", "up", *AFTER)
    assert pf_of(cli.ok("host", "show", *AFTER, "--json").json(), PF)["admin_up"] is True


def test_a_saved_vf_layout_comes_back_after_a_reboot(cli: Cli, state_dir: Path) -> None:
    cli.ok("sim", "reboot", "talk-before", "--append", TALK_FIXES)
    cli.ok("host", "set-vfs", PF, "7", *BEFORE)
    assert (state_dir / "sim-talk-before.vfs.json").is_file()

    out = cli.ok("sim", "reboot", "talk-before").out

    assert f"restore: {PF}: 0 -> 7 VFs" in out
    assert [vf["address"] for vf in vfs_of(cli, *BEFORE)] == TALK_VFS
    assert ("iommu", "host") not in flagged(cli, *BEFORE)  # the parameters stay for later boots


def test_host_restore_reapplies_the_saved_layout(cli: Cli, state_dir: Path) -> None:
    assert cli.ok("host", "restore", *AFTER).out.strip() == "nothing saved to restore"
    cli.ok("host", "set-vfs", PF, "5", *AFTER)
    cli.ok("host", "set-vfs", PF, "0", "--no-save", *AFTER)
    assert vfs_of(cli, *AFTER) == []

    out = cli.ok("host", "restore", *AFTER).out

    assert out.strip() == f"{PF}: 0 -> 5 VFs"
    assert len(vfs_of(cli, *AFTER)) == 5
    assert cli.ok("host", "restore", *AFTER).out.strip() == f"{PF}: 5 VFs"


def test_set_vfs_with_a_vf_driver_binds_them(cli: Cli) -> None:
    cli.ok("host", "set-vfs", PF, "2", "--vf-driver", "vfio-pci", *AFTER)

    assert [vf["driver"] for vf in vfs_of(cli, *AFTER)] == ["vfio-pci", "vfio-pci"]
    assert "bound to vfio-pci" in cli("host", "set-vfs", PF, "3", *AFTER).err


# host vf set / reset


@pytest.fixture
def seven(cli: Cli) -> Cli:
    """The talk's host after the fixes, with seven VFs on enp3s0f1."""
    cli.ok("host", "set-vfs", PF, "7", *AFTER)
    return cli


@pytest.mark.parametrize(
    ("options", "changed", "path", "value"),
    [
        (["--mac", "fa:16:3e:00:00:01"], ["mac"], ["mac"], "fa:16:3e:00:00:01"),
        (["--mac", "FA-16-3E-00-00-02"], ["mac"], ["mac"], "fa:16:3e:00:00:02"),
        (["--vlan", "2010"], ["vlan"], ["vlan", "vlan"], 2010),
        (["--vlan", "2010", "--qos", "5"], ["vlan"], ["vlan", "qos"], 5),
        (["--vlan", "7", "--proto", "802.1Q"], ["vlan"], ["vlan", "proto"], "802.1Q"),
        (["--spoofchk", "off"], ["spoofchk"], ["spoofchk"], False),
        (["--trust", "on"], ["trust"], ["trust"], True),
        (["--state", "enable"], ["link_state"], ["link_state"], "enable"),
        (["--state", "disable"], ["link_state"], ["link_state"], "disable"),
        (["--max-rate", "1000"], ["rate"], ["rate", "max_mbps"], 1000),
        (["--min-rate", "0", "--max-rate", "500"], ["rate"], ["rate", "max_mbps"], 500),
    ],
)
def test_vf_set_applies_one_setting(
    seven: Cli, options: list[str], changed: list[str], path: list[str], value: object
) -> None:
    result = seven.ok("host", "vf", "set", PF, "3", *options, *AFTER, "--json").json()

    assert (result["pf"], result["index"], result["changed"]) == (PF, 3, changed)
    assert _dig(result["after"], path) == value
    shown = vfs_of(seven, *AFTER)[3]["config"]
    assert _dig(shown, path) == value
    untouched = vfs_of(seven, *AFTER)[2]["config"]
    assert (untouched["mac"], untouched["vlan"]["vlan"]) == ("00:00:00:00:00:00", 0)


def _dig(data: Any, path: list[str]) -> Any:
    for key in path:
        data = data[key]
    return data


def test_vf_set_writes_only_what_differs(seven: Cli) -> None:
    args = ("host", "vf", "set", PF, "0", "--mac", "fa:16:3e:11:22:33", "--vlan", "2010", *AFTER)

    assert seven.ok(*args).out.strip() == f"{PF} VF 0: changed mac, vlan"
    assert seven.ok(*args).out.strip() == f"{PF} VF 0: changed nothing (already so)"
    again = seven.ok(*args, "--json").json()
    assert again["changed"] == []


def test_vf_set_several_settings_at_once(seven: Cli) -> None:
    result = seven.ok(
        "host", "vf", "set", PF, "6",
        "--mac", "fa:16:3e:aa:bb:cc", "--vlan", "100", "--qos", "3",
        "--spoofchk", "off", "--trust", "on", "--state", "enable", "--max-rate", "2500",
        *AFTER, "--json",
    ).json()  # fmt: skip

    assert set(result["changed"]) == {"mac", "vlan", "spoofchk", "trust", "link_state", "rate"}
    assert result["after"] == {
        "mac": "fa:16:3e:aa:bb:cc",
        "vlan": {"vlan": 100, "qos": 3, "proto": "802.1Q"},
        "spoofchk": False,
        "trust": True,
        "link_state": "enable",
        "rate": {"min_mbps": 0, "max_mbps": 2500},
    }


def test_vf_set_one_rate_keeps_the_other(cli: Cli) -> None:
    where = ("--simulate", "dual-socket")  # the E810 (ice) has a minimum rate; the X540 not
    cli.ok("host", "set-vfs", "ens785f0", "2", *where)
    cli.ok("host", "vf", "set", "ens785f0", "0", "--max-rate", "1000", *where)

    result = cli.ok("host", "vf", "set", "ens785f0", "0", "--min-rate", "200", *where, "--json")

    assert result.json()["after"]["rate"] == {"min_mbps": 200, "max_mbps": 1000}


def test_vf_set_8021ad_where_the_nic_takes_it(cli: Cli) -> None:
    where = ("--simulate", "dual-socket")
    cli.ok("host", "set-vfs", "ens785f0", "1", *where)

    args = ("host", "vf", "set", "ens785f0", "0", "--vlan", "10", "--proto", "802.1ad", *where)
    result = cli.ok(*args, "--json").json()

    assert result["after"]["vlan"] == {"vlan": 10, "qos": 0, "proto": "802.1ad"}


def test_vf_reset_returns_a_vf_to_clean(seven: Cli) -> None:
    seven.ok(
        "host", "vf", "set", PF, "1", "--mac", "fa:16:3e:00:00:09", "--vlan", "9",
        "--trust", "on", "--state", "disable", *AFTER,
    )  # fmt: skip

    result = seven.ok("host", "vf", "reset", PF, "1", *AFTER, "--json").json()

    assert set(result["changed"]) == {"mac", "vlan", "trust", "link_state"}
    assert result["after"] == CLEAN
    assert vfs_of(seven, *AFTER)[1]["config"] == CLEAN | {"index": 1}
    assert seven.ok("host", "vf", "reset", PF, "1", *AFTER).out.strip() == (
        f"{PF} VF 1: changed nothing (already so)"
    )


# host fdb


def test_fdb_add_list_del(cli: Cli) -> None:
    mac = "00:de:ad:be:ef:00"
    before = cli.ok("host", "fdb", "list", PF, *AFTER, "--json").json()

    assert cli.ok("host", "fdb", "add", PF, mac, *AFTER).out.strip() == f"{PF}: added {mac}"
    assert cli.ok("host", "fdb", "add", PF, mac, *AFTER).out.strip() == f"{PF}: already has {mac}"

    listing = cli.ok("host", "fdb", "list", PF, *AFTER, "--json").json()
    assert listing["pf"] == PF
    assert mac in [e["mac"] for e in listing["entries"]]
    assert listing["table"] == {
        "table": "unicast MAC",
        "used": before["table"]["used"] + 1,
        "capacity": 128,
    }
    shown = cli.ok("host", "fdb", "list", PF, *AFTER).out
    assert f"{mac} dev {PF} self permanent" in shown
    assert f"{PF}: {listing['table']['used']} of 128 unicast MAC filters used" in shown

    assert cli.ok("host", "fdb", "del", PF, mac, *AFTER).out.strip() == f"{PF}: removed {mac}"
    assert cli.ok("host", "fdb", "list", PF, *AFTER, "--json").json() == before


# host dmesg


def test_dmesg_grep_and_tail(cli: Cli) -> None:
    cli.ok("host", "set-vfs", PF, "7", *AFTER)

    found = cli.ok("host", "dmesg", "--grep", "SR-IOV enabled", *AFTER).out.splitlines()
    assert len(found) == 1
    assert found[0].endswith(f"ixgbe 0000:03:00.1 {PF}: SR-IOV enabled with 7 VFs")

    everything = cli.ok("host", "dmesg", *AFTER).out.splitlines()
    assert cli.ok("host", "dmesg", "--tail", "2", *AFTER).out.splitlines() == everything[-2:]
    assert cli.ok("host", "dmesg", "--grep", "no such text", *AFTER).out == ""


# sim profiles / export / reset


def test_sim_profiles_table_and_json(cli: Cli) -> None:
    table = cli.ok("sim", "profiles").out
    rows = cli.ok("sim", "profiles", "--json").json()

    names = [row["name"] for row in rows]
    assert {"talk-before", "talk-after", "dual-socket"} <= set(names)
    assert names == sorted(names)
    talk = next(row for row in rows if row["name"] == "talk-after")
    assert (talk["cpus"], talk["numa_nodes"], talk["nics"]) == (12, 1, "Intel X540 x2")
    assert set(talk) == {"name", "cpus", "numa_nodes", "memory_mib", "nics", "description"}
    assert all(name in table for name in names)


def _layout(inventory: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What both a simulated host and its exported tree must agree on."""
    return [
        (
            pf["address"],
            pf["netdev"],
            pf["driver"],
            pf["device_id"],
            pf["total_vfs"],
            pf["num_vfs"],
            [(vf["address"], vf["device_id"]) for vf in pf["vfs"]],
        )
        for pf in inventory["pfs"]
    ]


def test_export_is_read_back_from_its_sysfs_tree(cli: Cli, tmp_path: Path) -> None:
    cli.ok("host", "set-vfs", PF, "7", *AFTER)
    root = tmp_path / "root"

    out = cli.ok("sim", "export", "talk-after", str(root)).out

    assert "wrote" in out
    assert (root / "sys" / "bus" / "pci" / "devices").is_dir()
    simulated = _layout(cli.ok("host", "show", *AFTER, "--json").json())
    for where in (root, root / "sys"):
        exported = cli.ok("host", "show", "--sysfs-root", str(where), "--json").json()
        assert _layout(exported) == simulated
    assert str(root) in cli.ok("host", "show", "--sysfs-root", str(root)).out.splitlines()[0]
    assert cli("host", "doctor", "--sysfs-root", str(root)).code == 0


def test_export_of_a_fresh_profile(cli: Cli, tmp_path: Path) -> None:
    cli.ok("sim", "export", "dual-socket", str(tmp_path / "root"))

    inventory = cli.ok("host", "show", "--sysfs-root", str(tmp_path / "root"), "--json").json()

    assert [pf["netdev"] for pf in inventory["pfs"]] == [
        "ens785f0",
        "ens785f1",
        "ens801f0np0",
        "ens801f1np1",
    ]


def test_sim_reset_forgets_the_host(cli: Cli, state_dir: Path) -> None:
    cli.ok("host", "set-vfs", PF, "7", *AFTER)

    assert cli.ok("sim", "reset", "talk-after").out.strip() == "talk-after: reset"

    assert list(state_dir.iterdir()) == []
    assert vfs_of(cli, *AFTER) == []
    assert cli.ok("host", "restore", *AFTER).out.strip() == "nothing saved to restore"
    assert cli.ok("sim", "reset", "talk-after").out.strip() == "talk-after: nothing saved to reset"


def test_a_profile_file_is_a_host_too(cli: Cli, tmp_path: Path) -> None:
    profile = tmp_path / "lab.toml"
    profile.write_text('extends = "talk-after"\nname = "lab"\nhostname = "lab"\n', "utf-8")

    cli.ok("host", "set-vfs", PF, "2", "--simulate", str(profile))

    assert len(vfs_of(cli, "--simulate", str(profile))) == 2
    assert vfs_of(cli, *AFTER) == []


def test_version_and_help(cli: Cli) -> None:
    assert cli.ok("version").out.strip()
    assert "set-vfs" in cli.ok("host", "--help").out
    bare = cli("host")
    assert (bare.code, bare.err) == (2, "")
    assert "set-vfs" in bare.out


def test_a_layout_that_cannot_be_restored_exits_5(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir()
    layout = '{"pfs": {"0000:09:00.0": {"ifname": "gone0", "num_vfs": 2}}}'
    (state_dir / "sim-talk-after.vfs.json").write_text(layout, "utf-8")

    restored = cli("host", "restore", *AFTER)
    rebooted = cli("sim", "reboot", "talk-after")

    for result in (restored, rebooted):
        assert result.code == 5
        assert "gone0: failed: PF 0000:09:00.0 not found" in result.out
    assert "booted with" in rebooted.out


def test_a_tree_on_disk_can_be_read_but_not_changed(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    cli.ok("sim", "export", "talk-after", str(root))
    before = sorted(str(p) for p in root.rglob("*"))
    numvfs = (root / "sys/bus/pci/devices/0000:03:00.1/sriov_numvfs").read_text()
    for args in (
        ("host", "restore"),
        ("host", "set-vfs", "enp3s0f1", "3"),
        ("host", "link", "enp3s0f1", "down"),
        ("host", "fdb", "add", "enp3s0f1", "00:de:ad:be:ef:00"),
    ):
        for where in (root, root / "sys"):
            result = cli(*args, "--sysfs-root", str(where))
            assert result.code == 2
            assert result.err.count("\n") == 1
            assert "--sysfs-root: is a tree on disk, not a mounted sysfs" in result.err
    assert sorted(str(p) for p in root.rglob("*")) == before
    assert (root / "sys/bus/pci/devices/0000:03:00.1/sriov_numvfs").read_text() == numvfs
    assert cli.ok("host", "show", "--sysfs-root", str(root)).code == 0
