"""Host configuration: a TOML file in Nova's and Neutron's syntax, and the talk's local.conf."""

from __future__ import annotations

import pytest
from tests.talkconf import TALK_LOCAL_CONF, TALK_SLIDE_NOVA

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.alias import NumaPolicy
from sriovstack.domain.devspec import AddressGlob, AddressRegex
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.hostconfig import HostConfig, parse_host_config, parse_local_conf
from sriovstack.domain.mappings import VendorDevs, VlanRange

TALK_SPEC = '{"devname":"enp3s0f1","physical_network":"physnet1"}'
TALK_ALIAS = '{"name":"x540vf","product_id":"1515","vendor_id":"8086"}'

FULL = """
[pci]
device_spec = [
  '{"devname": "enp3s0f1", "physical_network": "physnet1"}',
  { address = "0000:81:00.*", physical_network = "physnet2", trusted = true },
  { address = { bus = "8[23]$" }, product_id = "10ed" },
  '[{"vendor_id": "15b3"}, {"vendor_id": "14e4"}]',
]
alias = [
  '{"name": "x540vf", "vendor_id": "8086", "product_id": "1515"}',
  { name = "x540vf", vendor_id = "8086", product_id = "10ed" },
]

[sriov_nic]
physical_device_mappings = "physnet1:enp3s0f1,physnet2:ens2"
exclude_devices = ["enp3s0f1:0000:04:10.1;0000:04:10.3"]

[ml2_sriov]
supported_pci_vendor_devs = "8086:1528, 8086:1515"

[ml2_type_vlan]
network_vlan_ranges = ["physnet1:3001:4000", "physnet2"]
"""


def refused_toml(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_host_config(text)
    return caught.value


def refused_conf(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_local_conf(text)
    return caught.value


# ---------------------------------------------------------------- TOML


def test_a_full_host_config() -> None:
    config = parse_host_config(FULL)
    specs = config.device_specs.specs
    assert [s.devname for s in specs] == ["enp3s0f1", None, None, None, None]
    assert specs[1].address == AddressGlob(0, 0x81, 0, None)
    assert specs[1].tag("trusted") == "true"  # a TOML boolean means its string form
    assert specs[2].address == AddressRegex(bus="8[23]$")
    assert [s.vendor_id for s in specs[3:]] == [0x15B3, 0x14E4]
    (alias,) = config.aliases
    assert [s.product_id for s in alias.specs] == ["1515", "10ed"]
    assert config.device_mappings.physnets_of("ens2") == ("physnet2",)
    assert config.exclude_devices.of("enp3s0f1") == {
        PciAddress.parse("0000:04:10.1"),
        PciAddress.parse("0000:04:10.3"),
    }
    assert config.supported_pci_vendor_devs == VendorDevs(((0x8086, 0x1528), (0x8086, 0x1515)))
    assert config.network_vlan_ranges.ranges_of("physnet1") == (VlanRange(3001, 4000),)
    assert config.network_vlan_ranges.ranges_of("physnet2") == ()


def test_an_empty_file_offers_nothing() -> None:
    assert parse_host_config("") == HostConfig()
    assert parse_host_config("").supported_pci_vendor_devs is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"[pci]\npassthrough_whitelist = '{TALK_SPEC}'", id="old-name-one-string"),
        pytest.param(f"[pci]\ndevice_spec = '{TALK_SPEC}'", id="one-string"),
        pytest.param(f"[pci]\ndevice_spec = ['{TALK_SPEC}']", id="list-of-strings"),
        pytest.param(
            '[pci]\ndevice_spec = { devname = "enp3s0f1", physical_network = "physnet1" }',
            id="one-table",
        ),
        pytest.param(
            '[[pci.device_spec]]\ndevname = "enp3s0f1"\nphysical_network = "physnet1"',
            id="array-of-tables",
        ),
    ],
)
def test_device_spec_forms(text: str) -> None:
    (spec,) = parse_host_config(text).device_specs
    assert (spec.devname, spec.physical_network) == ("enp3s0f1", "physnet1")


