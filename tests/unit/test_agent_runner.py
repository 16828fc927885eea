"""The agent's loop with a fake agent and fake time: busy cycles, idle waits, backoff while the
API is away, stopping, and logging in again after a 401."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from sriovstack.agent.runner import Timing, backoff, is_transient, run_agent
from sriovstack.client import ApiError, Unreachable
from sriovstack.domain.errors import InvalidInput, KernelError

CHANGED, IDLE = "changed", "idle"
TIMING = Timing(interval=10.0, long_poll=4.0, backoff_max=30.0)


@dataclass
class FakeAgent:
    """Plays a script: each cycle takes the next outcome (a result, or an error to raise).

    When the script runs out the agent asks the loop to stop, as SIGTERM would. ``wakes`` are
    the times at which the desired state changes: a wait returns early at the first one.
    """

    script: Sequence[str | Exception]
    now: float = 0.0
    played: int = 0
    wakes: list[float] = field(default_factory=list)
    events: list[tuple[str, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def clock(self) -> float:
        return self.now

    def cycle(self) -> str:
        self.events.append(("cycle", self.now))
        if self.played == len(self.script):
            self.stop.set()
            return IDLE
        outcome = self.script[self.played]
        self.played += 1
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def wait(self, timeout: float) -> bool:
        self.events.append(("wait", timeout))
        due = [t for t in self.wakes if self.now < t <= self.now + timeout]
        if due:
            self.now = due[0]
            self.wakes.remove(due[0])
            return True
        self.now += timeout
        return False

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@dataclass
class Recorder:
    """What the loop reported and how long it paused."""

    results: list[str] = field(default_factory=list)
    failures: list[tuple[str, int, float]] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)
    logins: int = 0
    saves: int = 0


def run(
    agent: FakeAgent,
    *,
    timing: Timing = TIMING,
    jitter: float = 1.0,
    login: bool = False,
    login_errors: list[Exception] | None = None,
) -> Recorder:
    seen = Recorder()
    login_errors = login_errors if login_errors is not None else []

    def log_in() -> None:
        seen.logins += 1
        if login_errors:
            raise login_errors.pop(0)

    def pause(seconds: float) -> None:
        seen.pauses.append(seconds)
        agent.now += seconds

    def saved() -> None:
        seen.saves += 1

    run_agent(
        agent,
        stop=agent.stop,
        on_result=seen.results.append,
        changed=lambda result: result == CHANGED,
        timing=timing,
        login=log_in if login else None,
        after_cycle=saved,
        on_failure=lambda error, n, delay: seen.failures.append((str(error), n, delay)),
        clock=agent.clock,
        sleep=pause,
        jitter=lambda: jitter,
    )
    return seen


def test_a_cycle_that_changed_something_is_followed_at_once_by_another() -> None:
    agent = FakeAgent([CHANGED, IDLE])
    seen = run(agent)
    assert agent.kinds()[:2] == ["cycle", "cycle"]
    assert seen.results[:2] == [CHANGED, IDLE]


def test_changes_that_never_stick_do_not_spin_the_loop() -> None:
    agent = FakeAgent([CHANGED] * 8)
    run(agent, timing=Timing(interval=10.0, long_poll=30.0, busy_limit=5))
    kinds = agent.kinds()
    assert kinds[:7] == ["cycle"] * 6 + ["wait"]  # 5 at once after the first, then a wait


def test_an_idle_agent_long_polls_until_the_interval_is_up() -> None:
    agent = FakeAgent([IDLE, IDLE])
    run(agent)
    # The interval (10 s) in long-polls of at most 4 s, then the periodic resync cycle.
    assert agent.events[:5] == [("cycle", 0), ("wait", 4), ("wait", 4), ("wait", 2), ("cycle", 10)]


def test_a_change_of_desired_state_ends_the_wait_and_cycles_at_once() -> None:
    agent = FakeAgent([IDLE, IDLE], wakes=[5.5])
    run(agent)
    assert agent.events[:4] == [("cycle", 0), ("wait", 4), ("wait", 4), ("cycle", 5.5)]


def test_a_long_poll_shorter_than_the_interval_is_cut_to_it() -> None:
    agent = FakeAgent([IDLE])
    run(agent, timing=Timing(interval=3.0, long_poll=30.0))
    assert agent.events[:3] == [("cycle", 0), ("wait", 3), ("cycle", 3)]


def test_an_unreachable_api_backs_off_doubling_up_to_the_cap_and_goes_on() -> None:
    down = Unreachable("cannot reach the API at http://api: Connection refused")
    agent = FakeAgent([down] * 7 + [IDLE])
    seen = run(agent)
    assert seen.pauses == [1, 2, 4, 8, 16, 30, 30]
    assert [n for _, n, _ in seen.failures] == [1, 2, 3, 4, 5, 6, 7]
    assert seen.failures[0][0] == str(down)  # one line per failure: the reason, no traceback
    assert seen.results[0] == IDLE  # the loop went on once the API was back


def test_backoff_starts_again_after_a_cycle_succeeds() -> None:
    down = Unreachable("down")
    agent = FakeAgent([down, down, IDLE, down])
    seen = run(agent)
    assert seen.pauses == [1, 2, 1]


def test_jitter_spreads_pauses_between_half_the_ceiling_and_all_of_it() -> None:
    agent = FakeAgent([Unreachable("down")] * 7)
    seen = run(agent, jitter=0.0)
    assert seen.pauses == [0.5, 1, 2, 4, 8, 15, 15]
    assert backoff(3, TIMING, 0.5) == pytest.approx(3.0)
    assert backoff(1000, TIMING, 1.0) == 30.0


def test_server_errors_are_transient_and_refusals_end_the_loop() -> None:
    agent = FakeAgent([ApiError(503, "Service Unavailable"), IDLE])
    seen = run(agent)
    assert seen.pauses == [1]

    refused = ApiError(404, "host sriov-1 not found")
    agent = FakeAgent([refused])
    with pytest.raises(ApiError) as caught:
        run(agent)
    assert caught.value is refused


def test_transient_errors() -> None:
    assert is_transient(Unreachable("x"))
    assert is_transient(ApiError(500, "x")) and is_transient(ApiError(429, "x"))
    assert is_transient(KernelError(errno.EIO, "read", "/sys/bus/pci"))
    assert not is_transient(ApiError(403, "x"))
    assert not is_transient(InvalidInput("x", "y"))


def test_state_is_saved_after_every_cycle_even_a_failed_one() -> None:
    agent = FakeAgent([Unreachable("down"), CHANGED, IDLE])
    seen = run(agent)
    assert seen.saves == 4  # three scripted cycles and the one that ends the script


def test_a_stop_during_a_wait_ends_the_loop_without_another_cycle() -> None:
    agent = FakeAgent([IDLE, IDLE])

    def wait_then_stop(timeout: float) -> bool:
        agent.events.append(("wait", timeout))
        agent.stop.set()
        return False

    agent.wait = wait_then_stop  # type: ignore[method-assign]
    run(agent)
    assert agent.kinds() == ["cycle", "wait"]


def test_a_stop_before_the_start_runs_no_cycle() -> None:
    agent = FakeAgent([IDLE])
    agent.stop.set()
    run(agent)
    assert agent.events == []


def test_a_stop_ends_a_backoff_pause_at_once() -> None:
    """The default pause is ``stop.wait``: a stop during a 30 s backoff does not wait it out."""
    agent = FakeAgent([Unreachable("down")] * 3)
    started = time.monotonic()
    run_agent(
        agent,
        stop=agent.stop,
        on_result=lambda _: None,
        changed=lambda _: False,
        timing=Timing(backoff_first=30.0, backoff_max=30.0),
        on_failure=lambda *_: agent.stop.set(),
    )
    assert time.monotonic() - started < 5
    assert agent.kinds() == ["cycle"]


def test_a_401_logs_in_again_once_and_goes_on() -> None:
    agent = FakeAgent([ApiError(401, "token expired"), IDLE])
    seen = run(agent, login=True)
    assert seen.logins == 2  # at the start, and after the 401
    assert seen.results[0] == IDLE
    assert seen.pauses == []  # no backoff: logging in again is the cure


def test_a_401_right_after_logging_in_again_ends_the_loop() -> None:
    agent = FakeAgent([ApiError(401, "expired"), ApiError(401, "still refused"), IDLE])
    with pytest.raises(ApiError, match="still refused"):
        run(agent, login=True)
    assert agent.kinds() == ["cycle", "cycle"]


def test_a_later_401_after_good_cycles_may_log_in_again() -> None:
    agent = FakeAgent([ApiError(401, "expired"), IDLE, ApiError(401, "expired again"), IDLE])
    seen = run(agent, login=True)
    assert seen.logins == 3


def test_credentials_refused_at_login_end_the_loop() -> None:
    agent = FakeAgent([IDLE])
    with pytest.raises(ApiError, match="bad password"):
        run(agent, login=True, login_errors=[ApiError(401, "bad password")])
    assert agent.events == []


def test_an_api_away_at_start_is_waited_for_before_logging_in() -> None:
    agent = FakeAgent([IDLE])
    seen = run(agent, login=True, login_errors=[Unreachable("down"), Unreachable("down")])
    assert (seen.logins, seen.pauses) == (3, [1, 2])
    assert agent.kinds()[0] == "cycle"
