"""``[FDB] shared_physical_device_mappings``: the PFs whose FDB gets co-resident ports' MACs."""

from __future__ import annotations

import pytest

from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.hostconfig import HostConfig, parse_host_config, parse_local_conf

WHERE = "[FDB] shared_physical_device_mappings"
NEUTRON_EXAMPLE = "physnet1:enp3s0f1,physnet2:eth3"  # as Neutron's docs write it


# ---------------------------------------------------------------- TOML


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(f'"{NEUTRON_EXAMPLE}"', id="comma-separated"),
        pytest.param('["physnet1:enp3s0f1", "physnet2:eth3"]', id="list-of-strings"),
        pytest.param('" physnet1 : enp3s0f1 , , physnet2:eth3 "', id="spaces-and-empty-items"),
    ],
)
def test_toml_forms(value: str) -> None:
    config = parse_host_config(f"[FDB]\nshared_physical_device_mappings = {value}\n")
    assert str(config.fdb_mappings) == NEUTRON_EXAMPLE
    assert config.fdb_mappings.physnets_of("eth3") == ("physnet2",)


def test_a_physnet_may_share_several_pfs_and_a_pf_several_physnets() -> None:
    config = parse_host_config(
        '[FDB]\nshared_physical_device_mappings = "physnet1:ens2,physnet1:ens3,physnet2:ens2"\n'
    )
    assert config.fdb_mappings.entries == (("physnet1", ("ens2", "ens3")), ("physnet2", ("ens2",)))
    assert config.fdb_mappings.devices == ("ens2", "ens3")


def test_fdb_mappings_are_their_own_option() -> None:
    # The OVS agent reads them; the shared PF need not be one the SR-IOV agent maps.
    config = parse_host_config(
        '[sriov_nic]\nphysical_device_mappings = "physnet1:enp3s0f1"\n'
        '[FDB]\nshared_physical_device_mappings = "physnet1:enp3s0f0"\n'
    )
    assert str(config.device_mappings) == "physnet1:enp3s0f1"
    assert str(config.fdb_mappings) == "physnet1:enp3s0f0"


def test_without_the_option_no_pf_is_shared() -> None:
    assert parse_host_config("").fdb_mappings.entries == ()
    assert parse_host_config("[FDB]\n") == HostConfig()
    assert parse_host_config('[FDB]\nshared_physical_device_mappings = ""\n') == HostConfig()


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param('"physnet1"', "each entry must be physnet:device", id="no-colon"),
        pytest.param('"physnet1:ens2:x"', "each entry must be physnet:device", id="two-colons"),
        pytest.param('":ens2"', "an entry is missing its physnet", id="no-physnet"),
        pytest.param('"physnet1:"', "an entry is missing its device", id="no-device"),
        pytest.param("3", "must be comma-separated text or a list of strings", id="a-number"),
        pytest.param('["physnet1:ens2", 3]', "must be comma-separated text", id="not-all-strings"),
    ],
)
def test_bad_toml_values_are_refused_naming_the_option(value: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_host_config(f"[FDB]\nshared_physical_device_mappings = {value}\n")
    assert caught.value.field == WHERE
    assert caught.value.rule.startswith(rule), caught.value.rule


def test_an_unknown_fdb_key_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_host_config('[FDB]\nshared_physical_device_mapping = "physnet1:ens2"\n')
    assert caught.value.field == "[FDB] shared_physical_device_mapping"
    assert caught.value.rule == "is not a known key; known: shared_physical_device_mappings"


def test_the_toml_section_is_named_as_neutron_documents_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_host_config('[fdb]\nshared_physical_device_mappings = "physnet1:ens2"\n')
    assert caught.value.field == "[fdb]"
    assert caught.value.rule.endswith("[FDB]")


# ---------------------------------------------------------------- local.conf


OVS_POST_CONFIG = "[[post-config|/$Q_PLUGIN_CONF_FILE]]\n"


@pytest.mark.parametrize(
    "section",
    [
        pytest.param("[FDB]", id="as-documented"),
        # oslo.config lowercases group names, so Neutron reads this one too.
        pytest.param("[fdb]", id="lower-case"),
    ],
)
def test_local_conf_post_config(section: str) -> None:
    config = parse_local_conf(
        f"{OVS_POST_CONFIG}{section}\nshared_physical_device_mappings = {NEUTRON_EXAMPLE}\n"
    )
    assert str(config.fdb_mappings) == NEUTRON_EXAMPLE


def test_local_conf_alongside_the_sriov_agents_options() -> None:
    config = parse_local_conf(
        "[[local|localrc]]\nPHYSICAL_DEVICE_MAPPINGS=physnet1:enp3s0f1\n"
        f"{OVS_POST_CONFIG}[agent]\nextensions = fdb\n"
        "[FDB]\nshared_physical_device_mappings = physnet1:enp3s0f0\n"
        "[[post-config|$NOVA_CONF]]\n[DEFAULT]\ndebug = True\n"
    )
    assert str(config.device_mappings) == "physnet1:enp3s0f1"
    assert str(config.fdb_mappings) == "physnet1:enp3s0f0"


def test_local_conf_the_last_line_wins() -> None:
    # As for every other single-valued option: a later post-config block overrides.
    config = parse_local_conf(
        f"{OVS_POST_CONFIG}[FDB]\nshared_physical_device_mappings = physnet1:ens2\n"
        f"{OVS_POST_CONFIG}[FDB]\nshared_physical_device_mappings = physnet2:ens3\n"
    )
    assert str(config.fdb_mappings) == "physnet2:ens3"


def test_local_conf_without_the_option_shares_no_pf() -> None:
    assert parse_local_conf(f"{OVS_POST_CONFIG}[FDB]\n").fdb_mappings.entries == ()


def test_the_option_is_not_read_from_other_sections() -> None:
    config = parse_local_conf(
        f"{OVS_POST_CONFIG}[sriov_nic]\nshared_physical_device_mappings = physnet1:ens2\n"
    )
    assert config.fdb_mappings.entries == ()


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        pytest.param("physnet1", "each entry must be physnet:device", id="no-colon"),
        pytest.param("physnet1:ens2 physnet2:ens3", "each entry must be", id="no-comma"),
        pytest.param(":ens2", "an entry is missing its physnet", id="no-physnet"),
        pytest.param("physnet1:", "an entry is missing its device", id="no-device"),
    ],
)
def test_bad_local_conf_values_are_refused_naming_the_option(line: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_local_conf(f"{OVS_POST_CONFIG}[FDB]\nshared_physical_device_mappings = {line}\n")
    assert caught.value.field == WHERE
    assert caught.value.rule.startswith(rule), caught.value.rule
    assert WHERE in str(caught.value)
