"""Options shared by commands: which host, and output as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sriovstack.cli.session import HostChoice

SysfsRoot = Annotated[
    Path | None,
    typer.Option(
        "--sysfs-root",
        metavar="DIR",
        envvar="SRIOVSTACK_SYSFS_ROOT",
        help="Read this sysfs tree (a real one, recorded, or exported by `sim export`).",
    ),
]
Simulate = Annotated[
    str | None,
    typer.Option(
        "--simulate",
        metavar="PROFILE",
        envvar="SRIOVSTACK_SIMULATE",
        help="Work on a simulated host of this profile (see `sriovstack sim profiles`).",
    ),
]
StateFile = Annotated[
    Path | None,
    typer.Option(
        "--state-file",
        "--state",
        metavar="FILE",
        envvar="SRIOVSTACK_STATE",
        help="The simulated host's state file, kept between commands.",
    ),
]
# `host vf set --state` is the VF's link state, as in `ip link set dev PF vf N state auto`;
# two options spelled alike would let click give the value to either, so there only
# --state-file names the file.
StateFileOnly = Annotated[
    Path | None,
    typer.Option(
        "--state-file",
        metavar="FILE",
        envvar="SRIOVSTACK_STATE",
        help="The simulated host's state file, kept between commands.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def host_choice(sysfs_root: Path | None, simulate: str | None, state: Path | None) -> HostChoice:
    return HostChoice(sysfs_root=sysfs_root, simulate=simulate, state_file=state)
