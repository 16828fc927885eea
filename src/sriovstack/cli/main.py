"""The ``sriovstack`` command: its groups, and the one place errors become exit codes."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from sriovstack import __version__
from sriovstack.cli import (
    agent,
    catalog,
    demo,
    fleet,
    host,
    networks,
    openrc,
    pci,
    ping,
    ports,
    security,
    servers,
    serving,
    sim,
    up,
)
from sriovstack.cli.cloud import cloud_command
from sriovstack.cli.errors import api_exit_code, exit_code, one_line, os_error_line, usage_line
from sriovstack.client import ApiError
from sriovstack.domain.errors import SriovstackError

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="SR-IOV networking for VM clouds, on real or simulated hosts.",
)
app.add_typer(host.app, name="host")
app.add_typer(sim.app, name="sim")
app.add_typer(pci.app, name="pci")
app.command("demo")(demo.demo)
app.add_typer(networks.network_app, name="network")
app.add_typer(networks.subnet_app, name="subnet")
app.add_typer(ports.app, name="port")
app.add_typer(security.app, name="security")
app.add_typer(catalog.keypair_app, name="keypair")
app.add_typer(catalog.flavor_app, name="flavor")
app.add_typer(catalog.image_app, name="image")
app.add_typer(servers.app, name="server")
app.add_typer(fleet.hypervisor_app, name="hypervisor")
app.add_typer(fleet.compute_app, name="compute")
cloud_command(pci.app, "list")(fleet.pci_list)
app.command("serve")(serving.serve)
app.command("agent")(agent.agent)
app.command("up")(up.up)
app.command("openrc")(openrc.openrc)
cloud_command(app, "ping")(ping.ping)
cloud_command(app, "trace")(ping.trace)
cloud_command(app, "lease")(ping.lease)


@app.callback()
def _root(ctx: typer.Context) -> None:
    # No emoji codes: a MAC such as fa:16:3e:cd:... must not print a CD in a table.
    ctx.obj = {
        "out": Console(highlight=False, emoji=False),
        "err": Console(stderr=True, highlight=False, emoji=False),
    }


@app.command("version")
def version() -> None:
    """Print sriovstack's version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit code instead of exiting."""
    try:
        result = app(args=argv, prog_name="sriovstack", standalone_mode=False)
    except SriovstackError as exc:
        print(one_line(exc), file=sys.stderr)
        return exit_code(exc)
    except ApiError as exc:
        print(one_line(exc), file=sys.stderr)
        return api_exit_code(exc)
    except typer.Abort:
        print("sriovstack: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:
        # Typer carries its own copy of click, so its usage errors are not click's classes:
        # TyperException is their public base, and exit_code is 2 for a usage error.
        line = usage_line(exc)
        if line:  # empty when the parser already printed the help (a group without a command)
            print(line, file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except OSError as exc:
        print(os_error_line(exc), file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
