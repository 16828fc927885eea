"""The NIC catalogue: the shipped facts, the VF layout rule and the loader's validation."""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from types import MappingProxyType

import pytest

from sriovstack.domain.catalogue import (
    Catalogue,
    NicModel,
    VfLayout,
    load_catalogue,
    parse_catalogue,
)
from sriovstack.domain.errors import InvalidInput, NotFound

INTEL, MELLANOX, BROADCOM = 0x8086, 0x15B3, 0x14E4


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


# ------------------------------------------------------------------------ shipped facts


@pytest.mark.parametrize(
    ("vendor", "pf_device", "key", "vf_device", "pf_driver", "vf_driver"),
    [
        (INTEL, 0x10C9, "82576", 0x10CA, "igb", "igbvf"),
        (INTEL, 0x1521, "i350", 0x1520, "igb", "igbvf"),
        (INTEL, 0x10FB, "82599", 0x10ED, "ixgbe", "ixgbevf"),
        (INTEL, 0x1528, "x540", 0x1515, "ixgbe", "ixgbevf"),
        (INTEL, 0x1563, "x550", 0x1565, "ixgbe", "ixgbevf"),
        (INTEL, 0x1572, "x710", 0x154C, "i40e", "iavf"),
        (INTEL, 0x1583, "x710", 0x154C, "i40e", "iavf"),
        (INTEL, 0x1593, "e810", 0x1889, "ice", "iavf"),
        (MELLANOX, 0x1013, "cx4", 0x1014, "mlx5_core", "mlx5_core"),
        (MELLANOX, 0x1015, "cx4lx", 0x1016, "mlx5_core", "mlx5_core"),
        (MELLANOX, 0x1017, "cx5", 0x1018, "mlx5_core", "mlx5_core"),
        (MELLANOX, 0x101D, "cx6dx", 0x101E, "mlx5_core", "mlx5_core"),
        (MELLANOX, 0x101F, "cx6dx", 0x101E, "mlx5_core", "mlx5_core"),
        (BROADCOM, 0x16D7, "bcm57414", 0x16DC, "bnxt_en", "bnxt_en"),
    ],
)
def test_pf_id_finds_model_vf_id_and_drivers(
    catalogue: Catalogue,
    vendor: int,
    pf_device: int,
    key: str,
    vf_device: int,
    pf_driver: str,
    vf_driver: str,
) -> None:
    model = catalogue.by_pci_id(vendor, pf_device)
    assert model is not None
    assert model.key == key
    assert model.vf_device_id == vf_device
    assert (model.pf_driver, model.vf_driver) == (pf_driver, vf_driver)
    assert catalogue.by_pci_id(vendor, vf_device) is model


@pytest.mark.parametrize(
    ("key", "hw", "linux"),
    [("82576", 8, 7), ("i350", 8, 7), ("82599", 64, 63), ("x540", 64, 63), ("x550", 64, 63)],
)
def test_pool_based_intel_parts_keep_one_pool_for_the_pf(
    catalogue: Catalogue, key: str, hw: int, linux: int
) -> None:
    model = catalogue.get(key)
    assert (model.total_vfs_hw, model.total_vfs_linux) == (hw, linux)
    assert model.vf_layout is VfLayout.INTERLEAVED
    assert model.mac_filters_shared and model.vlan_filters_shared
    assert model.vf_mac_limit == 0


def test_x540(catalogue: Catalogue) -> None:
    x540 = catalogue.get("x540")
    assert x540.vendor_id == INTEL
    assert x540.vendor_name == "Intel Corporation"
    assert x540.pf_devices[0x1528] == "Ethernet Controller 10-Gigabit X540-AT2"
    assert x540.mac_filters == 128
    assert x540.vlan_filters == 64
    assert (x540.vf_offset(0, ari=True), x540.vf_stride(ari=True)) == (128, 2)
    assert (x540.vf_offset(0, ari=False), x540.vf_stride(ari=False)) == (384, 2)
    assert not x540.supports_8021ad
    assert not x540.supports_min_rate
    assert x540.reports_query_rss


def test_i350(catalogue: Catalogue) -> None:
    i350 = catalogue.get("i350")
    assert i350.mac_filters == 32
    assert i350.vf_stride(ari=True) == 4
    assert i350.vf_stride(ari=False) == 4
    assert i350.vf_offset(0, ari=False) == 384
    assert not i350.reports_query_rss


