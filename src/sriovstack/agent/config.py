"""The agent's configuration file (TOML), and the credentials it keeps in its state directory."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from sriovstack.agent.runner import Timing
from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.domain.hostconfig import HostConfig, parse_host_config, parse_local_conf
from sriovstack.domain.reporting import HOST_NAME_LENGTH, MAX_CPUS, MAX_MEMORY_MIB, CellFacts
from sriovstack.simulator.profiles import load_profile

KernelMode = Literal["linux", "simulated"]
HypervisorKind = Literal["simulated", "libvirt"]
SriovFormat = Literal["toml", "local.conf", "none"]

SERVICE_PROJECT = "service"  # where the API puts the users it makes for agents
DEFAULT_STATE_DIR = Path("/var/lib/sriovstack/agent")
DEFAULT_LIBVIRT_URI = "qemu:///system"
CREDENTIALS_FILE = "credentials.json"
MAX_SECONDS = 24 * 3600.0
MAX_CELL = 1023

# DevStack's meta-sections, e.g. [[local|localrc]] or [[post-config|$NOVA_CONF]]: a "|" can
# never appear in a bare TOML table name, so this tells a local.conf from a TOML file.
_META_SECTION = re.compile(r"^\s*\[\[\s*[\w-]+\s*\|", re.MULTILINE)

_KEYS: Mapping[str, tuple[str, ...]] = {
    "api": ("url", "user", "password", "password_file", "project", "register"),
    "api.register": ("user", "password", "password_file", "project"),
    "host": ("name", "availability_zone", "state_dir", "facts"),
    "host.facts": ("cpus", "memory_mib", "numa_cells", "host_ip", "my_ip"),
    "kernel": ("mode", "profile", "state_file"),
    "hypervisor": ("kind", "uri", "state_file"),
    "sriov": ("config",),
    "loop": ("interval", "long_poll", "backoff_max"),
}
_SECTIONS = tuple(name for name in _KEYS if "." not in name)


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user, its password and the project it logs in to."""

    user: str
    password: str = field(repr=False)
    project: str


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Where the API is, and how the agent gets in: its own credentials, or an admin's to
    register its host (the agent then keeps the credentials it is given)."""

    url: str
    credentials: Credentials | None = None
    register: Credentials | None = None


@dataclass(frozen=True, slots=True)
class FactsSettings:
    """Host facts given by hand; None: read from the host (or the simulated host's profile)."""

    cpus: int | None = None
    memory_mib: int | None = None
    numa_cells: tuple[CellFacts, ...] | None = None
    host_ip: str | None = None  # None: this host's address on its way to the API


@dataclass(frozen=True, slots=True)
class HostSettings:
    name: str
    state_dir: Path
    availability_zone: str = "nova"
    facts: FactsSettings = field(default_factory=FactsSettings)

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / CREDENTIALS_FILE


@dataclass(frozen=True, slots=True)
class KernelSettings:
    mode: KernelMode = "linux"
    profile: str | None = None  # simulated: a shipped profile's name or a profile file
    state_file: Path | None = None  # simulated: where the host's state is kept


@dataclass(frozen=True, slots=True)
class HypervisorSettings:
    kind: HypervisorKind = "libvirt"
    uri: str = DEFAULT_LIBVIRT_URI  # libvirt
    state_file: Path | None = None  # simulated: where the guests are kept


@dataclass(frozen=True, slots=True)
class SriovSettings:
    """What the host offers, read from ``path`` (a host config TOML or a DevStack local.conf)."""

    config: HostConfig = field(default_factory=HostConfig)
    path: Path | None = None
    format: SriovFormat = "none"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything ``sriovstack agent`` needs, checked before anything is touched."""

    source: Path
    api: ApiSettings
    host: HostSettings
    kernel: KernelSettings
    hypervisor: HypervisorSettings
    sriov: SriovSettings
    loop: Timing


# ------------------------------------------------------------------------------ loading


def load_agent_config(
    path: Path, *, hostname: Callable[[], str] = socket.gethostname
) -> AgentConfig:
    """Read and check the agent's configuration file; relative paths are from its directory."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput("--config", f"cannot be read: {reason}", str(path)) from None
    return parse_agent_config(text, base=path.absolute().parent, source=path, hostname=hostname)


def parse_agent_config(
    text: str,
    *,
    base: Path,
    source: Path | None = None,
    hostname: Callable[[], str] = socket.gethostname,
) -> AgentConfig:
    """The configuration in ``text``; files it names are read now, relative to ``base``."""
    where = str(source) if source is not None else "agent config"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(where, f"is not valid TOML ({exc})") from None
    unknown = [name for name in data if name not in _SECTIONS]
    if unknown:
        known = ", ".join(f"[{name}]" for name in _SECTIONS)
        raise InvalidInput(f"[{unknown[0]}]", f"is not a known section; known: {known}")
    sections = {name: _Section.of(name, data.get(name, {}), base) for name in _SECTIONS}
    kernel = _kernel(sections["kernel"])
    host = _host(sections["host"], kernel, hostname)
    return AgentConfig(
        source=source or base,
        api=_api(sections["api"]),
        host=host,
        kernel=_kernel_files(kernel, host),
        hypervisor=_hypervisor(sections["hypervisor"], kernel, host),
        sriov=_sriov(sections["sriov"]),
        loop=_loop(sections["loop"]),
    )


def _api(api: _Section) -> ApiSettings:
    url = api.text("url", required=True)
    assert url is not None
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise api.invalid("url", "must be an http:// or https:// URL", url)
    own = _credentials(api, default_project=SERVICE_PROJECT, required=False)
    register = None
    if "register" in api.data:
        register = _credentials(api.table("register"), default_project="admin", required=True)
        if own is not None:
            raise api.invalid(
                "register",
                "is for an agent without credentials: give [api] user and password, or "
                "[api.register], not both",
            )
    if own is None and register is None:
        raise api.invalid(
            "user",
            "is required: the agent's credentials (user and password or password_file), "
            "or an admin's in [api.register] to register the host",
        )
    return ApiSettings(url=url.rstrip("/"), credentials=own, register=register)


def _credentials(section: _Section, *, default_project: str, required: bool) -> Credentials | None:
    user = section.text("user")
    given = [key for key in ("password", "password_file") if key in section.data]
    if user is None:
        if given or "project" in section.data:
            raise section.invalid("user", "is required with a password or project")
        if required:
            raise section.invalid("user", "is required")
        return None
    if len(given) != 1:
        raise section.invalid("password", "give exactly one of password and password_file")
    if given[0] == "password":
        password = section.text("password")
    else:
        password = _read_secret(section, "password_file")
    assert password is not None
    project = section.text("project") or default_project
    return Credentials(user, password, project)


def _read_secret(section: _Section, key: str) -> str:
    path = section.path(key)
    assert path is not None
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise section.invalid(key, f"cannot be read: {reason}", str(path)) from None
    if not secret:
        raise section.invalid(key, "names an empty file", str(path))
    return secret


def _kernel(kernel: _Section) -> KernelSettings:
    mode = kernel.choice("mode", ("linux", "simulated"), "linux")
    profile = kernel.text("profile")
    if mode == "linux":
        for key in ("profile", "state_file"):
            if key in kernel.data:
                raise kernel.invalid(key, 'is only for mode = "simulated"')
        return KernelSettings("linux")
    if profile is None:
        raise kernel.invalid("profile", 'is required with mode = "simulated"')
    if profile.endswith(".toml") or "/" in profile:
        profile = str(kernel.base / profile)
    try:
        load_profile(profile)
    except (NotFound, InvalidInput) as exc:
        raise kernel.invalid("profile", f"is not a usable host profile ({exc})") from None
    return KernelSettings("simulated", profile, kernel.path("state_file"))


def _host(host: _Section, kernel: KernelSettings, hostname: Callable[[], str]) -> HostSettings:
    name = host.text("name")
    if name is None:
        # A simulated host is its own machine, with the hostname its profile gives it.
        name = load_profile(kernel.profile).hostname if kernel.profile else hostname()
    if not name or len(name) > HOST_NAME_LENGTH or name != name.strip() or "/" in name:
        raise host.invalid("name", f"must be 1-{HOST_NAME_LENGTH} characters without /", name)
    zone = host.text("availability_zone") or "nova"
    state_dir = host.path("state_dir") or DEFAULT_STATE_DIR
    facts = _facts(host.table("facts")) if "facts" in host.data else FactsSettings()
    return HostSettings(name, state_dir, zone, facts)


def _kernel_files(kernel: KernelSettings, host: HostSettings) -> KernelSettings:
    if kernel.mode == "simulated" and kernel.state_file is None:
        return KernelSettings(kernel.mode, kernel.profile, host.state_dir / "sim-kernel.json")
    return kernel


def read_facts(data: object, naming: Naming) -> FactsSettings:
    """A host's facts table (cpus, memory_mib, numa_cells, host_ip or my_ip): the agent's
    ``[host.facts]``, or a host's facts in a fleet file; errors name each key by ``naming``."""
    return _facts(_Section.of("host.facts", data, Path("."), naming))


def _facts(facts: _Section) -> FactsSettings:
    cells = facts.data.get("numa_cells")
    return FactsSettings(
        cpus=facts.integer("cpus", 1, MAX_CPUS),
        memory_mib=facts.integer("memory_mib", 1, MAX_MEMORY_MIB),
        numa_cells=None if cells is None else _cells(facts, cells),
        host_ip=_host_ip(facts),
    )


def _host_ip(facts: _Section) -> str | None:
    """``host_ip``, or ``my_ip`` as Nova's nova.conf names it; an IPv4 or IPv6 address."""
    given = [key for key in ("host_ip", "my_ip") if key in facts.data]
    if len(given) > 1:
        raise facts.invalid("my_ip", "is another name for host_ip: give one of them")
    if not given:
        return None
    key = given[0]
    text = facts.text(key)
    try:
        return str(ipaddress.ip_address(text or ""))
    except ValueError:
        raise facts.invalid(key, "must be an IPv4 or IPv6 address", text) from None


def _cells(facts: _Section, cells: object) -> tuple[CellFacts, ...]:
    rule = "must be a count of NUMA nodes, or a list of { id = N, socket = N }"
    if isinstance(cells, int) and not isinstance(cells, bool):
        if not 1 <= cells <= MAX_CELL + 1:
            raise facts.invalid("numa_cells", f"must be from 1 to {MAX_CELL + 1}", cells)
        return tuple(CellFacts(i) for i in range(cells))
    if not isinstance(cells, list) or not cells:
        raise facts.invalid("numa_cells", rule, cells)
    parsed = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not set(cell) <= {"id", "socket"} or "id" not in cell:
            raise facts.invalid(f"numa_cells[{i}]", rule, cell)
        for key in ("id", "socket"):
            if key in cell and not _whole(cell[key], 0, MAX_CELL):
                rule = f"must be a whole number from 0 to {MAX_CELL}"
                raise facts.invalid(f"numa_cells[{i}].{key}", rule, cell[key])
        parsed.append(CellFacts(cell["id"], cell.get("socket")))
    if len({cell.id for cell in parsed}) != len(parsed):
        raise facts.invalid("numa_cells", "lists a NUMA node id twice")
    return tuple(parsed)


def _hypervisor(
    hypervisor: _Section, kernel: KernelSettings, host: HostSettings
) -> HypervisorSettings:
    default = "simulated" if kernel.mode == "simulated" else "libvirt"
    kind = hypervisor.choice("kind", ("simulated", "libvirt"), default)
    if kind == "libvirt":
        if "state_file" in hypervisor.data:
            raise hypervisor.invalid("state_file", 'is only for kind = "simulated"')
        return HypervisorSettings("libvirt", hypervisor.text("uri") or DEFAULT_LIBVIRT_URI)
    if kernel.mode != "simulated":
        # Its guests take VFs from the simulated kernel; a real host's VFs need a real hypervisor.
        raise hypervisor.invalid("kind", '"simulated" needs [kernel] mode = "simulated"')
    if "uri" in hypervisor.data:
        raise hypervisor.invalid("uri", 'is only for kind = "libvirt"')
    state_file = hypervisor.path("state_file") or host.state_dir / "sim-guests.json"
    return HypervisorSettings("simulated", state_file=state_file)


def _sriov(sriov: _Section) -> SriovSettings:
    path = sriov.path("config")
    if path is None:
        return SriovSettings()
    return read_sriov_config(path, sriov.invalid, f"[sriov] config {path}: ")


Refuse = Callable[[str, str, object], InvalidInput]


def read_sriov_config(path: Path, invalid: Refuse, prefix: str) -> SriovSettings:
    """A host's SR-IOV configuration file, a local.conf or a host config TOML (by
    ``is_local_conf``). An unreadable file is ``invalid("config", ...)``; a bad value is an
    InvalidInput whose field is the parser's, after ``prefix``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise invalid("config", f"cannot be read: {reason}", str(path)) from None
    kind: SriovFormat = "local.conf" if is_local_conf(path, text) else "toml"
    try:
        config = (
            parse_local_conf(text)
            if kind == "local.conf"
            else parse_host_config(text, source=str(path))
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{prefix}{exc.field}", exc.rule, exc.value) from None
    return SriovSettings(config, path, kind)


def is_local_conf(path: Path, text: str) -> bool:
    """A DevStack local.conf: named ``*.conf``, or holding a ``[[phase|file]]`` meta-section."""
    return path.suffix == ".conf" or bool(_META_SECTION.search(text))


def _loop(loop: _Section) -> Timing:
    default = Timing()
    interval = loop.seconds("interval", default.interval)
    long_poll = loop.seconds("long_poll", default.long_poll)
    backoff_max = loop.seconds("backoff_max", default.backoff_max)
    return Timing(interval=interval, long_poll=long_poll, backoff_max=backoff_max)


# ------------------------------------------------------------------------------ reading values


Naming = Callable[[str | None], str]
"""How errors name a key of a table (None: the table itself)."""


def _bracketed(name: str) -> Naming:
    return lambda key: f"[{name}]" if key is None else f"[{name}] {key}"


@dataclass(frozen=True, slots=True)
class _Section:
    """One table of the file: its values read with errors naming ``[name] key``."""

    name: str
    data: Mapping[str, Any]
    base: Path
    naming: Naming

    @classmethod
    def of(cls, name: str, data: object, base: Path, naming: Naming | None = None) -> _Section:
        naming = naming or _bracketed(name)
        if not isinstance(data, dict):
            raise InvalidInput(naming(None), "must be a table")
        known = _KEYS[name]
        for key in data:
            if key not in known:
                raise InvalidInput(naming(key), f"is not a known key; known: {', '.join(known)}")
        return cls(name, data, base, naming)

    def table(self, key: str) -> _Section:
        return _Section.of(f"{self.name}.{key}", self.data[key], self.base)

    def invalid(self, key: str, rule: str, value: object = None) -> InvalidInput:
        return InvalidInput(self.naming(key), rule, value)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.invalid(key, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.invalid(key, "must be a non-empty string", value)
        return value

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        if value is None:
            return None
        return self.base / Path(value).expanduser()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> Any:
        value = self.data.get(key, default)
        if value not in choices:
            shown = " or ".join(f'"{c}"' for c in choices)
            raise self.invalid(key, f"must be {shown}", value)
        return value

    def integer(self, key: str, low: int, high: int) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not _whole(value, low, high):
            raise self.invalid(key, f"must be a whole number from {low} to {high}", value)
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 < value <= MAX_SECONDS:
            rule = f"must be a number of seconds above 0, at most {MAX_SECONDS:g}"
            raise self.invalid(key, rule, value)
        return float(value)


def _whole(value: object, low: int, high: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


# ------------------------------------------------------------------------------ credentials


def read_saved_credentials(path: Path, *, host: str) -> Credentials | None:
    """The credentials the agent was given when it registered ``host``; None before that."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"is not a readable credentials file ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), str) for key in ("host", "user", "password", "project")
    ):
        raise InvalidInput(str(path), "is not a sriovstack agent credentials file")
    if data["host"] != host:
        raise InvalidInput(
            str(path),
            f"holds the credentials of host {data['host']!r}, not {host!r}: "
            "give each host its own [host] state_dir",
        )
    return Credentials(data["user"], data["password"], data["project"])


def save_credentials(path: Path, credentials: Credentials, *, host: str, url: str) -> None:
    """Keep the agent's credentials, readable by this user only."""
    data = {
        "host": host,
        "url": url,
        "user": credentials.user,
        "password": credentials.password,
        "project": credentials.project,
    }
    write_atomically(path, json.dumps(data, indent=1) + "\n", mode=0o600)


def write_atomically(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``path`` so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
