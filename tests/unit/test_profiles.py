"""Host profiles: the shipped ones parse and boot; corrupt ones are refused naming the field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile, parse_profile, profile_names

GOOD = """
name = "tiny"
hostname = "tiny-1"
cpu_model = "Intel(R) Xeon(R) E-2314 CPU @ 2.80GHz"
cpu_vendor = "intel"
sockets = 1
cores_per_socket = 4
threads_per_core = 1
memory_mib = 16384
kernel_version = "6.8.0-49-generic"
cmdline = "ro intel_iommu=on"

[[bridge]]
address = "0000:00:01.0"
vendor_id = "8086"
device_id = "1901"
secondary_bus = 1
subordinate_bus = 2

[[card]]
model = "x540"
device_id = "1528"
bridge = "0000:00:01.0"
functions = [
  { address = "0000:01:00.0", ifname = "ens1f0", mac = "a0:36:9f:00:00:10" },
  { address = "0000:01:00.1", ifname = "ens1f1", mac = "a0:36:9f:00:00:11", total_vfs = 8 },
]
"""


def corrupt(old: str, new: str) -> str:
    """The good profile with one piece of text replaced."""
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


# ----------------------------------------------------------------------- shipped profiles


def test_the_shipped_profiles_are_listed_by_name() -> None:
    names = profile_names()
    assert names == sorted(names)
    # The talk's host, a two-socket server, and one profile per further NIC family at least.
    assert {
        "talk-before",
        "talk-after",
        "dual-socket",
        "i350-quad",
        "x710-quad",
        "82599-noari",
        "epyc-x550",
        "cx5-sriov-off",
        "e810-4x128",
    } <= set(names)


@pytest.mark.parametrize("name", profile_names())
def test_every_shipped_profile_parses_and_boots(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.cards
    kernel = SimulatedKernel(profile)
    ifnames = {link.ifname for link in kernel.links()}
    for card in profile.cards:
        for fn in card.functions:
            assert fn.ifname in ifnames
            assert kernel.read(f"bus/pci/devices/{fn.address}/vendor") == (
                f"0x{card.model.vendor_id:04x}\n"
            )
            assert kernel.link(fn.ifname).num_vfs == 0
    assert kernel.log()[0].endswith(
        f"Linux version {profile.kernel_version} (sriovstack simulator)"
    )


def test_a_good_profile_parses_with_the_defaults_filled_in() -> None:
    profile = parse_profile(GOOD, source="tiny.toml")
    assert profile.cpus == 4
    assert profile.numa_nodes == 1
    assert profile.pf_links_up and profile.firmware_assigns_vf_bars
    assert not profile.iommu_default_on
    assert profile.blacklist == frozenset()
    assert profile.bridges[0].ari_forwarding
    (card,) = profile.cards
    assert card.model.key == "x540"
    assert [f.total_vfs for f in card.functions] == [None, 8]
    assert all(f.ari for f in card.functions)


def test_talk_after_is_talk_before_rebooted_with_the_talks_parameters() -> None:
    before, after = load_profile("talk-before"), load_profile("talk-after")
    assert after.extends == "talk-before"
    assert after.cmdline == (
        f"{before.cmdline} intel_iommu=on iommu=pt pci=realloc pci=assign-busses"
    )
    assert after.blacklist == {"ixgbevf"} and before.blacklist == frozenset()
    assert after.pf_links_up and not before.pf_links_up
    # Everything it does not override is the same machine.
    assert after.bridges == before.bridges
    assert after.cards == before.cards
    assert (after.hostname, after.cpu_model, after.memory_mib, after.kernel_version) == (
        before.hostname,
        before.cpu_model,
        before.memory_mib,
        before.kernel_version,
    )


def test_a_profile_file_may_extend_a_shipped_profile(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(
        'extends = "talk-before"\nname = "lab"\ncmdline_append = "pci=realloc"\n', "utf-8"
    )
    profile = load_profile(str(path))
    assert profile.name == "lab"
    assert profile.cmdline == f"{load_profile('talk-before').cmdline} pci=realloc"
    assert profile.cards == load_profile("talk-before").cards


def test_an_unknown_shipped_profile_is_not_found() -> None:
    with pytest.raises(NotFound, match="no-such-host"):
        load_profile("no-such-host")


def test_a_profile_path_that_does_not_exist_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(NotFound) as exc:
        load_profile(str(missing))
    assert str(missing) in str(exc.value)


# ------------------------------------------------------------------------ corrupt profiles


def test_bad_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(corrupt('name = "tiny"', 'name = "tiny'), "utf-8")
    with pytest.raises(InvalidInput) as exc:
        load_profile(str(path))
    assert str(exc.value).startswith(f"{path}: is not valid TOML")


def test_a_profile_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(GOOD.replace("tiny-1", "t\xefny").encode("latin-1"))
    with pytest.raises(InvalidInput) as exc:
        load_profile(str(path))
    assert exc.value.field == str(path)


def test_a_corrupt_profile_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(corrupt('cpu_vendor = "intel"', 'cpu_vendor = "arm"'), "utf-8")
    with pytest.raises(InvalidInput) as exc:
        load_profile(str(path))
    assert exc.value.field == f"{path}: cpu_vendor"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('hostname = "tiny-1"\n', "", "hostname"),
        ("sockets = 1\n", "", "sockets"),
        ('cmdline = "ro intel_iommu=on"\n', "", "cmdline"),
        ("secondary_bus = 1\n", "", "bridge[0].secondary_bus"),
        ('model = "x540"\n', "", "card[0].model"),
        ('bridge = "0000:00:01.0"\n', "", "card[0].bridge"),
        ('ifname = "ens1f0", ', "", "card[0].functions[0].ifname"),
        ('mac = "a0:36:9f:00:00:11", ', "", "card[0].functions[1].mac"),
    ],
)
def test_a_missing_required_field_is_named(old: str, new: str, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_profile(corrupt(old, new), source="tiny.toml")
    assert exc.value.field == f"tiny.toml: {field}"
    assert "is required" in str(exc.value)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('device_id = "1528"', 'device_id = "1515"', "card[0].device_id"),  # the X540's VF id
        ('device_id = "1528"', 'device_id = "10fb"', "card[0].device_id"),  # an 82599 PF
        ('device_id = "1528"', 'device_id = "x540"', "card[0].device_id"),
        ('bridge = "0000:00:01.0"', 'bridge = "0000:00:1c.0"', "card[0].bridge"),
        ('"0000:01:00.1", ifname', '"0000:01:00.0", ifname', "functions"),
        ('ifname = "ens1f1"', 'ifname = "ens1f0"', "functions"),
        ("total_vfs = 8", "total_vfs = 0", "card[0].functions[1].total_vfs"),
        ("total_vfs = 8", "total_vfs = 65", "card[0].functions[1].total_vfs"),
        ("total_vfs = 8", 'total_vfs = "8"', "card[0].functions[1].total_vfs"),
        ('mac = "a0:36:9f:00:00:11"', 'mac = "a0:36:9f:00:00"', "card[0].functions[1].mac"),
        ('mac = "a0:36:9f:00:00:11"', 'mac = "a0:36:9f:00:00:1g"', "card[0].functions[1].mac"),
        ('address = "0000:01:00.0"', 'address = "0000:01:00.8"', "card[0].functions[0].address"),
        ('address = "0000:01:00.0"', 'address = "0000:01:20.0"', "card[0].functions[0].address"),
        ('address = "0000:00:01.0"', 'address = "00:01"', "bridge[0].address"),
        ('cpu_vendor = "intel"', 'cpu_vendor = "arm"', "cpu_vendor"),
        ('cpu_vendor = "intel"', "cpu_vendor = 1", "cpu_vendor"),
        ("secondary_bus = 1", "secondary_bus = 3", "bridge[0].subordinate_bus"),
        ("subordinate_bus = 2", "subordinate_bus = 256", "bridge[0].subordinate_bus"),
        ('vendor_id = "8086"', 'vendor_id = "intel"', "bridge[0].vendor_id"),
        ("sockets = 1", "sockets = 0", "sockets"),
        ("sockets = 1", "sockets = true", "sockets"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(old: str, new: str, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_profile(corrupt(old, new), source="tiny.toml")
    assert exc.value.field == f"tiny.toml: {field}"


def test_an_unknown_nic_model_is_refused_naming_the_file_and_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_profile(corrupt('model = "x540"', 'model = "x999"'), source="tiny.toml")
    assert "tiny.toml: card[0].model" in str(exc.value)
    assert "x999" in str(exc.value)
    assert "x540" in str(exc.value)  # the known models are listed


def test_extending_an_unknown_profile_is_not_found() -> None:
    with pytest.raises(NotFound, match="no-such-host"):
        parse_profile('extends = "no-such-host"\n' + GOOD, source="tiny.toml")


@pytest.mark.parametrize(
    ("top", "old", "new", "field"),
    [
        ("bridge = [1]", "[[bridge]]", "[[other]]", "bridge[0]"),
        ('card = ["x540"]', "[[card]]", "[[other]]", "card[0]"),
        ("", "functions = [\n", 'functions = [\n  "ens1f2",\n', "card[0].functions[0]"),
    ],
)
def test_an_entry_that_is_not_a_table_is_refused(top: str, old: str, new: str, field: str) -> None:
    text = f"{top}\n{corrupt(old, new)}"
    tomllib.loads(text)  # valid TOML, just the wrong shape
    with pytest.raises(InvalidInput) as exc:
        parse_profile(text, source="tiny.toml")
    assert exc.value.field == f"tiny.toml: {field}"


def test_a_parsed_address_is_the_kernels_form() -> None:
    profile = parse_profile(corrupt('"0000:01:00.0", ifname', '"01:00.0", ifname'), source="t")
    assert profile.cards[0].functions[0].address == PciAddress(0, 1, 0, 0)
