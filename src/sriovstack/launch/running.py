"""The cloud ``sriovstack up`` runs: a database, the API server, one agent thread per host."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from sriovstack.agent.config import (
    AgentConfig,
    ApiSettings,
    Credentials,
    HostSettings,
    HypervisorSettings,
    KernelSettings,
)
from sriovstack.agent.cycle import Agent, CycleResult
from sriovstack.agent.runner import Timing, run_agent
from sriovstack.api.app import create_app
from sriovstack.api.serving import RunningServer, start_in_thread
from sriovstack.client import DEFAULT_TIMEOUT, Client
from sriovstack.domain.alias import Alias
from sriovstack.domain.errors import Conflict, InvalidInput, SriovstackError
from sriovstack.domain.mappings import NetworkVlanRanges
from sriovstack.launch.controlplane import (
    PASSWORD_VARIABLES,
    bootstrap_cloud,
    choose_passwords,
    logs_in,
    reachable_url,
)
from sriovstack.launch.cycles import did_change
from sriovstack.launch.fleet import DEFAULT_SOURCE, Fleet, FleetHost, default_fleet, load_fleet
from sriovstack.launch.login import Login
from sriovstack.launch.machines import Machine, open_machine
from sriovstack.launch.preparing import prepare_host
from sriovstack.launch.statedir import (
    EMBEDDED,
    Record,
    StateDir,
    check_database,
    check_fleet,
    locked,
    masked,
    openrc_text,
    read_passwords,
    read_record,
    save_passwords,
    write_openrc,
    write_record,
)
from sriovstack.services.environment import Environment
from sriovstack.services.settings import ENV_PREFIX, Settings
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.store.database import Database
from sriovstack.virt.guests import PowerState

UP_TIMING = Timing(interval=10.0, long_poll=2.0, backoff_max=5.0, backoff_first=0.5)
"""Agents in one process with their API: a stop waits for a long-poll at most, so keep it short."""


class StartFailed(SriovstackError):
    """The API server could not start, or a part of the cloud stopped on its own."""


class AgentFailed(SriovstackError):
    """A host's agent stopped on an error it does not retry (a refused login, a conflict)."""

    def __init__(self, host: str, error: BaseException) -> None:
        self.host, self.error = host, error
        super().__init__(f"the agent of {host} stopped: {str(error) or repr(error)}")


class Watcher(Protocol):
    """Who is told what happens: steps while starting, agents' cycles and failures after."""

    def note(self, text: str) -> None: ...

    def result(self, host: str, result: CycleResult) -> None: ...

    def failure(self, host: str, error: Exception, failures: int, pause: float) -> None: ...


@dataclass(frozen=True, slots=True)
class UpRequest:
    """What to run: where the state is, the fleet, the database, and where to listen."""

    state: StateDir
    fleet: Fleet
    settings: Settings  # from the environment; the database and controller are filled in here
    database_url: str | None = None  # None: the embedded SQLite database in the state dir
    listen: str = "127.0.0.1"
    port: int = 8774
    environ: Mapping[str, str] = field(default_factory=dict)
    timing: Timing = UP_TIMING


def choose_fleet(state: StateDir, given: Path | None) -> Fleet:
    """The fleet file given; else the one this state directory last ran; else the default."""
    if given is not None:
        return load_fleet(given)
    record = read_record(state)
    if record is None or record.fleet == DEFAULT_SOURCE:
        return default_fleet()
    try:
        return load_fleet(Path(record.fleet))
    except InvalidInput as exc:
        if exc.field != "--fleet":
            raise  # the file is there, with an error in it
        rule = f"is needed: {state.root} last ran {record.fleet}, which {exc.rule}"
        raise InvalidInput("--fleet", rule) from None


