"""Neutron's SR-IOV settings: device mappings, exclusions, vendor devices and VLAN ranges."""

from __future__ import annotations

import pytest

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.mappings import (
    DeviceMappings,
    ExcludedDevices,
    NetworkVlanRanges,
    SriovAgentConfig,
    VendorDevs,
    VlanRange,
    devstack_vlan_ranges,
    parse_device_mappings,
    parse_exclude_devices,
    parse_network_vlan_ranges,
    parse_vendor_devs,
    parse_vlan_range,
    split_list,
)


def addrs(*texts: str) -> frozenset[PciAddress]:
    return frozenset(PciAddress.parse(t) for t in texts)


# ---------------------------------------------------------------- physical_device_mappings


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        pytest.param("physnet1:enp3s0f1", (("physnet1", ("enp3s0f1",)),), id="the-talks"),
        pytest.param(
            "physnet1:enp3s0f1,physnet2:ens2",
            (("physnet1", ("enp3s0f1",)), ("physnet2", ("ens2",))),
            id="two-physnets",
        ),
        pytest.param(
            "physnet1:enp3s0f0, physnet1:enp3s0f1",
            (("physnet1", ("enp3s0f0", "enp3s0f1")),),
            id="one-physnet-two-pfs",
        ),
        pytest.param(
            "physnet1:ens2,physnet1:ens2", (("physnet1", ("ens2",)),), id="repeats-dropped"
        ),
        pytest.param(
            "physnet1:ens2,physnet2:ens2",
            (("physnet1", ("ens2",)), ("physnet2", ("ens2",))),
            id="one-pf-two-physnets",
        ),
        pytest.param(" physnet1 : ens2 ,, ", (("physnet1", ("ens2",)),), id="blanks-and-empties"),
        pytest.param(["physnet1:ens2", "physnet2:ens3"], None, id="a-list"),
        pytest.param("", (), id="empty"),
    ],
)
def test_device_mappings(value: str | list[str], entries: object) -> None:
    mappings = parse_device_mappings(value)
    if entries is not None:
        assert mappings.entries == entries
    else:
        assert mappings.physnets == ("physnet1", "physnet2")


def test_device_mapping_lookups() -> None:
    mappings = parse_device_mappings("physnet1:ens2,physnet2:ens2,physnet2:ens3")
    assert mappings.devices == ("ens2", "ens3")
    assert mappings.physnets_of("ens2") == ("physnet1", "physnet2")
    assert mappings.physnets_of("ens9") == ()
    assert str(mappings) == "physnet1:ens2,physnet2:ens2,physnet2:ens3"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param("physnet1", "each entry must be physnet:device, with one ':'", id="no-colon"),
        pytest.param("a:b:c", "each entry must be physnet:device, with one ':'", id="two-colons"),
        pytest.param(":ens2", "an entry is missing its physnet (the key)", id="no-physnet"),
        pytest.param("physnet1: ", "an entry is missing its device (the value)", id="no-device"),
    ],
)
def test_bad_device_mappings(value: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_device_mappings(value)
    assert (caught.value.field, caught.value.rule) == ("physical_device_mappings", rule)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param(3, "must be comma-separated text or a list of strings", id="number"),
        pytest.param(["a:b", 3], "each item must be a string", id="list-of-mixed"),
    ],
)
def test_list_values_must_be_text(value: object, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        split_list(value, where="x")  # type: ignore[arg-type]
    assert caught.value.rule == rule


# ---------------------------------------------------------------- exclude_devices


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        pytest.param(
            "enp3s0f1:0000:04:10.1;0000:04:10.3",
            (("enp3s0f1", addrs("0000:04:10.1", "0000:04:10.3")),),
            id="one-pf-two-vfs",
        ),
        pytest.param(
            "enp4s0:0000:04:00.3;0000:04:00.4,enp4s0d1:0000:04:00.1;0000:04:00.2",
            (
                ("enp4s0", addrs("0000:04:00.3", "0000:04:00.4")),
                ("enp4s0d1", addrs("0000:04:00.1", "0000:04:00.2")),
            ),
            id="neutron-docs-connectx3",
        ),
        pytest.param(
            " enp3s0f1 : 0000:04:10.1 ;; ",
            (("enp3s0f1", addrs("0000:04:10.1")),),
            id="blanks-and-empty-slots",
        ),
        pytest.param("enp3s0f1:", (("enp3s0f1", frozenset()),), id="no-slots"),
        pytest.param(
            "enp3s0f1:04:10.1;0000:04:10.3",
            (("enp3s0f1", addrs("0000:04:10.1", "0000:04:10.3")),),
            id="short-address-is-domain-0",
        ),
        pytest.param("", (), id="empty"),
    ],
)
def test_exclude_devices(value: str, entries: object) -> None:
    assert parse_exclude_devices(value).entries == entries


