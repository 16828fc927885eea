"""Device specs: every rule of Nova's [pci] device_spec, its error, and the two quirks we fix."""

from __future__ import annotations

import pytest

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.devspec import (
    AddressGlob,
    AddressRegex,
    DeviceSpec,
    DeviceSpecList,
    DevType,
    PciFunction,
    device_specs_from_data,
    parse_device_spec,
)
from sriovstack.domain.errors import InvalidInput


def addr(text: str) -> PciAddress:
    return PciAddress.parse(text)


# The talk's host: X540-AT2 PFs 0000:03:00.0/.1 (8086:1528), enp3s0f1's VFs on bus 04 (8086:1515).
PF0 = PciFunction(addr("0000:03:00.0"), 0x8086, 0x1528, DevType.PF, netdev="enp3s0f0")
PF1 = PciFunction(
    addr("0000:03:00.1"), 0x8086, 0x1528, DevType.PF, netdev="enp3s0f1", vf_product_id=0x1515
)


def vf(address: str, *, netdev: str | None = None, serial: str | None = None) -> PciFunction:
    return PciFunction(
        addr(address),
        0x8086,
        0x1515,
        DevType.VF,
        netdev=netdev,
        parent=PF1.address,
        parent_netdev="enp3s0f1",
        card_serial_number=serial,
    )


VF0, VF1 = vf("0000:04:10.1"), vf("0000:04:10.3", netdev="enp4s16f3")
NIC = PciFunction(addr("0000:0a:00.5"), 0x10DE, 0x0086, DevType.PCI, netdev="eno1")
HOST = (PF0, PF1, VF0, VF1, NIC)


def one(text: str, *, report_in_placement: bool = False) -> DeviceSpec:
    specs = parse_device_spec(text, report_in_placement=report_in_placement)
    assert len(specs) == 1
    return specs[0]


def refused(text: str, *, report_in_placement: bool = False) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_device_spec(text, report_in_placement=report_in_placement)
    return caught.value


def selected(text: str) -> set[PciFunction]:
    spec = one(text)
    return {f for f in HOST if spec.match(f)}


# ---------------------------------------------------------------- §2.2 hex fields


@pytest.mark.parametrize(
    ("text", "vendor", "product"),
    [
        pytest.param('{"vendor_id": "8086", "product_id": "1515"}', 0x8086, 0x1515, id="plain"),
        pytest.param('{"vendor_id": "10DE"}', 0x10DE, None, id="upper-case"),
        pytest.param('{"vendor_id": "86"}', 0x0086, None, id="short-is-padded"),
        pytest.param('{"vendor_id": "0x8086"}', 0x8086, None, id="0x-prefix"),
        pytest.param('{"vendor_id": " 8086 "}', 0x8086, None, id="blanks"),
        pytest.param('{"vendor_id": "80_86"}', 0x8086, None, id="underscore-as-int-reads-it"),
        pytest.param('{"vendor_id": "*", "product_id": "*"}', None, None, id="wildcards"),
        pytest.param('{"vendor_id": " * "}', None, None, id="vendor-is-stripped"),
        pytest.param("{}", None, None, id="missing-means-any"),
        pytest.param('{"vendor_id": "ffff", "product_id": "FFFF"}', 0xFFFF, 0xFFFF, id="maximum"),
        pytest.param('{"product_id": "-1"}', None, -1, id="negative-accepted"),
    ],
)
def test_vendor_and_product_ids(text: str, vendor: int | None, product: int | None) -> None:
    spec = one(text)
    assert (spec.vendor_id, spec.product_id) == (vendor, product)


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        pytest.param(
            '{"vendor_id": "xyz"}',
            "device_spec.vendor_id",
            "property vendor_id ('xyz') does not parse as a hex number",
            id="vendor-not-hex",
        ),
        pytest.param(
            '{"product_id": ""}',
            "device_spec.product_id",
            "property product_id ('') does not parse as a hex number",
            id="product-empty",
        ),
        pytest.param(
            '{"product_id": " * "}',
            "device_spec.product_id",
            "property product_id (' * ') does not parse as a hex number",
            id="product-is-not-stripped",
        ),
        pytest.param(
            '{"vendor_id": "10000"}',
            "device_spec.vendor_id",
            "property vendor_id (10000) is greater than the maximum allowable value (FFFF)",
            id="vendor-over-ffff",
        ),
        pytest.param(
            '{"product_id": "0x1FFFF"}',
            "device_spec.product_id",
            "property product_id (0x1FFFF) is greater than the maximum allowable value (FFFF)",
            id="product-over-ffff",
        ),
        pytest.param(
            '{"vendor_id": 8086}',
            "device_spec.vendor_id",
            "property vendor_id must be a string of hex digits or '*'",
            id="vendor-a-number",
        ),
    ],
)
def test_bad_ids(text: str, field: str, rule: str) -> None:
    error = refused(text)
    assert (error.field, error.rule) == (field, rule)


