"""Aliases: Nova's [pci] alias schema, same-name merging, and the flavor extra specs."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from sriovstack.domain.alias import (
    Alias,
    AliasSpec,
    NumaPolicy,
    PciRequest,
    parse_alias_counts,
    parse_alias_entry,
    parse_aliases,
    parse_flavor_extra_specs,
    parse_numa_policy,
)
from sriovstack.domain.devspec import DevType
from sriovstack.domain.errors import InvalidInput

TALK_ALIAS = '{"name":"x540vf","product_id":"1515","vendor_id":"8086"}'
IDS = '"vendor_id": "8086", "product_id": "1515"'


def refused(*values: str | Mapping[str, object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_aliases(values)
    return caught.value


def test_the_talks_alias() -> None:
    (alias,) = parse_aliases([TALK_ALIAS])
    assert alias == Alias(
        name="x540vf",
        numa_policy=NumaPolicy.LEGACY,
        specs=(AliasSpec(vendor_id="8086", product_id="1515"),),
    )
    assert alias.dev_type is None
    assert alias.specs[0].request() == {"vendor_id": "8086", "product_id": "1515"}


def entry(extra: str) -> str:
    """An alias entry with the talk's IDs and ``extra`` keys."""
    return "{" + extra + ", " + IDS + "}"


@pytest.mark.parametrize(
    ("text", "check"),
    [
        pytest.param(entry('"name": " x540vf "'), lambda a: a.name == "x540vf", id="name-stripped"),
        pytest.param(entry('"name": "' + "n" * 256 + '"'), lambda a: len(a.name) == 256, id="256"),
        pytest.param(
            entry('"name": "a", "device_type": "type-VF"'),
            lambda a: a.dev_type is DevType.VF,
            id="device-type",
        ),
        pytest.param(
            entry('"name": "a", "device_type": "type-PF"'),
            lambda a: a.specs[0].request()["dev_type"] == "type-PF",
            id="device-type-becomes-dev-type",
        ),
        pytest.param(
            entry('"name": "a", "numa_policy": "socket"'),
            lambda a: a.numa_policy is NumaPolicy.SOCKET,
            id="numa-socket",
        ),
        pytest.param(
            entry('"name": "a", "numa_policy": "preferred"'),
            lambda a: a.numa_policy is NumaPolicy.PREFERRED,
            id="numa-preferred",
        ),
        pytest.param(
            entry('"name": "a", "capability_type": "pci"'),
            lambda a: a.specs[0].capability_type == "pci" and len(a.specs[0].request()) == 2,
            id="capability-type-not-matched",
        ),
        pytest.param(
            entry('"name": "a", "live_migratable": "Yes"'),
            lambda a: a.specs[0].request()["live_migratable"] == "true",
            id="live-migratable-normalised",
        ),
        pytest.param(
            entry('"name": "a", "live_migratable": false'),
            lambda a: a.specs[0].live_migratable == "false",
            id="live-migratable-json-boolean",
        ),
        pytest.param(
            entry('"name": "a", "resource_class": "CUSTOM_X", "traits": "A,B"'),
            lambda a: (
                a.specs[0].resource_class == "CUSTOM_X"
                and "resource_class" not in a.specs[0].request()
            ),
            id="placement-keys-not-matched",
        ),
    ],
)
def test_good_entries(text: str, check: Callable[[Alias], bool]) -> None:
    (alias,) = parse_aliases([text])
    assert check(alias)


