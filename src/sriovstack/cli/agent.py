"""``sriovstack agent``: the host agent, built from its configuration file, until stopped."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sriovstack.agent.config import (
    AgentConfig,
    Credentials,
    load_agent_config,
    read_saved_credentials,
    save_credentials,
    write_atomically,
)
from sriovstack.agent.cycle import Agent, CycleResult
from sriovstack.agent.facts import host_facts, profile_facts, read_linux_facts
from sriovstack.agent.runner import run_agent
from sriovstack.cli.cloud import Unreachable
from sriovstack.client import DEFAULT_TIMEOUT, ApiError, Client
from sriovstack.client import Unreachable as ClientUnreachable
from sriovstack.domain.errors import Conflict, InvalidInput
from sriovstack.domain.reporting import HostFacts
from sriovstack.host.kernel import Kernel
from sriovstack.simulator import state as sim_state
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.hypervisor import Hypervisor
from sriovstack.virt.libvirt import LibvirtHypervisor
from sriovstack.virt.simulated import SimulatedHypervisor

HEARTBEAT_LINE = 60.0  # seconds: when idle, one line at most this often says the agent is alive
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def agent(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option("--config", metavar="FILE", help="The agent's configuration (TOML)."),
    ],
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle and exit (1 if a server failed).")
    ] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of text.")
    ] = False,
) -> None:
    """Run this host's agent: report the host, configure its VFs and run its guests.

    It cycles until SIGTERM or Ctrl-C: at once again after a cycle that changed something,
    otherwise when the host's desired state changes, or every loop interval (docs/agent.md).
    """
    settings = load_agent_config(config)
    out: Console = ctx.obj["out"]
    err: Console = ctx.obj["err"]
    printer = CyclePrinter(settings.host.name, out, err, json_lines=json_lines)
    timeout = max(DEFAULT_TIMEOUT, settings.loop.long_poll + 10.0)
    with open_machine(settings) as machine, Client(settings.api.url, timeout=timeout) as client:
        built = Agent(
            settings.host.name,
            client,
            machine.kernel,
            machine.hypervisor,
            settings.sriov.config,
            machine.facts,
        )
        login = Login(settings, client, err)
        try:
            if once:
                if _once(built, login, machine, printer):
                    raise typer.Exit(1)  # a server failed: said on its line
                return
            printer.note(f"agent of host {built.host} ({machine.describe}) for {client.url}")
            _loop(built, login, machine, printer, settings)
        except ClientUnreachable as exc:
            raise Unreachable(str(exc)) from None
    printer.note(f"agent of host {settings.host.name} stopped")


def _once(built: Agent, login: Login, machine: Machine, printer: CyclePrinter) -> bool:
    login()
    try:
        result = built.cycle()
    finally:
        machine.save()
    printer.result(result, always=True)
    return bool(result.failed)


# ------------------------------------------------------------------------------ the loop


class _Stopped(BaseException):
    """A stop signal that came while the agent waited: no cycle is cut short."""


@dataclass
class _Interruptible:
    """The agent, knowing whether it is waiting: a stop may then end the wait at once."""

    agent: Agent
    waiting: bool = False

    def cycle(self) -> CycleResult:
        return self.agent.cycle()

    def wait(self, timeout: float) -> bool:
        self.waiting = True
        try:
            return self.agent.wait(timeout)
        finally:
            self.waiting = False


def _loop(
    built: Agent, login: Login, machine: Machine, printer: CyclePrinter, settings: AgentConfig
) -> None:
    stop = threading.Event()
    wrapped = _Interruptible(built)

    def on_signal(_signum: int, _frame: object) -> None:
        again = stop.is_set()
        stop.set()
        # A wait (a long-poll) is safe to abandon; a cycle is left to finish, unless a second
        # signal insists.
        if wrapped.waiting or again:
            raise _Stopped

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_signal) for sig in _SIGNALS} if in_main else {}
    try:
        run_agent(
            wrapped,
            stop=stop,
            on_result=printer.result,
            changed=did_change,
            timing=settings.loop,
            login=login,
            after_cycle=machine.save,
            on_failure=printer.failure,
        )
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def did_change(result: CycleResult) -> bool:
    """Whether the cycle changed the host: the next one then verifies it converged."""
    return bool(result.actions) or any(done(result).values())


_NOT_DONE = frozenset({"actions", "drift", "failed", "reported", "revision"})


def done(result: CycleResult) -> dict[str, list[str]]:
    """What the cycle did to servers and ports, by verb (started, stopped, activated, ...).

    Read from the result's fields rather than named one by one: every list of IDs a cycle
    result holds is something it did, and the cycle learns new steps (hotplug, deletes).
    """
    found: dict[str, list[str]] = {}
    for item in dataclasses.fields(result):
        value = getattr(result, item.name)
        if item.name not in _NOT_DONE and isinstance(value, list | tuple):
            found[item.name] = [str(v) for v in value]
    return found


# ------------------------------------------------------------------------------ output


@dataclass
class CyclePrinter:
    """One line per cycle that did something, an idle line now and then, failures on stderr."""

    host: str
    out: Console
    err: Console
    json_lines: bool = False
    clock: Callable[[], float] = time.monotonic
    last_line: float | None = None
    idle: int = 0
    failing: bool = False

    def result(self, result: CycleResult, *, always: bool = False) -> None:
        now = self.clock()
        busy = bool(result.reported or result.failed or result.drift or did_change(result))
        if busy or always or self.failing:
            self._line(_cycle_data(self.host, result), _cycle_text(self.host, result), now)
        elif self.last_line is None or now - self.last_line >= HEARTBEAT_LINE:
            self.idle += 1
            text = f"{self.host}: idle, nothing to do in {self.idle} cycles"
            self._line({"host": self.host, "idle": self.idle}, text, now)
        else:
            self.idle += 1
        self.failing = False

    def failure(self, error: Exception, failures: int, pause: float) -> None:
        self.failing = True
        reason = " ".join(str(error).split())
        self.note(f"{reason}; trying again in {pause:.1f} s (failures in a row: {failures})")

    def note(self, text: str) -> None:
        self.err.print(f"sriovstack: {text}", markup=False, highlight=False, soft_wrap=True)
        self.err.file.flush()

    def _line(self, data: dict[str, Any], text: str, now: float) -> None:
        line = json.dumps(data) if self.json_lines else text
        self.out.print(line, markup=False, highlight=False, soft_wrap=True)
        self.out.file.flush()
        self.last_line, self.idle = now, 0


def _cycle_data(host: str, result: CycleResult) -> dict[str, Any]:
    return {
        "host": host,
        "reported": result.reported,
        "actions": len(result.actions),
        "drift": list(result.drift),
        **done(result),
        "failed": dict(result.failed),
    }


def _cycle_text(host: str, result: CycleResult) -> str:
    parts = ["reported its inventory"] if result.reported else []
    if result.actions:
        count = len(result.actions)
        parts.append(f"{count} VF action{'' if count == 1 else 's'}")
    if result.drift:
        parts.append(f"drift on ports {', '.join(result.drift)} put back")
    parts.extend(f"{verb} {', '.join(ids)}" for verb, ids in done(result).items() if ids)
    if result.failed:
        why = "; ".join(f"{key}: {reason}" for key, reason in result.failed.items())
        parts.append(f"failed {why}")
    return f"{host}: " + (", ".join(parts) or "nothing to do")


# ------------------------------------------------------------------------------ logging in


@dataclass
class Login:
    """Logs the agent's client in: with its configured credentials, the ones it saved when it
    registered its host, or (the first time) by registering the host with an admin's."""

    settings: AgentConfig
    client: Client
    err: Console

    def __call__(self) -> None:
        credentials, origin = self._credentials()
        try:
            self.client.login(credentials.user, credentials.password, credentials.project)
        except ApiError as exc:
            if exc.status != 401:
                raise
            why = f"login as {credentials.user} ({origin}) refused: {exc.message}"
            raise ApiError(401, why, exc.body) from None

    def _credentials(self) -> tuple[Credentials, str]:
        api, host = self.settings.api, self.settings.host
        if api.credentials is not None:
            return api.credentials, "[api] user"
        path = host.credentials_file
        saved = read_saved_credentials(path, host=host.name)
        if saved is not None:
            return saved, f"saved in {path}"
        assert api.register is not None  # the configuration has one or the other
        credentials = register_host(api.url, api.register, host.name)
        save_credentials(path, credentials, host=host.name, url=api.url)
        self.err.print(
            f"sriovstack: registered host {host.name}; its agent's credentials are in {path}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return credentials, f"saved in {path}"


def register_host(url: str, admin: Credentials, host: str) -> Credentials:
    """Register ``host`` as ``admin`` (POST /v1/hosts); its agent's credentials."""
    with Client(url) as client:
        try:
            client.login(admin.user, admin.password, admin.project)
        except ApiError as exc:
            if exc.status != 401:
                raise
            why = f"[api.register] login as {admin.user} in project {admin.project} refused"
            raise ApiError(401, f"{why}: {exc.message}", exc.body) from None
        try:
            body = client.post("/v1/hosts", {"name": host})
        except ApiError as exc:
            if exc.status != 409:
                raise
            raise Conflict(
                f"host {host} is already registered, and this agent has no credentials for it: "
                "put the agent credentials given when it was registered in [api] user and "
                "password (or restore the credentials file in [host] state_dir)"
            ) from None
    given = body["host"]["agent_credentials"]
    return Credentials(str(given["user"]), str(given["password"]), str(given["project"]))


# ------------------------------------------------------------------------------ the machine


@dataclass
class Machine:
    """The host the agent runs on: its kernel, hypervisor and facts, and how its state is kept."""

    kernel: Kernel
    hypervisor: Hypervisor
    facts: HostFacts
    describe: str
    save: Callable[[], None] = lambda: None


@contextmanager
def open_machine(settings: AgentConfig) -> Iterator[Machine]:
    """The configured kernel and hypervisor; closed (real ones) when the agent ends."""
    with ExitStack() as stack:
        kernel_settings = settings.kernel
        if kernel_settings.mode == "simulated":
            assert kernel_settings.profile is not None and kernel_settings.state_file is not None
            kernel: Kernel = sim_state.load(
                kernel_settings.state_file, profile_ref=kernel_settings.profile
            )
            assert isinstance(kernel, SimulatedKernel)
            observed = profile_facts(kernel.profile)
            describe = f"simulated {kernel_settings.profile}"
        else:
            from sriovstack.host.linux import LinuxKernel  # imports pyroute2: real hosts only

            linux = LinuxKernel()
            stack.callback(linux.close)
            kernel, describe = linux, "linux"
            observed = read_linux_facts(Path("/"), settings.host.facts)
        facts = host_facts(observed, settings.host.facts, zone=settings.host.availability_zone)
        machine = Machine(kernel, _hypervisor(settings, kernel, stack), facts, describe)
        machine.describe += f", {settings.hypervisor.kind} hypervisor"
        if isinstance(kernel, SimulatedKernel):
            machine.save = SimulatedState(settings, kernel, machine.hypervisor).save
        yield machine


def _hypervisor(settings: AgentConfig, kernel: Kernel, stack: ExitStack) -> Hypervisor:
    chosen = settings.hypervisor
    if chosen.kind == "libvirt":
        libvirt = LibvirtHypervisor(chosen.uri)
        stack.callback(libvirt.close)
        return libvirt
    assert chosen.state_file is not None and isinstance(kernel, SimulatedKernel)
    path = chosen.state_file
    if not path.exists():
        return SimulatedHypervisor(kernel)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"is not a readable guests file ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(str(path), "is not a sriovstack simulated guests file")
    try:
        return SimulatedHypervisor.load(data, kernel)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.field}", exc.rule, exc.value) from None


@dataclass
class SimulatedState:
    """Saves a simulated host's kernel and guests after a cycle that changed them, so that
    they survive an agent restart as a real host's would."""

    settings: AgentConfig
    kernel: SimulatedKernel
    hypervisor: Hypervisor
    saved: tuple[Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.saved = self._snapshot()

    def save(self) -> None:
        kernel_data, guests = self._snapshot()
        if kernel_data != self.saved[0]:
            assert self.settings.kernel.state_file is not None
            profile = self.settings.kernel.profile or ""
            sim_state.save(self.kernel, self.settings.kernel.state_file, profile_ref=profile)
        if guests != self.saved[1] and self.settings.hypervisor.state_file is not None:
            text = json.dumps(guests, indent=1) + "\n"
            write_atomically(self.settings.hypervisor.state_file, text)
        self.saved = (kernel_data, guests)

    def _snapshot(self) -> tuple[Any, Any]:
        profile = self.settings.kernel.profile or ""
        guests = (
            self.hypervisor.save() if isinstance(self.hypervisor, SimulatedHypervisor) else None
        )
        return sim_state.snapshot(self.kernel, profile_ref=profile), guests