def check_port(listen: str, port: int) -> None:
    """Refuse a taken port before anything is touched, with the option to change it."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((listen, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartFailed(
                    f"--port {port}: cannot listen on {listen}:{port} ({exc.strerror}): choose "
                    "another port, or 0 for any free one"
                ) from None
            reason = exc.strerror or str(exc)
            raise StartFailed(f"--host {listen}: cannot listen on it ({reason})") from None


# ------------------------------------------------------------------------------ the agents


@dataclass
class AgentThread:
    """One host's agent on a thread: real HTTP to the API, with its own credentials."""

    config: AgentConfig
    machine: Machine
    watcher: Watcher
    stop: threading.Event
    reported: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self.config.host.name

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"agent-{self.host}", daemon=True)
        self.thread.start()

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        settings, machine = self.config, self.machine
        timeout = max(DEFAULT_TIMEOUT, settings.loop.long_poll + 10.0)
        try:
            with Client(settings.api.url, timeout=timeout) as client:
                agent = Agent(
                    self.host,
                    client,
                    machine.kernel,
                    machine.hypervisor,
                    settings.sriov.config,
                    machine.facts,
                )
                run_agent(
                    agent,
                    stop=self.stop,
                    on_result=self._result,
                    changed=did_change,
                    timing=settings.loop,
                    login=Login(settings, client, self.watcher.note),
                    after_cycle=machine.save,
                    on_failure=self._failure,
                )
        except Exception as exc:  # the main thread says it and stops the cloud
            self.error = exc

    def _result(self, result: CycleResult) -> None:
        self.watcher.result(self.host, result)
        self.reported.set()

    def _failure(self, error: Exception, failures: int, pause: float) -> None:
        self.watcher.failure(self.host, error, failures, pause)


def agent_config(host: FleetHost, state: StateDir, timing: Timing) -> AgentConfig:
    """What ``sriovstack agent --config`` would read for this host, but the API (``with_api``)."""
    return AgentConfig(
        source=state.host_dir(host.name),
        api=ApiSettings(""),  # known once the API server listens
        host=HostSettings(host.name, state.host_dir(host.name), host.availability_zone, host.facts),
        kernel=KernelSettings("simulated", host.profile, state.kernel_file(host.name)),
        hypervisor=HypervisorSettings("simulated", state_file=state.guests_file(host.name)),
        sriov=host.sriov,
        loop=timing,
    )


def with_api(config: AgentConfig, url: str, admin_password: str) -> AgentConfig:
    """The agent registers its host with the admin's credentials the first time, and keeps its
    own in the state directory."""
    return replace(
        config, api=ApiSettings(url, register=Credentials("admin", admin_password, "admin"))
    )


# ------------------------------------------------------------------------------ the cloud


@dataclass(frozen=True, slots=True)
class HostStart:
    """How a host started: VFs made now (a new host), else found as its agent left it."""

    name: str
    profile: str
    made: Mapping[str, int]
    vfs: int
    guests: int  # running when it started


