"""``sriovstack sim``: the shipped host profiles, exporting a simulated sysfs, reset and reboot."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sriovstack.cli.options import Json, StateFile
from sriovstack.cli.render import print_json
from sriovstack.cli.session import HostChoice
from sriovstack.domain.errors import InvalidInput
from sriovstack.host.wanted import apply_wanted, load_wanted
from sriovstack.simulator import state as sim_state
from sriovstack.simulator.exporting import export_host
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile, profile_names

app = typer.Typer(no_args_is_help=True, help="Simulated SR-IOV hosts.")

Profile = Annotated[str, typer.Argument(metavar="PROFILE", help="A profile name or a .toml file.")]


def _out(ctx: typer.Context) -> Console:
    console: Console = ctx.obj["out"]
    return console


@app.command("profiles")
def profiles(ctx: typer.Context, json: Json = False) -> None:
    """The shipped host profiles."""
    rows = []
    for name in profile_names():
        p = load_profile(name)
        nics = ", ".join(f"{c.model.name} x{len(c.functions)}" for c in p.cards)
        rows.append(
            {
                "name": name,
                "cpus": p.cpus,
                "numa_nodes": p.numa_nodes,
                "memory_mib": p.memory_mib,
                "nics": nics,
                "description": p.description,
            }
        )
    if json:
        print_json(_out(ctx), rows)
        return
    table = Table("profile", "CPUs", "NUMA", "NICs", "description")
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["cpus"]),
            str(r["numa_nodes"]),
            str(r["nics"]),
            str(r["description"]),
        )
    _out(ctx).print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    profile: Profile,
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where to write the host root.")],
    state: StateFile = None,
) -> None:
    """Write a simulated host as a root tree: DIR/sys, DIR/proc/cmdline, DIR/var/log/dmesg."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidInput("DIR", "must be an empty directory or not exist yet", str(directory))
    choice = HostChoice(simulate=profile, state_file=state)
    kernel = sim_state.load(choice.state_path(), profile_ref=profile)
    count = export_host(kernel, directory)
    _out(ctx).print(f"wrote {count} sysfs entries to {directory / 'sys'}")


@app.command("reset")
def reset(ctx: typer.Context, profile: Profile, state: StateFile = None) -> None:
    """Forget a simulated host's state (and its saved VF layout): it boots fresh next time."""
    choice = HostChoice(simulate=profile, state_file=state)
    removed = [path for path in (choice.state_path(), choice.wanted_path()) if path.exists()]
    for path in removed:
        path.unlink()
    _out(ctx).print(f"{profile}: reset" if removed else f"{profile}: nothing saved to reset")


@app.command("reboot")
def reboot(
    ctx: typer.Context,
    profile: Profile,
    append: Annotated[
        str,
        typer.Option(
            "--append", metavar="ARGS", help="Kernel parameters to add for this and later boots."
        ),
    ] = "",
    state: StateFile = None,
) -> None:
    """Reboot a simulated host (VFs are gone after a reboot); then re-apply the saved VF layout."""
    choice = HostChoice(simulate=profile, state_file=state)
    old = sim_state.load(choice.state_path(), profile_ref=profile)
    layout = load_wanted(choice.wanted_path())  # a corrupt layout is refused before the boot
    cmdline = f"{old.cmdline()} {append}".strip()
    kernel = SimulatedKernel(replace(old.profile, cmdline=cmdline))
    lines = apply_wanted(kernel, layout)
    sim_state.save(kernel, choice.state_path(), profile_ref=profile)
    out = _out(ctx)
    out.print(f"{profile}: booted with {cmdline}", highlight=False, soft_wrap=True)
    for line in lines:
        out.print(f"  restore: {line}", highlight=False, soft_wrap=True)
    if any(": failed:" in line for line in lines):
        raise typer.Exit(5)  # as `host restore`: the host is up, its VF layout is not
