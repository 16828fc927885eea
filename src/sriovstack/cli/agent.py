"""``sriovstack agent``: the host agent, built from its configuration file, until stopped."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from sriovstack.cli.cloud import Unreachable
from sriovstack.client import DEFAULT_TIMEOUT, Client
from sriovstack.client import Unreachable as ClientUnreachable
from sriovstack.launch.cycles import did_change, done

if TYPE_CHECKING:
    from sriovstack.agent.config import AgentConfig
    from sriovstack.agent.cycle import Agent, CycleResult
    from sriovstack.launch.login import Login
    from sriovstack.launch.machines import Machine

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
    # Here, not at the top: the agent's configuration, machine and loop import the simulator,
    # the hypervisors and the runner, which every other command would pay for, as main imports
    # this module (and up imports it for CyclePrinter).
    from sriovstack.agent.config import load_agent_config
    from sriovstack.agent.cycle import Agent
    from sriovstack.launch.login import Login
    from sriovstack.launch.machines import open_machine

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
        login = Login(settings, client, printer.note)
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
    from sriovstack.agent.runner import run_agent  # agent() imported its config already

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
