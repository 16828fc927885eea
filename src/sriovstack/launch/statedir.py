"""The state directory of ``sriovstack up``: its layout, its lock, and what it remembers."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriovstack.agent.config import CREDENTIALS_FILE, write_atomically
from sriovstack.domain.errors import Conflict, InvalidInput
from sriovstack.launch.fleet import Fleet

FORMAT = 1
EMBEDDED = "sqlite in the state directory"
"""How the record names the embedded database: by place, so that the directory may move."""

_SECRET = re.compile(r"(://[^:/@]*):[^@]*@")


@dataclass(frozen=True, slots=True)
class StateDir:
    """Where everything ``up`` keeps lives, under ``root``:

    up.lock, state.json (what the directory holds), cloud.db (the embedded database),
    passwords.json and openrc (0600), and hosts/NAME/ with each host's agent credentials and
    its simulated kernel and guests.
    """

    root: Path

    @property
    def lock_file(self) -> Path:
        return self.root / "up.lock"

    @property
    def record_file(self) -> Path:
        return self.root / "state.json"

    @property
    def database_file(self) -> Path:
        return self.root / "cloud.db"

    @property
    def passwords_file(self) -> Path:
        return self.root / "passwords.json"

    @property
    def openrc_file(self) -> Path:
        return self.root / "openrc"

    def host_dir(self, host: str) -> Path:
        return self.root / "hosts" / host

    def kernel_file(self, host: str) -> Path:
        return self.host_dir(host) / "sim-kernel.json"

    def guests_file(self, host: str) -> Path:
        return self.host_dir(host) / "sim-guests.json"

    def credentials_file(self, host: str) -> Path:
        return self.host_dir(host) / CREDENTIALS_FILE

    def embedded_url(self) -> str:
        return f"sqlite:///{self.database_file.absolute()}"


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """``$SRIOVSTACK_STATE_DIR/up``, else ``$XDG_STATE_HOME/sriovstack/up`` (~/.local/state)."""
    base = environ.get("SRIOVSTACK_STATE_DIR")
    if base:
        return Path(base).expanduser() / "up"
    xdg = environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(xdg) / "sriovstack" / "up"


def masked(url: str) -> str:
    """A database URL fit to print and to keep: without its password."""
    return _SECRET.sub(r"\1:***@", url)


@contextmanager
def locked(state: StateDir) -> Iterator[None]:
    """Hold the directory for this process: two clouds on one set of hosts would corrupt it."""
    state.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise Conflict(
                f"--state-dir {state.root}: another `sriovstack up` (pid {holder}) is running on "
                "it; stop that one first, or give another --state-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # and with it the lock


# ------------------------------------------------------------------------------ the record


@dataclass(frozen=True, slots=True)
class Record:
    """What the directory holds: which database, the fleet file it was last run with, and the
    hosts it has prepared (each host's profile and VFs)."""

    database: str
    fleet: str
    hosts: Mapping[str, Mapping[str, Any]]


def read_record(state: StateDir) -> Record | None:
    """The record of the last ``up`` on this directory; None for a new directory."""
    path = state.record_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"is not a readable state record ({exc})") from None
    fields_ok = isinstance(data, dict) and data.get("format") == FORMAT
    if not fields_ok or not isinstance(data.get("hosts"), dict):
        raise InvalidInput(str(path), f"is not a sriovstack up state record (format {FORMAT})")
    return Record(str(data.get("database")), str(data.get("fleet")), data["hosts"])


def write_record(state: StateDir, record: Record) -> None:
    data = {
        "format": FORMAT,
        "database": record.database,
        "fleet": record.fleet,
        "hosts": {name: dict(identity) for name, identity in sorted(record.hosts.items())},
    }
    write_atomically(state.record_file, json.dumps(data, indent=1) + "\n")


def check_database(state: StateDir, record: Record | None, database: str) -> None:
    """Refuse a database other than the one this directory's hosts and credentials belong to."""
    if record is None or record.database == database:
        return
    raise InvalidInput(
        "--database-url",
        f"{state.root} holds a cloud whose database is {record.database}: give that database "
        "(no --database-url for the embedded one), or another --state-dir",
        database,
    )