def test_alias_forms() -> None:
    one = parse_host_config(f"[pci]\nalias = '{TALK_ALIAS}'").aliases
    tables = parse_host_config(
        '[[pci.alias]]\nname = "x540vf"\nvendor_id = "8086"\nproduct_id = "1515"\n'
        'numa_policy = "preferred"'
    ).aliases
    assert one[0].name == tables[0].name == "x540vf"
    assert tables[0].numa_policy is NumaPolicy.PREFERRED


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        pytest.param("[pci\n", "host config", "is not valid TOML", id="not-toml"),
        pytest.param("[nova]\nx = 1", "[nova]", "is not a known section", id="unknown-section"),
        pytest.param("pci = 3", "[pci]", "must be a table", id="section-not-a-table"),
        pytest.param(
            "[pci]\nwhitelist = []", "[pci] whitelist", "is not a known key", id="unknown-key"
        ),
        pytest.param(
            f"[pci]\ndevice_spec = '{TALK_SPEC}'\npassthrough_whitelist = '{TALK_SPEC}'",
            "[pci] passthrough_whitelist",
            "is device_spec's old name: give one of them, not both",
            id="both-names",
        ),
        pytest.param(
            "[pci]\ndevice_spec = ['{}', '{\"vendor_id\": \"zz\"}']",
            "[pci] device_spec[1].vendor_id",
            "property vendor_id ('zz') does not parse as a hex number",
            id="names-the-value",
        ),
        pytest.param(
            '[pci]\ndevice_spec = \'[{}, {"bus": 1, "address": "1:2:3:4"}]\'',
            "[pci] device_spec[1].address",
            "has an incorrect format",
            id="names-the-item-of-a-list-value",
        ),
        pytest.param(
            '[pci]\ndevice_spec = { devname = "a", address = "0000:03:00.1" }',
            "[pci] device_spec",
            "can name a devname or an address, but not both",
            id="table-rules",
        ),
        pytest.param(
            "[pci]\ndevice_spec = 3", "[pci] device_spec", "must be a JSON object", id="a-number"
        ),
        pytest.param(
            "[pci]\ndevice_spec = [[{ since = 1979-05-27 }]]",
            "[pci] device_spec[0][0].since",
            "a tag must be a string, number, boolean or null",
            id="a-toml-date",
        ),
        pytest.param(
            "[pci]\nalias = [3]", "[pci] alias[0]", "must be JSON text or a table", id="alias-3"
        ),
        pytest.param(
            '[pci]\nalias = \'{"name": "a"}\'',
            "[pci] alias",
            "the PCI alias(es) a do not have vendor_id and product_id set",
            id="alias-rules",
        ),
        pytest.param(
            '[sriov_nic]\nphysical_device_mappings = "physnet1"',
            "[sriov_nic] physical_device_mappings",
            "each entry must be physnet:device",
            id="mapping-rules",
        ),
        pytest.param(
            "[sriov_nic]\nphysical_device_mappings = 3",
            "[sriov_nic] physical_device_mappings",
            "must be comma-separated text or a list of strings",
            id="mapping-a-number",
        ),
        pytest.param(
            '[sriov_nic]\nphysical_device_mappings = "physnet1:ens2"\n'
            'exclude_devices = "ens3:0000:04:10.1"',
            "exclude_devices",
            "device ens3 is not in physical_device_mappings",
            id="excluded-but-not-mapped",
        ),
        pytest.param(
            '[ml2_sriov]\nsupported_pci_vendor_devs = "8086"',
            "[ml2_sriov] supported_pci_vendor_devs",
            "each entry must be vendor_id:product_id",
            id="vendor-devs-rules",
        ),
        pytest.param(
            '[ml2_type_vlan]\nnetwork_vlan_ranges = "physnet1:0:10"',
            "[ml2_type_vlan] network_vlan_ranges",
            "0 is not a valid VLAN tag",
            id="vlan-rules",
        ),
    ],
)
def test_bad_host_configs(text: str, field: str, rule: str) -> None:
    error = refused_toml(text)
    assert error.field == field
    assert error.rule.startswith(rule), error.rule


# ---------------------------------------------------------------- the talk's local.conf


def test_the_talks_local_conf() -> None:
    config = parse_local_conf(TALK_LOCAL_CONF)
    (spec,) = config.device_specs
    assert (spec.devname, spec.physical_network) == ("enp3s0f1", "physnet1")
    assert spec.source == TALK_SPEC
    (alias,) = config.aliases
    assert (alias.name, alias.specs[0].vendor_id, alias.specs[0].product_id) == (
        "x540vf",
        "8086",
        "1515",
    )
    assert str(config.device_mappings) == "physnet1:enp3s0f1"
    assert str(config.supported_pci_vendor_devs) == "8086:1528, 8086:1515"
    assert str(config.network_vlan_ranges) == "physnet1:3001:4000"


