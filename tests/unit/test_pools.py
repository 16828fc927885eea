"""Pools: which PFs and VFs the specs select on a host, the pool key Nova forms, aliases served."""

from __future__ import annotations

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.alias import Alias, parse_aliases
from sriovstack.domain.devspec import DeviceSpecList, DevType, PciFunction, parse_device_spec
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.mappings import (
    SriovAgentConfig,
    parse_device_mappings,
    parse_exclude_devices,
    parse_vendor_devs,
)
from sriovstack.domain.pools import (
    PoolKey,
    Selected,
    group_pools,
    host_functions,
    pool_key,
    satisfies,
    select_devices,
    select_functions,
)
from sriovstack.host.inventory import read_inventory
from sriovstack.host.provisioning import set_vf_count

TALK_SPEC = '{"devname":"enp3s0f1","physical_network":"physnet1"}'
TALK_ALIAS = '{"name":"x540vf","product_id":"1515","vendor_id":"8086"}'
TALK_VFS = [
    "0000:04:10.1",
    "0000:04:10.3",
    "0000:04:10.5",
    "0000:04:10.7",
    "0000:04:11.1",
    "0000:04:11.3",
    "0000:04:11.5",
]
PF1 = PciAddress.parse("0000:03:00.1")


def specs(*texts: str) -> DeviceSpecList:
    return DeviceSpecList(tuple(s for text in texts for s in parse_device_spec(text)))


def alias(text: str) -> Alias:
    (parsed,) = parse_aliases([text])
    return parsed


@pytest.fixture(scope="module")
def talk() -> HostInventory:
    """The talk's host with enp3s0f1's seven VFs."""
    kernel = boot("talk-after")
    set_vf_count(kernel, "enp3s0f1", 7)
    return read_inventory(kernel)


@pytest.fixture(scope="module")
def dual() -> HostInventory:
    """Two sockets: an E810 on NUMA node 0 and a ConnectX-6 Dx on node 1, VFs on a port of each."""
    kernel = boot("dual-socket")
    set_vf_count(kernel, "ens785f0", 2)
    set_vf_count(kernel, "ens785f1", 2)
    set_vf_count(kernel, "ens801f0np0", 2)
    return read_inventory(kernel)


def addresses(selected: tuple[Selected, ...]) -> list[str]:
    return [str(s.function.address) for s in selected]


# ---------------------------------------------------------------- the talk's host


def test_the_talks_whitelist_selects_enp3s0f1_and_its_seven_vfs(talk: HostInventory) -> None:
    selected = select_devices(talk, specs(TALK_SPEC))
    assert addresses(selected) == ["0000:03:00.1", *TALK_VFS]
    assert [s.function.dev_type for s in selected] == [DevType.PF] + [DevType.VF] * 7


def test_the_talks_pools_are_the_pf_and_its_vfs(talk: HostInventory) -> None:
    pf_pool, vf_pool = group_pools(select_devices(talk, specs(TALK_SPEC)))
    assert vf_pool.key == PoolKey(
        vendor_id="8086",
        product_id="1515",
        numa_node=None,
        dev_type=DevType.VF,
        address=PF1,
        parent_ifname="enp3s0f1",
        tags=(("physical_network", "physnet1"), ("remote_managed", "false")),
    )
    assert vf_pool.count == 7
    assert pf_pool.key.as_dict() == {
        "vendor_id": "8086",
        "product_id": "1528",
        "numa_node": None,
        "dev_type": "type-PF",
        "address": "0000:03:00.1",
        "physical_network": "physnet1",
        "remote_managed": "false",
    }
    assert pf_pool.count == 1


def test_the_talks_alias_is_served_by_the_vf_pool_only(talk: HostInventory) -> None:
    pf_pool, vf_pool = group_pools(select_devices(talk, specs(TALK_SPEC)))
    x540vf = alias(TALK_ALIAS)
    assert satisfies(vf_pool.key, x540vf)
    assert not satisfies(pf_pool.key, x540vf)


@pytest.mark.parametrize(
    ("spec", "wanted"),
    [
        pytest.param('{"address": "0000:03:00.1"}', ["0000:03:00.1", *TALK_VFS], id="pf-address"),
        pytest.param('{"address": "*:03:00.*"}', ["0000:03:00.0", "0000:03:00.1"], id="wildcard"),
        pytest.param('{"address": "*:04:*.*"}', TALK_VFS, id="vf-bus"),
        pytest.param('{"product_id": "1515"}', TALK_VFS, id="vf-product"),
        pytest.param('{"vendor_id": "8086", "product_id": "1528"}', None, id="pf-product"),
        pytest.param('{"devname": "enp3s0f0"}', ["0000:03:00.0"], id="pf-without-vfs"),
        pytest.param('{"devname": ""}', [], id="blank-devname"),
    ],
)
def test_what_specs_select_on_the_talks_host(
    talk: HostInventory, spec: str, wanted: list[str] | None
) -> None:
    selected = addresses(select_devices(talk, specs(spec)))
    assert selected == (wanted if wanted is not None else ["0000:03:00.0", "0000:03:00.1"])