def test_exclusion_lookups() -> None:
    excluded = parse_exclude_devices("enp3s0f1:0000:04:10.1")
    assert excluded.excludes("enp3s0f1", PciAddress.parse("0000:04:10.1"))
    assert not excluded.excludes("enp3s0f1", PciAddress.parse("0000:04:10.3"))
    assert not excluded.excludes(None, PciAddress.parse("0000:04:10.1"))
    assert excluded.of("ens2") == frozenset()


@pytest.mark.parametrize(
    ("value", "field", "rule"),
    [
        pytest.param(
            "enp3s0f1",
            "exclude_devices",
            "each entry must be device:address[;address...]",
            id="no-colon",
        ),
        pytest.param(
            ":0000:04:10.1", "exclude_devices", "an entry is missing its device", id="no-device"
        ),
        pytest.param(
            "ens2:0000:04:10.1,ens2:0000:04:10.3",
            "exclude_devices",
            "device ens2 is named twice; give it one entry",
            id="device-twice",
        ),
        pytest.param(
            "ens2:0000:04:10.9",
            "exclude_devices (ens2)",
            "must look like DDDD:BB:DD.F",
            id="bad-address",
        ),
    ],
)
def test_bad_exclude_devices(value: str, field: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_exclude_devices(value)
    assert caught.value.field == field
    assert caught.value.rule.startswith(rule)


def test_excluded_devices_must_be_mapped() -> None:
    mappings = parse_device_mappings("physnet1:enp3s0f1")
    SriovAgentConfig(mappings, parse_exclude_devices("enp3s0f1:0000:04:10.1"))
    with pytest.raises(InvalidInput) as caught:
        SriovAgentConfig(mappings, parse_exclude_devices("enp3s0f0:0000:04:10.1"))
    assert (caught.value.field, caught.value.rule) == (
        "exclude_devices",
        "device enp3s0f0 is not in physical_device_mappings",
    )
    # A ',' where ';' belongs makes "0000" a device name, which no mapping has.
    with pytest.raises(InvalidInput) as caught:
        SriovAgentConfig(mappings, parse_exclude_devices("enp3s0f1:0000:04:10.1,0000:04:10.3"))
    assert caught.value.rule == "device 0000 is not in physical_device_mappings"


def test_the_agent_defaults_to_nothing() -> None:
    agent = SriovAgentConfig()
    assert agent.device_mappings == DeviceMappings()
    assert agent.exclude_devices == ExcludedDevices()


# ---------------------------------------------------------------- supported_pci_vendor_devs


def test_the_talks_vendor_devs() -> None:
    devs = parse_vendor_devs("8086:1528, 8086:1515")
    assert devs == VendorDevs(((0x8086, 0x1528), (0x8086, 0x1515)))
    assert devs.allows(0x8086, 0x1515)
    assert not devs.allows(0x8086, 0x10ED)
    assert str(devs) == "8086:1528, 8086:1515"
    assert parse_vendor_devs(["15B3:1004", "15b3:1004"]).pairs == ((0x15B3, 0x1004),)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param("8086", "each entry must be vendor_id:product_id", id="no-colon"),
        pytest.param("8086:1515:1", "each entry must be vendor_id:product_id", id="two-colons"),
        pytest.param(":1515", "an entry is missing its vendor_id", id="no-vendor"),
        pytest.param("8086: ", "an entry is missing its product_id", id="no-product"),
        pytest.param("0x8086:1515", "IDs must be 4 hex digits each, e.g. 8086:1515", id="0x"),
        pytest.param("86:1515", "IDs must be 4 hex digits each, e.g. 8086:1515", id="short"),
        pytest.param("8086:151g", "IDs must be 4 hex digits each, e.g. 8086:1515", id="not-hex"),
    ],
)
def test_bad_vendor_devs(value: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_vendor_devs(value)
    assert (caught.value.field, caught.value.rule) == ("supported_pci_vendor_devs", rule)


# ---------------------------------------------------------------- VLAN ranges


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        pytest.param(
            "physnet1:3001:4000", (("physnet1", (VlanRange(3001, 4000),)),), id="the-talks"
        ),
        pytest.param("physnet1", (("physnet1", ()),), id="provider-only"),
        pytest.param(
            "physnet1:1:10,physnet1:20:4094,physnet2",
            (("physnet1", (VlanRange(1, 10), VlanRange(20, 4094))), ("physnet2", ())),
            id="several",
        ),
        pytest.param("physnet1:5:5", (("physnet1", (VlanRange(5, 5),)),), id="one-vlan"),
        pytest.param(" physnet1 : 10 : 20 ", (("physnet1", (VlanRange(10, 20),)),), id="blanks"),
    ],
)
def test_network_vlan_ranges(value: str, entries: object) -> None:
    assert parse_network_vlan_ranges(value).entries == entries


