"""MACs print as written: Rich must not read ``:cd:`` in one as an emoji code."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.running import Cli


def test_a_mac_with_an_emoji_code_in_it_prints_as_written(cli: Cli, tmp_path: Path) -> None:
    state = ("--simulate", "talk-after", "--state-file", str(tmp_path / "talk.json"))
    cli.ok("host", "set-vfs", "enp3s0f1", "2", *state)
    cli.ok("host", "vf", "set", "enp3s0f1", "0", "--mac", "fa:16:3e:cd:00:01", *state)
    shown = cli.ok("host", "show", *state).out
    assert "fa:16:3e:cd:00:01" in shown
    assert "\N{OPTICAL DISC}" not in shown
