"""``sriovstack pci check`` on the talk's simulated host: what a spec selects, and bad specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.running import AFTER, TALK_VFS, Cli
from tests.talkconf import TALK_LOCAL_CONF

PF = "enp3s0f1"
TALK_SPEC = '{"devname":"enp3s0f1","physical_network":"physnet1"}'
TALK_ALIAS = '{"name":"x540vf","product_id":"1515","vendor_id":"8086"}'


@pytest.fixture
def seven(cli: Cli) -> Cli:
    """The talk's host after `host set-vfs enp3s0f1 7`, in the test's state directory."""
    cli.ok("host", "set-vfs", PF, "7", *AFTER)
    return cli


def check(cli: Cli, *args: str) -> Any:
    return cli.ok("pci", "check", *args, *AFTER, "--json").json()


def test_the_talks_whitelist_selects_the_pf_and_its_seven_vfs(seven: Cli) -> None:
    report = check(seven, "--device-spec", TALK_SPEC, "--alias", TALK_ALIAS)

    devices = report["devices"]
    assert [d["address"] for d in devices] == ["0000:03:00.1", *TALK_VFS]
    assert [d["dev_type"] for d in devices] == ["type-PF"] + ["type-VF"] * 7
    assert {(d["vendor_id"], d["product_id"]) for d in devices[1:]} == {("8086", "1515")}
    assert {d["physical_network"] for d in devices} == {"physnet1"}
    assert {d["parent"] for d in devices[1:]} == {"0000:03:00.1"}
    assert {d["pool"] for d in devices[1:]} == {2}
    pf_pool, vf_pool = report["pools"]
    assert (pf_pool["count"], pf_pool["aliases"]) == (1, [])
    assert (vf_pool["count"], vf_pool["aliases"]) == (7, ["x540vf"])
    assert vf_pool["key"] == {
        "vendor_id": "8086",
        "product_id": "1515",
        "numa_node": None,
        "dev_type": "type-VF",
        "address": "0000:03:00.1",
        "parent_ifname": PF,
        "physical_network": "physnet1",
        "remote_managed": "false",
    }
    assert report["aliases"] == [
        {
            "name": "x540vf",
            "numa_policy": "legacy",
            "specs": [{"vendor_id": "8086", "product_id": "1515"}],
            "pools": [2],
        }
    ]


def test_the_table_names_devices_pools_and_aliases(seven: Cli) -> None:
    out = seven.ok("pci", "check", "--device-spec", TALK_SPEC, "--alias", TALK_ALIAS, *AFTER).out
    lines = out.splitlines()
    assert lines[0] == "talk-after: 8 of 9 PCI functions selected by 1 device spec, in 2 pools"
    assert lines[1] == f"  spec 0: {TALK_SPEC}"
    rows = [line for line in lines if "0000:04:1" in line]
    assert len(rows) == 7
    assert all("VF" in r and "8086:1515" in r and "physnet1" in r for r in rows)
    pool_rows = [line for line in lines if "0000:03:00.1 (enp3s0f1)" in line]
    assert len(pool_rows) == 1 and "x540vf" in pool_rows[0] and " 7 " in pool_rows[0]
    assert lines[-1] == "alias x540vf (legacy): pool 2"


def test_before_the_vfs_exist_only_the_pf_is_selected(cli: Cli) -> None:
    report = check(cli, "--device-spec", TALK_SPEC, "--alias", TALK_ALIAS)
    assert [d["address"] for d in report["devices"]] == ["0000:03:00.1"]
    assert report["aliases"][0]["pools"] == []
    out = cli.ok("pci", "check", "--device-spec", TALK_SPEC, "--alias", TALK_ALIAS, *AFTER).out
    assert out.splitlines()[-1] == "alias x540vf (legacy): no pool: nothing here serves it"


def test_wildcards_never_select_vfs_through_their_pf(seven: Cli) -> None:
    report = check(seven, "--device-spec", '{"address": "*:03:00.*"}')
    assert [d["address"] for d in report["devices"]] == ["0000:03:00.0", "0000:03:00.1"]


def test_a_blank_devname_selects_nothing(seven: Cli) -> None:
    assert check(seven, "--device-spec", '{"devname": ""}')["devices"] == []
    out = seven.ok("pci", "check", "--device-spec", '{"devname": ""}', *AFTER).out
    assert "no PCI function matches any device spec" in out


def test_the_first_of_several_specs_wins(seven: Cli) -> None:
    report = check(
        seven,
        "--device-spec",
        '{"address": "0000:04:10.1", "physical_network": "physnet2", "trusted": true}',
        "--device-spec",
        TALK_SPEC,
    )
    first = report["devices"][1]
    assert (first["address"], first["spec"], first["trusted"]) == ("0000:04:10.1", 0, "true")
    assert [p["count"] for p in report["pools"]] == [1, 1, 6]


def test_the_talks_local_conf_as_config(seven: Cli, tmp_path: Path) -> None:
    conf = tmp_path / "local.conf"
    conf.write_text(TALK_LOCAL_CONF, encoding="utf-8")
    report = check(seven, "--config", str(conf))
    assert [d["address"] for d in report["devices"]] == ["0000:03:00.1", *TALK_VFS]
    assert all(d["problems"] == [] for d in report["devices"])
    assert report["pools"][1]["aliases"] == ["x540vf"]


def test_a_host_config_shows_what_neutron_would_refuse(seven: Cli, tmp_path: Path) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        f"[pci]\ndevice_spec = ['{TALK_SPEC}']\n"
        '[sriov_nic]\nphysical_device_mappings = "physnet1:enp3s0f1"\n'
        'exclude_devices = "enp3s0f1:0000:04:10.1"\n',
        encoding="utf-8",
    )
    report = check(seven, "--config", str(config))
    assert report["devices"][1]["problems"] == ["exclude_devices leaves it to the host (enp3s0f1)"]
    out = seven.ok("pci", "check", "--config", str(config), *AFTER).out
    assert "Neutron" in out and "exclude_devices leaves it" in out


def test_an_exported_tree_reads_the_same(seven: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    seven.ok("sim", "export", "talk-after", str(root))
    report = seven.ok(
        "pci", "check", "--device-spec", TALK_SPEC, "--sysfs-root", str(root), "--json"
    ).json()
    assert [d["address"] for d in report["devices"]] == ["0000:03:00.1", *TALK_VFS]


BAD = [
    pytest.param(
        ["--device-spec", "{devname: x}"], ["--device-spec:", "is not valid JSON"], id="not-json"
    ),
    pytest.param(
        ["--device-spec", '{"vendor_id": "xyz"}'],
        ["--device-spec.vendor_id:", "property vendor_id ('xyz') does not parse as a hex number"],
        id="vendor-not-hex",
    ),
    pytest.param(
        ["--device-spec", '{"address": "0000:03:00.8"}'],
        [
            "--device-spec.address:",
            "property func (8) is greater than the maximum allowable value (7)",
        ],
        id="function-over-7",
    ),
    pytest.param(
        ["--device-spec", '{"devname": "enp3s0f1", "address": "0000:03:00.1"}'],
        ["--device-spec:", "can name a devname or an address, but not both"],
        id="devname-and-address",
    ),
    pytest.param(
        ["--device-spec", '{"managed": "maybe"}'],
        ["--device-spec.managed:", "cannot parse tag 'managed'", "'maybe'"],
        id="managed-not-a-boolean",
    ),
    pytest.param(
        ["--device-spec", "{}", "--device-spec", '[{}, {"address": "1:2:3:4.0"}]'],
        ["--device-spec #2[1].address:", "has an incorrect format"],
        id="names-the-option-and-item",
    ),
    pytest.param(
        ["--device-spec", TALK_SPEC, "--alias", '{"name": "x540vf", "vendor_id": "0x8086"}'],
        ["--alias.vendor_id:", "must be exactly 4 hex digits"],
        id="alias-id",
    ),
    pytest.param(
        ["--device-spec", TALK_SPEC, "--alias", '{"name": "x540vf"}'],
        ["--alias:", "the PCI alias(es) x540vf do not have vendor_id and product_id set"],
        id="alias-without-ids",
    ),
    pytest.param(
        ["--device-spec", '{"devname": "enp3s0f1", "remote_managed": "true"}'],
        ["device_spec[0]:", 'PFs must not have the "remote_managed" tag'],
        id="remote-managed-pf",
    ),
    pytest.param([], ["--device-spec:", "give at least one device spec"], id="no-spec"),
]


@pytest.mark.parametrize(("args", "words"), BAD)
def test_bad_specs_are_one_line_naming_the_field_and_the_rule(
    seven: Cli, args: list[str], words: list[str]
) -> None:
    result = seven("pci", "check", *args, *AFTER)
    line = result.error_line()
    assert result.code == 2, line
    assert result.out == ""
    for word in words:
        assert word in line


def test_a_bad_config_file_is_refused(seven: Cli, tmp_path: Path) -> None:
    config = tmp_path / "host.toml"
    config.write_text("[pci]\nalias = 3\n[nova]\n", encoding="utf-8")
    result = seven("pci", "check", "--config", str(config), *AFTER)
    assert result.code == 2
    assert "[nova]: is not a known section" in result.error_line()
    missing = seven("pci", "check", "--config", str(tmp_path / "nope.toml"), *AFTER)
    assert missing.code == 1
    assert "nope.toml" in missing.error_line()
