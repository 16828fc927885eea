"""The agent's configuration file: defaults, relative paths, the SR-IOV config formats, errors
naming the key and the rule; the saved credentials; host facts from Linux files and profiles."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from tests.talkconf import TALK_LOCAL_CONF

from sriovstack.agent.config import (
    AgentConfig,
    Credentials,
    FactsSettings,
    load_agent_config,
    parse_agent_config,
    read_saved_credentials,
    save_credentials,
)
from sriovstack.agent.facts import host_facts, local_address, profile_facts, read_linux_facts
from sriovstack.agent.runner import Timing
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.reporting import CellFacts, HostFacts
from sriovstack.simulator.profiles import load_profile

SIMULATED = """
[api]
url = "http://127.0.0.1:8774/"
user = "agent-sriov-1"
password = "secret"

[host]
name = "sriov-1"
state_dir = "state"

[kernel]
mode = "simulated"
profile = "talk-after"
"""

HOST_TOML = """
[pci]
device_spec = '{"devname": "enp3s0f1", "physical_network": "physnet1"}'
"""


def parse(text: str, base: Path, **kwargs: Any) -> AgentConfig:
    return parse_agent_config(text, base=base, hostname=lambda: "this-machine", **kwargs)


def test_a_simulated_host_with_defaults(tmp_path: Path) -> None:
    config = parse(SIMULATED, tmp_path)
    assert config.api.url == "http://127.0.0.1:8774"
    assert config.api.credentials == Credentials("agent-sriov-1", "secret", "service")
    assert config.api.register is None
    assert (config.host.name, config.host.availability_zone) == ("sriov-1", "nova")
    # Relative paths are from the config file's directory; simulated state lives in state_dir.
    assert config.host.state_dir == tmp_path / "state"
    assert config.host.credentials_file == tmp_path / "state" / "credentials.json"
    assert config.kernel.state_file == tmp_path / "state" / "sim-kernel.json"
    assert config.hypervisor.kind == "simulated"
    assert config.hypervisor.state_file == tmp_path / "state" / "sim-guests.json"
    assert config.sriov.format == "none" and not config.sriov.config.device_specs
    assert config.loop == Timing(interval=10.0, long_poll=30.0, backoff_max=30.0)


def test_a_simulated_host_is_named_after_its_profile_by_default(tmp_path: Path) -> None:
    text = SIMULATED.replace('name = "sriov-1"\n', "")
    assert parse(text, tmp_path).host.name == load_profile("talk-after").hostname


def test_a_real_host_is_named_after_the_machine_and_runs_libvirt(tmp_path: Path) -> None:
    text = """
    [api]
    url = "https://cloud.example.com:8774"
    user = "agent-compute-1"
    password = "secret"
    project = "agents"
    [host.facts]
    memory_mib = 65536
    numa_cells = [{ id = 0, socket = 0 }, { id = 1, socket = 1 }]
    [loop]
    interval = 2.5
    long_poll = 60
    backoff_max = 120
    """
    config = parse(text, tmp_path)
    assert config.host.name == "this-machine"
    assert config.kernel.mode == "linux" and config.kernel.state_file is None
    assert (config.hypervisor.kind, config.hypervisor.uri) == ("libvirt", "qemu:///system")
    assert config.api.credentials == Credentials("agent-compute-1", "secret", "agents")
    assert config.host.facts == FactsSettings(
        memory_mib=65536, numa_cells=(CellFacts(0, 0), CellFacts(1, 1))
    )
    assert (config.loop.interval, config.loop.long_poll, config.loop.backoff_max) == (2.5, 60, 120)


def test_registration_credentials_with_a_password_file(tmp_path: Path) -> None:
    (tmp_path / "admin.pw").write_text("admin-secret\n")
    text = """
    [api]
    url = "http://api:8774"
    [api.register]
    user = "admin"
    password_file = "admin.pw"
    """
    config = parse(text, tmp_path)
    assert config.api.credentials is None
    assert config.api.register == Credentials("admin", "admin-secret", "admin")
    assert "admin-secret" not in repr(config.api.register)


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("local.conf", TALK_LOCAL_CONF, "local.conf"),
        ("devstack.txt", TALK_LOCAL_CONF, "local.conf"),  # told by its [[local|localrc]]
        ("host.toml", HOST_TOML, "toml"),
    ],
)
def test_the_sriov_config_is_a_host_toml_or_a_local_conf(
    tmp_path: Path, name: str, content: str, kind: str
) -> None:
    (tmp_path / name).write_text(content)
    config = parse(SIMULATED + f'[sriov]\nconfig = "{name}"\n', tmp_path)
    assert (config.sriov.format, config.sriov.path) == (kind, tmp_path / name)
    (spec,) = config.sriov.config.device_specs.specs
    assert spec.physical_network == "physnet1"


def test_a_profile_file_is_found_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('extends = "talk-after"\nhostname = "mine"\n')
    text = SIMULATED.replace('"talk-after"', '"mine.toml"').replace('name = "sriov-1"\n', "")
    config = parse(text, tmp_path)
    assert config.kernel.profile == str(tmp_path / "mine.toml")
    assert config.host.name == "mine"


def test_a_missing_config_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_agent_config(tmp_path / "nope.toml")
    assert caught.value.field == "--config"
    assert "cannot be read" in str(caught.value)


def case(ident: str, change: tuple[str, str], field: str, *words: str) -> Any:
    return pytest.param(change, field, words, id=ident)


BAD = [
    case("unknown-section", ("", "[agent]\nx = 1\n"), "[agent]", "not a known section"),
    case("unknown-key", ("", "[loop]\nintervall = 3\n"), "[loop] intervall", "interval"),
    case("no-url", ('url = "http://127.0.0.1:8774/"', ""), "[api] url", "required"),
    case("bad-url", ("http://127.0.0.1:8774/", "127.0.0.1:8774"), "[api] url", "http://"),
    case(
        "no-credentials",
        ('user = "agent-sriov-1"\npassword = "secret"\n', ""),
        "[api] user",
        "[api.register]",
    ),
    case("no-password", ('password = "secret"\n', ""), "[api] password", "exactly one"),
    case(
        "two-passwords",
        ('password = "secret"\n', 'password = "a"\npassword_file = "b"\n'),
        "[api] password",
        "exactly one",
    ),
    case(
        "missing-password-file",
        ('password = "secret"\n', 'password_file = "nope"\n'),
        "[api] password_file",
        "cannot be read",
    ),
    case(
        "user-and-register",
        ("", '[api.register]\nuser = "admin"\npassword = "x"\n'),
        "[api] register",
        "not both",
    ),
    case(
        "register-unknown-key",
        ("", '[api.register]\nuser = "admin"\npasswd = "x"\n'),
        "[api.register] passwd",
        "not a known key",
    ),
    case("bad-mode", ('mode = "simulated"', 'mode = "qemu"'), "[kernel] mode", '"linux"'),
    case("no-profile", ('profile = "talk-after"', ""), "[kernel] profile", "required"),
    case(
        "unknown-profile",
        ('profile = "talk-after"', 'profile = "no-such-host"'),
        "[kernel] profile",
        "no-such-host",
    ),
    case(
        "profile-on-linux",
        ('mode = "simulated"', 'mode = "linux"'),
        "[kernel] profile",
        "simulated",
    ),
    case(
        "simulated-guests-on-linux",
        ('mode = "simulated"\nprofile = "talk-after"', '[hypervisor]\nkind = "simulated"'),
        "[hypervisor] kind",
        "[kernel] mode",
    ),
    case("uri-for-simulated", ("", '[hypervisor]\nuri = "qemu:///system"\n'), "[hypervisor] uri"),
    case("name-with-slash", ('name = "sriov-1"', 'name = "a/b"'), "[host] name", "without /"),
    case("zero-interval", ("", "[loop]\ninterval = 0\n"), "[loop] interval", "above 0"),
    case("bool-long-poll", ("", "[loop]\nlong_poll = true\n"), "[loop] long_poll", "seconds"),
    case("no-cpus", ("", "[host.facts]\ncpus = 0\n"), "[host.facts] cpus", "from 1"),
    case(
        "twice-the-same-cell",
        ("", "[host.facts]\nnuma_cells = [{ id = 0 }, { id = 0 }]\n"),
        "[host.facts] numa_cells",
        "twice",
    ),
    case(
        "cell-socket",
        ("", '[host.facts]\nnuma_cells = [{ id = 0, socket = "one" }]\n'),
        "[host.facts] numa_cells[0].socket",
        "whole number",
    ),
    case(
        "bad-host-ip",
        ("", '[host.facts]\nhost_ip = "192.0.2.300"\n'),
        "[host.facts] host_ip",
        "IPv4 or IPv6 address",
        "192.0.2.300",
    ),
    case(
        "host-name-as-my-ip",
        ("", '[host.facts]\nmy_ip = "compute-1"\n'),
        "[host.facts] my_ip",
        "IPv4 or IPv6 address",
    ),
    case("number-host-ip", ("", "[host.facts]\nhost_ip = 3\n"), "[host.facts] host_ip", "string"),
    case(
        "host-ip-and-my-ip",
        ("", '[host.facts]\nhost_ip = "192.0.2.7"\nmy_ip = "192.0.2.7"\n'),
        "[host.facts] my_ip",
        "one of them",
    ),
    case("missing-sriov-config", ("", '[sriov]\nconfig = "nope.toml"\n'), "[sriov] config"),
    case("not-toml", ("[kernel]", "[kernel"), "agent config", "TOML"),
]


@pytest.mark.parametrize(
    ("line", "address"),
    [
        ('host_ip = "192.0.2.7"', "192.0.2.7"),
        ('my_ip = "192.0.2.8"', "192.0.2.8"),  # Nova's name for it
        ('host_ip = "2001:DB8:0::1"', "2001:db8::1"),  # kept in its canonical form
    ],
)
def test_the_host_ip_is_an_address_under_either_name(
    tmp_path: Path, line: str, address: str
) -> None:
    config = parse(SIMULATED + f"[host.facts]\n{line}\n", tmp_path)
    assert config.host.facts.host_ip == address


def test_without_a_host_ip_none_is_configured(tmp_path: Path) -> None:
    assert parse(SIMULATED, tmp_path).host.facts.host_ip is None


@pytest.mark.parametrize(("change", "field", "words"), BAD)
def test_bad_config_names_the_key_and_the_rule(
    tmp_path: Path, change: tuple[str, str], field: str, words: tuple[str, ...]
) -> None:
    old, new = change
    text = SIMULATED.replace(old, new) if old else SIMULATED + new
    with pytest.raises(InvalidInput) as caught:
        parse(text, tmp_path)
    assert caught.value.field == field, str(caught.value)
    for word in words:
        assert word in str(caught.value)


def test_a_bad_sriov_config_names_its_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "host.toml").write_text('[pci]\ndevice_spec = "{not json"\n')
    with pytest.raises(InvalidInput) as caught:
        parse(SIMULATED + '[sriov]\nconfig = "host.toml"\n', tmp_path)
    assert caught.value.field.startswith(f"[sriov] config {tmp_path / 'host.toml'}: [pci]")


# ------------------------------------------------------------------------------ credentials


def test_saved_credentials_are_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "credentials.json"
    assert read_saved_credentials(path, host="sriov-1") is None
    given = Credentials("agent-sriov-1", "pw", "service")
    save_credentials(path, given, host="sriov-1", url="http://api")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]  # no temp file left
    assert read_saved_credentials(path, host="sriov-1") == given


def test_saved_credentials_of_another_host_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    save_credentials(path, Credentials("agent-a", "pw", "service"), host="a", url="http://api")
    with pytest.raises(InvalidInput, match="holds the credentials of host 'a', not 'b'"):
        read_saved_credentials(path, host="b")
    path.write_text("{}")
    with pytest.raises(InvalidInput, match="not a sriovstack agent credentials file"):
        read_saved_credentials(path, host="a")


# ------------------------------------------------------------------------------ facts


def linux_root(tmp_path: Path) -> Path:
    """/proc and /sys files of a two-socket machine with 4 CPUs, 16 GiB and 2 NUMA nodes."""
    (tmp_path / "proc").mkdir()
    cpuinfo = "".join(f"processor\t: {i}\nvendor_id\t: GenuineIntel\n\n" for i in range(4))
    (tmp_path / "proc/cpuinfo").write_text(cpuinfo)
    (tmp_path / "proc/meminfo").write_text("MemTotal:       16777216 kB\nMemFree: 1 kB\n")
    system = tmp_path / "sys/devices/system"
    for node, cpus in ((0, "0-1"), (1, "2-3")):
        (system / f"node/node{node}").mkdir(parents=True)
        (system / f"node/node{node}/cpulist").write_text(cpus + "\n")
    (system / "node/possible").write_text("0-1\n")
    for cpu in range(4):
        (system / f"cpu/cpu{cpu}/topology").mkdir(parents=True)
        (system / f"cpu/cpu{cpu}/topology/physical_package_id").write_text(f"{cpu // 2}\n")
    return tmp_path


def test_linux_facts_are_read_from_proc_and_sys(tmp_path: Path) -> None:
    facts = read_linux_facts(linux_root(tmp_path))
    assert facts == HostFacts(4, 16384, (CellFacts(0, 0), CellFacts(1, 1)))


def test_facts_given_by_hand_are_not_read(tmp_path: Path) -> None:
    given = FactsSettings(cpus=2, memory_mib=1024, numa_cells=(CellFacts(0),))
    assert read_linux_facts(tmp_path, given) == HostFacts(2, 1024, (CellFacts(0),))
    with pytest.raises(InvalidInput) as caught:
        read_linux_facts(tmp_path, FactsSettings(cpus=2))
    assert caught.value.field == "[host.facts] memory_mib"


def test_a_simulated_host_has_its_profiles_facts_unless_given() -> None:
    facts = profile_facts(load_profile("dual-socket"))
    assert facts.numa_cells == (CellFacts(0, 0), CellFacts(1, 1))
    assert (facts.cpus, facts.memory_mib) == (load_profile("dual-socket").cpus, 524288)
    given = host_facts(facts, FactsSettings(memory_mib=1024), zone="az1")
    assert (given.cpus, given.memory_mib, given.availability_zone) == (facts.cpus, 1024, "az1")
    assert given.host_ip is None  # the agent finds it on its way to the API


def test_a_configured_host_ip_is_the_hosts() -> None:
    facts = host_facts(HostFacts(2, 1024), FactsSettings(host_ip="192.0.2.7"), zone="nova")
    assert facts.host_ip == "192.0.2.7"


def test_the_local_address_is_the_one_towards_the_api() -> None:
    assert local_address("http://127.0.0.1:8774") == "127.0.0.1"
    assert local_address("https://127.0.0.1/") == "127.0.0.1"  # the scheme's port


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://:8774", "not a url"])
def test_no_local_address_is_told_for_a_url_without_a_usable_host(url: str) -> None:
    assert local_address(url) is None