def test_x710(catalogue: Catalogue) -> None:
    x710 = catalogue.get("x710")
    assert x710.vf_layout is VfLayout.CONSECUTIVE
    assert (x710.vf_offset(0, ari=True), x710.vf_stride(ari=True)) == (16, 1)
    assert x710.vf_mac_limit == 18
    assert x710.vf_vlan_limit == 16
    assert not x710.supports_min_rate
    assert not x710.reports_query_rss
    assert not x710.mac_filters_shared


def test_x710_no_ari_offset_matches_the_observed_334_at_pf_devfn_2(catalogue: Catalogue) -> None:
    assert catalogue.get("x710").vf_offset(2, ari=False) == 334


def test_e810(catalogue: Catalogue) -> None:
    e810 = catalogue.get("e810")
    assert (e810.vf_offset(0, ari=True), e810.vf_stride(ari=True)) == (8, 1)
    assert (e810.vf_mac_limit, e810.vf_vlan_limit) == (18, 8)
    assert not e810.reports_query_rss


def test_connectx5(catalogue: Catalogue) -> None:
    cx5 = catalogue.get("cx5")
    assert cx5.vendor_name == "Mellanox Technologies"
    assert (cx5.vf_offset(0, ari=True), cx5.vf_stride(ari=True)) == (2, 1)
    assert cx5.total_vfs_hw == cx5.total_vfs_linux == 8
    assert not cx5.spoofchk_default
    assert cx5.firmware_sriov_toggle


def test_broadcom_vendor_name(catalogue: Catalogue) -> None:
    assert catalogue.get("bcm57414").vendor_name == "Broadcom Inc. and subsidiaries"
    assert not catalogue.get("bcm57414").supports_min_rate


def test_every_model_is_listed_once_with_the_required_models(catalogue: Catalogue) -> None:
    keys = [model.key for model in catalogue]
    assert len(keys) == len(set(keys)) == len(catalogue)
    required = {"82576", "i350", "82599", "x540", "x550", "x710", "e810", "cx4", "cx5", "cx6"}
    assert required <= set(keys)
    for model in catalogue:
        assert model.sources.strip()
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", model.key)


def test_unknown_pci_id_is_none_and_unknown_key_is_not_found(catalogue: Catalogue) -> None:
    assert catalogue.by_pci_id(INTEL, 0xFFFF) is None
    assert catalogue.by_pci_id(MELLANOX, 0x1528) is None  # right device, wrong vendor
    with pytest.raises(NotFound) as caught:
        catalogue.get("nope")
    assert (caught.value.kind, caught.value.key) == ("NIC model", "nope")


def test_models_are_immutable(catalogue: Catalogue) -> None:
    x540 = catalogue.get("x540")
    assert isinstance(x540.pf_devices, MappingProxyType)
    with pytest.raises(TypeError):
        x540.pf_devices[0x1234] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        x540.ports = 1  # type: ignore[misc]
    assert isinstance(catalogue.models, tuple)
    assert hash(x540) == hash(dataclasses.replace(x540))


def test_load_catalogue_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


# ------------------------------------------------------------------------ VF layout rule


def _devfn(function: int) -> str:
    return f"{function >> 3:02x}.{function & 7}"


def test_x540_pf1_with_ari_gets_the_odd_functions(catalogue: Catalogue) -> None:
    x540 = catalogue.get("x540")
    pf_devfn = 1
    offset, stride = x540.vf_offset(pf_devfn, ari=True), x540.vf_stride(ari=True)
    got = [pf_devfn + offset + stride * i for i in range(4)]
    assert got == [1 + 128 + 2 * i for i in range(4)]
    assert [_devfn(x) for x in got] == ["10.1", "10.3", "10.5", "10.7"]


def test_82599_pf0_with_ari_matches_the_observed_virtfn_links(catalogue: Catalogue) -> None:
    m = catalogue.get("82599")
    got = [m.vf_offset(0, ari=True) + m.vf_stride(ari=True) * i for i in (0, 1, 4)]
    assert [_devfn(x) for x in got] == ["10.0", "10.2", "11.0"]


def test_82599_without_ari_lands_on_the_next_bus(catalogue: Catalogue) -> None:
    routing = catalogue.get("82599").vf_offset(0, ari=False)
    assert (routing >> 8, _devfn(routing & 0xFF)) == (1, "10.0")