@dataclass
class Cloud:
    """A running cloud: where it is, who may log in, and its agents."""

    url: str
    region: str
    passwords: dict[str, str]
    database: str
    openrc: Path
    start: Literal["cold", "warm"]
    hosts: list[HostStart]
    server: RunningServer
    agents: list[AgentThread]

    def wait_ready(self, stop: threading.Event) -> bool:
        """Block until every agent has reported (True), or ``stop`` is set (False)."""
        waiting = list(self.agents)
        while waiting:
            self.check()
            waiting = [agent for agent in waiting if not agent.reported.is_set()]
            if waiting and stop.wait(0.05):
                return False
        return True

    def run_until(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set; raise when a part of the cloud stops on its own."""
        while not stop.wait(0.5):
            self.check()

    def check(self) -> None:
        if not self.server.thread.is_alive():
            raise StartFailed("the API server stopped on its own")
        for agent in self.agents:
            if agent.error is not None:
                raise AgentFailed(agent.host, agent.error)
            if agent.thread is not None and not agent.thread.is_alive():
                raise StartFailed(f"the agent of {agent.host} stopped on its own")

    def host_rows(self) -> list[dict[str, Any]]:
        """The fleet's hosts as the API sees them (admin), with how each started."""
        with Client(self.url) as admin:
            admin.login("admin", self.passwords["admin"], "admin")
            seen = {h["name"]: h for h in admin.get("/v1/hosts")["hosts"]}
        rows = []
        for host in self.hosts:
            api = seen.get(host.name, {})
            rows.append(
                {
                    "name": host.name,
                    "profile": Path(host.profile).stem,
                    "pfs": api.get("pfs"),
                    "vfs": api.get("vfs"),
                    "state": api.get("state", "unknown"),
                    "made_vfs": dict(host.made),
                    "guests": host.guests,
                }
            )
        return rows


@dataclass(frozen=True, slots=True)
class _Prepared:
    start: HostStart
    config: AgentConfig
    machine: Machine


@contextmanager
def bring_up(request: UpRequest, watcher: Watcher) -> Iterator[Cloud]:
    """Start the cloud: hosts prepared, database ready, API listening, agents started.

    Leaving the block stops it in order: agents (each ends its cycle, its state saved), the
    API server, the database, then the directory's lock.
    """
    state, fleet = request.state, request.fleet
    with ExitStack() as stack:
        stack.enter_context(locked(state))
        record = read_record(state)
        label = masked(request.database_url) if request.database_url else EMBEDDED
        check_database(state, record, label)
        check_fleet(state, record, fleet)
        count = len(fleet.hosts)
        watcher.note(f"starting {count} host{'s' if count != 1 else ''} from {fleet.source}")

        prepared = [_prepare(request, i, watcher, stack) for i in range(len(fleet.hosts))]

        url = request.database_url or state.embedded_url()
        database = _open_database(url, pool_size=max(10, len(fleet.hosts) + 5))
        stack.callback(database.close)
        env = Environment(database, cloud_settings(request.settings, fleet, url, request.environ))
        created, passwords = _bootstrap(env, state, request.environ, label)
        # Only now: a database that never opened must not tie the directory to itself.
        identities = {host.name: host.identity() for host in fleet.hosts}
        write_record(state, Record(label, fleet.source, identities))
        watcher.note(f"database ready: {masked(url)} ({'new' if created else 'found'})")

        try:
            server = start_in_thread(create_app(env), host=request.listen, port=request.port)
        except RuntimeError as exc:
            raise StartFailed(f"{exc}: is the port taken? Choose another with --port") from None
        stack.callback(server.stop)
        api_url = reachable_url(server.server.config.host, server.server.config.port)
        write_openrc(state, openrc_text(api_url, passwords, region=env.settings.region))
        watcher.note(f"API listening at {api_url}")

        _check_registrations(api_url, passwords["admin"], state, [h.name for h in fleet.hosts])
        stop = threading.Event()
        agents = [
            AgentThread(with_api(p.config, api_url, passwords["admin"]), p.machine, watcher, stop)
            for p in prepared
        ]

        def stop_agents() -> None:
            stop.set()
            for agent in agents:
                # A cycle ends, or a long-poll returns, well within this; its state is saved.
                agent.join(request.timing.long_poll + 30.0)

        stack.callback(stop_agents)
        for agent in agents:
            agent.start()
        yield Cloud(
            url=api_url,
            region=env.settings.region,
            passwords=passwords,
            database=masked(url),
            openrc=state.openrc_file,
            start="warm" if record is not None else "cold",
            hosts=[p.start for p in prepared],
            server=server,
            agents=agents,
        )


def _check_registrations(url: str, admin: str, state: StateDir, hosts: list[str]) -> None:
    """Refuse a host the database knows whose agent lost its credentials: registering again
    is refused, and only the credentials file (or a new database) can mend it."""
    lost = [host for host in hosts if not state.credentials_file(host).exists()]
    if not lost:
        return
    with Client(url) as client:
        client.login("admin", admin, "admin")
        known = {host["name"] for host in client.get("/v1/hosts")["hosts"]}
    for host in lost:
        if host in known:
            raise Conflict(
                f"host {host} is registered in the database, but its agent's credentials "
                f"({state.credentials_file(host)}) are gone: restore that file, or give "
                "another --state-dir (or --database-url) for a new cloud"
            )


def _open_database(url: str, *, pool_size: int) -> Database:
    try:
        return Database.open(url, pool_size=pool_size)
    except SriovstackError:
        raise  # StoreUnavailable among them: the store names an unreachable database itself
    except Exception as exc:
        # Anything else migrating can run into (a database a newer sriovstack migrated): say
        # which database, in one line.
        reason = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise StartFailed(f"cannot open the database {masked(url)}: {reason}") from None


def _prepare(request: UpRequest, index: int, watcher: Watcher, stack: ExitStack) -> _Prepared:
    """The host booted with its VFs the first time, then opened as its agent left it: here,
    not on the agent's thread, so that a damaged state file stops ``up`` before it starts."""
    host = request.fleet.hosts[index]
    where = f"{request.fleet.source}: host[{index}]"
    made = prepare_host(host, request.state.kernel_file(host.name), where=where)
    config = agent_config(host, request.state, request.timing)
    machine = stack.enter_context(open_machine(config))
    kernel = machine.kernel
    vfs = (
        sum(len(pf.vfs) for pf in kernel.pfs.values()) if isinstance(kernel, SimulatedKernel) else 0
    )
    guests = sum(g.power_state is PowerState.RUNNING for g in machine.hypervisor.guests())
    profile = Path(host.profile).stem
    if made:
        shown = ", ".join(f"{count} VFs made on {pf}" for pf, count in made.items())
        watcher.note(f"host {host.name} ({profile}) prepared: {shown}")
    else:
        running = f", {guests} guest{'s' if guests != 1 else ''} running" if guests else ""
        watcher.note(f"host {host.name} ({profile}) found: {vfs} VFs{running}")
    return _Prepared(HostStart(host.name, host.profile, made, vfs, guests), config, machine)


def _bootstrap(
    env: Environment, state: StateDir, environ: Mapping[str, str], database: str
) -> tuple[bool, dict[str, str]]:
    """DevStack's users, with the passwords this directory saved, else the environment's or
    new ones; the passwords that log in, saved. A new database makes saved agent credentials
    stale: they are dropped, and the agents register their hosts again."""
    saved = read_passwords(state)
    chosen, _ = choose_passwords(environ)
    created, known = bootstrap_cloud(env, {**chosen, **saved})
    for user, password in chosen.items():
        if user not in known and saved.get(user) != password and logs_in(env, user, password):
            known[user] = password
    if "admin" not in known:
        raise Conflict(
            f"the database {database} already has an admin user, whose password is not the "
            f"one saved in {state.passwords_file}: set {PASSWORD_VARIABLES['admin']} to it"
        )
    if created:
        for credentials in state.root.glob("hosts/*/credentials.json"):
            credentials.unlink()
    save_passwords(state, known)
    return created, known


def cloud_settings(
    base: Settings, fleet: Fleet, database_url: str, environ: Mapping[str, str]
) -> Settings:
    """The API's settings: DHCP ports on the controller; as VLAN ranges, the controller's,
    with every other physnet a host maps for provider networks; every host's PCI aliases.
    What the environment sets (``SRIOVSTACK_*``) wins."""
    controller = fleet.host(fleet.controller)
    ordered = [controller, *(host for host in fleet.hosts if host is not controller)]
    entries = dict(controller.sriov.config.network_vlan_ranges.entries)
    aliases: dict[str, Alias] = {}
    for host in ordered:
        config = host.sriov.config
        for physnet, ranges in config.network_vlan_ranges.entries:
            entries.setdefault(physnet, ranges)
        for physnet in config.device_mappings.physnets:
            entries.setdefault(physnet, ())
        for alias in config.aliases:
            aliases.setdefault(alias.name, alias)
    changes: dict[str, Any] = {"database_url": database_url}
    if ENV_PREFIX + "DHCP_HOST" not in environ:
        changes["dhcp_host"] = fleet.controller
    if entries and ENV_PREFIX + "NETWORK_VLAN_RANGES" not in environ:
        changes["network_vlan_ranges"] = NetworkVlanRanges(tuple(entries.items()))
    if aliases and ENV_PREFIX + "ALIASES" not in environ:
        changes["aliases"] = aliases
    return replace(base, **changes)