def test_the_first_matching_spec_gives_the_tags(talk: HostInventory) -> None:
    selected = select_devices(
        talk,
        specs(
            '{"address": "0000:04:10.1", "physical_network": "physnet2", "trusted": true}',
            TALK_SPEC,
        ),
    )
    first = selected[1]
    assert (str(first.function.address), first.spec_index) == ("0000:04:10.1", 0)
    assert first.pool.get("physical_network") == "physnet2"
    assert first.pool.get("trusted") == "true"
    assert [s.spec_index for s in selected] == [1, 0, 1, 1, 1, 1, 1, 1]
    assert [p.count for p in group_pools(selected)] == [1, 1, 6]


def test_no_spec_selects_nothing(talk: HostInventory) -> None:
    assert select_devices(talk, DeviceSpecList()) == ()


# ---------------------------------------------------------------- pool keys


def test_pools_are_split_per_pf_and_carry_the_numa_node(dual: HostInventory) -> None:
    pools = group_pools(select_devices(dual, specs('{"physical_network": "physnet1"}')))
    vf_pools = {
        (str(p.key.address), p.key.numa_node): p.count
        for p in pools
        if p.key.dev_type is DevType.VF
    }
    assert vf_pools == {("0000:17:00.0", 0): 2, ("0000:17:00.1", 0): 2, ("0000:98:00.0", 1): 2}
    pf_pools = [p for p in pools if p.key.dev_type is DevType.PF]
    assert len(pf_pools) == 4
    assert all(p.key.parent_ifname is None for p in pf_pools)


def test_nics_without_sr_iov_are_type_pci() -> None:
    functions = host_functions(read_inventory(boot("cx5-sriov-off")))
    kinds = {str(f.address): f.dev_type for f in functions}
    assert kinds["0000:17:00.0"] is DevType.PCI
    assert DevType.PF in kinds.values()


def vf_function(**changes: object) -> PciFunction:
    base: dict[str, object] = {
        "address": PciAddress.parse("0000:04:10.1"),
        "vendor_id": 0x8086,
        "product_id": 0x1515,
        "dev_type": DevType.VF,
        "parent": PF1,
        "parent_netdev": "enp3s0f1",
        "numa_node": 0,
    }
    base.update(changes)
    return PciFunction(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "function", "tags", "parent_ifname"),
    [
        pytest.param(
            '{"resource_class": "CUSTOM_X", "traits": "A", "physical_network": "p"}',
            vf_function(),
            (("physical_network", "p"), ("remote_managed", "false")),
            "enp3s0f1",
            id="placement-tags-left-out",
        ),
        pytest.param(
            '{"remote_managed": null}',
            vf_function(),
            (("remote_managed", "false"),),
            "enp3s0f1",
            id="null-remote-managed-is-false",
        ),
        pytest.param(
            '{"remote_managed": "True"}',
            vf_function(card_serial_number="X"),
            (("remote_managed", "True"),),
            "enp3s0f1",
            id="remote-managed-kept",
        ),
        pytest.param(
            '{"managed": "no"}',
            vf_function(parent_netdev=None),
            (("managed", "false"), ("remote_managed", "false")),
            None,
            id="vf-of-a-pf-without-netdev",
        ),
        pytest.param(
            "{}",
            vf_function(dev_type=DevType.PCI, parent=None, parent_netdev=None),
            (),
            None,
            id="type-pci-gets-no-remote-managed",
        ),
    ],
)
def test_pool_keys(
    spec: str, function: PciFunction, tags: tuple[object, ...], parent_ifname: str | None
) -> None:
    (parsed,) = parse_device_spec(spec)
    key = pool_key(function, parsed)
    assert key.tags == tags
    assert key.parent_ifname == parent_ifname
    assert key.address == (function.parent or function.address)
    assert (key.vendor_id, key.product_id, key.numa_node) == ("8086", "1515", 0)


# ---------------------------------------------------------------- aliases against pools