def check_fleet(state: StateDir, record: Record | None, fleet: Fleet) -> list[str]:
    """The hosts ``fleet`` adds to the directory's; a host removed or changed is refused."""
    known = dict(record.hosts) if record is not None else {}
    for name, was in known.items():
        if name not in {host.name for host in fleet.hosts}:
            raise Conflict(
                f"{fleet.source}: has no host {name}, which {state.root} holds (with its "
                "servers): a fleet may gain hosts, not lose them; give the fleet it was run "
                "with, or another --state-dir"
            )
        now = fleet.host(name).identity()
        for key in ("profile", "vfs"):
            if now.get(key) != was.get(key):
                raise Conflict(
                    f"{fleet.source}: host {name} {key}: is {_shown(now.get(key))}, but "
                    f"{state.root} holds the host with {_shown(was.get(key))}: a host keeps its "
                    "machine and VFs; give another --state-dir for a different fleet"
                )
    return [host.name for host in fleet.hosts if host.name not in known]


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {v}" for k, v in value.items()) + "}"
    return str(value)


# ------------------------------------------------------------------------------ secrets


def read_passwords(state: StateDir) -> dict[str, str]:
    """The admin and demo passwords saved by an earlier ``up``; empty for a new directory."""
    path = state.passwords_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"is not a readable passwords file ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidInput(str(path), "is not a sriovstack up passwords file")
    return {user: data[user] for user in ("admin", "demo") if user in data}


def save_passwords(state: StateDir, passwords: Mapping[str, str]) -> None:
    write_atomically(state.passwords_file, json.dumps(dict(passwords), indent=1) + "\n", mode=0o600)


OPENRC_HEADER = "# The cloud `sriovstack up` runs at "
"""How every openrc sriovstack writes begins: what it may replace without being forced."""
_OPENRC_URL = re.compile(r"^export OS_AUTH_URL=(\S+)$", re.MULTILINE)


def openrc_text(url: str, passwords: Mapping[str, str], *, region: str) -> str:
    """DevStack's openrc for this cloud: ``. openrc [USER [PROJECT]]``, admin in demo by default."""
    cases = "".join(
        f"  {user}) export OS_PASSWORD={shlex.quote(password)} ;;\n"
        for user, password in sorted(passwords.items())
    )
    return (
        f"{OPENRC_HEADER}{url}. Source it as DevStack's (bash or zsh):\n"
        "#   . openrc [USER [PROJECT]]   USER: admin (the default) or demo; PROJECT: demo\n"
        "#   (the default) or admin\n"
        'export OS_USERNAME="${1:-admin}"\n'
        'export OS_PROJECT_NAME="${2:-demo}"\n'
        'export OS_TENANT_NAME="$OS_PROJECT_NAME"\n'
        'case "$OS_USERNAME" in\n'
        f"{cases}"
        "  *) unset OS_PASSWORD ;;\n"
        "esac\n"
        f"export OS_AUTH_URL={url}/identity\n"
        "export OS_IDENTITY_API_VERSION=3\n"
        "export OS_AUTH_TYPE=password\n"
        "export OS_USER_DOMAIN_ID=default\n"
        "export OS_PROJECT_DOMAIN_ID=default\n"
        f"export OS_REGION_NAME={shlex.quote(region)}\n"
    )


def write_openrc(state: StateDir, text: str) -> None:
    write_atomically(state.openrc_file, text, mode=0o600)  # it holds passwords


def saved_openrc(state: StateDir) -> tuple[str, str]:
    """(text, auth URL) of the openrc ``up`` last wrote in ``state``; refused where none is."""
    try:
        text = state.openrc_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    found = _OPENRC_URL.search(text)
    if read_record(state) is None or not text.startswith(OPENRC_HEADER) or found is None:
        raise InvalidInput(
            "--state-dir",
            f"{state.root} holds no openrc of `sriovstack up`: start `sriovstack up` on it "
            "first, or give the --state-dir it runs on",
        )
    return text, found[1].strip("'\"")


def export_openrc(state: StateDir, destination: Path, *, force: bool) -> str:
    """Copy ``state``'s openrc to ``destination`` (0600: it holds passwords); its auth URL.

    A file there that sriovstack did not write is kept unless ``force``: it may be another
    cloud's openrc, which DevStack users keep under the same name.
    """
    text, url = saved_openrc(state)
    if destination.is_dir():
        raise InvalidInput("--output", "must be a file, not a directory", str(destination))
    if not force and destination.exists():
        try:
            ours = destination.read_text(encoding="utf-8").startswith(OPENRC_HEADER)
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise Conflict(
                f"--output {destination}: the file exists and sriovstack did not write it; "
                "give --force to replace it, or another --output"
            )
    write_atomically(destination, text, mode=0o600)
    return url