def test_a_negative_id_is_accepted_and_matches_nothing() -> None:
    assert selected('{"vendor_id": "-1"}') == set()


# ---------------------------------------------------------------- §2.3 address forms


@pytest.mark.parametrize(
    ("address", "glob"),
    [
        pytest.param("0000:03:00.1", AddressGlob(0, 3, 0, 1), id="full"),
        pytest.param("*:0a:00.*", AddressGlob(None, 0x0A, 0, None), id="wildcards"),
        pytest.param(":0a:00.", AddressGlob(None, 0x0A, 0, None), id="empty-fields"),
        pytest.param(".5", AddressGlob(func=5), id="function-only"),
        pytest.param("0000:0a:00", AddressGlob(0, 0x0A, 0, None), id="any-function"),
        pytest.param("00", AddressGlob(slot=0), id="one-field-is-the-slot"),
        pytest.param("0a:00", AddressGlob(bus=0x0A, slot=0), id="two-fields-are-bus-and-slot"),
        pytest.param(" 0a : 1f . 7 ", AddressGlob(bus=0x0A, slot=0x1F, func=7), id="blanks"),
        pytest.param("FFFF:FF:1F.7", AddressGlob(0xFFFF, 0xFF, 0x1F, 7), id="maxima"),
        pytest.param("0x0:0x3:0x0.0x1", AddressGlob(0, 3, 0, 1), id="0x-prefixes"),
        pytest.param("", AddressGlob(), id="empty-is-everything"),
        pytest.param("0000:0a:00.-1", AddressGlob(0, 0x0A, 0, -1), id="negative-accepted"),
    ],
)
def test_glob_addresses(address: str, glob: AddressGlob) -> None:
    assert one(f'{{"address": "{address}"}}').address == glob


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        pytest.param(
            "0000:00:00.8",
            "property func (8) is greater than the maximum allowable value (7)",
            id="function-over-7",
        ),
        pytest.param(
            "10000:00:00.0",
            "property domain (10000) is greater than the maximum allowable value (FFFF)",
            id="domain-over-ffff",
        ),
        pytest.param(
            "0000:100:00.0",
            "property bus (100) is greater than the maximum allowable value (FF)",
            id="bus-over-ff",
        ),
        pytest.param(
            "0000:00:20.0",
            "property slot (20) is greater than the maximum allowable value (1F)",
            id="slot-over-1f",
        ),
        pytest.param(
            "0000:0*:00.0",
            "property bus ('0*') does not parse as a hex number",
            id="wildcards-are-whole-fields",
        ),
        pytest.param(
            "zz:yy:xx.9",
            "property func (9) is greater than the maximum allowable value (7)",
            id="function-is-checked-first",
        ),
        pytest.param(
            "zz:yy:xx.1",
            "property domain ('zz') does not parse as a hex number",
            id="then-domain",
        ),
        pytest.param(
            "0:yy:xx.1", "property bus ('yy') does not parse as a hex number", id="then-bus"
        ),
        pytest.param(
            "03:00. ", "property func ('') does not parse as a hex number", id="blank-function"
        ),
        pytest.param(
            "0000:03:00.1.2",
            "property func ('1.2') does not parse as a hex number",
            id="two-dots",
        ),
        pytest.param(
            "0:0000:0a:00.5",
            "has an incorrect format: at most domain:bus:slot before the '.'",
            id="four-fields",
        ),
    ],
)
def test_bad_glob_addresses(address: str, rule: str) -> None:
    error = refused(f'{{"address": "{address}"}}')
    assert (error.field, error.rule) == ("device_spec.address", rule)


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        pytest.param("[]", "has an incorrect format: give a glob string or a dict", id="list"),
        pytest.param("3", "has an incorrect format: give a glob string or a dict", id="number"),
        pytest.param(
            '{"bus": "*"}',
            "has an incorrect format: bus is not a valid regular expression",
            id="bad-regex",
        ),
        pytest.param(
            '{"slot": 0}',
            "has an incorrect format: slot must be a regular expression string",
            id="regex-not-a-string",
        ),
    ],
)
def test_bad_address_types(address: str, rule: str) -> None:
    error = refused(f'{{"address": {address}}}')
    assert error.field == "device_spec.address"
    assert error.rule.startswith(rule)