def test_ids_are_kept_lower_case() -> None:
    (alias,) = parse_aliases(['{"name": "a", "vendor_id": "10DE", "product_id": "1DB4"}'])
    assert (alias.specs[0].vendor_id, alias.specs[0].product_id) == ("10de", "1db4")


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        pytest.param("{name: a}", "alias", "is not valid JSON", id="not-json"),
        pytest.param("[]", "alias", "must be a JSON object", id="a-list"),
        pytest.param("{" + IDS + "}", "alias", "'name' is a required property", id="no-name"),
        pytest.param(
            '{"name": "", ' + IDS + "}",
            "alias.name",
            "must be a string of 1 to 256 characters",
            id="empty-name",
        ),
        pytest.param(
            '{"name": "' + "n" * 257 + '", ' + IDS + "}",
            "alias.name",
            "must be a string of 1 to 256 characters",
            id="long-name",
        ),
        pytest.param(
            '{"name": 3, ' + IDS + "}",
            "alias.name",
            "must be a string of 1 to 256 characters",
            id="name-not-a-string",
        ),
        pytest.param('{"name": "  ", ' + IDS + "}", "alias.name", "must not be blank", id="blank"),
        pytest.param(
            '{"name": "a", "vendor_id": "0x8086", "product_id": "1515"}',
            "alias.vendor_id",
            "must be exactly 4 hex digits, e.g. 8086",
            id="0x-prefix",
        ),
        pytest.param(
            '{"name": "a", "vendor_id": "8086", "product_id": "515"}',
            "alias.product_id",
            "must be exactly 4 hex digits, e.g. 8086",
            id="three-digits",
        ),
        pytest.param(
            '{"name": "a", "vendor_id": "8086", "product_id": "15155"}',
            "alias.product_id",
            "must be exactly 4 hex digits, e.g. 8086",
            id="five-digits",
        ),
        pytest.param(
            '{"name": "a", "vendor_id": 8086, "product_id": "1515"}',
            "alias.vendor_id",
            "must be a string",
            id="id-a-number",
        ),
        pytest.param(
            '{"name": "a", "device_type": "vdpa", ' + IDS + "}",
            "alias.device_type",
            "must be one of type-PCI, type-PF, type-VF",
            id="vdpa",
        ),
        pytest.param(
            '{"name": "a", "numa_policy": "strict", ' + IDS + "}",
            "alias.numa_policy",
            "invalid PCI NUMA affinity: must be one of required, legacy, preferred, socket",
            id="numa-policy",
        ),
        pytest.param(
            '{"name": "a", "capability_type": "usb", ' + IDS + "}",
            "alias.capability_type",
            "must be 'pci'",
            id="capability-type",
        ),
        pytest.param(
            '{"name": "a", "live_migratable": "maybe", ' + IDS + "}",
            "alias.live_migratable",
            "unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', "
            "'no', 'off', 'on', 't', 'true', 'y', 'yes'",
            id="live-migratable",
        ),
        pytest.param(
            '{"name": "a", "traits": ["A"], ' + IDS + "}",
            "alias.traits",
            "must be a string",
            id="traits-a-list",
        ),
        pytest.param(
            '{"name": "a", "physical_network": "physnet1", "zzz": 1, ' + IDS + "}",
            "alias",
            "additional properties are not allowed (physical_network, zzz was unexpected)",
            id="unknown-keys",
        ),
        pytest.param(
            '{"name": "a", "vendor_id": "8086"}',
            "alias",
            "the PCI alias(es) a do not have vendor_id and product_id set",
            id="no-product-id",
        ),
        pytest.param(
            '{"name": "a"}',
            "alias",
            "the PCI alias(es) a do not have vendor_id and product_id set",
            id="no-ids",
        ),
    ],
)
def test_bad_entries(text: str, field: str, rule: str) -> None:
    error = refused(text)
    assert error.field == field
    assert error.rule.startswith(rule), error.rule


def test_missing_ids_name_every_alias_sorted() -> None:
    error = refused('{"name": "zeta"}', TALK_ALIAS, '{"name": "alpha", "vendor_id": "8086"}')
    assert error.rule == "the PCI alias(es) alpha,zeta do not have vendor_id and product_id set"


def test_several_values_are_named_by_index() -> None:
    error = refused(TALK_ALIAS, '{"name": "b", "vendor_id": "80860", "product_id": "1515"}')
    assert error.field == "alias[1].vendor_id"


# ---------------------------------------------------------------- merging same-name entries


def test_same_name_entries_are_alternatives() -> None:
    (alias,) = parse_aliases(
        [
            '{"name": "nic", "vendor_id": "8086", "product_id": "1515", "device_type": "type-VF"}',
            '{"name": "nic", "vendor_id": "8086", "product_id": "10ed", "device_type": "type-VF"}',
        ]
    )
    assert [s.product_id for s in alias.specs] == ["1515", "10ed"]


def test_entries_without_device_type_merge() -> None:
    # Nova fails here with "Invalid PCI alias definition: 'dev_type'"; we merge them.
    (alias,) = parse_aliases(
        [TALK_ALIAS, '{"name": "x540vf", "vendor_id": "8086", "product_id": "10ed"}']
    )
    assert len(alias.specs) == 2


@pytest.mark.parametrize(
    ("second", "rule"),
    [
        pytest.param(
            '{"name": "x540vf", "numa_policy": "required", ' + IDS + "}",
            "NUMA policy mismatch for alias 'x540vf'",
            id="numa-policy",
        ),
        pytest.param(
            '{"name": "x540vf", "device_type": "type-VF", ' + IDS + "}",
            "device type mismatch for alias 'x540vf'",
            id="device-type-given-once",
        ),
        pytest.param(
            '{"name": " x540vf", "numa_policy": "preferred", ' + IDS + "}",
            "NUMA policy mismatch for alias 'x540vf'",
            id="names-are-stripped-before-merging",
        ),
    ],
)
def test_merge_mismatches(second: str, rule: str) -> None:
    error = refused(TALK_ALIAS, second)
    assert (error.field, error.rule) == ("alias[1]", rule)


