"""Scheduling: host filters, PCI pool fitting with NUMA and PF/VF exclusion, weighing, reasons."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.alias import NumaPolicy
from sriovstack.domain.devspec import DevType, TagValue
from sriovstack.domain.pools import PoolKey
from sriovstack.domain.requesting import (
    DeviceRequest,
    RequestSource,
    RequestSpec,
    VnicType,
    device_request_for_port,
)
from sriovstack.domain.scheduling import (
    BootRequest,
    Fit,
    FreePool,
    HostState,
    NumaCell,
    Ranking,
    Strategy,
    Take,
    Weighing,
    check_host,
    effective_policy,
    explain_no_valid_host,
    fit_devices,
    rank_hosts,
)

PF_A = PciAddress.parse("0000:03:00.0")
PF_B = PciAddress.parse("0000:04:00.0")
PF_C = PciAddress.parse("0000:05:00.0")
TWO_SOCKETS = (NumaCell(0, 0), NumaCell(1, 1))
ONE_SOCKET = (NumaCell(0, 0), NumaCell(1, 0))
NO_SOCKETS = (NumaCell(0, None), NumaCell(1, None))
X540VF = {"vendor_id": "8086", "product_id": "1515"}

REQUIRED, SOCKET = NumaPolicy.REQUIRED, NumaPolicy.SOCKET
LEGACY, PREFERRED = NumaPolicy.LEGACY, NumaPolicy.PREFERRED


# ---------------------------------------------------------------- factories


def key(
    *,
    address: PciAddress = PF_A,
    dev_type: DevType = DevType.VF,
    numa: int | None = 0,
    physnet: str | None = "physnet1",
    product: str = "1515",
    remote_managed: str | None = "false",
    **tags: TagValue,
) -> PoolKey:
    """A pool as ``pools.pool_key`` forms it for a device spec tagging ``physnet``."""
    tagged: dict[str, TagValue] = dict(tags)
    if physnet is not None:
        tagged["physical_network"] = physnet
    if remote_managed is not None:
        tagged["remote_managed"] = remote_managed
    return PoolKey("8086", product, numa, dev_type, address, tags=tuple(tagged.items()))


def pool(free: int = 4, **kwargs: Any) -> FreePool:
    return FreePool(key(**kwargs), free)


def port(
    port_id: str = "p1",
    vnic_type: VnicType = VnicType.DIRECT,
    *,
    physnet: str | None = "physnet1",
    trusted: bool | None = None,
    policy: NumaPolicy | None = None,
) -> DeviceRequest:
    request = device_request_for_port(
        port_id, vnic_type, physnet=physnet, trusted=trusted, numa_policy=policy
    )
    assert request is not None
    return request


def alias(
    name: str = "a1", count: int = 1, *specs: RequestSpec, policy: NumaPolicy | None = None
) -> DeviceRequest:
    return DeviceRequest(count, specs or (X540VF,), name, RequestSource.ALIAS, policy)


def boot(
    *devices: DeviceRequest,
    cells: tuple[int, ...] = (),
    policy: NumaPolicy | None = None,
    az: str | None = None,
) -> BootRequest:
    return BootRequest(2048, 2, az, devices, guest_numa_cells=cells, numa_policy=policy)


def host(name: str = "c1", *pools: FreePool, ram: int = 8192, **changes: Any) -> HostState:
    state = HostState(name, "az1", True, True, ram, 16, TWO_SOCKETS, pools)
    return dataclasses.replace(state, **changes)


def fit(
    *requests: DeviceRequest,
    pools: tuple[FreePool, ...],
    cells: tuple[int, ...] = (),
    policy: NumaPolicy | None = None,
    host_cells: tuple[NumaCell, ...] = TWO_SOCKETS,
) -> Fit | str:
    return fit_devices(
        requests, pools, boot=boot(*requests, cells=cells, policy=policy), host_cells=host_cells
    )


def given(result: Fit | str) -> list[tuple[str, PoolKey, int]]:
    """Who gets how many from which pool; fails the test with the reason when nothing fits."""
    assert isinstance(result, Fit), result
    return [(take.request.requester, take.pool, take.count) for take in result.takes]


def refused(result: Fit | str) -> str:
    assert isinstance(result, str), result
    return result


# ---------------------------------------------------------------- host filters


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"enabled": False, "disabled_reason": "maintenance"}, "disabled: maintenance"),
        ({"enabled": False}, "disabled"),
        ({"enabled": False, "alive": False, "free_vcpus": 0}, "disabled"),
        ({"alive": False}, "its agent has not reported in time"),
        ({"alive": False, "free_ram_mib": 0}, "its agent has not reported in time"),
        ({"availability_zone": "az2"}, "in availability zone az2, the boot asks for az1"),
        (
            {"availability_zone": "az2", "free_ram_mib": 0},
            "in availability zone az2, the boot asks for az1",
        ),
        ({"free_ram_mib": 1024}, "needs 2048 MiB RAM, 1024 free"),
        ({"free_ram_mib": 1024, "free_vcpus": 1}, "needs 2048 MiB RAM, 1024 free"),
        ({"free_vcpus": 1}, "needs 2 vCPUs, 1 free"),
        ({"free_vcpus": 1, "pools": ()}, "needs 2 vCPUs, 1 free"),
        ({"pools": ()}, "port p1: needs 1 VF on physnet physnet1, 0 free"),
    ],
)
def test_host_filters_run_in_order_and_the_first_failure_is_the_reason(
    changes: dict[str, Any], reason: str
) -> None:
    state = dataclasses.replace(host("c1", pool()), **changes)
    assert check_host(boot(port(), az="az1"), state) == reason


@pytest.mark.parametrize("az", ["az1", None])
def test_a_host_that_passes_every_filter_gets_a_fit(az: str | None) -> None:
    state = host("c1", pool(), free_ram_mib=2048, free_vcpus=2)
    assert given(check_host(boot(port(), az=az), state)) == [("p1", key(), 1)]


def test_a_boot_without_devices_passes_the_pci_filter_on_a_host_without_pools() -> None:
    assert check_host(boot(), host("c1")) == Fit(())


# ---------------------------------------------------------------- spec match and pool kinds


def test_a_port_gets_a_vf_on_its_physnet() -> None:
    pools = (pool(physnet="physnet2", address=PF_B), pool(physnet="physnet1"))
    assert given(fit(port(), pools=pools)) == [("p1", key(physnet="physnet1"), 1)]


def test_no_vf_on_the_physnet_says_which_physnet_and_how_many() -> None:
    reason = refused(fit(port("3f2a"), pools=(pool(physnet="physnet2"),)))
    assert reason == "port 3f2a: needs 1 VF on physnet physnet1, 0 free"


def test_physnet_matches_regardless_of_case() -> None:
    assert given(fit(port(physnet="PhysNet1"), pools=(pool(physnet="physnet1"),)))


def test_a_tunnelled_network_takes_only_vfs_without_a_physnet() -> None:
    pools = (pool(physnet="physnet1"), pool(physnet=None, address=PF_B))
    assert given(fit(port(physnet=None), pools=pools)) == [
        ("p1", key(physnet=None, address=PF_B), 1)
    ]


@pytest.mark.parametrize(
    ("trusted", "pool_tag", "fits"),
    [
        (True, "true", True),
        (True, "True", True),
        (True, "false", False),
        (True, None, False),
        (False, "false", True),
        (False, "true", False),
        (None, "true", True),
        (None, None, True),
    ],
)
def test_a_trusted_port_needs_a_pool_tagged_alike(
    trusted: bool | None, pool_tag: str | None, fits: bool
) -> None:
    tags: dict[str, Any] = {} if pool_tag is None else {"trusted": pool_tag}
    result = fit(port(trusted=trusted), pools=(pool(**tags),))
    assert isinstance(result, Fit) is fits
    if not fits:
        assert "trusted VF on physnet physnet1, 0 free" in refused(result)


def test_a_whole_pf_goes_only_to_a_request_that_asks_type_pf() -> None:
    pf = pool(1, dev_type=DevType.PF, product="1528")
    assert refused(fit(port(), pools=(pf,))) == (
        "port p1: needs 1 VF on physnet physnet1, 1 free but none once whole PFs are left out "
        "(a PF goes only to a direct-physical port or an alias with device_type type-PF: "
        "create VFs on it to serve VF requests)"
    )
    assert given(fit(port(vnic_type=VnicType.DIRECT_PHYSICAL), pools=(pf,))) == [("p1", pf.key, 1)]


def test_a_direct_port_takes_a_vf_even_when_a_pf_pool_comes_first() -> None:
    pools = (pool(1, dev_type=DevType.PF, address=PF_B), pool(2))
    assert given(fit(port(), pools=pools)) == [("p1", key(), 1)]


def test_an_alias_without_device_type_never_gets_a_pf_of_the_same_ids() -> None:
    pools = (pool(1, dev_type=DevType.PF, address=PF_B), pool(1))
    assert given(fit(alias(count=1), pools=pools)) == [("a1", key(), 1)]
    assert "once whole PFs are left out" in refused(fit(alias(count=2), pools=pools))


def test_an_alias_asking_type_pf_gets_the_pf() -> None:
    pools = (pool(1, dev_type=DevType.PF),)
    request = alias("wholenic", 1, {**X540VF, "dev_type": "type-PF"})
    assert given(fit(request, pools=pools)) == [("wholenic", key(dev_type=DevType.PF), 1)]


def test_remote_managed_vfs_go_only_to_requests_that_ask_for_them() -> None:
    smartnic = pool(2, remote_managed="true")
    assert refused(fit(alias(), pools=(smartnic,))) == (
        "alias a1: needs 1 device 8086:1515, 2 free but none once remote-managed VFs are left "
        "out (they go only to remote-managed ports)"
    )
    assert refused(fit(port(), pools=(smartnic,))).endswith(", 0 free")
    remote = port(vnic_type=VnicType.REMOTE_MANAGED)
    assert given(fit(remote, pools=(smartnic,))) == [("p1", smartnic.key, 1)]


def test_a_remote_managed_port_does_not_take_ordinary_vfs() -> None:
    reason = refused(fit(port(vnic_type=VnicType.REMOTE_MANAGED), pools=(pool(),)))
    assert reason == "port p1: needs 1 remote-managed VF on physnet physnet1, 0 free"


def test_a_request_spans_pools_when_one_is_not_enough() -> None:
    pools = (pool(2), pool(2, address=PF_B))
    assert given(fit(alias(count=3), pools=pools)) == [
        ("a1", key(), 2),
        ("a1", key(address=PF_B), 1),
    ]


# ---------------------------------------------------------------- NUMA


def numa_fit(
    policy: NumaPolicy,
    nodes: tuple[int | None, ...],
    *,
    cells: tuple[int, ...] = (0,),
    host_cells: tuple[NumaCell, ...] = TWO_SOCKETS,
    count: int = 1,
) -> Fit | str:
    """An alias with its own ``policy`` on a host with one free VF on each of ``nodes``."""
    addresses = (PF_A, PF_B, PF_C)
    pools = tuple(pool(1, numa=n, address=a) for n, a in zip(nodes, addresses, strict=False))
    return fit(alias(count=count, policy=policy), pools=pools, cells=cells, host_cells=host_cells)


def nodes_given(result: Fit | str) -> list[int | None]:
    return [pool.numa_node for _, pool, count in given(result) for _ in range(count)]


@pytest.mark.parametrize(
    ("policy", "nodes", "host_cells", "count", "taken"),
    [
        (REQUIRED, (0,), TWO_SOCKETS, 1, [0]),
        (REQUIRED, (1, 0), TWO_SOCKETS, 1, [0]),
        (LEGACY, (None,), TWO_SOCKETS, 1, [None]),
        (LEGACY, (None, 0), TWO_SOCKETS, 1, [0]),
        (LEGACY, (0, None), TWO_SOCKETS, 2, [0, None]),
        (PREFERRED, (1,), TWO_SOCKETS, 1, [1]),
        (PREFERRED, (1, None, 0), TWO_SOCKETS, 3, [0, None, 1]),
        (SOCKET, (1,), ONE_SOCKET, 1, [1]),
        (SOCKET, (0,), NO_SOCKETS, 1, [0]),
        (SOCKET, (1, 0), TWO_SOCKETS, 1, [0]),
    ],
)
def test_numa_policies_that_find_devices(
    policy: NumaPolicy,
    nodes: tuple[int | None, ...],
    host_cells: tuple[NumaCell, ...],
    count: int,
    taken: list[int | None],
) -> None:
    result = numa_fit(policy, nodes, host_cells=host_cells, count=count)
    assert nodes_given(result) == taken


@pytest.mark.parametrize(
    ("policy", "nodes", "host_cells", "count", "reason"),
    [
        (REQUIRED, (1,), TWO_SOCKETS, 1, "1 free but none on the guest's NUMA node 0"),
        (REQUIRED, (None,), TWO_SOCKETS, 1, "1 free but none on the guest's NUMA node 0"),
        (REQUIRED, (0, 1), TWO_SOCKETS, 2, "2 free but only 1 on the guest's NUMA node 0"),
        (
            LEGACY,
            (1,),
            TWO_SOCKETS,
            1,
            "1 free but none on the guest's NUMA node 0 or without a NUMA node",
        ),
        (SOCKET, (1,), TWO_SOCKETS, 1, "1 free but none on the guest's socket 0"),
        (SOCKET, (None,), ONE_SOCKET, 1, "1 free but none on the guest's socket 0"),
        (
            SOCKET,
            (1,),
            NO_SOCKETS,
            1,
            "1 free but none usable, as the host does not report which socket each NUMA node is on",
        ),
        (
            SOCKET,
            (1,),
            (NumaCell(0, 0), NumaCell(1, 0), NumaCell(2, None)),
            1,
            "does not report which socket",
        ),
    ],
)
def test_numa_policies_that_refuse_say_where_and_which_policy(
    policy: NumaPolicy,
    nodes: tuple[int | None, ...],
    host_cells: tuple[NumaCell, ...],
    count: int,
    reason: str,
) -> None:
    text = refused(numa_fit(policy, nodes, host_cells=host_cells, count=count))
    assert text.startswith(f"alias a1: needs {count} device")
    assert reason in text
    assert text.endswith(f"(NUMA policy {policy})")


def test_the_guests_cells_are_all_named_in_the_reason() -> None:
    text = refused(numa_fit(REQUIRED, (2,), cells=(0, 1), host_cells=()))
    assert "none on the guest's NUMA nodes 0, 1 (NUMA policy required)" in text


def test_a_guest_whose_nodes_the_host_lacks_gets_nothing_under_socket() -> None:
    text = refused(numa_fit(SOCKET, (0,), cells=(5,), host_cells=TWO_SOCKETS))
    assert "none on this host, which has none of the guest's NUMA nodes" in text


def test_a_guest_without_numa_topology_takes_devices_from_any_node() -> None:
    assert nodes_given(numa_fit(REQUIRED, (1,), cells=())) == [1]


def test_the_default_policy_is_legacy() -> None:
    assert "(NUMA policy legacy)" in refused(numa_fit(LEGACY, (1,)))
    request = alias(policy=None)
    result = fit(request, pools=(pool(1, numa=1),), cells=(0,))
    assert "(NUMA policy legacy)" in refused(result)


def test_preferred_does_not_count_pfs_it_will_not_get_as_affine() -> None:
    # Nova sees two devices on node 0, keeps only those, then drops the PF and fails.
    pools = (
        pool(1, numa=0, dev_type=DevType.PF, address=PF_B),
        pool(1, numa=0),
        pool(1, numa=1, address=PF_C),
    )
    result = fit(alias(count=2, policy=PREFERRED), pools=pools, cells=(0,))
    assert nodes_given(result) == [0, 1]


# ---------------------------------------------------------------- policy precedence


@pytest.mark.parametrize(
    ("request_", "boot_policy", "expected"),
    [
        (port(policy=REQUIRED), PREFERRED, REQUIRED),
        (port(policy=SOCKET), None, SOCKET),
        (port(policy=None), PREFERRED, PREFERRED),
        (port(policy=None), None, LEGACY),
        (alias(policy=SOCKET), PREFERRED, PREFERRED),
        (alias(policy=SOCKET), None, SOCKET),
        (alias(policy=None), None, LEGACY),
    ],
)
def test_policy_precedence_is_port_then_flavor_or_image_then_alias_then_legacy(
    request_: DeviceRequest, boot_policy: NumaPolicy | None, expected: NumaPolicy
) -> None:
    assert effective_policy(request_, boot(request_, policy=boot_policy)) is expected


@pytest.mark.parametrize(
    ("request_", "boot_policy", "fits"),
    [
        (port(policy=REQUIRED), PREFERRED, False),
        (port(policy=PREFERRED), REQUIRED, True),
        (port(policy=None), PREFERRED, True),
        (alias(policy=REQUIRED), PREFERRED, True),
        (alias(policy=PREFERRED), REQUIRED, False),
        (alias(policy=REQUIRED), None, False),
    ],
)
def test_the_winning_policy_decides_the_fit(
    request_: DeviceRequest, boot_policy: NumaPolicy | None, fits: bool
) -> None:
    result = fit(request_, pools=(pool(1, numa=1),), cells=(0,), policy=boot_policy)
    assert isinstance(result, Fit) is fits


# ---------------------------------------------------------------- one boot, many requests


def test_two_aliases_never_share_one_device() -> None:
    reason = refused(fit(alias("a1"), alias("a2"), pools=(pool(1),)))
    assert (
        reason == "alias a2: needs 1 device 8086:1515, 0 free (this boot's other requests take 1)"
    )


def test_two_ports_take_two_devices_of_one_pool() -> None:
    result = fit(port("p1"), port("p2"), pools=(pool(2),))
    assert given(result) == [("p1", key(), 1), ("p2", key(), 1)]


def test_all_or_nothing_when_the_second_request_cannot_fit() -> None:
    pools = (pool(4, physnet="physnet1"),)
    result = fit(port("p1"), port("p2", physnet="physnet2"), pools=pools)
    assert refused(result) == "port p2: needs 1 VF on physnet physnet2, 0 free"


def test_taking_a_vf_makes_its_pf_unusable_for_the_rest_of_the_boot() -> None:
    pools = (pool(4), pool(1, dev_type=DevType.PF))
    result = fit(port("p1"), port("p2", vnic_type=VnicType.DIRECT_PHYSICAL), pools=pools)
    assert refused(result) == (
        "port p2: needs 1 PF on physnet physnet1, 1 free but none usable, as a PF and its own "
        "VFs never go out together and this boot takes VFs of PF 0000:03:00.0"
    )


def test_taking_a_pf_makes_its_vfs_unusable_for_the_rest_of_the_boot() -> None:
    pools = (pool(1, dev_type=DevType.PF), pool(4))
    result = fit(port("p1", vnic_type=VnicType.DIRECT_PHYSICAL), port("p2"), pools=pools)
    assert refused(result) == (
        "port p2: needs 1 VF on physnet physnet1, 4 free but none usable, as a PF and its own "
        "VFs never go out together and this boot takes PF 0000:03:00.0 itself"
    )


def test_vfs_of_other_pfs_stay_usable_after_a_pf_is_taken() -> None:
    pools = (pool(1, dev_type=DevType.PF), pool(4), pool(4, address=PF_B))
    result = fit(port("p1", vnic_type=VnicType.DIRECT_PHYSICAL), port("p2"), pools=pools)
    assert given(result) == [
        ("p1", key(dev_type=DevType.PF), 1),
        ("p2", key(address=PF_B), 1),
    ]


def test_vfs_come_from_a_pf_that_is_not_free_whole_so_a_pf_stays_free() -> None:
    pools = (
        pool(4),  # PF A's VFs; PF A itself is free too
        pool(1, dev_type=DevType.PF),
        pool(2, address=PF_B),  # PF B's VFs; PF B is in use as a whole pool elsewhere
    )
    result = fit(port("p1"), port("p2", vnic_type=VnicType.DIRECT_PHYSICAL), pools=pools)
    assert given(result) == [
        ("p1", key(address=PF_B), 1),
        ("p2", key(dev_type=DevType.PF), 1),
    ]


def test_one_request_never_gets_a_pf_together_with_that_pfs_own_vf() -> None:
    either = alias(
        "pf-or-vf", 2, {**X540VF, "dev_type": "type-PF"}, {**X540VF, "dev_type": "type-VF"}
    )
    pools = (pool(1, dev_type=DevType.PF), pool(1))
    assert refused(fit(either, pools=pools)) == (
        "alias pf-or-vf: needs 2 PFs 8086:1515 or VFs 8086:1515, 2 free but only 1 usable, as a "
        "PF and its own VFs never go out together and this boot takes PF 0000:03:00.0 itself"
    )


def test_pools_listed_twice_add_up() -> None:
    assert given(fit(alias(count=3), pools=(pool(2), pool(1)))) == [("a1", key(), 3)]


def test_a_vf_comes_from_a_pf_in_use_so_that_a_whole_pf_stays_free() -> None:
    pools = (
        pool(4),  # PF A's VFs, with PF A free as a whole
        pool(1, dev_type=DevType.PF),
        pool(2, address=PF_B),  # PF B's VFs; PF B has VFs in use, so it is not free whole
    )
    assert given(fit(port(), pools=pools)) == [("p1", key(address=PF_B), 1)]


def test_a_narrow_request_gets_served_first_when_the_given_order_fails() -> None:
    broad = alias("anyx", 1, X540VF, {"vendor_id": "8086", "product_id": "10ed"})
    narrow = alias("x540", 1, X540VF)
    pools = (pool(1), pool(1, product="10ed", address=PF_B))
    assert given(fit(broad, narrow, pools=pools)) == [
        ("anyx", key(product="10ed", address=PF_B), 1),
        ("x540", key(), 1),
    ]


def test_when_no_order_fits_the_reason_is_from_the_given_order() -> None:
    broad = alias("anyx", 1, X540VF, {"vendor_id": "8086", "product_id": "10ed"})
    narrow = alias("x540", 2, X540VF)
    pools = (pool(1), pool(1, product="10ed", address=PF_B))
    assert refused(fit(broad, narrow, pools=pools)) == (
        "alias x540: needs 2 devices 8086:1515, 0 free (this boot's other requests take 1)"
    )


def test_no_requests_fit_any_host() -> None:
    assert fit(pools=()) == Fit(())


# ---------------------------------------------------------------- weighing and ranking


def names(ranking: Ranking) -> list[str]:
    return [state.name for state, _ in ranking.chosen]


PACK = Weighing(Strategy.PACK)


def test_spread_prefers_more_free_ram_and_pack_less() -> None:
    hosts = [host("small", ram=4096), host("big", ram=16384)]
    assert names(rank_hosts(boot(), hosts)) == ["big", "small"]
    assert names(rank_hosts(boot(), hosts, weighing=PACK)) == ["small", "big"]


def test_spread_prefers_more_free_matching_devices_and_pack_fewer() -> None:
    hosts = [host("few", pool(2)), host("many", pool(6))]
    assert names(rank_hosts(boot(port()), hosts)) == ["many", "few"]
    assert names(rank_hosts(boot(port()), hosts, weighing=PACK)) == ["few", "many"]


def test_a_boot_without_devices_prefers_hosts_without_devices() -> None:
    hosts = [host("a-sriov", pool(8)), host("z-plain")]
    assert names(rank_hosts(boot(), hosts)) == ["z-plain", "a-sriov"]
    assert names(rank_hosts(boot(), hosts, weighing=PACK)) == ["z-plain", "a-sriov"]
    unweighed = Weighing(pci_weight_multiplier=0.0)
    assert names(rank_hosts(boot(), hosts, weighing=unweighed)) == ["a-sriov", "z-plain"]


def test_a_pci_boot_prefers_hosts_whose_free_devices_match_best() -> None:
    gpus = pool(12, product="20b0", physnet=None, remote_managed=None, dev_type=DevType.PCI)
    hosts = [host("a-mixed", pool(4), gpus), host("z-vfs-only", pool(4))]
    assert names(rank_hosts(boot(port()), hosts)) == ["z-vfs-only", "a-mixed"]
    assert names(rank_hosts(boot(port()), hosts, weighing=PACK)) == ["z-vfs-only", "a-mixed"]
    unweighed = Weighing(pci_weight_multiplier=0.0)
    assert names(rank_hosts(boot(port()), hosts, weighing=unweighed)) == ["a-mixed", "z-vfs-only"]


def test_ranking_is_deterministic_with_ties_broken_by_name() -> None:
    hosts = [host(name, pool(4)) for name in ("c3", "c1", "c2")]
    hosts.append(host("c0", pool(4), enabled=False))
    ranking = rank_hosts(boot(port()), hosts)
    assert names(ranking) == ["c1", "c2", "c3"]
    assert rank_hosts(boot(port()), list(reversed(hosts))) == ranking
    assert ranking.chosen[0][1] == Fit((Take(port(), key(), 1),))


def test_rejected_hosts_come_with_their_reasons_by_name() -> None:
    hosts = [
        host("c2", pool(4), alive=False),
        host("c1", pool(4, physnet="physnet2")),
        host("c3", pool(4)),
    ]
    ranking = rank_hosts(boot(port()), hosts)
    assert names(ranking) == ["c3"]
    assert ranking.rejected == (
        ("c1", "port p1: needs 1 VF on physnet physnet1, 0 free"),
        ("c2", "its agent has not reported in time"),
    )


def test_no_hosts_rank_to_nothing() -> None:
    assert rank_hosts(boot(), []) == Ranking((), ())


# ---------------------------------------------------------------- explaining


def test_no_host_registered_is_said_plainly() -> None:
    assert explain_no_valid_host([]) == (
        "No valid host was found. There is no compute host registered: "
        "start an agent on a host first."
    )


def test_a_few_hosts_are_listed_each_with_its_reason() -> None:
    rejected = [("c1", "disabled: maintenance"), ("c2", "needs 2048 MiB RAM, 1024 free")]
    assert explain_no_valid_host(rejected, limit=2) == (
        "No valid host was found. c1: disabled: maintenance; c2: needs 2048 MiB RAM, 1024 free"
    )


def test_many_hosts_are_grouped_by_reason_with_counts_and_first_hosts() -> None:
    full = "port p1: needs 1 VF on physnet physnet1, 0 free"
    rejected = [(f"c{i:05}", full) for i in range(9990)]
    rejected += [(f"d{i}", "disabled: maintenance") for i in range(10)]
    assert explain_no_valid_host(rejected) == (
        "No valid host was found. 10000 hosts were rejected. "
        f"9990 hosts: {full} (c00000, c00001, c00002 and 9987 more); "
        "10 hosts: disabled: maintenance (d0, d1, d2 and 7 more)"
    )


def test_reasons_beyond_the_limit_are_summed_up() -> None:
    rejected = [("b1", "r2"), ("a1", "r1"), ("a2", "r1"), ("b2", "r2"), ("a3", "r1")]
    rejected += [("d1", "r4"), ("c1", "r3")]
    assert explain_no_valid_host(rejected, limit=2) == (
        "No valid host was found. 7 hosts were rejected. "
        "3 hosts: r1 (a1, a2, a3); 2 hosts: r2 (b1, b2); 2 hosts: 2 other reasons"
    )
    assert explain_no_valid_host(rejected[3:], limit=3) == (
        "No valid host was found. 4 hosts were rejected. "
        "1 host: r1 (a3); 1 host: r2 (b2); 1 host: r3 (c1); 1 host: 1 other reason"
    )
