"""Device requests: Nova's spec per vnic_type, flavor aliases, the NUMA policy, pool matching."""

from __future__ import annotations

import pytest

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.alias import Alias, NumaPolicy, parse_aliases
from sriovstack.domain.devspec import DevType, TagValue
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.pools import PoolKey
from sriovstack.domain.requesting import (
    DeviceRequest,
    RequestSource,
    RequestSpec,
    VnicType,
    describe_request,
    device_request_for_port,
    device_requests_for_flavor,
    parse_vnic_type,
    pool_matches,
    resolve_numa_policy,
)

PF = PciAddress.parse("0000:03:00.0")
X540VF = '{"name": "x540vf", "vendor_id": "8086", "product_id": "1515", "device_type": "type-VF"}'
ANYNIC = '{"name": "anynic", "vendor_id": "8086", "product_id": "10ED", "numa_policy": "socket"}'


def aliases(*texts: str) -> dict[str, Alias]:
    return {alias.name: alias for alias in parse_aliases(list(texts))}


def vf_pool(**tags: TagValue) -> PoolKey:
    return PoolKey("8086", "1515", 0, DevType.VF, PF, "enp3s0f0", tuple(tags.items()))


def port(
    vnic_type: VnicType,
    *,
    physnet: str | None = "physnet1",
    trusted: bool | None = None,
    numa_policy: NumaPolicy | None = None,
) -> DeviceRequest | None:
    return device_request_for_port(
        "p1", vnic_type, physnet=physnet, trusted=trusted, numa_policy=numa_policy
    )


# ---------------------------------------------------------------- vnic_type


@pytest.mark.parametrize("vnic_type", list(VnicType))
def test_every_vnic_type_parses_from_its_neutron_spelling(vnic_type: VnicType) -> None:
    assert parse_vnic_type(str(vnic_type)) is vnic_type


@pytest.mark.parametrize("text", ["Direct", "sriov", "", "accelerator-direct"])
def test_an_unknown_vnic_type_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_vnic_type(text)
    assert caught.value.field == "binding:vnic_type"
    assert "direct-physical" in caught.value.rule


def test_a_normal_port_asks_for_no_device() -> None:
    assert port(VnicType.NORMAL) is None


@pytest.mark.parametrize(
    ("vnic_type", "spec"),
    [
        (VnicType.DIRECT, {"physical_network": "physnet1", "remote_managed": "False"}),
        (VnicType.MACVTAP, {"physical_network": "physnet1", "remote_managed": "False"}),
        (VnicType.VIRTIO_FORWARDER, {"physical_network": "physnet1", "remote_managed": "False"}),
        (VnicType.REMOTE_MANAGED, {"physical_network": "physnet1", "remote_managed": "True"}),
        (
            VnicType.DIRECT_PHYSICAL,
            {"physical_network": "physnet1", "remote_managed": "False", "dev_type": "type-PF"},
        ),
    ],
)
def test_each_vnic_type_gets_novas_spec(vnic_type: VnicType, spec: RequestSpec) -> None:
    assert port(vnic_type) == DeviceRequest(1, (spec,), "p1", RequestSource.PORT, None)


@pytest.mark.parametrize(
    ("trusted", "expected"), [(True, "True"), (False, "False"), (None, "absent")]
)
def test_trusted_joins_the_spec_only_when_the_binding_profile_says(
    trusted: bool | None, expected: str
) -> None:
    request = port(VnicType.DIRECT, trusted=trusted)
    assert request is not None
    assert request.specs[0].get("trusted", "absent") == expected


def test_a_tunnelled_network_asks_for_physnet_none() -> None:
    request = port(VnicType.DIRECT, physnet=None)
    assert request is not None
    assert request.specs[0]["physical_network"] is None


def test_the_ports_own_numa_policy_is_carried() -> None:
    request = port(VnicType.DIRECT, numa_policy=NumaPolicy.REQUIRED)
    assert request is not None
    assert request.numa_policy is NumaPolicy.REQUIRED
    assert request.label == "port p1"


@pytest.mark.parametrize("vnic_type", [VnicType.VDPA, VnicType.BAREMETAL])
def test_vdpa_and_baremetal_ports_are_refused_as_unsupported(vnic_type: VnicType) -> None:
    with pytest.raises(InvalidInput) as caught:
        port(vnic_type)
    assert caught.value.field == "binding:vnic_type"
    assert "not supported" in caught.value.rule
    assert caught.value.value == str(vnic_type)


# ---------------------------------------------------------------- flavors


def test_a_flavor_asks_for_each_alias_with_its_count_specs_and_policy() -> None:
    known = aliases(X540VF, ANYNIC)
    requests = device_requests_for_flavor({"pci_passthrough:alias": "x540vf:1, anynic:2"}, known)
    assert requests == (
        DeviceRequest(
            1,
            ({"vendor_id": "8086", "product_id": "1515", "dev_type": "type-VF"},),
            "x540vf",
            RequestSource.ALIAS,
            NumaPolicy.LEGACY,
        ),
        DeviceRequest(
            2,
            ({"vendor_id": "8086", "product_id": "10ed"},),
            "anynic",
            RequestSource.ALIAS,
            NumaPolicy.SOCKET,
        ),
    )
    assert requests[0].label == "alias x540vf"


def test_the_flavor_policy_is_left_to_the_boot_not_folded_into_the_alias() -> None:
    (request,) = device_requests_for_flavor(
        {"pci_passthrough:alias": "anynic:1", "hw:pci_numa_affinity_policy": "required"},
        aliases(ANYNIC),
    )
    assert request.numa_policy is NumaPolicy.SOCKET


