"""Guest values: what a NIC of each kind must have, and the specs refused before any XML exists."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.requesting import VnicType
from sriovstack.virt.guests import Guest, GuestNic, GuestSpec, NicKind, PowerState

MAC = MacAddress.parse("fa:16:3e:5d:1c:01")
VF = PciAddress.parse("0000:04:10.1")
PF = PciAddress.parse("0000:03:00.0")
UUID = "fe972329-0666-4160-9950-e1f6f79146c5"  # the talk's Instance-1


def nic(kind: NicKind = NicKind.HOSTDEV, **fields: Any) -> GuestNic:
    defaults: dict[NicKind, dict[str, Any]] = {
        NicKind.HOSTDEV: {"pci_address": VF},
        NicKind.MACVTAP: {"source_dev": "enp3s0f1v0"},
        NicKind.HOSTDEV_PF: {"pci_address": PF},
        NicKind.BRIDGE: {"bridge": "br-enp3s0f0"},
    }
    values = {"port_id": "p1", "mac": MAC, "kind": kind, **defaults[kind], **fields}
    return GuestNic(**values)


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        (NicKind.HOSTDEV, "pci_address"),
        (NicKind.MACVTAP, "source_dev"),
        (NicKind.HOSTDEV_PF, "pci_address"),
        (NicKind.BRIDGE, "bridge"),
    ],
)
def test_each_kind_needs_its_own_field(kind: NicKind, missing: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        nic(kind, **{missing: None})
    assert caught.value.field == f"nics[p1].{missing}"
    assert f"a {kind} NIC needs one" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "extra", "value"),
    [
        (NicKind.HOSTDEV, "bridge", "br-int"),
        (NicKind.MACVTAP, "pci_address", VF),
        (NicKind.BRIDGE, "pci_address", VF),
        (NicKind.HOSTDEV_PF, "source_dev", "enp3s0f0"),
    ],
)
def test_a_field_of_another_kind_is_refused(kind: NicKind, extra: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=f"nics\\[p1\\].{extra}: a {kind} NIC has none"):
        nic(kind, **{extra: value})


def test_a_whole_pf_cannot_be_given_a_vlan_libvirt_would_not_apply() -> None:
    with pytest.raises(InvalidInput, match="tag it on the switch") as caught:
        nic(NicKind.HOSTDEV_PF, vlan=2010)
    assert caught.value.field == "nics[p1].vlan"


@pytest.mark.parametrize("vlan", [0, 4095, -1])
def test_a_vlan_is_1_to_4094(vlan: int) -> None:
    with pytest.raises(InvalidInput, match=r"nics\[p1\]\.vlan: must be 1-4094"):
        nic(vlan=vlan)


@pytest.mark.parametrize("mac", ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"])
def test_a_nic_mac_is_unicast(mac: str) -> None:
    with pytest.raises(InvalidInput, match=r"nics\[p1\]\.mac"):
        nic(mac=MacAddress.parse(mac))


@pytest.mark.parametrize("port_id", ["", "a b", "a/b", "x" * 65, "ünï"])
def test_a_port_id_must_fit_a_libvirt_user_alias(port_id: str) -> None:
    with pytest.raises(InvalidInput, match=r"nics\.port_id"):
        nic(port_id=port_id)


@pytest.mark.parametrize("name", ["", "enp3s0f1v0-too-long", "a/b", "a:b"])
def test_a_macvtap_source_is_a_netdev_name(name: str) -> None:
    with pytest.raises(InvalidInput, match=r"nics\[p1\]\.source_dev"):
        nic(NicKind.MACVTAP, source_dev=name or None)


def test_the_user_alias_names_the_port() -> None:
    assert nic(port_id="2f0f7c3a-1d10").alias == "ua-2f0f7c3a-1d10"


def test_a_spec_keeps_its_uuid_in_libvirts_form() -> None:
    spec = GuestSpec(UUID.upper(), "Instance-1", 1, 2048)
    assert spec.uuid == UUID


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"uuid": "fe972329"}, "uuid"),
        ({"name": " "}, "name"),
        ({"name": "a/b"}, "name"),
        ({"vcpus": 0}, "vcpus"),
        ({"memory_mib": 0}, "memory_mib"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"uuid": UUID, "name": "Instance-1", "vcpus": 1, "memory_mib": 2048}
    with pytest.raises(InvalidInput) as caught:
        GuestSpec(**(values | fields))
    assert caught.value.field == field


def test_a_port_is_plugged_once_and_a_device_given_once() -> None:
    with pytest.raises(InvalidInput, match="each port may be plugged once"):
        GuestSpec(UUID, "i", 1, 512, (nic(), nic(NicKind.BRIDGE)))
    with pytest.raises(
        InvalidInput, match=re.escape("0000:04:10.1 is already given to port p1")
    ) as caught:
        GuestSpec(UUID, "i", 1, 512, (nic(), nic(port_id="p2")))
    assert caught.value.field == "nics[p2].pci_address"


def test_nics_are_added_and_removed_by_port() -> None:
    spec = GuestSpec(UUID, "i", 1, 512, (nic(),))
    bridged = nic(NicKind.BRIDGE, port_id="p2")
    wider = spec.with_nic(bridged)
    assert wider.nic("p2") == bridged
    assert wider.without_nic("p2") == spec
    assert spec.nic("p2") is None


@pytest.mark.parametrize(
    ("vnic_type", "kind"),
    [
        (VnicType.DIRECT, NicKind.HOSTDEV),
        (VnicType.REMOTE_MANAGED, NicKind.HOSTDEV),
        (VnicType.MACVTAP, NicKind.MACVTAP),
        (VnicType.DIRECT_PHYSICAL, NicKind.HOSTDEV_PF),
        (VnicType.NORMAL, NicKind.BRIDGE),
    ],
)
def test_vnic_types_map_to_nova_s_guest_devices(vnic_type: VnicType, kind: NicKind) -> None:
    assert NicKind.for_vnic_type(vnic_type) is kind


def test_a_vnic_type_without_a_guest_device_is_refused() -> None:
    with pytest.raises(InvalidInput, match="binding:vnic_type"):
        NicKind.for_vnic_type(VnicType.VDPA)


def test_power_states_carry_novas_numbers() -> None:
    assert {s.name: int(s) for s in PowerState} == {
        "NOSTATE": 0,
        "RUNNING": 1,
        "PAUSED": 3,
        "SHUTDOWN": 4,
        "CRASHED": 6,
        "SUSPENDED": 7,
    }
    spec = GuestSpec(UUID, "i", 1, 512)
    assert Guest(spec, PowerState.PAUSED).running
    assert not Guest(spec, PowerState.SHUTDOWN).running


def test_nics_keep_their_order_but_whole_pfs_come_last() -> None:
    pf = nic(NicKind.HOSTDEV_PF, port_id="pf")
    ovs = nic(NicKind.BRIDGE, port_id="ovs")
    vf = nic(port_id="vf")
    spec = GuestSpec(UUID, "i", 1, 512, (pf, ovs, vf))
    assert [n.port_id for n in spec.nics] == ["ovs", "vf", "pf"]
    assert spec == GuestSpec(UUID, "i", 1, 512, (ovs, pf, vf))
