"""The fleet file of ``sriovstack up``: the shipped default fleet, relative paths and formats,
errors naming the key and the rule; what a state directory lets a fleet change; the settings a
fleet gives the API; and a host's VFs made on its first start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.config import FactsSettings
from sriovstack.domain.errors import Conflict, InvalidInput
from sriovstack.domain.reporting import CellFacts
from sriovstack.launch.fleet import (
    DEFAULT_SOURCE,
    Fleet,
    default_fleet,
    load_fleet,
    parse_fleet,
)
from sriovstack.launch.preparing import prepare_host
from sriovstack.launch.running import choose_fleet, cloud_settings
from sriovstack.launch.statedir import (
    EMBEDDED,
    Record,
    StateDir,
    check_database,
    check_fleet,
    masked,
    openrc_text,
    write_record,
)
from sriovstack.services.settings import Settings
from sriovstack.simulator import state as sim_state

HOST_TOML = """
[pci]
device_spec = '{"devname": "ens1f0", "physical_network": "physnet2"}'
alias = '{"name": "x710vf", "vendor_id": "8086", "product_id": "154c"}'

[sriov_nic]
physical_device_mappings = "physnet2:ens1f0"
"""


def parse(text: str, base: Path) -> Fleet:
    return parse_fleet(text, base=base, source="fleet.toml")


def test_the_default_fleet_is_the_talks_host_and_a_second_one_like_it() -> None:
    fleet = default_fleet()

    assert fleet.source == DEFAULT_SOURCE
    assert fleet.controller == "sriov-1"
    assert [(h.name, h.profile, dict(h.vfs)) for h in fleet.hosts] == [
        ("sriov-1", "talk-after", {"enp3s0f1": 7}),
        ("sriov-2", "talk-after", {"enp3s0f1": 7}),
    ]
    for host in fleet.hosts:
        assert host.sriov.format == "local.conf"
        assert str(host.sriov.config.device_mappings) == "physnet1:enp3s0f1"
        assert [a.name for a in host.sriov.config.aliases] == ["x540vf"]
        assert [s.devname for s in host.sriov.config.device_specs.specs] == ["enp3s0f1"]


def test_the_shipped_local_conf_is_the_talks_as_its_slides_print_it() -> None:
    talk = default_fleet().hosts[0].sriov.path
    assert talk is not None
    assert talk.read_text(encoding="utf-8") == TALK_LOCAL_CONF.lstrip("\n")


def test_a_fleet_file_reads_its_files_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "host.toml").write_text(HOST_TOML)
    (tmp_path / "conf" / "talk.conf").write_text(TALK_LOCAL_CONF)
    (tmp_path / "fleet.toml").write_text(
        """
controller = "x710"

[[host]]
name = "talk"
profile = "talk-after"
config = "conf/talk.conf"