def test_an_alias_with_two_entries_gives_one_request_with_two_specs() -> None:
    other = X540VF.replace('"1515"', '"10ed"')
    (request,) = device_requests_for_flavor(
        {"pci_passthrough:alias": "x540vf:1"}, aliases(X540VF, other)
    )
    assert [spec["product_id"] for spec in request.specs] == ["1515", "10ed"]


@pytest.mark.parametrize(
    ("extra_specs", "count"),
    [
        ({}, 0),
        ({"hw:cpu_policy": "dedicated"}, 0),
        ({"pci_passthrough:alias": "x540vf:0"}, 0),
        ({"pci_passthrough:alias": "x540vf:0, anynic:1"}, 1),
    ],
)
def test_no_alias_or_a_zero_count_asks_for_nothing(extra_specs: dict[str, str], count: int) -> None:
    assert len(device_requests_for_flavor(extra_specs, aliases(X540VF, ANYNIC))) == count


@pytest.mark.parametrize(
    ("extra_specs", "field"),
    [
        ({"pci_passthrough:alias": "nosuch:1"}, "pci_passthrough:alias"),
        ({"pci_passthrough:alias": "x540vf"}, "pci_passthrough:alias"),
        (
            {"pci_passthrough:alias": "x540vf:1", "hw:pci_numa_affinity_policy": "near"},
            "hw:pci_numa_affinity_policy",
        ),
    ],
)
def test_a_bad_flavor_is_refused_naming_the_extra_spec(
    extra_specs: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        device_requests_for_flavor(extra_specs, aliases(X540VF))
    assert caught.value.field == field


# ---------------------------------------------------------------- flavor vs image policy

R, P = NumaPolicy.REQUIRED, NumaPolicy.PREFERRED


@pytest.mark.parametrize(
    ("flavor", "image", "expected"),
    [(None, None, None), (R, None, R), (None, P, P), (P, P, P)],
)
def test_the_boot_policy_is_the_flavors_or_the_images(
    flavor: NumaPolicy | None, image: NumaPolicy | None, expected: NumaPolicy | None
) -> None:
    assert resolve_numa_policy(flavor=flavor, image=image) is expected


def test_an_image_may_not_override_the_flavors_policy() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_numa_policy(flavor=R, image=P)
    assert caught.value.field == "hw_pci_numa_affinity_policy"
    assert "hw:pci_numa_affinity_policy=required" in caught.value.rule
    assert caught.value.value == "preferred"


# ---------------------------------------------------------------- pool matching


@pytest.mark.parametrize(
    ("pool", "spec", "matches"),
    [
        (vf_pool(physical_network="physnet1"), {"physical_network": "physnet1"}, True),
        (vf_pool(physical_network="PhysNet1"), {"physical_network": "PHYSNET1"}, True),
        (vf_pool(physical_network="physnet2"), {"physical_network": "physnet1"}, False),
        (vf_pool(), {"physical_network": None}, True),
        (vf_pool(physical_network=None), {"physical_network": None}, True),
        (vf_pool(physical_network="physnet1"), {"physical_network": None}, False),
        (vf_pool(), {"physical_network": "physnet1"}, False),
        (vf_pool(trusted="true"), {"trusted": "True"}, True),
        (vf_pool(trusted="true"), {"trusted": "False"}, False),
        (vf_pool(), {"trusted": "True"}, False),
        (vf_pool(), {"dev_type": "TYPE-VF", "vendor_id": "8086"}, True),
        (vf_pool(), {"dev_type": "type-PF"}, False),
        (vf_pool(), {"parent_ifname": "enp3s0f0", "address": "0000:03:00.0"}, True),
        (vf_pool(remote_managed="false"), {"remote_managed": "False"}, True),
        (vf_pool(remote_managed="true"), {"remote_managed": "False"}, False),
        (vf_pool(), {}, True),
    ],
)
def test_a_spec_matches_when_every_key_agrees_case_aside(
    pool: PoolKey, spec: RequestSpec, matches: bool
) -> None:
    assert pool_matches(pool, [spec]) is matches


def test_any_one_spec_of_several_is_enough() -> None:
    pool = vf_pool(physical_network="physnet2")
    assert pool_matches(pool, [{"physical_network": "physnet1"}, {"physical_network": "physnet2"}])
    assert not pool_matches(pool, [{"physical_network": "physnet1"}])
    assert not pool_matches(pool, [])


# ---------------------------------------------------------------- descriptions


def alias_request(count: int, *specs: RequestSpec) -> DeviceRequest:
    return DeviceRequest(count, specs, "a1", RequestSource.ALIAS)


@pytest.mark.parametrize(
    ("request_", "text"),
    [
        (port(VnicType.DIRECT), "1 VF on physnet physnet1"),
        (port(VnicType.DIRECT, physnet=None), "1 VF without a physnet"),
        (port(VnicType.DIRECT, trusted=True), "1 trusted VF on physnet physnet1"),
        (port(VnicType.DIRECT, trusted=False), "1 untrusted VF on physnet physnet1"),
        (port(VnicType.REMOTE_MANAGED), "1 remote-managed VF on physnet physnet1"),
        (port(VnicType.DIRECT_PHYSICAL), "1 PF on physnet physnet1"),
        (alias_request(2, {"vendor_id": "8086", "product_id": "1515"}), "2 devices 8086:1515"),
        (alias_request(1, {"vendor_id": "8086", "dev_type": "type-PCI"}), "1 PCI device 8086:*"),
        (
            alias_request(2, {"product_id": "1515", "dev_type": "type-VF"}, {"product_id": "10ed"}),
            "2 VFs *:1515 or devices *:10ed",
        ),
    ],
)
def test_a_request_is_described_for_people(request_: DeviceRequest | None, text: str) -> None:
    assert request_ is not None
    assert describe_request(request_) == text
