"""The agent's loop: cycle, wait for a change or the interval, back off while the API is away."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from sriovstack.client import ApiError, Unreachable
from sriovstack.domain.errors import KernelError
from sriovstack.virt.hypervisor import HypervisorError

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

TRANSIENT_STATUS = frozenset({408, 429})
"""Besides 5xx: answers that say "later", not "never"."""


class Cycling(Protocol[R_co]):
    """What the loop drives: ``agent.cycle.Agent`` fits, and so do the tests' fakes."""

    def cycle(self) -> R_co: ...

    def wait(self, timeout: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Timing:
    """How often the loop cycles, how long it long-polls, and how it backs off (seconds)."""

    interval: float = 10.0  # between cycles when nothing changes: the level-triggered resync
    long_poll: float = 30.0  # one wait for a change of desired state, at most
    backoff_max: float = 30.0  # the longest pause after failures in a row
    backoff_first: float = 1.0  # the pause after the first failure (doubles with each)
    busy_limit: int = 5  # cycles in a row at once after changes; then the loop waits anyway


def is_transient(error: Exception) -> bool:
    """A failure that may go away by itself: the API away or overloaded, a kernel or
    hypervisor call that failed for now. Anything else stops the loop."""
    if isinstance(error, ApiError):
        return error.status >= 500 or error.status in TRANSIENT_STATUS
    return isinstance(error, Unreachable | KernelError | HypervisorError)


def backoff(failures: int, timing: Timing, jitter: float) -> float:
    """The pause after ``failures`` failures in a row; ``jitter`` in [0, 1] spreads agents out.

    The ceiling doubles from ``backoff_first`` up to ``backoff_max``; the pause is between half
    the ceiling and all of it, so many agents that lost the API together do not come back
    together, and the pause still grows.
    """
    ceiling = min(timing.backoff_max, timing.backoff_first * 2.0 ** min(failures - 1, 60))
    return ceiling * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def run_agent(
    agent: Cycling[R],
    *,
    stop: threading.Event,
    on_result: Callable[[R], object],
    changed: Callable[[R], bool],
    timing: Timing = Timing(),
    login: Callable[[], object] | None = None,
    after_cycle: Callable[[], object] | None = None,
    on_failure: Callable[[Exception, int, float], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
    jitter: Callable[[], float] = random.random,
) -> None:
    """Cycle until ``stop`` is set.

    - ``login`` runs first, and once more when a request is refused with 401 (an expired
      token); a second 401 in a row, or a 401 to the login itself, ends the loop.
    - After a cycle that ``changed`` something the next one runs at once, to verify that the
      host converged (at most ``busy_limit`` in a row, so a change that never sticks does not
      spin); otherwise the agent waits for a change of desired state, up to ``interval``.
    - A transient failure (``is_transient``) is passed to ``on_failure(error, failures in a
      row, pause)`` and the loop pauses with ``backoff``; any other error ends it.
    - ``after_cycle`` runs after every cycle, failed or not (e.g. to save simulated state).
    - ``sleep`` pauses (default: ``stop.wait``, so that a stop ends a pause at once).
    """
    loop = _Loop(
        agent,
        stop=stop,
        on_result=on_result,
        changed=changed,
        timing=timing,
        login=login,
        after_cycle=after_cycle,
        on_failure=on_failure,
        clock=clock,
        sleep=sleep or stop.wait,
        jitter=jitter,
    )
    loop.run()


@dataclass
class _Loop(Generic[R]):
    agent: Cycling[R]
    stop: threading.Event
    on_result: Callable[[R], object]
    changed: Callable[[R], bool]
    timing: Timing
    login: Callable[[], object] | None
    after_cycle: Callable[[], object] | None
    on_failure: Callable[[Exception, int, float], object] | None
    clock: Callable[[], float]
    sleep: Callable[[float], object]
    jitter: Callable[[], float]
    logged_in: bool = False
    relogged: bool = False  # logged in again after a 401, and no cycle has passed since
    failures: int = 0
    busy: int = 0
    _in_login: bool = field(default=False, repr=False)

    def run(self) -> None:
        self.logged_in = self.login is None
        while not self.stop.is_set():
            try:
                self._step()
            except Exception as exc:
                self._recover(exc)

    def _step(self) -> None:
        if not self.logged_in and self.login is not None:
            self._in_login = True
            self.login()
            self._in_login = False
            self.logged_in = True
        try:
            result = self.agent.cycle()
        finally:
            if self.after_cycle is not None:
                self.after_cycle()
        self.failures = 0
        self.relogged = False
        self.on_result(result)
        if self.changed(result) and self.busy < self.timing.busy_limit:
            self.busy += 1
            return
        self.busy = 0
        self._idle()

    def _idle(self) -> None:
        """Wait for a change of desired state until ``interval`` has passed since now."""
        deadline = self.clock() + self.timing.interval
        while not self.stop.is_set():
            remaining = deadline - self.clock()
            if remaining <= 0 or self.agent.wait(min(self.timing.long_poll, remaining)):
                return

    def _recover(self, error: Exception) -> None:
        """Go on after ``error`` if it may pass (logging in again, or after a pause), or raise."""
        in_login, self._in_login = self._in_login, False
        if isinstance(error, ApiError) and error.status == 401 and self.login is not None:
            if in_login or self.relogged:
                raise error
            self.logged_in, self.relogged = False, True
            return
        if not is_transient(error):
            raise error
        self.failures += 1
        pause = backoff(self.failures, self.timing, self.jitter())
        if self.on_failure is not None:
            self.on_failure(error, self.failures, pause)
        self.sleep(pause)