def test_the_main_slides_escaping_and_wrapped_lines() -> None:
    config = parse_local_conf(TALK_SLIDE_NOVA)
    assert config.device_specs.specs[0].source == TALK_SPEC
    assert config.aliases[0].specs[0].product_id == "1515"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(f"pci_passthrough_whitelist={TALK_SPEC}", id="plain-json"),
        pytest.param(f"pci_passthrough_whitelist='{TALK_SPEC}'", id="single-quoted"),
        pytest.param(
            'pci_passthrough_whitelist="{\\"devname\\":\\"enp3s0f1\\",'
            '\\"physical_network\\":\\"physnet1\\"}"',
            id="double-quoted-and-escaped",
        ),
        pytest.param(
            'pci_passthrough_whitelist = {"devname\\\\":\\\\"enp3s0f1\\\\",'
            '\\\\"physical_network\\\\":\\\\"physnet1\\\\"}',
            id="backup-slide-escaping-with-spaces",
        ),
    ],
)
def test_whitelist_line_forms(line: str) -> None:
    config = parse_local_conf(f"[[post-config|$NOVA_CONF]]\n[DEFAULT]\n{line}\n")
    (spec,) = config.device_specs
    assert (spec.devname, spec.physical_network) == ("enp3s0f1", "physnet1")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("DEFAULT", "pci_passthrough_whitelist"),
        ("pci", "passthrough_whitelist"),
        ("pci", "device_spec"),
    ],
)
def test_every_name_of_device_spec_and_several_lines(section: str, key: str) -> None:
    text = (
        f'[[post-config|$NOVA_CONF]]\n[{section}]\n{key}={TALK_SPEC}\n{key}={{"address": ".2"}}\n'
    )
    specs = parse_local_conf(text).device_specs.specs
    assert [s.devname for s in specs] == ["enp3s0f1", None]


def test_pci_alias_under_its_new_name() -> None:
    config = parse_local_conf(f"[[post-config|$NOVA_CONF]]\n[pci]\nalias = {TALK_ALIAS}\n")
    assert config.aliases[0].name == "x540vf"


@pytest.mark.parametrize(
    ("localrc", "mappings", "vlans"),
    [
        pytest.param(
            "PHYSICAL_NETWORK=physnet2\nPHYSICAL_DEVICE_MAPPINGS=$PHYSICAL_NETWORK:ens2\n",
            "physnet2:ens2",
            "physnet2",
            id="variable",
        ),
        pytest.param(
            'PHYSICAL_NETWORK="physnet2"\nPHYSICAL_DEVICE_MAPPINGS=${PHYSICAL_NETWORK}:ens2\n'
            "TENANT_VLAN_RANGE='100:200'  # tenants\n",
            "physnet2:ens2",
            "physnet2:100:200",
            id="braces-quotes-comment",
        ),
        pytest.param(
            "PHYSICAL_DEVICE_MAPPINGS=physnet1:ens2\nPHYSICAL_DEVICE_MAPPINGS+=,physnet2:ens3\n",
            "physnet1:ens2,physnet2:ens3",
            "",
            id="append",
        ),
        pytest.param(
            "PHYSICAL_NETWORK=physnet1\nTENANT_VLAN_RANGE=3001:4000\n"
            "ML2_VLAN_RANGES=physnet9:5:6\n",
            "",
            "physnet9:5:6",
            id="ml2-vlan-ranges-wins",
        ),
    ],
)
def test_localrc_variables(localrc: str, mappings: str, vlans: str) -> None:
    config = parse_local_conf("[[local|localrc]]\n" + localrc)
    assert str(config.device_mappings) == mappings
    assert str(config.network_vlan_ranges) == vlans


def test_lines_before_any_header_are_localrc() -> None:
    config = parse_local_conf("PHYSICAL_DEVICE_MAPPINGS=physnet1:ens2\n[[post-config|x]]\n")
    assert str(config.device_mappings) == "physnet1:ens2"


def test_post_config_options_win_over_localrc() -> None:
    config = parse_local_conf(
        "[[local|localrc]]\nPHYSICAL_DEVICE_MAPPINGS=physnet1:ens2\nPHYSICAL_NETWORK=physnet1\n"
        "TENANT_VLAN_RANGE=3001:4000\n"
        "[[post-config|/$Q_PLUGIN_CONF_FILE]]\n[sriov_nic]\n"
        "physical_device_mappings = physnet1:ens3\nexclude_devices = ens3:0000:04:10.1\n"
        "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:10:20\n"
    )
    assert str(config.device_mappings) == "physnet1:ens3"
    assert config.exclude_devices.of("ens3") == {PciAddress.parse("0000:04:10.1")}
    assert str(config.network_vlan_ranges) == "physnet1:10:20"