@pytest.mark.parametrize("key", ["x710", "e810", "cx5", "cx6dx", "bcm57414"])
@pytest.mark.parametrize("ari", [True, False])
def test_consecutive_pf1_follows_pf0s_last_vf(catalogue: Catalogue, key: str, ari: bool) -> None:
    m = catalogue.get(key)
    stride = m.vf_stride(ari=ari)
    pf0_last = 0 + m.vf_offset(0, ari=ari) + stride * (m.total_vfs_linux - 1)
    pf1_first = 1 + m.vf_offset(1, ari=ari)
    assert pf1_first == pf0_last + stride


def test_connectx5_pf0_vfs_follow_the_two_pfs(catalogue: Catalogue) -> None:
    cx5 = catalogue.get("cx5")
    got = [cx5.vf_offset(0, ari=True) + i for i in range(cx5.total_vfs_linux)]
    assert [_devfn(x) for x in (got[0], got[-1])] == ["00.2", "01.1"]


@pytest.mark.parametrize("key", ["82576", "i350", "82599", "x540", "x550"])
def test_interleaved_pfs_share_one_offset_and_never_collide(catalogue: Catalogue, key: str) -> None:
    m = catalogue.get(key)
    for ari in (True, False):
        assert {m.vf_offset(pf, ari=ari) for pf in range(m.ports)} == {m.vf_offset(0, ari=ari)}
    used = [
        pf + m.vf_offset(pf, ari=True) + m.vf_stride(ari=True) * i
        for pf in range(m.ports)
        for i in range(m.total_vfs_hw)
    ]
    assert len(used) == len(set(used))


@pytest.mark.parametrize("pf_function", [-1, 2])
def test_vf_offset_rejects_a_pf_function_the_card_does_not_have(
    catalogue: Catalogue, pf_function: int
) -> None:
    with pytest.raises(InvalidInput) as caught:
        catalogue.get("x540").vf_offset(pf_function, ari=True)
    assert caught.value.field == "pf_function"


# ------------------------------------------------------------------------ validation

GOOD_ENTRY = """
[[nic]]
key = "{key}"
name = "Test NIC"
vendor_id = "8086"
vendor_name = "Intel Corporation"
vf_device_id = "{vf}"
vf_device_name = "Test VF"
pf_driver = "ixgbe"
vf_driver = "ixgbevf"
ports = 2
link_speed_mbps = 10000
total_vfs_hw = 64
total_vfs_linux = 63
vf_layout = "interleaved"
vf_offset_ari = 128
vf_stride_ari = 2
vf_offset_noari = 384
vf_stride_noari = 2
vf_bar_bytes = 16384
mac_filters = 128
mac_filters_shared = true
vf_mac_limit = 0
vlan_filters = 64
vlan_filters_shared = true
vf_vlan_limit = 0
spoofchk_default = true
reports_spoofchk = true
reports_trust = true
reports_query_rss = true
supports_8021ad = false
supports_min_rate = false
firmware_sriov_toggle = false
sources = "test"
hedges = ""

[nic.pf_devices]
"{pf}" = "Test PF"
"""


def _entry(key: str = "test", pf: str = "abcd", vf: str = "abce") -> str:
    return GOOD_ENTRY.format(key=key, pf=pf, vf=vf)


def _change(text: str, field: str, new_line: str | None) -> str:
    """Replace (or with None drop) the line that sets ``field``."""
    pattern = re.compile(rf"^{re.escape(field)} = .*$", re.MULTILINE)
    assert pattern.search(text), field
    return pattern.sub(new_line if new_line is not None else "", text, count=1)


