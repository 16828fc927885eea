"""Step 5 of ``sriovstack demo``: ``nova list``, the guests' DHCP leases, and who reaches whom.

The addresses are what the DHCP server in the qdhcp namespace offers each guest over the
simulated fabric, compared with the fixed IPs the API gave the ports; the matrix is a ping
between every pair of instances and the namespace.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from sriovstack.cli.cloud import NEUTRON
from sriovstack.cli.demo_boot import server_rows
from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.cli.servers import TASK, networks, power
from sriovstack.cli.views import cell, key, rows_table
from sriovstack.fabric.results import ConnectivityMatrix, TraceResult

INSTANCES = ("Instance-0", "Instance-1", "Instance-2")
TALK_LIST = {"Instance-1": "physnet1=10.0.0.3"}  # the talk's `nova list` row


def trace_lines(result: TraceResult, *, path: bool = False) -> list[str]:
    """A ping or trace: the verdict and why it was lost; with ``path``, the request's hops."""
    if not result.reachable:
        return [f"  {result.source} -> {result.target}: LOST", f"    {result.reason}"]
    lines = [f"  {result.source} -> {result.target}: ok"]
    if path:
        leg = next((leg for leg in result.legs if "echo request" in leg.what), result.legs[-1])
        lines.append("    " + " -> ".join(str(hop) for hop in leg.hops))
    return lines


def leg_lines(result: TraceResult) -> list[str]:
    """Each frame of a trace, delivered or lost (and why)."""
    lines = [f"  {result.source} -> {result.target}:"]
    for leg in result.legs:
        lines.append(
            f"    {leg.what}: " + ("delivered" if leg.delivered else f"LOST: {leg.reason}")
        )
    return lines


def nova_list(stage: Stage, log: StepLog) -> None:
    log.command("$ nova list")
    servers = list(server_rows(stage.demo, INSTANCES).values())
    columns = [
        ("ID", key("id")),
        ("Name", key("name")),
        ("Status", key("status")),
        ("Task State", key(TASK)),
        ("Power State", power),
        ("Networks", networks),
    ]
    log.say(rows_table(columns, sorted(servers, key=lambda s: s["name"])))
    rows = {s["name"]: [s["status"], cell(s.get(TASK)), power(s), networks(s)] for s in servers}
    log.facts["nova_list"] = rows
    log.check(
        "every instance is ACTIVE, no task, Running",
        sorted(rows) == list(INSTANCES)
        and all(r[:3] == ["ACTIVE", "-", "Running"] for r in rows.values()),
        f"{rows}",
    )
    log.check(
        "Instance-1 is physnet1=10.0.0.3, as in the talk",
        rows.get("Instance-1", [""] * 4)[3] == TALK_LIST["Instance-1"],
    )
    _leases(stage, log)
    _matrix(stage, log)


def _leases(stage: Stage, log: StepLog) -> None:
    fabric = stage.fabric()
    (dhcp,) = fabric.dhcp_servers
    log.command("$ ip netns")
    log.say(f"  {dhcp.label}")
    fixed = _fixed_ips(stage)
    table = Table("Instance", "Fixed IP (API)", "DHCP offer (fabric)", "From")
    leases: dict[str, Any] = {}
    for name in INSTANCES:
        log.progress(f"DHCP over the fabric for {name}")
        lease = fabric.lease(name)
        got = str(lease.ip) if lease.ip is not None else None
        leases[name] = {"fixed_ip": fixed.get(name), "offered": got, "reason": lease.reason}
        table.add_row(
            Text(name),
            Text(fixed.get(name, "-")),
            Text(got or f"none: {lease.reason}"),
            Text(dhcp.label),
        )
    log.say(table)
    log.facts["namespace"] = dhcp.label
    log.facts["leases"] = leases
    log.check("the namespace is qdhcp-<network ID>", dhcp.label == f"qdhcp-{stage.network['id']}")
    log.check(
        "each guest leases its port's fixed IP from the DHCP server",
        all(v["offered"] is not None and v["offered"] == v["fixed_ip"] for v in leases.values()),
        f"{leases}",
    )
    address = fixed.get("Instance-1", "10.0.0.3")
    log.command(f"$ sudo ip netns exec {dhcp.label} ssh fedora@{address}   (here: its ping)")
    log.say(*trace_lines(fabric.ping(dhcp.label, address), path=True))


def _matrix(stage: Stage, log: StepLog) -> None:
    fabric = stage.fabric()
    (dhcp,) = fabric.dhcp_servers
    log.progress("pinging every pair over the fabric")
    matrix = fabric.matrix([*INSTANCES, dhcp.label])
    log.say(matrix_table(matrix, "ping (row to column) over the fabric"))
    log.facts["matrix"] = matrix_facts(matrix)
    log.check(
        "every instance and the DHCP namespace reach each other",
        not matrix.failures,
        "; ".join(f"{r.source} -> {r.target}: {r.reason}" for r in matrix.failures),
    )


def matrix_table(matrix: ConnectivityMatrix, title: str) -> Table:
    """Row pings column: ok, or x with the reasons below the grid."""
    short = {name: name if len(name) <= 14 else name[:13] + "…" for name in matrix.names}
    table = Table("", title=title, title_justify="left")
    for name in matrix.names:
        table.add_column(Text(short[name]))
    for source in matrix.names:
        cells = [
            Text("-")
            if source == target
            else Text("ok", style="green")
            if matrix.reachable(source, target)
            else Text("x", style="bold red")
            for target in matrix.names
        ]
        table.add_row(Text(short[source]), *cells)
    return table


def matrix_facts(matrix: ConnectivityMatrix) -> dict[str, Any]:
    return {
        "names": list(matrix.names),
        "pairs": len(matrix.results),
        "reachable": sum(1 for r in matrix.results if r.reachable),
        "failures": [
            {"source": r.source, "target": r.target, "reason": r.reason} for r in matrix.failures
        ],
    }


def _fixed_ips(stage: Stage) -> dict[str, str]:
    """Each instance's fixed IP, as the API gave its port."""
    ports = stage.admin.get(f"{NEUTRON}/ports", network_id=stage.network["id"])["ports"]
    by_device = {p["device_id"]: p for p in ports if p.get("fixed_ips")}
    found = {}
    for name in INSTANCES:
        port = by_device.get(stage.server(name)["id"])
        if port is not None:
            found[name] = str(port["fixed_ips"][0]["ip_address"])
    return found