def key(**changes: object) -> PoolKey:
    base: dict[str, object] = {
        "vendor_id": "8086",
        "product_id": "1515",
        "numa_node": 0,
        "dev_type": DevType.VF,
        "address": PF1,
        "parent_ifname": "enp3s0f1",
        "tags": (("physical_network", "physnet1"), ("remote_managed", "false")),
    }
    base.update(changes)
    return PoolKey(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias_text", "pool", "served"),
    [
        pytest.param(TALK_ALIAS, key(), True, id="ids"),
        pytest.param(TALK_ALIAS.replace("8086", "8087"), key(), False, id="other-vendor"),
        pytest.param(
            TALK_ALIAS.replace("}", ', "device_type": "type-VF"}'), key(), True, id="type-vf"
        ),
        pytest.param(
            TALK_ALIAS.replace("}", ', "device_type": "type-PCI"}'), key(), False, id="type-pci"
        ),
        pytest.param(
            TALK_ALIAS.replace("1515", "1528"),
            key(product_id="1528", dev_type=DevType.PF),
            False,
            id="pfs-only-when-asked",
        ),
        pytest.param(
            TALK_ALIAS.replace("1515", "1528").replace("}", ', "device_type": "type-PF"}'),
            key(product_id="1528", dev_type=DevType.PF),
            True,
            id="pf-asked-for",
        ),
        pytest.param(
            TALK_ALIAS,
            key(tags=(("remote_managed", "true"),)),
            False,
            id="remote-managed-never-for-an-alias",
        ),
        pytest.param(
            TALK_ALIAS.replace("1515", "15A5"), key(product_id="15a5"), True, id="ids-any-case"
        ),
        pytest.param(
            TALK_ALIAS.replace("}", ', "live_migratable": "yes"}'),
            key(tags=(("live_migratable", "true"),)),
            True,
            id="live-migratable-pool",
        ),
        pytest.param(
            TALK_ALIAS.replace("}", ', "live_migratable": "yes"}'),
            key(),
            False,
            id="live-migratable-missing-from-pool",
        ),
    ],
)
def test_aliases_against_pools(alias_text: str, pool: PoolKey, served: bool) -> None:
    assert satisfies(pool, alias(alias_text)) is served


def test_any_entry_of_a_merged_alias_will_do() -> None:
    (nic,) = parse_aliases([TALK_ALIAS, TALK_ALIAS.replace("1515", "10ed")])
    assert satisfies(key(product_id="10ed"), nic)
    assert satisfies(key(), nic)
    assert not satisfies(key(product_id="1528"), nic)


def test_ids_compare_without_case() -> None:
    assert satisfies(key(product_id="15a5"), alias(TALK_ALIAS.replace("1515", "15A5")))


# ---------------------------------------------------------------- Neutron's view


def agent(mappings: str, excluded: str = "") -> SriovAgentConfig:
    return SriovAgentConfig(parse_device_mappings(mappings), parse_exclude_devices(excluded))


MISMATCH = "the spec tags physnet physnet1 but physical_device_mappings puts enp3s0f1 on physnet2"


@pytest.mark.parametrize(
    ("config", "first", "rest"),
    [
        pytest.param(agent("physnet1:enp3s0f1"), (), (), id="served"),
        pytest.param(agent("PHYSNET1:enp3s0f1"), (), (), id="physnet-case-ignored"),
        pytest.param(
            agent("physnet1:enp3s0f0"),
            ("its PF enp3s0f1 is not in physical_device_mappings",),
            ("its PF enp3s0f1 is not in physical_device_mappings",),
            id="pf-not-mapped",
        ),
        pytest.param(agent("physnet2:enp3s0f1"), (MISMATCH,), (MISMATCH,), id="physnet-mismatch"),
        pytest.param(
            agent("physnet1:enp3s0f1", "enp3s0f1:0000:04:10.1"),
            ("exclude_devices leaves it to the host (enp3s0f1)",),
            (),
            id="excluded",
        ),
    ],
)
def test_neutron_agent_problems(
    talk: HostInventory, config: SriovAgentConfig, first: tuple[str, ...], rest: tuple[str, ...]
) -> None:
    selected = select_devices(talk, specs(TALK_SPEC), agent=config)
    assert selected[0].problems == ()  # a PF is bound without the agent
    assert selected[1].problems == first
    assert {s.problems for s in selected[2:]} == {rest}


def test_supported_pci_vendor_devs(talk: HostInventory) -> None:
    devs = parse_vendor_devs("8086:1528, 8086:1515")
    assert all(s.problems == () for s in select_devices(talk, specs(TALK_SPEC), vendor_devs=devs))
    only_pf = parse_vendor_devs("8086:1528")
    problems = [s.problems for s in select_devices(talk, specs(TALK_SPEC), vendor_devs=only_pf)]
    assert problems[0] == ()
    assert problems[1] == ("pci_vendor_info 8086:1515 is not in supported_pci_vendor_devs",)


def test_remote_managed_specs_are_checked_against_the_host(talk: HostInventory) -> None:
    with pytest.raises(InvalidInput) as caught:
        select_devices(talk, specs('{"devname": "enp3s0f1", "remote_managed": "true"}'))
    assert caught.value.field == "device_spec[0]"
    assert caught.value.rule.startswith('PFs must not have the "remote_managed" tag')
    # VFs named by their own product ID pass, and without VPD serial numbers select nothing.
    ok = specs('{"devname": "enp3s0f1", "remote_managed": "true", "product_id": "1515"}')
    assert select_functions(host_functions(talk), ok) == ()


def test_a_vf_whose_pf_has_no_netdev_is_not_served() -> None:
    orphan = vf_function(parent_netdev=None)
    (selected,) = select_functions([orphan], specs("{}"), agent=agent("physnet1:enp3s0f1"))
    assert selected.problems == ("its PF 0000:03:00.1 is not in physical_device_mappings",)