@pytest.mark.parametrize(
    ("address", "wanted"),
    [
        pytest.param('"0000:0a:00.5"', {NIC}, id="glob-exact"),
        pytest.param('"*:04:10.*"', {VF0, VF1}, id="glob-bus-slot"),
        pytest.param('".1"', {PF1, VF0}, id="glob-function"),
        pytest.param('"10"', {VF0, VF1}, id="glob-slot-only"),
        pytest.param('"*:*:*.*"', set(HOST), id="glob-everything"),
        pytest.param('""', set(HOST), id="empty-string-is-everything"),
        pytest.param('{"bus": "0"}', set(HOST), id="regex-prefix-match-kept"),
        pytest.param('{"bus": "0$"}', set(), id="regex-anchored"),
        pytest.param('{"bus": "0[34]", "function": "[13]"}', {PF1, VF0, VF1}, id="regex-classes"),
        pytest.param('{"bus": "04", "other": "ignored"}', {VF0, VF1}, id="regex-extra-keys"),
        pytest.param("{}", set(HOST), id="empty-dict-is-everything"),
    ],
)
def test_address_matching(address: str, wanted: set[PciFunction]) -> None:
    assert selected(f'{{"address": {address}}}') == wanted


def test_regex_values_are_not_range_checked() -> None:
    spec = one('{"address": {"bus": "fff"}}')
    assert spec.address == AddressRegex(bus="fff")
    assert selected('{"address": {"bus": "fff"}}') == set()


# ---------------------------------------------------------------- §2.4 exact PF address


@pytest.mark.parametrize(
    ("address", "wanted"),
    [
        pytest.param('"0000:03:00.1"', {PF1, VF0, VF1}, id="pf-selects-its-vfs"),
        pytest.param('"0000:03:00.0"', {PF0}, id="pf-without-vfs"),
        pytest.param('"0000:04:10.1"', {VF0}, id="vf-selects-itself"),
        pytest.param('"0000:0a:00.5"', {NIC}, id="no-sr-iov-itself"),
        pytest.param('"*:03:00.*"', {PF0, PF1}, id="wildcard-never-through-parent"),
        pytest.param('"0000:03:00"', {PF0, PF1}, id="any-function-never-through-parent"),
        pytest.param(
            '{"domain": "0000", "bus": "03", "slot": "00", "function": "1"}',
            {PF1, VF0, VF1},
            id="regex-of-plain-hex-is-single",
        ),
        pytest.param(
            '{"domain": "0000", "bus": "03", "slot": "00", "function": "[1]"}',
            {PF1},
            id="regex-with-metacharacters-never-through-parent",
        ),
        pytest.param(
            '{"domain": "0", "bus": "03", "slot": "00", "function": "1"}',
            {PF1},
            id="regex-hex-but-not-the-pf-address",
        ),
        pytest.param(
            '{"domain": "0000", "bus": "03", "slot": "00", "function": ""}',
            {PF0, PF1},
            id="regex-with-an-empty-field-names-no-pf",
        ),
    ],
)
def test_exact_pf_address_selects_its_vfs(address: str, wanted: set[PciFunction]) -> None:
    assert selected(f'{{"address": {address}}}') == wanted


