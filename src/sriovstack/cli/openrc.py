"""``sriovstack openrc``: the environment file of an ``up`` cloud, as DevStack's openrc."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from sriovstack.cli.options import Json
from sriovstack.cli.render import print_json
from sriovstack.cli.views import out
from sriovstack.launch.statedir import StateDir, default_state_dir, export_openrc, saved_openrc

STDOUT = "-"


def openrc(
    ctx: typer.Context,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write it (mode 0600: it holds passwords); - prints it instead.",
        ),
    ] = "openrc",
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            metavar="DIR",
            help="The cloud's `sriovstack up` state directory "
            "(default: as up's, $SRIOVSTACK_STATE_DIR/up, else ~/.local/state/sriovstack/up).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a FILE that sriovstack did not write.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Write the openrc of the cloud `sriovstack up` runs, used as DevStack's:
    `. openrc admin demo` (USER admin or demo, PROJECT demo or admin), then `openstack`,
    `neutron` and `nova` commands log in to it."""
    state = StateDir(state_dir or default_state_dir(os.environ))
    if output == STDOUT:
        text, _ = saved_openrc(state)
        out(ctx).file.write(text)
        return
    destination = Path(output)
    url = export_openrc(state, destination, force=force)
    if as_json:
        print_json(out(ctx), {"openrc": str(destination), "auth_url": url})
        return
    shown = shlex.quote(str(destination if destination.is_absolute() else Path(".", output)))
    out(ctx).print(
        Text(
            f"wrote {destination} for the cloud at {url}: `. {shown} admin demo` logs in as "
            f"admin in project demo, `. {shown} demo demo` as demo"
        ),
        soft_wrap=True,
    )
