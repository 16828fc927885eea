"""``sriovstack openrc``: the openrc of an ``up`` state directory, written where asked (0600) or
printed; a directory with no cloud, a file of someone else's and a directory as the file are
refused with one line and nothing written."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from tests.e2e.running import Cli, files_in

from sriovstack.launch.statedir import (
    Record,
    StateDir,
    openrc_text,
    write_openrc,
    write_record,
)

URL = "http://127.0.0.1:18774"
PASSWORDS = {"admin": "s3cret admin", "demo": "demo-pw"}


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state directory as ``up`` leaves it: its record and its openrc."""
    directory = StateDir(tmp_path / "up")
    write_record(directory, Record("sqlite in the state directory", "the default fleet", {}))
    write_openrc(directory, openrc_text(URL, PASSWORDS, region="RegionOne"))
    return directory.root


def shell_login(openrc: Path, *args: str) -> list[str]:
    script = '. "$0" "$@"; echo "$OS_AUTH_URL|$OS_USERNAME|$OS_PROJECT_NAME|$OS_PASSWORD"'
    done = subprocess.run(
        ["bash", "-c", script, str(openrc), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().split("|")


def test_it_writes_the_clouds_openrc_for_admin_and_demo(
    cli: Cli, state: Path, tmp_path: Path
) -> None:
    target = tmp_path / "work" / "openrc"
    said = cli.ok("openrc", "--state-dir", str(state), "-o", str(target))
    assert said.out.startswith(f"wrote {target} for the cloud at {URL}/identity:")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it holds passwords
    assert target.read_text() == (state / "openrc").read_text()
    auth = f"{URL}/identity"
    assert shell_login(target, "admin", "demo") == [auth, "admin", "demo", "s3cret admin"]
    assert shell_login(target, "demo", "demo") == [auth, "demo", "demo", "demo-pw"]
    assert shell_login(target, "admin", "admin") == [auth, "admin", "admin", "s3cret admin"]
    # Its own file is replaced without --force, as a second `up` on another port needs.
    again = cli.ok("openrc", "--state-dir", str(state), "-o", str(target), "--json")
    assert again.json() == {"openrc": str(target), "auth_url": f"{URL}/identity"}


def test_dash_prints_it(cli: Cli, state: Path) -> None:
    printed = cli.ok("openrc", "--state-dir", str(state), "-o", "-")
    assert printed.out == (state / "openrc").read_text()


def test_the_state_dir_comes_from_the_environment_as_ups(
    cli: Cli, state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRIOVSTACK_STATE_DIR", str(state.parent))  # up's is $DIR/up
    monkeypatch.chdir(tmp_path)
    cli.ok("openrc")
    assert (tmp_path / "openrc").read_text() == (state / "openrc").read_text()


def test_a_directory_without_a_cloud_is_refused(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "openrc"
    refused = cli("openrc", "--state-dir", str(tmp_path / "none"), "-o", str(target))
    assert refused.code == 2
    assert refused.error_line() == (
        f"sriovstack: error: --state-dir: {tmp_path / 'none'} holds no openrc of `sriovstack "
        "up`: start `sriovstack up` on it first, or give the --state-dir it runs on"
    )
    assert not target.exists()


def test_a_file_sriovstack_did_not_write_is_kept_unless_forced(
    cli: Cli, state: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "openrc"
    theirs.write_text("export OS_AUTH_URL=http://keystone.example:5000/v2.0\n")
    before = files_in(tmp_path)
    refused = cli("openrc", "--state-dir", str(state), "-o", str(theirs))
    assert refused.code == 4
    assert refused.error_line() == (
        f"sriovstack: error: --output {theirs}: the file exists and sriovstack did not write "
        "it; give --force to replace it, or another --output"
    )
    assert files_in(tmp_path) == before
    cli.ok("openrc", "--state-dir", str(state), "-o", str(theirs), "--force")
    assert theirs.read_text() == (state / "openrc").read_text()


def test_a_directory_as_the_file_is_refused(cli: Cli, state: Path, tmp_path: Path) -> None:
    refused = cli("openrc", "--state-dir", str(state), "-o", str(tmp_path))
    assert refused.code == 2
    assert refused.error_line() == (
        f"sriovstack: error: --output: must be a file, not a directory (got '{tmp_path}')"
    )