def test_ids_still_apply_to_a_pfs_vfs() -> None:
    assert selected('{"address": "0000:03:00.1", "product_id": "1515"}') == {VF0, VF1}
    assert selected('{"address": "0000:03:00.1", "product_id": "1528"}') == {PF1}


# ---------------------------------------------------------------- §2.5 devname


@pytest.mark.parametrize(
    ("devname", "wanted"),
    [
        pytest.param("enp3s0f1", {PF1, VF0, VF1}, id="pf-netdev-selects-its-vfs"),
        pytest.param("enp3s0f0", {PF0}, id="pf-netdev-without-vfs"),
        pytest.param("enp4s16f3", {VF1}, id="vf-netdev-selects-only-that-vf"),
        pytest.param("eno1", {NIC}, id="nic-without-sr-iov"),
        pytest.param("eth9", set(), id="unknown-netdev-matches-nothing"),
        pytest.param("", set(), id="blank-devname-matches-nothing"),
        pytest.param("  ", set(), id="whitespace-devname-matches-nothing"),
        pytest.param(None, set(), id="null-devname-matches-nothing"),
    ],
)
def test_devname(devname: str | None, wanted: set[PciFunction]) -> None:
    shown = "null" if devname is None else f'"{devname}"'
    assert selected(f'{{"devname": {shown}}}') == wanted


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"devname": "enp3s0f1", "address": "0000:03:00.1"}', id="both"),
        pytest.param('{"devname": "enp3s0f1", "address": {"bus": "03"}}', id="with-regex"),
        pytest.param('{"devname": "", "address": "0000:03:00.1"}', id="blank-devname-too"),
        pytest.param('{"devname": null, "address": "0000:03:00.1"}', id="null-devname-too"),
    ],
)
def test_devname_and_address_exclude_each_other(text: str) -> None:
    error = refused(text)
    assert error.field == "device_spec"
    assert error.rule == "can name a devname or an address, but not both"


def test_devname_with_an_empty_address_is_fine() -> None:
    assert one('{"devname": "enp3s0f1", "address": ""}').devname == "enp3s0f1"


def test_devname_must_be_text() -> None:
    error = refused('{"devname": 3}')
    assert (error.field, error.rule) == ("device_spec.devname", "must be a netdev name (a string)")


def test_devname_is_refused_with_report_in_placement() -> None:
    error = refused('{"devname": "enp3s0f1"}', report_in_placement=True)
    assert error.rule == "is not allowed with [pci] report_in_placement"


# ---------------------------------------------------------------- §2.6 tags


def test_tags_are_kept_as_written_including_unknown_keys_and_null() -> None:
    spec = one('{"physical_network": null, "trusted": "True", "foo": "Bar", "n": 3}')
    assert spec.tags == (("physical_network", None), ("trusted", "True"), ("foo", "Bar"), ("n", 3))
    assert spec.physical_network is None


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        pytest.param("true", "true", id="json-true"),
        pytest.param("false", "false", id="json-false"),
        pytest.param('"true"', "true", id="string-true"),
        pytest.param('"yes"', "yes", id="other-words-kept"),
    ],
)
def test_json_booleans_mean_their_string_form(value: str, stored: str) -> None:
    assert one(f'{{"trusted": {value}}}').tag("trusted") == stored


@pytest.mark.parametrize("tag", ["managed", "live_migratable", "one_time_use"])
@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ('"yes"', "true"),
        ('"TrUe"', "true"),
        ('"1"', "true"),
        ('" on "', "true"),
        ("true", "true"),
        ("1", "true"),
        ('"no"', "false"),
        ('"F"', "false"),
        ('"off"', "false"),
        ("false", "false"),
        ("null", None),
    ],
)
def test_strict_boolean_tags_are_normalised(tag: str, value: str, stored: str | None) -> None:
    spec = one(f'{{"{tag}": {value}}}', report_in_placement=True)
    assert spec.tag(tag) == stored