def test_type_mismatch_between_two_typed_entries() -> None:
    error = refused(
        '{"name": "n", "device_type": "type-PF", ' + IDS + "}",
        '{"name": "n", "device_type": "type-VF", ' + IDS + "}",
    )
    assert error.rule == "device type mismatch for alias 'n'"


def test_merge_errors_come_before_missing_ids() -> None:
    error = refused('{"name": "n"}', '{"name": "n", "numa_policy": "socket"}')
    assert error.rule == "NUMA policy mismatch for alias 'n'"


def test_a_decoded_table_reads_like_json() -> None:
    name, policy, spec = parse_alias_entry(
        {"name": "x540vf", "vendor_id": "8086", "product_id": "1515", "live_migratable": True}
    )
    assert (name, policy, spec.live_migratable) == ("x540vf", NumaPolicy.LEGACY, "true")


# ---------------------------------------------------------------- flavor extra specs


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        pytest.param("x540vf:2", (("x540vf", 2),), id="one"),
        pytest.param("x540vf:2,other:1", (("x540vf", 2), ("other", 1)), id="two"),
        pytest.param("x540vf:2 ,  other:1", (("x540vf", 2), ("other", 1)), id="spaces"),
        pytest.param("x540vf :2", (("x540vf", 2),), id="name-stripped"),
        pytest.param("x540vf:0", (("x540vf", 0),), id="zero-allowed"),
        pytest.param("x540vf:007", (("x540vf", 7),), id="leading-zeros"),
    ],
)
def test_alias_counts(text: str, counts: tuple[tuple[str, int], ...]) -> None:
    assert parse_alias_counts(text) == counts


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x540vf", id="no-count"),
        pytest.param("x540vf:", id="empty-count"),
        pytest.param("x540vf: 2", id="space-before-count"),
        pytest.param("x540vf:2 ", id="trailing-space"),
        pytest.param("x540vf:two", id="word-count"),
        pytest.param("x540vf:-1", id="negative"),
        pytest.param("x540vf:2:3", id="two-counts"),
        pytest.param("x540vf:2,", id="trailing-comma"),
        pytest.param("a,b:1", id="comma-in-name"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_alias_counts(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_alias_counts(text)
    assert caught.value.field == "pci_passthrough:alias"
    assert caught.value.rule == "must be <alias>:<count>[, <alias>:<count> ...]"


def _aliases() -> tuple[Alias, ...]:
    return parse_aliases(
        [
            TALK_ALIAS,
            '{"name": "gpu", "vendor_id": "10de", "product_id": "1db4", "numa_policy": "required"}',
        ]
    )


def test_flavor_requests_take_the_aliases_policy_unless_the_flavor_sets_one() -> None:
    x540vf, gpu = _aliases()
    assert parse_flavor_extra_specs({"pci_passthrough:alias": "x540vf:2, gpu:1"}, _aliases()) == (
        PciRequest(x540vf, 2, NumaPolicy.LEGACY),
        PciRequest(gpu, 1, NumaPolicy.REQUIRED),
    )
    specs = {"pci_passthrough:alias": "x540vf:2,gpu:1", "hw:pci_numa_affinity_policy": "socket"}
    assert [r.numa_policy for r in parse_flavor_extra_specs(specs, _aliases())] == [
        NumaPolicy.SOCKET,
        NumaPolicy.SOCKET,
    ]


def test_a_flavor_without_the_alias_spec_asks_for_nothing() -> None:
    assert parse_flavor_extra_specs({"hw:cpu_policy": "dedicated"}, _aliases()) == ()


@pytest.mark.parametrize(
    ("specs", "field", "rule"),
    [
        pytest.param(
            {"pci_passthrough:alias": "x540vf:1,nope:1"},
            "pci_passthrough:alias",
            "PCI alias nope is not defined",
            id="unknown-alias",
        ),
        pytest.param(
            {"pci_passthrough:alias": "x540vf:1", "hw:pci_numa_affinity_policy": "strict"},
            "hw:pci_numa_affinity_policy",
            "invalid PCI NUMA affinity: must be one of required, legacy, preferred, socket",
            id="bad-numa-policy",
        ),
        pytest.param(
            {"hw:pci_numa_affinity_policy": "Legacy"},
            "hw:pci_numa_affinity_policy",
            "invalid PCI NUMA affinity",
            id="policy-is-case-sensitive",
        ),
    ],
)
def test_bad_flavor_extra_specs(specs: dict[str, str], field: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_flavor_extra_specs(specs, _aliases())
    assert caught.value.field == field
    assert caught.value.rule.startswith(rule)


@pytest.mark.parametrize("policy", list(NumaPolicy))
def test_every_numa_policy_is_accepted(policy: NumaPolicy) -> None:
    assert parse_numa_policy(str(policy)) is policy
    assert parse_numa_policy(None) is NumaPolicy.LEGACY
