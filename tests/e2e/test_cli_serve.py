"""``sriovstack serve`` as a real process: its openrc block, its passwords, and Ctrl-C."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.e2e.processes import Running, console_script, start
from tests.e2e.running import Cli


class Served(Running):
    """A running ``sriovstack serve``."""

    def said(self, words: str) -> bool:
        return any(words in line for line in self.err)

    def exports(self) -> dict[str, str]:
        pairs = [line.removeprefix("export ").split("=", 1) for line in self.out]
        return {pair[0]: pair[1] for pair in pairs if len(pair) == 2 and " " not in pair[0]}


@contextmanager
def serving(env: dict[str, str], database: Path) -> Iterator[Served]:
    """Start ``serve`` on a free port and wait for its environment block; stop it at the end."""
    argv = [console_script("sriovstack"), "serve", "--port", "0"]
    served = start([*argv, "--database-url", f"sqlite:///{database}"], env, Served)
    try:
        served.wait_for(
            lambda: (
                served.said("API server at")
                and any(line.startswith("export OS_REGION_NAME") for line in served.out)
            )
        )
        yield served
    finally:
        if served.process.poll() is None:
            served.stop()
        served.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SRIOVSTACK_", "OS_"))}
    return keep | {"NO_COLOR": "1", "COLUMNS": "200"}


def test_serve_prints_an_openrc_that_drives_the_cli_and_stops_on_ctrl_c(
    cli: Cli, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(env, tmp_path / "cloud.db") as served:
        exports = served.exports()
        assert exports["OS_AUTH_URL"].endswith("/identity")
        assert (exports["OS_USERNAME"], exports["OS_PROJECT_NAME"]) == ("admin", "demo")
        served.wait_for(lambda: served.said("generated passwords"))
        shown = next(line for line in served.err if "generated passwords" in line)
        assert f"admin {exports['OS_PASSWORD']}" in shown and "demo " in shown
        for name, value in exports.items():
            monkeypatch.setenv(name, value)

        flavors = cli.ok("flavor", "list", "--json").json()
        assert "m1.small" in {f["name"] for f in flavors}
        assert "Fedora-Cloud-Base-23-20151030.x86_64" in {
            i["name"] for i in cli.ok("image", "list", "--json").json()
        }
        assert cli.ok("network", "list", "--json").json() == []

    assert served.process.returncode == 0, served.err
    assert served.err[-1] == "sriovstack: API server stopped"


def test_a_second_serve_keeps_the_passwords_and_shows_none(
    env: dict[str, str], tmp_path: Path
) -> None:
    database = tmp_path / "cloud.db"
    with serving(env | {"SRIOVSTACK_ADMIN_PASSWORD": "first-admin-pw"}, database) as first:
        assert first.exports()["OS_PASSWORD"] == "first-admin-pw"

    with serving(env, database) as second:
        assert "OS_PASSWORD" not in second.exports()
        assert any(line.startswith("# export OS_PASSWORD=") for line in second.out)
        second.wait_for(lambda: second.said("already has its users"))
        assert not second.said("generated passwords")

    assert second.process.returncode == 0, second.err


def test_a_short_password_is_refused_before_the_database_is_touched(
    env: dict[str, str], tmp_path: Path
) -> None:
    script = shutil.which("sriovstack", path=os.path.dirname(sys.executable))
    assert script
    database = tmp_path / "cloud.db"

    done = subprocess.run(
        [script, "serve", "--database-url", f"sqlite:///{database}"],
        env=env | {"SRIOVSTACK_DEMO_PASSWORD": "short"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "sriovstack: error: SRIOVSTACK_DEMO_PASSWORD: must be at least 8 characters"
    )
    assert not database.exists()