def test_vlan_range_lookups() -> None:
    ranges = parse_network_vlan_ranges("physnet1:3001:4000,physnet2")
    assert ranges.allows("physnet1", 3001) and ranges.allows("physnet1", 4000)
    assert not ranges.allows("physnet1", 2010)
    assert not ranges.allows("physnet2", 5)
    assert ranges.physnets == ("physnet1", "physnet2")
    assert len(ranges.ranges_of("physnet1")[0]) == 1000
    assert str(ranges) == "physnet1:3001:4000,physnet2"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param("physnet1:3001", "need exactly two values for a VLAN range", id="one-value"),
        pytest.param("physnet1:1:2:3", "need exactly two values for a VLAN range", id="three"),
        pytest.param(":3001:4000", "empty physical network name", id="no-physnet"),
        pytest.param("physnet1:0:10", "0 is not a valid VLAN tag (1..4094)", id="vlan-0"),
        pytest.param("physnet1:1:4095", "4095 is not a valid VLAN tag (1..4094)", id="vlan-4095"),
        pytest.param("physnet1:-5:10", "-5 is not a valid VLAN tag (1..4094)", id="negative"),
        pytest.param(
            "physnet1:4000:3001", "the end of the range is less than its start", id="backwards"
        ),
        pytest.param("physnet1:a:10", "'a' is not a valid VLAN tag", id="not-a-number"),
    ],
)
def test_bad_network_vlan_ranges(value: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_network_vlan_ranges(value)
    assert caught.value.field == "network_vlan_ranges"
    assert caught.value.rule.startswith(rule)


def test_a_bare_vlan_range() -> None:
    assert parse_vlan_range("3001:4000") == VlanRange(3001, 4000)
    assert 3500 in VlanRange(3001, 4000)
    assert "3500" not in VlanRange(3001, 4000)
    with pytest.raises(InvalidInput):
        VlanRange(10, 5)


@pytest.mark.parametrize(
    ("physnet", "tenant", "expected"),
    [
        pytest.param("physnet1", "3001:4000", "physnet1:3001:4000", id="the-talks"),
        pytest.param("physnet1", None, "physnet1", id="physnet-only"),
        pytest.param("physnet1", "", "physnet1", id="empty-range"),
        pytest.param(None, None, "", id="neither"),
    ],
)
def test_devstack_vlan_ranges(physnet: str | None, tenant: str | None, expected: str) -> None:
    assert str(devstack_vlan_ranges(physnet, tenant)) == expected


@pytest.mark.parametrize(
    ("physnet", "tenant", "field", "rule"),
    [
        pytest.param(
            None,
            "3001:4000",
            "TENANT_VLAN_RANGE",
            "needs PHYSICAL_NETWORK to say which physnet it belongs to",
            id="no-physnet",
        ),
        pytest.param(
            "physnet1", "3001", "TENANT_VLAN_RANGE", "need exactly two values", id="one-value"
        ),
        pytest.param(
            "physnet1", "3001:5000", "TENANT_VLAN_RANGE", "5000 is not a valid", id="over-4094"
        ),
    ],
)
def test_bad_devstack_vlan_ranges(physnet: str | None, tenant: str, field: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        devstack_vlan_ranges(physnet, tenant)
    assert caught.value.field == field
    assert caught.value.rule.startswith(rule)


def test_no_ranges_is_empty() -> None:
    assert NetworkVlanRanges().ranges_of("physnet1") == ()