@pytest.mark.parametrize("tag", ["managed", "live_migratable", "one_time_use"])
@pytest.mark.parametrize("value", ['"maybe"', '""', "2"])
def test_strict_boolean_tags_refuse_other_words(tag: str, value: str) -> None:
    error = refused(f'{{"{tag}": {value}}}')
    assert error.field == f"device_spec.{tag}"
    shown = value.strip('"')
    assert error.rule == (
        f"cannot parse tag '{tag}': unrecognized value '{shown}', acceptable values are: "
        "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
    )


def test_one_time_use_needs_report_in_placement() -> None:
    error = refused('{"one_time_use": "yes"}')
    assert (error.field, error.rule) == (
        "device_spec.one_time_use",
        "one_time_use=true requires [pci] report_in_placement",
    )
    assert one('{"one_time_use": "no"}').tag("one_time_use") == "false"


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        pytest.param(
            '{"physical_network": 1}',
            "device_spec.physical_network",
            "must be a physnet name (a string) or null",
            id="physnet-number",
        ),
        pytest.param(
            '{"physical_network": true}',
            "device_spec.physical_network",
            "must be a physnet name (a string) or null",
            id="physnet-boolean",
        ),
        pytest.param(
            '{"traits": ["A", "B"]}',
            "device_spec.traits",
            "a tag must be a string, number, boolean or null",
            id="list-tag",
        ),
        pytest.param(
            '{"foo": {"a": 1}}',
            "device_spec.foo",
            "a tag must be a string, number, boolean or null",
            id="object-tag",
        ),
        pytest.param(
            '{"dev_type": "type-PF"}',
            "device_spec.dev_type",
            "is set from the host, not by a device spec",
            id="dev-type-tag",
        ),
        pytest.param(
            '{"numa_node": 1}',
            "device_spec.numa_node",
            "is set from the host, not by a device spec",
            id="numa-node-tag",
        ),
    ],
)
def test_bad_tags(text: str, field: str, rule: str) -> None:
    error = refused(text)
    assert (error.field, error.rule) == (field, rule)


@pytest.mark.parametrize(
    ("value", "remote"),
    [('"true"', True), ('"Yes"', True), ("true", True), ('"no"', False), ('"bogus"', False)],
)
def test_remote_managed_is_read_leniently_and_kept_as_written(value: str, remote: bool) -> None:
    spec = one(f'{{"remote_managed": {value}}}')
    assert spec.remote_managed is remote
    assert spec.tag("remote_managed") == (value.strip('"') if value.startswith('"') else value)


def test_remote_managed_specs_need_a_card_serial_number() -> None:
    spec = one('{"address": "0000:04:10.*", "remote_managed": "true"}')
    assert not spec.match(VF0)
    assert spec.match(vf("0000:04:10.1", serial="MT2113X00000"))
    assert not spec.match(vf("0000:04:10.1", serial=""))


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        pytest.param(
            '{"devname": "eth9", "remote_managed": "true"}',
            'a device specified as "remote_managed" is not actually present on the host',
            id="devname-not-present",
        ),
        pytest.param(
            '{"address": "0000:03:00.1", "remote_managed": "true"}',
            'PFs must not have the "remote_managed" tag, device address: 0000:03:00.1',
            id="pf-address",
        ),
        pytest.param(
            '{"devname": "enp3s0f1", "remote_managed": "true", "product_id": "1528"}',
            'PFs must not have the "remote_managed" tag, device address: 0000:03:00.1',
            id="pf-devname",
        ),
        pytest.param(
            '{"address": "0000:03:00.1", "remote_managed": "true", "product_id": "10ed"}',
            "the specified VF vendor ID * and product ID 10ed do not match the expected VF IDs "
            "based on the corresponding PF identified by PCI address 0000:03:00.1",
            id="ids-of-neither",
        ),
    ],
)
def test_remote_managed_host_checks(text: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        DeviceSpecList(parse_device_spec(text)).check_on_host(HOST)
    assert (caught.value.field, caught.value.rule) == ("device_spec[0]", rule)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"address": "0000:03:00.1", "remote_managed": "true", "product_id": "1515"}'),
        pytest.param(
            '{"devname": "enp3s0f1", "remote_managed": "yes", "vendor_id": "8086",'
            ' "product_id": "1515"}'
        ),
        pytest.param('{"address": "0000:04:10.1", "remote_managed": "true"}'),
        pytest.param('{"address": "*:03:00.*", "remote_managed": "true"}'),
        pytest.param('{"devname": "eth9", "remote_managed": "false"}'),
    ],
)
def test_remote_managed_specs_that_pass_the_host_checks(text: str) -> None:
    DeviceSpecList(parse_device_spec(text)).check_on_host(HOST)


