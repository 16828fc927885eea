"""Bad input to the command line: the right exit code, ONE line naming the rule, nothing changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.running import AFTER, BEFORE, Cli, Result, files_in

PF = "enp3s0f1"
USED_MAC = "fa:16:3e:11:22:33"


@pytest.fixture
def busy(cli: Cli, state_dir: Path) -> dict[str, tuple[bytes, int]]:
    """The talk's host with 7 VFs, VF 0 carrying a port's MAC and one FDB entry; its files."""
    cli.ok("host", "set-vfs", PF, "7", *AFTER)
    cli.ok("host", "vf", "set", PF, "0", "--mac", USED_MAC, "--vlan", "2010", *AFTER)
    cli.ok("host", "fdb", "add", PF, "00:de:ad:be:ef:00", *AFTER)
    return files_in(state_dir)


def bad(ident: str, code: int, command: str, *words: str) -> Any:
    """One bad command line: the exit code it gets and words its error line must hold."""
    return pytest.param(command.split(), code, list(words), id=ident)


def refused(result: Result, code: int, *words: str) -> str:
    """Assert a refusal: its exit code, one error line holding ``words``, nothing on stdout."""
    line = result.error_line()
    assert result.code == code, line
    assert result.out == ""
    for word in words:
        assert word in line
    return line


BAD_INPUT = [
    bad("unknown-pf", 3, "host set-vfs eth9 3", "PF eth9 not found", PF),
    bad("vf-unknown-pf", 3, "host vf set eth9 0 --vlan 3", "eth9"),
    bad("fdb-unknown-pf", 3, "host fdb add eth9 00:11:22:33:44:55", "eth9"),
    bad("unknown-address", 3, "host set-vfs 0000:09:00.0 1", "0000:09:00.0"),
    bad("pf-path", 2, "host set-vfs ../eth0 1", "PF", "netdev name"),
    bad("pf-bad-bdf", 2, "host set-vfs 03:00.9 1", "PF", "DDDD:BB:DD.F"),
    bad("over-totalvfs", 2, f"host set-vfs {PF} 64", "count", "0..63", "sriov_totalvfs", "64"),
    bad("negative-count", 2, f"host set-vfs {PF} -1", "-1", "0 or more"),
    bad(
        "negative-count-after-dashes",
        2,
        f"host set-vfs --simulate talk-after {PF} -- -1",
        "count",
        "0..63",
        "-1",
    ),
    bad("count-not-a-number", 2, f"host set-vfs {PF} many", "'N'", "integer"),
    bad("vfs-in-use", 4, f"host set-vfs {PF} 3", "VF 0", USED_MAC, "--force"),
    bad("vfs-in-use-to-zero", 4, f"host set-vfs {PF} 0", "VF 0", "--force"),
    bad("vf-driver", 2, f"host set-vfs {PF} 7 --vf-driver e1000", "vf-driver", "vfio-pci"),
    bad(
        "mac-multicast",
        2,
        f"host vf set {PF} 0 --mac 01:00:5e:00:00:01",
        "mac",
        "unicast",
        "01:00:5e:00:00:01",
    ),
    bad("mac-broadcast", 2, f"host vf set {PF} 0 --mac ff:ff:ff:ff:ff:ff", "mac", "unicast"),
    bad("mac-short", 2, f"host vf set {PF} 0 --mac fa:16:3e:00:00", "mac", "six hex octets"),
    bad("mac-not-hex", 2, f"host vf set {PF} 0 --mac fa:16:3e:00:00:zz", "mac", "six hex octets"),
    bad("fdb-mac-zero", 2, f"host fdb add {PF} 00:00:00:00:00:00", "mac", "unicast", "zero"),
    bad("fdb-mac-multicast", 2, f"host fdb add {PF} 33:33:00:00:00:01", "mac", "unicast"),
    bad("fdb-mac-malformed", 2, f"host fdb add {PF} not-a-mac", "mac", "six hex octets"),
    bad(
        "fdb-del-missing",
        3,
        f"host fdb del {PF} 00:11:22:33:44:55",
        "FDB entry",
        "00:11:22:33:44:55",
        PF,
    ),
    bad("vlan-5000", 2, f"host vf set {PF} 0 --vlan 5000", "vlan", "0..4095", "5000"),
    bad("vlan-negative", 2, f"host vf set {PF} 0 --vlan -1", "vlan", "0..4095"),
    bad("qos-8", 2, f"host vf set {PF} 0 --vlan 10 --qos 8", "qos", "0..7", "8"),
    bad("qos-without-vlan", 2, f"host vf set {PF} 0 --qos 3", "--qos", "--vlan"),
    bad(
        "min-over-max",
        2,
        f"host vf set {PF} 0 --min-rate 200 --max-rate 100",
        "min-rate",
        "max-rate",
        "200",
    ),
    bad("max-rate-negative", 2, f"host vf set {PF} 0 --max-rate -5", "max-rate", "0 or more"),
    bad(
        "min-rate-unsupported",
        2,
        f"host vf set {PF} 0 --min-rate 100",
        "min-rate",
        "X540",
        "no minimum rate",
    ),
    bad(
        "max-rate-over-link",
        2,
        f"host vf set {PF} 0 --max-rate 20000",
        "max-rate",
        "link speed",
        "10000",
    ),
    bad(
        "proto-unknown",
        2,
        f"host vf set {PF} 0 --vlan 10 --proto 802.1x",
        "proto",
        "802.1Q or 802.1ad",
        "802.1x",
    ),
    bad(
        "proto-unsupported",
        2,
        f"host vf set {PF} 0 --vlan 10 --proto 802.1ad",
        "proto",
        "X540",
        "802.1Q",
    ),
    bad(
        "link-state",
        2,
        f"host vf set {PF} 0 --state bogus",
        "state",
        "auto, enable or disable",
        "bogus",
    ),
    bad("spoofchk", 2, f"host vf set {PF} 0 --spoofchk maybe", "spoofchk", "on or off", "maybe"),
    bad("trust", 2, f"host vf set {PF} 0 --trust yes", "trust", "on or off"),
    bad(
        "vlan-not-a-number",
        2,
        f"host vf set {PF} 0 --vlan abc",
        "'--vlan'",
        "integer",
        "host vf set --help",
    ),
    bad("option-typo", 2, f"host vf set {PF} 0 --valn 3", "--valn", "--vlan"),
    bad("no-settings", 2, f"host vf set {PF} 0", "options", "at least one setting"),
    bad("vf-index-over", 2, f"host vf set {PF} 7 --vlan 3", "index", "0..6", "7"),
    bad("vf-index-negative", 2, f"host vf set {PF} -1 --vlan 3", "-1", "0 or more"),
    bad("reset-index-over", 2, f"host vf reset {PF} 9", "index", "0..6"),
    bad("reset-no-vfs", 2, "host vf reset enp3s0f0 0", "index", "enp3s0f0 has no VFs"),
    bad("link-updown", 2, f"host link {PF} sideways", "up or down", "sideways"),
    bad("missing-argument", 2, f"host set-vfs {PF}", "Missing argument 'N'"),
    bad("unknown-command", 2, "host frobnicate", "No such command", "frobnicate"),
]


@pytest.mark.parametrize(("args", "code", "words"), BAD_INPUT)
def test_bad_input_is_refused_and_changes_nothing(
    cli: Cli,
    state_dir: Path,
    busy: dict[str, tuple[bytes, int]],
    args: list[str],
    code: int,
    words: list[str],
) -> None:
    argv = args if "--" in args else [*args, *AFTER]  # after "--", options are arguments

    refused(cli(*argv), code, *words)

    assert files_in(state_dir) == busy  # the same bytes: not even rewritten


def test_force_goes_ahead_where_vfs_in_use_refused(cli: Cli, busy: object) -> None:
    out = cli.ok("host", "set-vfs", PF, "3", "--force", *AFTER).out

    assert "7 -> 3 VFs" in out


def test_a_refused_call_on_a_fresh_host_writes_no_state(cli: Cli, state_dir: Path) -> None:
    refused(cli("host", "vf", "set", PF, "0", "--vlan", "3", *AFTER), 2, "index", "no VFs")
    refused(cli("host", "set-vfs", PF, "7", *BEFORE), 4, "pci=realloc")

    assert files_in(state_dir) == {}


def test_a_command_that_changes_nothing_leaves_the_state_file_alone(
    cli: Cli, state_dir: Path, busy: dict[str, tuple[bytes, int]]
) -> None:
    cli.ok("host", "vf", "set", PF, "0", "--mac", USED_MAC, *AFTER)
    cli.ok("host", "link", PF, "up", *AFTER)
    cli.ok("host", "fdb", "add", PF, "00:de:ad:be:ef:00", *AFTER)

    assert files_in(state_dir) == busy


# Where the host comes from


def test_sysfs_root_with_simulate(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    result = cli("host", "show", "--sysfs-root", str(tmp_path), *AFTER)

    refused(result, 2, "--sysfs-root", "cannot be combined with --simulate")
    assert files_in(state_dir) == {}


def test_sysfs_root_that_is_missing(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    refused(cli("host", "show", "--sysfs-root", str(missing)), 2, "--sysfs-root", "directory")
    refused(cli("host", "doctor", "--sysfs-root", str(missing)), 2, "--sysfs-root")
    assert not missing.exists()


def test_unknown_profile(cli: Cli, state_dir: Path) -> None:
    refused(cli("host", "show", "--simulate", "talk-during"), 3, "talk-during", "sim profiles")
    refused(cli("host", "show", "--simulate", "missing.toml"), 3, "missing.toml")
    assert files_in(state_dir) == {}


def test_profile_that_is_not_toml(cli: Cli, state_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[card\n', "utf-8")

    line = refused(cli("host", "set-vfs", PF, "1", "--simulate", str(bad)), 2, "not valid TOML")

    assert str(bad) in line
    assert files_in(state_dir) == {}


def test_profile_with_a_bad_field(cli: Cli, state_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "talk-after"\ncpu_vendor = "via"\n', "utf-8")

    refused(cli("host", "show", "--simulate", str(bad)), 2, str(bad), "cpu_vendor", "intel or amd")
    assert files_in(state_dir) == {}


UNKNOWN_MODEL = """\
extends = "talk-after"
[[card]]
model = "x999"
device_id = "1528"
bridge = "0000:00:03.2"
functions = [{ address = "0000:03:00.0", ifname = "eth0", mac = "a0:36:9f:3e:5a:10" }]
"""


def test_profile_with_an_unknown_nic_model(cli: Cli, state_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(UNKNOWN_MODEL, "utf-8")

    line = refused(cli("host", "show", "--simulate", str(bad)), 2, str(bad), "card[0].model")

    assert "x999" in line
    assert "x540" in line  # the known models
    assert files_in(state_dir) == {}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("{not json", ["not a readable state file"], id="not-json"),
        pytest.param("[1, 2]", ["not a sriovstack simulator state file"], id="not-an-object"),
        pytest.param(
            '{"format": 1, "profile": "talk-after"}',
            ["not a sriovstack simulator state file"],
            id="missing-keys",
        ),
        pytest.param('{"format": 99, "profile": "talk-after"}', ["format", "1"], id="format"),
        pytest.param(
            '{"format": 1, "profile": "talk-before"}',
            ["holds profile 'talk-before'", "sim reset"],
            id="other-profile",
        ),
    ],
)
def test_corrupt_state_file(cli: Cli, state_dir: Path, text: str, words: list[str]) -> None:
    state_dir.mkdir()
    path = state_dir / "sim-talk-after.json"
    path.write_text(text, "utf-8")
    before = files_in(state_dir)

    for args in (["host", "show"], ["host", "set-vfs", PF, "1"], ["sim", "reboot", "talk-after"]):
        refused(cli(*args, *(AFTER if args[0] == "host" else ())), 2, str(path), *words)

    assert files_in(state_dir) == before


def test_corrupt_state_file_is_cleared_by_sim_reset(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "sim-talk-after.json").write_bytes(b"\xff\xfe garbage")
    refused(cli("host", "show", *AFTER), 2, "state file")

    cli.ok("sim", "reset", "talk-after")

    assert cli.ok("host", "show", *AFTER, "--json").json()["pfs"]


def test_corrupt_vf_layout_file(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "sim-talk-after.vfs.json").write_text("{}", "utf-8")

    refused(cli("host", "restore", *AFTER), 2, "sim-talk-after.vfs.json", "VF layout")
    refused(cli("sim", "reboot", "talk-after"), 2, "VF layout")
    assert not (state_dir / "sim-talk-after.json").exists()


# sim export


def test_export_into_a_non_empty_directory_is_refused(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "root"
    target.mkdir()
    (target / "keep").write_text("mine", "utf-8")

    refused(cli("sim", "export", "talk-after", str(target)), 2, "DIR", "empty", str(target))

    assert [p.name for p in target.iterdir()] == ["keep"]


def test_export_onto_a_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("mine", "utf-8")

    refused(cli("sim", "export", "talk-after", str(target)), 2, "DIR", "empty directory")

    assert target.read_text("utf-8") == "mine"


def test_export_of_an_unknown_profile(cli: Cli, tmp_path: Path) -> None:
    refused(cli("sim", "export", "nope", str(tmp_path / "root")), 3, "profile nope not found")

    assert not (tmp_path / "root").exists()


def test_a_path_the_cli_cannot_write_is_one_line(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", "utf-8")

    result = cli("host", "set-vfs", PF, "1", *AFTER, "--state", str(blocker / "state.json"))

    refused(result, 1, str(blocker))


# Refusals that depend on the host's state


def test_set_vfs_refused_by_the_vf_driver_changes_nothing(cli: Cli, state_dir: Path) -> None:
    cli.ok("sim", "reboot", "talk-before", "--append", "pci=realloc pci=assign-busses")
    before = files_in(state_dir)

    result = cli("host", "set-vfs", PF, "2", "--vf-driver", "vfio-pci", *BEFORE)

    refused(result, 4, "vfio-pci", "IOMMU", "intel_iommu=on")
    assert files_in(state_dir) == before
