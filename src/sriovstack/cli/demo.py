"""``sriovstack demo``: the talk "Using SR-IOV on OpenStack" replayed on simulated hosts.

The real product runs it: the host logic, the API server over HTTP on loopback with an embedded
database, one agent per simulated host (cycled by the demo, step by step) and the simulated L2
fabric between the guests. Each step shows what the talk shows and checks the outcome; a step
whose check fails is marked failed and the demo goes on. It exits 0 only when every step
behaved as the talk says.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.render import print_json

if TYPE_CHECKING:
    from sriovstack.cli.demo_stage import Stage

# Quoted: Stage is imported for the type checker only (see _later).
Step: TypeAlias = "tuple[str, str, Callable[[Stage, StepLog], None]]"


def _later(module: str, name: str) -> Callable[[Stage, StepLog], None]:
    """Step ``name`` of ``sriovstack.cli.<module>``, imported only when the step runs.

    The steps import the API server, the store and the launch code (FastAPI, SQLAlchemy,
    Alembic): seconds that every other command would pay if this module, which main imports
    to register `demo`, imported them at its top.
    """

    def step(stage: Stage, log: StepLog) -> None:
        getattr(importlib.import_module(f"sriovstack.cli.{module}"), name)(stage, log)

    step.__name__ = step.__qualname__ = name
    return step


STEPS: list[Step] = [
    (
        "host doctor before and after the kernel parameters",
        "the talk's problems found, seven VFs refused; after the reboot IOMMU on and clean",
        _later("demo_host", "doctor_before_and_after"),
    ),
    (
        "seven VFs on enp3s0f1",
        "VFs 10.1 ... 11.5, all 8086:1515, as the talk's lspci",
        _later("demo_host", "seven_vfs"),
    ),
    (
        "the cloud: provider network physnet1, key pair, security rules",
        "sriov-1 joined with 7 VFs; VLAN 2010 network, 10.0.0.0/24, DHCP at 10.0.0.2; "
        "stack-ssh; ssh and ping allowed",
        _later("demo_cloud", "post_setup"),
    ),
    (
        "seven direct ports; Instance-0 on OVS, Instance-1 and -2 on VFs",
        "all ACTIVE after the agent's cycles, each VF guest on its VF with MAC and VLAN 2010",
        _later("demo_boot", "ports_and_servers"),
    ),
    (
        "nova list, DHCP leases and who reaches whom",
        "Instance-1 is physnet1=10.0.0.3; every guest leases its IP; everyone reaches everyone",
        _later("demo_reach", "nova_list"),
    ),
    (
        "the FDB case: a VF guest and an OVS guest on one PF",
        "lost without an FDB entry (the ToR will not send back); the agent's FDB step fixes it",
        _later("demo_fdb", "fdb_case"),
    ),
    (
        "limitations: VFs all at once, PF down",
        "count change refused naming the VFs in use; PF down stops its VFs, up restores",
        _later("demo_limits", "limitations"),
    ),
]


def run_demo(out: Console, err: Console, *, as_json: bool) -> bool:
    """Run every step; True when all behaved as expected."""
    # Before the clock, as when this module imported it: the seconds the demo reports stay the
    # steps' (demo_stage imports the launch code and the API server, see the steps above).
    from sriovstack.cli.demo_stage import Stage

    started = time.perf_counter()
    logs: list[StepLog] = []
    with ExitStack() as stack:
        stage = Stage(stack)
        for number, (title, expected, step) in enumerate(STEPS, start=1):
            log = StepLog(number, title, expected)
            with _shown(log, out, err, as_json=as_json):
                try:
                    step(stage, log)
                except Exception as exc:  # a broken step is a failed step: the demo goes on
                    log.fail(exc)
            logs.append(log)
        if as_json:
            _progress(err, "stopping the cloud")
    elapsed = time.perf_counter() - started
    passed = sum(1 for log in logs if log.ok)
    if as_json:
        print_json(out, _report(logs, elapsed))
    else:
        out.rule()
        out.print(_summary(logs))
        style = "bold green" if passed == len(logs) else "bold red"
        out.print(Text(f"{passed} of {len(logs)} steps as expected in {elapsed:.1f} s", style))
    return passed == len(logs)


@contextmanager
def _shown(log: StepLog, out: Console, err: Console, *, as_json: bool) -> Iterator[None]:
    """People see the step as it runs, with a spinner saying what it waits for; scripts get
    progress on stderr and the step in the JSON document at the end."""
    number = f"[{log.number}/{len(STEPS)}]"
    head = f"{number} {log.title}"
    if as_json:
        log.progress = lambda text: _progress(err, f"{number} {text}")
        _progress(err, head)
        yield
        return
    out.rule(Text(head, style="bold"), align="left")
    log.show = lambda item: out.print(item, highlight=False)
    with out.status(Text(head)) as status:
        log.progress = lambda text: status.update(Text(f"{number} {text}"))
        yield
    mark = Text("  ok  " if log.ok else "  FAILED  ", style="bold green" if log.ok else "bold red")
    out.print(mark + Text(log.expected))


def _progress(err: Console, text: str) -> None:
    err.print(f"sriovstack demo: {text}", markup=False, highlight=False, soft_wrap=True)


def _summary(logs: list[StepLog]) -> Table:
    table = Table("Step", "Expected", "Result", title="sriovstack demo", title_justify="left")
    for log in logs:
        failed = [c.name for c in log.checks if not c.ok] + ([log.error] if log.error else [])
        result = (
            Text("ok", style="bold green")
            if log.ok
            else Text("FAILED: " + "; ".join(failed or ["no check ran"]), style="bold red")
        )
        table.add_row(Text(f"{log.number}. {log.title}"), Text(log.expected), result)
    return table


def _report(logs: list[StepLog], elapsed: float) -> dict[str, Any]:
    passed = sum(1 for log in logs if log.ok)
    return {
        "ok": passed == len(logs),
        "passed": passed,
        "total": len(logs),
        "seconds": round(elapsed, 3),
        "steps": [log.report() for log in logs],
    }


def demo(
    ctx: typer.Context,
    json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document for scripts.")
    ] = False,
) -> None:
    """Replay the talk on simulated hosts with the API, agents and fabric; check every step."""
    if not run_demo(ctx.obj["out"], ctx.obj["err"], as_json=json):
        raise typer.Exit(1)