# ---------------------------------------------------------------- §2.7 whitelist parsing


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        pytest.param("{devname: x}", "device_spec", "is not valid JSON", id="not-json"),
        pytest.param('"enp3s0f1"', "device_spec", "must be a JSON object or a list", id="string"),
        pytest.param("3", "device_spec", "must be a JSON object or a list", id="number"),
        pytest.param('[{}, "x"]', "device_spec[1]", "must be a JSON object", id="list-item"),
        pytest.param(
            '[{}, {"vendor_id": "x"}]',
            "device_spec[1].vendor_id",
            "property vendor_id ('x') does not parse",
            id="names-the-item",
        ),
    ],
)
def test_bad_values(text: str, field: str, rule: str) -> None:
    error = refused(text)
    assert error.field == field
    assert error.rule.startswith(rule)


def test_a_list_gives_one_spec_per_object_and_an_empty_list_none() -> None:
    specs = parse_device_spec('[{"devname": "enp3s0f0"}, {"devname": "enp3s0f1"}]')
    assert [s.devname for s in specs] == ["enp3s0f0", "enp3s0f1"]
    assert parse_device_spec("[]") == ()


def test_decoded_tables_are_read_like_json() -> None:
    (spec,) = device_specs_from_data({"vendor_id": "8086", "trusted": True}, where="t")
    assert (spec.vendor_id, spec.tag("trusted")) == (0x8086, "true")
    with pytest.raises(InvalidInput) as caught:
        device_specs_from_data({"vendor_id": 1}, where="[pci] device_spec[2]")
    assert caught.value.field == "[pci] device_spec[2].vendor_id"


def test_the_first_matching_spec_wins() -> None:
    specs = DeviceSpecList(
        parse_device_spec(
            '[{"address": "0000:04:10.1", "physical_network": "physnet2"},'
            ' {"devname": "enp3s0f1", "physical_network": "physnet1"}]'
        )
    )
    first = specs.match(VF0)
    assert first is not None and first.physical_network == "physnet2"
    later = specs.match(VF1)
    assert later is not None and later.physical_network == "physnet1"
    assert specs.match(PF0) is None
    assert [specs.index(s) for s in (first, later)] == [0, 1]


def test_an_empty_spec_list_selects_nothing() -> None:
    assert DeviceSpecList().match(PF1) is None


# ---------------------------------------------------------------- the talk's whitelist


def test_the_talks_whitelist_selects_enp3s0f1_and_its_vfs() -> None:
    spec = one('{"devname":"enp3s0f1","physical_network":"physnet1"}')
    assert spec.physical_network == "physnet1"
    assert selected('{"devname":"enp3s0f1","physical_network":"physnet1"}') == {PF1, VF0, VF1}
    assert spec.describe() == '{"devname":"enp3s0f1","physical_network":"physnet1"}'


def test_a_spec_built_in_code_describes_itself_as_json() -> None:
    spec = DeviceSpec(vendor_id=0x8086, product_id=0x1515, tags=(("physical_network", "p"),))
    assert spec.describe() == '{"vendor_id": "8086", "product_id": "1515", "physical_network": "p"}'
    assert DeviceSpec(address=None, devname="ens2").describe() == '{"devname": "ens2"}'
