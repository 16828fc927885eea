"""Running ``sriovstack up`` and other console scripts as real processes, reading their output."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

STARTUP = 90.0  # seconds: a new database is migrated, and two agents report, on a loaded machine


def console_script(name: str) -> str:
    """The path of console script ``name`` installed beside this Python."""
    found = shutil.which(name, path=os.path.dirname(sys.executable))
    assert found, f"the {name} console script is not installed beside this Python"
    return found


# Starts a command with SIGINT at its default. A shell starts background jobs (a CI script run
# with `&`, say) with SIGINT ignored, children inherit that, and a Python started so never
# turns SIGINT into KeyboardInterrupt; these tests stop servers with SIGINT, as Ctrl-C does.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def interruptible(argv: Sequence[str]) -> list[str]:
    """``argv`` run with SIGINT at its default, whatever this process inherited."""
    return [sys.executable, "-c", _SIGINT_DEFAULT, *argv]


def quiet_env(home: Path) -> dict[str, str]:
    """This process's environment without a person's settings, for a command run as a child.

    SRIOVSTACK_* and OS_* would change the cloud or the login, PYTHONWARNINGS would make the
    clients' own deprecation warnings fatal; HOME keeps a person's clouds.yaml and caches out.
    """
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SRIOVSTACK_", "OS_")) and k != "PYTHONWARNINGS"
    }
    return keep | {"NO_COLOR": "1", "COLUMNS": "200", "HOME": str(home)}


def pump(stream: IO[str], into: queue.Queue[tuple[str, str]], tag: str) -> None:
    """Move the lines of ``stream`` into ``into``, tagged, until it closes."""
    for line in stream:
        into.put((tag, line.rstrip("\n")))


@dataclass(frozen=True)
class Run:
    """One finished command's arguments, exit code and what it printed."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Running:
    """A running command and the lines it has printed so far."""

    process: subprocess.Popen[str]
    lines: queue.Queue[tuple[str, str]] = field(default_factory=queue.Queue)
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    pumps: list[threading.Thread] = field(default_factory=list)

    def wait_for(self, seen: Callable[[], bool], timeout: float = STARTUP) -> None:
        """Read what the process prints until ``seen()`` holds."""
        deadline = time.monotonic() + timeout
        while not seen():
            assert time.monotonic() < deadline, f"not seen in {timeout} s: {self.err}"
            try:
                tag, line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, f"it exited: {self.err}"
                continue
            getattr(self, tag).append(line)

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Send ``sig`` (SIGINT: what Ctrl-C sends), wait for the exit, read the rest."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        for thread in self.pumps:
            thread.join(timeout=10)
        while not self.lines.empty():
            tag, line = self.lines.get()
            getattr(self, tag).append(line)
        return code

    def close(self) -> None:
        """Kill the process if it still runs, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Upped(Running):
    """A running ``sriovstack up --json``."""

    def facts(self) -> dict[str, Any]:
        """The one JSON object ``up --json`` prints when every agent has reported."""
        self.wait_for(lambda: bool(self.out))
        facts: dict[str, Any] = json.loads(self.out[0])
        return facts


R = TypeVar("R", bound=Running)


def start(argv: Sequence[str], env: dict[str, str], kind: type[R]) -> R:
    """Start ``argv`` (SIGINT at its default) with its output pumped into a ``kind``."""
    process = subprocess.Popen(
        interruptible(argv),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = kind(process)
    assert process.stdout is not None and process.stderr is not None
    for stream, tag in ((process.stdout, "out"), (process.stderr, "err")):
        thread = threading.Thread(target=pump, args=(stream, running.lines, tag), daemon=True)
        thread.start()
        running.pumps.append(thread)
    return running


def launch_up(args: Sequence[str], env: dict[str, str]) -> Upped:
    """Start ``sriovstack up --port 0 --json ARGS...``."""
    return start([console_script("sriovstack"), "up", "--port", "0", "--json", *args], env, Upped)


@contextmanager
def running_up(args: Sequence[str], env: dict[str, str]) -> Iterator[Upped]:
    """``launch_up`` for a block; the process is killed and its pipes closed at the end."""
    upped = launch_up(args, env)
    try:
        yield upped
    finally:
        upped.close()


def sourced(openrc: Path, *args: str) -> dict[str, str]:
    """The OS_* variables a shell has after ``. OPENRC ARGS...``, as the talk logs in."""
    shown = subprocess.run(
        ["bash", "-c", '. "$0" "$@" && env -0', str(openrc), *args],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (entry.partition("=") for entry in shown.split("\0") if entry)
    return {name: value for name, _, value in pairs if name.startswith("OS_")}
