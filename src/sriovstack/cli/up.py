"""``sriovstack up``: a whole cloud here, the API server and simulated hosts, until Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sriovstack.cli.agent import CyclePrinter
from sriovstack.cli.errors import api_exit_code, exit_code, one_line
from sriovstack.cli.views import key, rows_table
from sriovstack.client import ApiError
from sriovstack.domain.errors import InvalidInput, SriovstackError
from sriovstack.launch.cycles import did_change
from sriovstack.launch.statedir import StateDir, default_state_dir
from sriovstack.services.settings import load_settings

if TYPE_CHECKING:
    from sriovstack.agent.cycle import CycleResult
    from sriovstack.launch.running import Cloud, UpRequest

FORCED_EXIT = 130  # what a shell reports for a process ended by Ctrl-C
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def up(
    ctx: typer.Context,
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            metavar="FILE",
            help="The simulated hosts (TOML, docs/up.md). Default: the fleet this state "
            "directory ran last, else the talk's host sriov-1 and a second one, sriov-2.",
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            metavar="DIR",
            help="Where the cloud is kept between runs "
            "(default: $SRIOVSTACK_STATE_DIR/up, else ~/.local/state/sriovstack/up).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="e.g. postgresql+psycopg://user:pw@host/db (default: SQLite in the state dir).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="The API listens on this address.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="The API's port (0: any free one).")
    ] = 8774,
    as_json: Annotated[
        bool, typer.Option("--json", help="When up, print one JSON object (one line) for scripts.")
    ] = False,
) -> None:
    """Run a cloud: the API server and one agent per simulated host, until Ctrl-C.

    The first run makes the hosts' VFs, DevStack's users (admin, demo), flavors and images; a
    later run with the same state directory finds all of it again, servers and guests too.
    When every agent has reported it prints the API's URL, the credentials, the openrc to
    source and the hosts. Ctrl-C or SIGTERM stops it cleanly; a second Ctrl-C forces.
    """
    # Here, not at the top: launch.running imports the API server and the store (FastAPI,
    # SQLAlchemy, Alembic), seconds that every other command would pay, as main imports this.
    from sriovstack.launch.running import AgentFailed, UpRequest, bring_up, check_port, choose_fleet

    began = time.monotonic()
    if not 0 <= port <= 65535:
        raise InvalidInput("--port", "must be from 0 to 65535", port)
    state = StateDir((state_dir or default_state_dir(os.environ)).expanduser().absolute())
    request = UpRequest(
        state=state,
        fleet=choose_fleet(state, fleet.absolute() if fleet else None),
        settings=load_settings(os.environ),
        database_url=database_url or None,
        listen=host,
        port=port,
        environ=dict(os.environ),
    )
    check_port(host, port)
    err: Console = ctx.obj["err"]
    progress = Progress(err, began)
    stop = threading.Event()
    with stopped_by_signals(stop, progress.note):
        try:
            with bring_up(request, progress) as cloud:
                if cloud.wait_ready(stop):
                    _announce(ctx, cloud, request, time.monotonic() - began, as_json=as_json)
                    cloud.run_until(stop)
                progress.note("stopping: agents finish their cycle (Ctrl-C again forces)")
        except AgentFailed as exc:
            err.print(one_line(exc), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(_exit_code(exc.error)) from None
    progress.note(f"stopped; the cloud is kept in {state.root}")


def _exit_code(error: BaseException) -> int:
    if isinstance(error, SriovstackError):
        return exit_code(error)
    if isinstance(error, ApiError):
        return api_exit_code(error)
    return 1


@contextmanager
def stopped_by_signals(stop: threading.Event, note: Callable[[str], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop``; a second one ends the process at once."""

    def on_signal(_signum: int, _frame: object) -> None:
        if stop.is_set():
            note("forced to stop: each host keeps the state of its last finished cycle")
            os._exit(FORCED_EXIT)  # no cleanup: that is what forcing asks for
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread; its caller stops it another way
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------------------ output


@dataclass
class Progress:
    """One stderr line per step while starting; after that, agents' cycles that did something."""

    err: Console
    began: float  # when the command started: what "reported after" counts from
    reported: set[str] = field(default_factory=set)
    printers: dict[str, CyclePrinter] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, text: str) -> None:
        with self.lock:
            self.err.print(f"sriovstack: {text}", markup=False, highlight=False, soft_wrap=True)
            self.err.file.flush()

    def result(self, host: str, result: CycleResult) -> None:
        first = host not in self.reported
        if first:
            self.reported.add(host)
            self.note(f"agent of {host} reported ({time.monotonic() - self.began:.1f} s)")
        busy = bool(result.failed or result.drift or did_change(result))
        if busy or (result.reported and not first):
            with self.lock:
                self._printer(host).result(result, always=True)

    def failure(self, host: str, error: Exception, failures: int, pause: float) -> None:
        reason = " ".join(str(error).split())
        self.note(
            f"agent of {host}: {reason}; trying again in {pause:.1f} s "
            f"(failures in a row: {failures})"
        )

    def _printer(self, host: str) -> CyclePrinter:
        if host not in self.printers:
            self.printers[host] = CyclePrinter(host, self.err, self.err)
        return self.printers[host]


def _announce(
    ctx: typer.Context, cloud: Cloud, request: UpRequest, seconds: float, *, as_json: bool
) -> None:
    """The facts a person or a script needs, on stdout: once, when every agent has reported."""
    out: Console = ctx.obj["out"]
    hosts = cloud.host_rows()
    facts = up_facts(cloud, request, seconds, hosts)
    if as_json:
        out.file.write(json.dumps(facts) + "\n")
        out.file.flush()
        return
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("API", Text(cloud.url))
    for user, login in facts["users"].items():
        password = login["password"] or "(unknown: not the one this state directory saved)"
        summary.add_row(user, Text(f"{password}  (project {login['project']})"))
    summary.add_row("openrc", Text(f". {cloud.openrc}   (`. {cloud.openrc} demo demo` for demo)"))
    summary.add_row("state", Text(f"{request.state.root}  (database {cloud.database})"))
    columns = [
        ("Host", key("name")),
        ("Profile", key("profile")),
        ("PFs", key("pfs")),
        ("VFs", key("vfs")),
        ("Guests running", key("guests")),
        ("State", key("state")),
    ]
    out.print(
        Text(f"sriovstack is up ({cloud.start} start, {seconds:.1f} s); Ctrl-C stops it"),
        summary,
        rows_table(columns, hosts),
    )
    out.file.flush()


def up_facts(
    cloud: Cloud, request: UpRequest, seconds: float, hosts: list[dict[str, Any]]
) -> dict[str, Any]:
    """What ``up --json`` prints: the text output's facts, as one object."""
    return {
        "url": cloud.url,
        "auth_url": f"{cloud.url}/identity",
        "region": cloud.region,
        "users": {
            user: {"password": cloud.passwords.get(user), "project": "demo"}
            for user in ("admin", "demo")
        },
        "openrc": str(cloud.openrc),
        "state_dir": str(request.state.root),
        "database": cloud.database,
        "fleet": request.fleet.source,
        "start": cloud.start,
        "seconds": round(seconds, 3),
        "hosts": hosts,
    }