def _fails(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_catalogue(text)
    return caught.value


def test_the_template_entry_is_valid() -> None:
    catalogue = parse_catalogue(_entry())
    model = catalogue.get("test")
    assert model.pf_devices == {0xABCD: "Test PF"}
    assert catalogue.by_pci_id(INTEL, 0xABCE) is model


def test_the_shipped_file_passes_the_same_parser() -> None:
    text = resources.files("sriovstack.domain").joinpath("nics.toml").read_text("utf-8")
    assert [m.key for m in parse_catalogue(text)] == [m.key for m in load_catalogue()]


@pytest.mark.parametrize(
    "field", [f.name for f in dataclasses.fields(NicModel) if f.name != "pf_devices"]
)
def test_missing_field_names_entry_and_field(field: str) -> None:
    err = _fails(_change(_entry(), field, None))
    expected_label = "nic[#0]" if field == "key" else "nic[test]"
    assert err.field == f"{expected_label}.{field}"
    assert err.rule == "missing"


def test_missing_pf_devices_table() -> None:
    text = _entry().split("[nic.pf_devices]")[0]
    assert _fails(text).field == "nic[test].pf_devices"


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ("ports", 'ports = "2"'),
        ("ports", "ports = true"),
        ("ports", "ports = 2.0"),
        ("ports", "ports = 0"),
        ("vf_mac_limit", "vf_mac_limit = -1"),
        ("name", "name = 7"),
        ("name", 'name = "  "'),
        ("mac_filters_shared", "mac_filters_shared = 1"),
        ("pf_devices", "pf_devices = 5"),
        ("key", 'key = "X540"'),
    ],
)
def test_wrong_type_or_range_names_the_field(field: str, line: str) -> None:
    text = _entry()
    if field == "pf_devices":
        text = text.split("[nic.pf_devices]")[0].replace("[[nic]]", f"[[nic]]\n{line}")
    else:
        text = _change(text, field, line)
    err = _fails(text)
    assert err.field.endswith(f".{field}")


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ("vendor_id", 'vendor_id = "0x8086"'),
        ("vendor_id", 'vendor_id = "808"'),
        ("vendor_id", "vendor_id = 0x8086"),
        ("vf_device_id", 'vf_device_id = "zzzz"'),
    ],
)
def test_bad_hex_names_the_field(field: str, line: str) -> None:
    err = _fails(_change(_entry(), field, line))
    assert err.field == f"nic[test].{field}"
    assert "hex" in err.rule


def test_bad_hex_pf_device_id_names_the_device() -> None:
    err = _fails(_entry(pf="12g4"))
    assert err.field == "nic[test].pf_devices.12g4"


def test_pf_device_listed_twice_in_one_entry() -> None:
    text = _entry(pf="abcd").replace('"abcd" = "Test PF"', '"abcd" = "A"\n"ABCD" = "B"')
    assert _fails(text).field == "nic[test].pf_devices.ABCD"


def test_duplicate_key() -> None:
    err = _fails(_entry("dup", "1111", "1112") + _entry("dup", "2221", "2222"))
    assert err.field == "nic[dup].key"
    assert "duplicate" in err.rule


def test_duplicate_pf_device_across_models() -> None:
    err = _fails(_entry("one", "1111", "1112") + _entry("two", "1111", "2222"))
    assert err.field == "nic[two].pf_devices"
    assert "8086:1111" in err.rule
    assert "one" in err.rule


def test_vf_device_colliding_with_another_models_pf() -> None:
    err = _fails(_entry("one", "1111", "1112") + _entry("two", "2221", "1111"))
    assert err.field == "nic[two].vf_device_id"


def test_vf_device_equal_to_own_pf_device() -> None:
    err = _fails(_entry(pf="1111", vf="1111"))
    assert err.field == "nic[test].vf_device_id"


def test_unknown_vf_layout() -> None:
    err = _fails(_change(_entry(), "vf_layout", 'vf_layout = "striped"'))
    assert err.field == "nic[test].vf_layout"
    assert "interleaved" in err.rule and "consecutive" in err.rule


def test_total_vfs_linux_above_hw() -> None:
    err = _fails(_change(_entry(), "total_vfs_linux", "total_vfs_linux = 65"))
    assert err.field == "nic[test].total_vfs_linux"
    assert "total_vfs_hw" in err.rule


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ("vf_bar_bytes", "vf_bar_bytes = 12000"),
        ("vf_offset_ari", "vf_offset_ari = 1"),
        ("vf_stride_ari", "vf_stride_ari = 1"),
        ("vf_mac_limit", "vf_mac_limit = 129"),
        ("vf_vlan_limit", "vf_vlan_limit = 65"),
    ],
)
def test_inconsistent_numbers(field: str, line: str) -> None:
    assert _fails(_change(_entry(), field, line)).field == f"nic[test].{field}"


def test_unknown_field_is_rejected() -> None:
    err = _fails(_entry().replace("[[nic]]", "[[nic]]\ntotal_vfs = 3"))
    assert err.field == "nic[test].total_vfs"


def test_not_toml_and_not_a_catalogue() -> None:
    assert _fails("[[nic]\n").field == "nics.toml"
    assert _fails("").field == "nic"
    assert _fails("nic = 3").field == "nic"
    assert _fails("version = 1\n" + _entry()).field == "version"
