"""Nova's ``ZONE:HOST[:NODE]`` availability zone, and the filter that keeps a boot on its host."""

from __future__ import annotations

import pytest

from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.scheduling import (
    BootRequest,
    HostState,
    ZoneAndHost,
    check_host,
    parse_zone_and_host,
)


@pytest.mark.parametrize(
    ("value", "zone", "host"),
    [
        ("", None, None),
        ("nova", "nova", None),
        ("nova:", "nova", None),  # an empty host asks for none, as in Nova
        ("nova:sriov-2", "nova", "sriov-2"),
        (":sriov-2", None, "sriov-2"),  # any zone
        ("nova:sriov-2:sriov-2", "nova", "sriov-2"),
        ("nova:sriov-2:", "nova", "sriov-2"),
        ("nova::sriov-2", "nova", "sriov-2"),  # a node alone: the host of that name
        ("::sriov-2", None, "sriov-2"),
        (":", None, None),
    ],
)
def test_zone_and_host_are_split_as_nova_does(
    value: str, zone: str | None, host: str | None
) -> None:
    assert parse_zone_and_host(value) == ZoneAndHost(zone, host)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("nova:a:b:c", "Unable to parse availability_zone"),
        ("nova:sriov-2:sriov-3", "a host is its own node"),
    ],
)
def test_a_malformed_zone_and_host_names_the_field(value: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_zone_and_host(value)
    assert refused.value.field == "availability_zone"
    assert words in str(refused.value)


def test_a_boot_naming_a_host_fits_only_that_host() -> None:
    boot = BootRequest(ram_mib=512, vcpus=1, availability_zone=None, devices=(), host="sriov-2")

    def state(name: str) -> HostState:
        return HostState(name, "nova", True, True, 4096, 4, (), ())

    assert check_host(boot, state("sriov-1")) == "not the host the boot asks for (sriov-2)"
    assert not isinstance(check_host(boot, state("sriov-2")), str)