def test_other_lines_are_left_alone() -> None:
    config = parse_local_conf(
        "[[local|localrc]]\nenable_plugin neutron git://x\nFOO='unclosed\n"
        "[[post-config|$NOVA_CONF]]\ncontinued line without equals\n[DEFAULT]\ndebug=True\n"
    )
    assert config == HostConfig()


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        pytest.param(
            "[[local|localrc]]\nTENANT_VLAN_RANGE=3001:4000\n",
            "TENANT_VLAN_RANGE",
            "needs PHYSICAL_NETWORK",
            id="range-without-physnet",
        ),
        pytest.param(
            "[[local|localrc]]\nPHYSICAL_NETWORK=physnet1\nTENANT_VLAN_RANGE=3001:5000\n",
            "TENANT_VLAN_RANGE",
            "5000 is not a valid VLAN tag",
            id="range-over-4094",
        ),
        pytest.param(
            "[[local|localrc]]\nPHYSICAL_DEVICE_MAPPINGS='physnet1:ens2\n",
            "local.conf PHYSICAL_DEVICE_MAPPINGS",
            "is not a valid shell word",
            id="unclosed-quote",
        ),
        pytest.param(
            "[[local|localrc]]\nPHYSICAL_DEVICE_MAPPINGS=physnet1:ens2 physnet2:ens3\n",
            "local.conf PHYSICAL_DEVICE_MAPPINGS",
            "must be one shell word (quote it)",
            id="two-words",
        ),
        pytest.param(
            "[[local|localrc]]\nPHYSICAL_DEVICE_MAPPINGS=$PHYSNET:ens2\n",
            "local.conf PHYSICAL_DEVICE_MAPPINGS",
            "refers to $PHYSNET, which local.conf does not set earlier",
            id="unset-variable",
        ),
        pytest.param(
            "[[local|localrc]]\nPHYSICAL_DEVICE_MAPPINGS=physnet1\n",
            "PHYSICAL_DEVICE_MAPPINGS",
            "each entry must be physnet:device",
            id="bad-mapping",
        ),
        pytest.param(
            f"[[post-config|$NOVA_CONF]]\n[DEFAULT]\npci_passthrough_whitelist={TALK_SPEC}\n"
            f"[pci]\npassthrough_whitelist={TALK_SPEC}\n",
            "[pci] passthrough_whitelist and [DEFAULT] pci_passthrough_whitelist",
            "name the same option (device_spec): give only one of them",
            id="two-names",
        ),
        pytest.param(
            f"[[post-config|$NOVA_CONF]]\n[DEFAULT]\npci_alias={TALK_ALIAS}\n"
            f"[pci]\nalias={TALK_ALIAS}\n",
            "[DEFAULT] pci_alias",
            "is [pci] alias's old name",
            id="two-alias-names",
        ),
        pytest.param(
            '[[post-config|$NOVA_CONF]]\n[DEFAULT]\npci_passthrough_whitelist={"devname": 1}\n',
            "[DEFAULT] pci_passthrough_whitelist.devname",
            "must be a netdev name",
            id="spec-rules",
        ),
        pytest.param(
            "[[post-config|$NOVA_CONF]]\n[DEFAULT]\npci_passthrough_whitelist={\n",
            "[DEFAULT] pci_passthrough_whitelist",
            "is not valid JSON",
            id="unclosed-brace",
        ),
        pytest.param(
            "[[post-config|x]]\n[ml2_sriov]\nsupported_pci_vendor_devs = 8086:1528 8086:1515\n",
            "[ml2_sriov] supported_pci_vendor_devs",
            "each entry must be vendor_id:product_id",
            id="vendor-devs-without-comma",
        ),
        pytest.param(
            "[[post-config|x]]\n[sriov_nic]\nphysical_device_mappings = physnet1:ens2\n"
            "exclude_devices = ens3:0000:04:10.1\n",
            "exclude_devices",
            "device ens3 is not in physical_device_mappings",
            id="excluded-but-not-mapped",
        ),
    ],
)
def test_bad_local_confs(text: str, field: str, rule: str) -> None:
    error = refused_conf(text)
    assert error.field == field
    assert error.rule.startswith(rule), error.rule