[[host]]
name = "x710"
profile = "x710-quad"
vfs = { ens1f0 = 8, ens1f1 = 0 }
config = "conf/host.toml"
availability_zone = "rack-2"
[host.facts]
cpus = 16
numa_cells = [{ id = 0, socket = 0 }, { id = 1, socket = 1 }]
my_ip = "192.0.2.7"
"""
    )

    fleet = load_fleet(tmp_path / "fleet.toml")

    talk, x710 = fleet.hosts
    assert fleet.controller == "x710"
    assert (talk.vfs, talk.sriov.format, x710.sriov.format) == ({}, "local.conf", "toml")
    assert x710.sriov.path == tmp_path / "conf" / "host.toml"
    assert x710.vfs == {"ens1f0": 8, "ens1f1": 0}
    assert x710.availability_zone == "rack-2"
    cells = (CellFacts(0, 0), CellFacts(1, 1))
    assert x710.facts == FactsSettings(cpus=16, numa_cells=cells, host_ip="192.0.2.7")
    assert x710.identity() == {"profile": "x710-quad", "vfs": {"ens1f0": 8, "ens1f1": 0}}


def test_a_profile_file_is_found_beside_the_fleet_file(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('extends = "talk-after"\nname = "mine"\n')
    fleet = parse('[[host]]\nname = "a"\nprofile = "mine.toml"\n', tmp_path)
    assert fleet.hosts[0].profile == str(tmp_path / "mine.toml")


ONE = '[[host]]\nname = "a"\nprofile = "talk-after"\n'


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("[[host\n", "fleet.toml", "is not valid TOML"),
        ('controler = "a"\n' + ONE, "fleet.toml: controler", "not a known key; known: controller"),
        ('controller = "b"\n' + ONE, "fleet.toml: controller", "one of the fleet's hosts"),
        ("", "fleet.toml: host", "at least one host"),
        ("host = 3\n", "fleet.toml: host", "[[host]]"),
        ('host = ["a"]\n', "fleet.toml: host[0]", "must be a table"),
        (ONE + "vsf = {}\n", "fleet.toml: host[0].vsf", "not a known key; known: name, profile"),
        ('[[host]]\nprofile = "talk-after"\n', "fleet.toml: host[0].name", "is required"),
        ('[[host]]\nname = "a/b"\nprofile = "talk-after"\n', "host[0].name", "a host name"),
        ('[[host]]\nname = "a"\n', "fleet.toml: host[0].profile", "is required"),
        ('[[host]]\nname = "a"\nprofile = "nope"\n', "host[0].profile", "profile nope not found"),
        (ONE + ONE, "fleet.toml: host[1].name", "is host[0]'s too"),
        (ONE + "vfs = 7\n", "fleet.toml: host[0].vfs", "PF netdev = VF count"),
        (ONE + "vfs = { eth9 = 7 }\n", "host[0].vfs.eth9", "its PFs: enp3s0f0, enp3s0f1"),
        (ONE + "vfs = { enp3s0f1 = -1 }\n", "host[0].vfs.enp3s0f1", "whole number"),
        (ONE + "vfs = { enp3s0f1 = true }\n", "host[0].vfs.enp3s0f1", "whole number"),
        (ONE + 'config = "missing.conf"\n', "host[0].config", "No such file or directory"),
        (ONE + 'availability_zone = ""\n', "host[0].availability_zone", "non-empty"),
        (ONE + "facts = 3\n", "fleet.toml: host[0].facts", "must be a table"),
        (ONE + "[host.facts]\ncpu = 3\n", "host[0].facts.cpu", "known: cpus, memory_mib"),
        (ONE + "[host.facts]\ncpus = 0\n", "host[0].facts.cpus", "from 1 to 4096"),
        (ONE + '[host.facts]\nnuma_cells = "2"\n', "host[0].facts.numa_cells", "a count"),
        (ONE + '[host.facts]\nhost_ip = "10.0.0"\n', "host[0].facts.host_ip", "IPv4 or IPv6"),
        (
            ONE + "[host.facts]\nnuma_cells = [{ id = 0 }, { id = 0 }]\n",
            "host[0].facts.numa_cells",
            "twice",
        ),
    ],
)
def test_an_error_names_the_key_and_the_rule(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text, tmp_path)
    assert caught.value.field.endswith(field), caught.value.field
    assert words in str(caught.value)


def test_an_error_in_a_host_config_names_the_file_and_its_key(tmp_path: Path) -> None:
    (tmp_path / "host.toml").write_text('[pci]\ndevice_spec = "{not json"\n')

    with pytest.raises(InvalidInput) as caught:
        parse(ONE + 'config = "host.toml"\n', tmp_path)

    assert caught.value.field.startswith("fleet.toml: host[0].config host.toml: [pci] device_spec")


def test_a_missing_fleet_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^--fleet: cannot be read: No such file"):
        load_fleet(tmp_path / "nope.toml")


# ------------------------------------------------------------------------------ with a state dir


def two_hosts(vfs: int = 7, names: tuple[str, ...] = ("sriov-1", "sriov-2")) -> str:
    return "".join(
        f'[[host]]\nname = "{name}"\nprofile = "talk-after"\nvfs = {{ enp3s0f1 = {vfs} }}\n'
        for name in names
    )


def test_a_fleet_may_gain_hosts_but_not_lose_or_change_them(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "up")
    was = parse_fleet(two_hosts(), base=tmp_path, source="fleet.toml")
    record = Record(EMBEDDED, "fleet.toml", {h.name: h.identity() for h in was.hosts})
    third = two_hosts() + '[[host]]\nname = "sriov-3"\nprofile = "x710-quad"\n'

    assert check_fleet(state, None, was) == ["sriov-1", "sriov-2"]
    assert check_fleet(state, record, was) == []
    assert check_fleet(state, record, parse_fleet(third, base=tmp_path)) == ["sriov-3"]
    with pytest.raises(Conflict, match=r"has no host sriov-2, which .* holds"):
        check_fleet(state, record, parse_fleet(two_hosts(names=("sriov-1",)), base=tmp_path))
    with pytest.raises(
        Conflict, match=r"host sriov-1 vfs: is \{enp3s0f1 = 3\}, but .* with \{enp3s0f1 = 7\}"
    ):
        check_fleet(state, record, parse_fleet(two_hosts(3), base=tmp_path))
    other = two_hosts().replace('"talk-after"', '"talk-before"', 1)
    with pytest.raises(Conflict, match="host sriov-1 profile: is talk-before, but"):
        check_fleet(state, record, parse_fleet(other, base=tmp_path))


def test_the_database_a_state_dir_holds_is_the_one_it_takes(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    url = "postgresql+psycopg://cloud:s3cret@db.example.com/cloud"
    record = Record(masked(url), "f", {})

    assert masked(url) == "postgresql+psycopg://cloud:***@db.example.com/cloud"
    check_database(state, record, masked(url))
    check_database(state, None, EMBEDDED)
    with pytest.raises(InvalidInput, match=r"^--database-url: .* is postgresql.*cloud:\*\*\*@"):
        check_database(state, record, EMBEDDED)


def test_the_openrc_gives_each_user_its_password_and_devstacks_variables() -> None:
    text = openrc_text("http://127.0.0.1:8774", {"admin": "a pw", "demo": "d"}, region="RegionOne")

    assert "  admin) export OS_PASSWORD='a pw' ;;\n" in text
    assert "  demo) export OS_PASSWORD=d ;;\n" in text
    for line in (
        'export OS_USERNAME="${1:-admin}"',
        'export OS_PROJECT_NAME="${2:-demo}"',
        "export OS_AUTH_URL=http://127.0.0.1:8774/identity",
        "export OS_IDENTITY_API_VERSION=3",
        "export OS_USER_DOMAIN_ID=default",
        "export OS_PROJECT_DOMAIN_ID=default",
        "export OS_REGION_NAME=RegionOne",
    ):
        assert line in text.splitlines()


# ------------------------------------------------------------------------------ what it gives


def test_the_api_gets_the_controllers_vlan_ranges_every_mapped_physnet_and_every_alias(
    tmp_path: Path,
) -> None:
    (tmp_path / "talk.conf").write_text(TALK_LOCAL_CONF)
    (tmp_path / "host.toml").write_text(HOST_TOML)
    text = (
        '[[host]]\nname = "sriov-1"\nprofile = "talk-after"\nconfig = "talk.conf"\n'
        '[[host]]\nname = "x710"\nprofile = "x710-quad"\nconfig = "host.toml"\n'
    )
    fleet = parse_fleet(text, base=tmp_path)

    settings = cloud_settings(Settings(), fleet, "sqlite:///x.db", {})

    assert settings.database_url == "sqlite:///x.db"
    assert settings.dhcp_host == "sriov-1"
    assert str(settings.network_vlan_ranges) == "physnet1:3001:4000,physnet2"
    assert sorted(settings.aliases) == ["x540vf", "x710vf"]
    given = {"SRIOVSTACK_DHCP_HOST": "x", "SRIOVSTACK_NETWORK_VLAN_RANGES": "x"}
    kept = cloud_settings(Settings(dhcp_host=None), fleet, "sqlite:///x.db", given)
    assert (kept.dhcp_host, kept.network_vlan_ranges) == (None, Settings().network_vlan_ranges)


def test_a_new_host_gets_its_vfs_once_then_is_left_as_its_agent_saved_it(tmp_path: Path) -> None:
    host = default_fleet().hosts[0]
    kernel_file = tmp_path / "sim-kernel.json"

    assert prepare_host(host, kernel_file, where="f: host[0]") == {"enp3s0f1": 7}
    saved = json.loads(kernel_file.read_text())
    pf = next(p for p in saved["pfs"] if p["netdev"] == "enp3s0f1")
    assert len(pf["vfs"]) == 7
    kernel = sim_state.load(kernel_file, profile_ref="talk-after")
    assert kernel.uptime.now == saved["uptime"]
    before = kernel_file.read_bytes()

    assert prepare_host(host, kernel_file, where="f: host[0]") == {}
    assert kernel_file.read_bytes() == before


def test_vfs_the_kernel_refuses_name_the_fleet_key(tmp_path: Path) -> None:
    too_many = parse_fleet(ONE + "vfs = { enp3s0f1 = 64 }\n", base=tmp_path).hosts[0]
    with pytest.raises(InvalidInput) as caught:
        prepare_host(too_many, tmp_path / "k.json", where="fleet.toml: host[0]")
    assert str(caught.value) == (
        "fleet.toml: host[0].vfs.enp3s0f1: must be 0..63 (sriov_totalvfs of enp3s0f1) (got 64)"
    )
    assert not (tmp_path / "k.json").exists()

    # The talk's host before its fixes: no room for the VFs' BARs, so the kernel refuses.
    before = parse_fleet(
        '[[host]]\nname = "a"\nprofile = "talk-before"\nvfs = { enp3s0f1 = 7 }\n', base=tmp_path
    ).hosts[0]
    with pytest.raises(InvalidInput) as refused:
        prepare_host(before, tmp_path / "k.json", where="fleet.toml: host[0]")
    assert refused.value.field == "fleet.toml: host[0].vfs.enp3s0f1"
    assert "VF BARs unassigned" in refused.value.rule


def test_without_fleet_a_state_dir_runs_the_fleet_it_last_ran(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "up")
    mine = tmp_path / "mine.toml"
    mine.write_text(two_hosts(names=("a",)))

    assert choose_fleet(state, None).source == DEFAULT_SOURCE  # a new directory
    assert choose_fleet(state, mine).source == str(mine)
    write_record(state, Record(EMBEDDED, str(mine), {"a": {}}))
    assert [h.name for h in choose_fleet(state, None).hosts] == ["a"]
    mine.unlink()
    with pytest.raises(InvalidInput) as caught:
        choose_fleet(state, None)
    assert str(caught.value) == (
        f"--fleet: is needed: {state.root} last ran {mine}, which cannot be read: "
        "No such file or directory"
    )
