"""``sriovstack serve``: the API server in the foreground, with DevStack's users, until stopped."""

from __future__ import annotations

import os
import shlex
import signal
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from sriovstack.domain.errors import InvalidInput, SriovstackError
from sriovstack.services.settings import load_settings

if TYPE_CHECKING:
    from sriovstack.api.serving import RunningServer


class ServeFailed(SriovstackError):
    """The API server could not start or stopped on its own."""


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Listen on this address.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="Listen on this port (0: any free one).")
    ] = 8774,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="e.g. sqlite:///sriovstack.db or postgresql+psycopg://... "
            "(default: SRIOVSTACK_DATABASE_URL, the config file, then sqlite:///sriovstack.db).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="Settings (TOML, an [api] table)."),
    ] = None,
) -> None:
    """Run the API server until Ctrl-C; print the OS_* variables that point clients at it.

    It serves Keystone, Neutron, Nova and Glance shapes and the native API, with DevStack's
    users (admin and demo), flavors (m1.*) and images.
    """
    # Here, not at the top: the API server and the store import FastAPI, uvicorn, SQLAlchemy
    # and Alembic, seconds that every other command would pay, as main imports this module.
    from sriovstack.api.app import create_app
    from sriovstack.api.serving import start_in_thread
    from sriovstack.launch.controlplane import bootstrap_cloud, choose_passwords
    from sriovstack.services.environment import Environment
    from sriovstack.store.database import Database

    if not 0 <= port <= 65535:
        raise InvalidInput("--port", "must be from 0 to 65535", port)
    settings = load_settings(os.environ, config)
    if database_url:
        settings = replace(settings, database_url=database_url)
    passwords, generated = choose_passwords(os.environ)
    database = Database.open(settings.database_url)
    try:
        env = Environment(database, settings)
        _, known = bootstrap_cloud(env, passwords)
        try:
            running = start_in_thread(create_app(env), host=host, port=port)
        except RuntimeError as exc:
            raise ServeFailed(f"{exc}: is the port taken? Choose another with --port") from None
        try:
            _announce(ctx, running, known, generated)
            _run_until_stopped(running)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a person stops the server, even while it is announcing itself
        finally:
            running.stop()
    finally:
        database.close()
    ctx.obj["err"].print("sriovstack: API server stopped", highlight=False)


def _announce(
    ctx: typer.Context, running: RunningServer, known: dict[str, str], generated: set[str]
) -> None:
    """The environment block on stdout (to source), the rest for people on stderr."""
    from sriovstack.launch.controlplane import PASSWORD_VARIABLES  # serve imported it already

    out: Console = ctx.obj["out"]
    err: Console = ctx.obj["err"]
    url = _reachable(running)
    err.print(f"sriovstack: API server at {url} (Ctrl-C stops it)", highlight=False)
    shown = {user: pw for user, pw in known.items() if user in generated}
    if shown:
        err.print(
            "sriovstack: generated passwords, shown this once (set "
            f"{' and '.join(PASSWORD_VARIABLES.values())} to choose them): "
            + ", ".join(f"{user} {pw}" for user, pw in sorted(shown.items())),
            highlight=False,
            soft_wrap=True,
        )
    elif generated:
        err.print(
            "sriovstack: this database already has its users: log in with the passwords it "
            "was first served with",
            highlight=False,
            soft_wrap=True,
        )
    for line in environment_block(url, known.get("admin")):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    out.file.flush()


def _reachable(running: RunningServer) -> str:
    from sriovstack.launch.controlplane import reachable_url  # serve imported it already

    return reachable_url(running.server.config.host, running.server.config.port)


def environment_block(url: str, admin_password: str | None) -> list[str]:
    """What DevStack's ``. openrc admin demo`` exports, for this server."""
    password = (
        f"export OS_PASSWORD={shlex.quote(admin_password)}"
        if admin_password
        else "# export OS_PASSWORD=...  (the admin password this database was first served with)"
    )
    return [
        f"# sriovstack API at {url}: source these lines to act as admin in project demo",
        f"export OS_AUTH_URL={url}/identity",
        "export OS_IDENTITY_API_VERSION=3",
        "export OS_AUTH_TYPE=password",
        "export OS_USERNAME=admin",
        password,
        "export OS_PROJECT_NAME=demo",
        "export OS_TENANT_NAME=demo",
        "export OS_USER_DOMAIN_ID=default",
        "export OS_PROJECT_DOMAIN_ID=default",
        "export OS_REGION_NAME=RegionOne",
    ]


def _run_until_stopped(running: RunningServer) -> None:
    """Block until SIGTERM or the server dies on its own; Ctrl-C raises out of it as usual."""
    stop = threading.Event()
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        # A service manager stops us with SIGTERM; treat it as Ctrl-C, not as a crash.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not running.thread.is_alive():
                raise ServeFailed("the API server stopped on its own")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
