"""``sriovstack host``: inventory, doctor, VF counts, VF config and FDB on one host, no server."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from sriovstack.cli.options import (
    Json,
    Simulate,
    StateFile,
    StateFileOnly,
    SysfsRoot,
    host_choice,
)
from sriovstack.cli.render import doctor_view, inventory_tree, print_json, vf_table
from sriovstack.cli.session import open_host
from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.inventory import HostInventory, PFEntry
from sriovstack.domain.vfconfig import LinkState, TxRate, VFConfigChange, VlanProto, VlanTag
from sriovstack.host import configuring, doctor, fdb, provisioning, wanted
from sriovstack.host.inventory import read_inventory
from sriovstack.host.locating import find_pf, find_vf

app = typer.Typer(no_args_is_help=True, help="Inspect and prepare this host's SR-IOV NICs.")
vf_app = typer.Typer(no_args_is_help=True, help="Read and set a VF's config.")
fdb_app = typer.Typer(
    no_args_is_help=True, help="MAC entries in a PF's FDB (its MAC filter table)."
)
app.add_typer(vf_app, name="vf")
app.add_typer(fdb_app, name="fdb")

Pf = Annotated[str, typer.Argument(metavar="PF", help="The PF's netdev or PCI address.")]


def _out(ctx: typer.Context) -> Console:
    console: Console = ctx.obj["out"]
    return console


@app.command("show")
def show(
    ctx: typer.Context,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
    json: Json = False,
) -> None:
    """Every PF and VF: a tree like `lspci -vt` and a VF table per PF."""
    with open_host(host_choice(sysfs_root, simulate, state), save=False) as kernel:
        inv = read_inventory(kernel)
    out = _out(ctx)
    if json:
        print_json(out, inv)
        return
    where = simulate or (str(sysfs_root) if sysfs_root else "this host")
    out.print(
        inventory_tree(inv, f"{where}: {len(inv.pfs)} PFs, {sum(p.num_vfs for p in inv.pfs)} VFs")
    )
    for pf in inv.pfs:
        if pf.vfs:
            out.print(vf_table(pf))


@app.command("doctor")
def doctor_cmd(
    ctx: typer.Context,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
    json: Json = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show passing checks too.")
    ] = False,
) -> None:
    """Check IOMMU, kernel parameters, VF BARs, bus ranges, ARI, VF drivers and PF links."""
    with open_host(host_choice(sysfs_root, simulate, state), save=False) as kernel:
        report = doctor.examine(kernel)
    if json:
        print_json(_out(ctx), {"clean": report.clean, "findings": report.findings})
    else:
        _out(ctx).print(doctor_view(report, verbose=verbose))
    if not report.clean:
        raise typer.Exit(1)


@app.command("set-vfs")
def set_vfs(
    ctx: typer.Context,
    pf: Pf,
    count: Annotated[
        int, typer.Argument(metavar="N", help="The number of VFs the PF should have.")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Go ahead even if VFs in use vanish.")
    ] = False,
    vf_driver: Annotated[
        str | None,
        typer.Option(
            "--vf-driver",
            metavar="DRIVER",
            help="Bind the VFs to vfio-pci or `host` (e.g. ixgbevf).",
        ),
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Record the layout for `host restore` at boot.")
    ] = True,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
    json: Json = False,
) -> None:
    """Give a PF exactly N VFs (passing through 0, as the kernel requires)."""
    choice = host_choice(sysfs_root, simulate, state)
    with open_host(choice) as kernel:
        change = provisioning.set_vf_count(kernel, pf, count, force=force, vf_driver=vf_driver)
        if save:
            wanted.record(choice.wanted_path(), change, vf_driver)
    out = _out(ctx)
    if json:
        print_json(out, change)
        return
    verb = (
        f"{change.before} -> {change.after} VFs"
        if change.changed
        else f"already {change.after} VFs"
    )
    out.print(f"{change.pf.name} ({change.pf.address}): {verb}")
    for line in change.kernel_log:
        out.print(f"  kernel: {line}", style="dim", highlight=False)
    if change.pf.vfs:
        out.print(inventory_tree(_only(change.pf), f"{change.pf.name}"))


def _only(pf: PFEntry) -> HostInventory:
    return HostInventory(pfs=(pf,), bridges=())


@app.command("restore")
def restore(
    ctx: typer.Context,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
) -> None:
    """Re-apply the saved VF layout (what `set-vfs` recorded); run at boot."""
    choice = host_choice(sysfs_root, simulate, state)
    layout = wanted.load_wanted(choice.wanted_path())
    with open_host(choice) as kernel:
        lines = wanted.apply_wanted(kernel, layout)
    for line in lines or ["nothing saved to restore"]:
        _out(ctx).print(line)
    if any(": failed:" in line for line in lines):
        raise typer.Exit(5)


@app.command("link")
def link(
    ctx: typer.Context,
    pf: Pf,
    updown: Annotated[str, typer.Argument(metavar="up|down")],
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
) -> None:
    """Bring a PF's link up or down (`ip link set dev PF up`)."""
    if updown not in ("up", "down"):
        raise InvalidInput("up|down", "must be up or down", updown)
    with open_host(host_choice(sysfs_root, simulate, state)) as kernel:
        entry = find_pf(kernel, pf)
        if entry.netdev is None:
            raise InvalidInput("PF", "has no netdev", pf)
        kernel.set_link(entry.netdev, up=updown == "up")
    _out(ctx).print(f"{entry.netdev}: {updown}")


@app.command("dmesg")
def dmesg(
    ctx: typer.Context,
    grep: Annotated[str | None, typer.Option("--grep", help="Only lines containing this.")] = None,
    tail: Annotated[int, typer.Option("--tail", min=0, help="Only the last N lines (0: all).")] = 0,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
) -> None:
    """The host's kernel log."""
    with open_host(host_choice(sysfs_root, simulate, state), save=False) as kernel:
        lines = [line for line in kernel.log() if grep is None or grep in line]
    for line in lines[-tail:] if tail else lines:
        _out(ctx).print(line, highlight=False, markup=False)


def _on_off(value: str | None, field: str) -> bool | None:
    if value is None:
        return None
    if value in ("on", "off"):
        return value == "on"
    raise InvalidInput(field, "must be on or off", value)


@vf_app.command("set")
def vf_set(
    ctx: typer.Context,
    pf: Pf,
    index: Annotated[int, typer.Argument(metavar="INDEX", help="The VF index (0-based).")],
    mac: Annotated[
        str | None, typer.Option("--mac", help="Unicast MAC, 00:00:00:00:00:00 clears.")
    ] = None,
    vlan: Annotated[int | None, typer.Option("--vlan", help="Port VLAN 0-4095 (0: none).")] = None,
    qos: Annotated[
        int | None, typer.Option("--qos", help="802.1p priority 0-7 (with --vlan).")
    ] = None,
    proto: Annotated[str | None, typer.Option("--proto", help="802.1Q or 802.1ad.")] = None,
    spoofchk: Annotated[str | None, typer.Option("--spoofchk", metavar="on|off")] = None,
    trust: Annotated[str | None, typer.Option("--trust", metavar="on|off")] = None,
    link_state: Annotated[
        str | None,
        typer.Option("--state", metavar="auto|enable|disable", help="The VF's link state."),
    ] = None,
    min_rate: Annotated[int | None, typer.Option("--min-rate", help="Mbit/s, 0: none.")] = None,
    max_rate: Annotated[int | None, typer.Option("--max-rate", help="Mbit/s, 0: none.")] = None,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFileOnly = None,
    json: Json = False,
) -> None:
    """Set a VF's MAC, VLAN, QoS, spoof check, trust, link state or rates; only what differs."""
    if index < 0:
        raise InvalidInput("index", "must be 0 or more", index)
    change = _vf_change(mac, vlan, qos, proto, spoofchk, trust, link_state, min_rate, max_rate)
    if change.is_empty:
        raise InvalidInput("options", "name at least one setting, e.g. --mac or --vlan")
    with open_host(host_choice(sysfs_root, simulate, state)) as kernel:
        if change.rate is not None and (min_rate is None or max_rate is None):
            # Like iproute2: fill the rate not given from the VF's current one.
            current = find_vf(find_pf(kernel, pf), index).config
            if current is not None:
                change = _fill_rate(change, current.rate, min_rate, max_rate)
        result = configuring.set_vf_config(kernel, pf, index, change)
    _report(ctx, result, json)


@vf_app.command("reset")
def vf_reset(
    ctx: typer.Context,
    pf: Pf,
    index: Annotated[int, typer.Argument(metavar="INDEX")],
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
    json: Json = False,
) -> None:
    """Return a VF to clean: MAC zero, VLAN 0, spoof check on, trust off, link auto, no rates."""
    with open_host(host_choice(sysfs_root, simulate, state)) as kernel:
        result = configuring.reset_vf(kernel, pf, index)
    _report(ctx, result, json)


def _report(ctx: typer.Context, result: configuring.VfConfigResult, json: bool) -> None:
    out = _out(ctx)
    if json:
        print_json(out, result)
        return
    what = ", ".join(result.changed) if result.changed else "nothing (already so)"
    out.print(f"{result.pf} VF {result.index}: changed {what}")


def _vf_change(
    mac: str | None,
    vlan: int | None,
    qos: int | None,
    proto: str | None,
    spoofchk: str | None,
    trust: str | None,
    link_state: str | None,
    min_rate: int | None,
    max_rate: int | None,
) -> VFConfigChange:
    if (qos is not None or proto is not None) and vlan is None:
        raise InvalidInput("--qos/--proto", "need --vlan")
    tag = None
    if vlan is not None:
        tag = VlanTag(vlan, qos or 0, VlanProto.parse(proto) if proto else VlanProto.DOT1Q)
    rate = None
    if min_rate is not None or max_rate is not None:
        rate = TxRate(min_rate or 0, max_rate or 0)
    return VFConfigChange(
        mac=MacAddress.parse(mac) if mac is not None else None,
        vlan=tag,
        spoofchk=_on_off(spoofchk, "spoofchk"),
        trust=_on_off(trust, "trust"),
        link_state=LinkState.parse(link_state) if link_state is not None else None,
        rate=rate,
    )


def _fill_rate(
    change: VFConfigChange, current: TxRate, min_rate: int | None, max_rate: int | None
) -> VFConfigChange:
    rate = TxRate(
        current.min_mbps if min_rate is None else min_rate,
        current.max_mbps if max_rate is None else max_rate,
    )
    return VFConfigChange(
        mac=change.mac,
        vlan=change.vlan,
        spoofchk=change.spoofchk,
        trust=change.trust,
        link_state=change.link_state,
        rate=rate,
    )


@fdb_app.command("list")
def fdb_list(
    ctx: typer.Context,
    pf: Pf,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
    json: Json = False,
) -> None:
    """A PF's FDB entries and how full its unicast MAC filter table is."""
    with open_host(host_choice(sysfs_root, simulate, state), save=False) as kernel:
        listing = fdb.list_fdb(kernel, pf)
    out = _out(ctx)
    if json:
        print_json(out, listing)
        return
    for entry in listing.entries:
        out.print(f"{entry.mac} dev {entry.ifname} self permanent", highlight=False)
    table = listing.table
    cap = table.capacity if table.capacity is not None else "unknown"
    out.print(f"{listing.pf}: {table.used} of {cap} unicast MAC filters used", style="dim")


@fdb_app.command("add")
def fdb_add(
    ctx: typer.Context,
    pf: Pf,
    mac: Annotated[str, typer.Argument(metavar="MAC")],
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
) -> None:
    """Add a unicast MAC (`bridge fdb add MAC dev PF`); refused when the table is full."""
    address = MacAddress.parse(mac)
    with open_host(host_choice(sysfs_root, simulate, state)) as kernel:
        added = fdb.add_fdb(kernel, pf, address)
    _out(ctx).print(f"{pf}: {'added' if added else 'already has'} {address}")


@fdb_app.command("del")
def fdb_del(
    ctx: typer.Context,
    pf: Pf,
    mac: Annotated[str, typer.Argument(metavar="MAC")],
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
) -> None:
    """Remove a MAC from a PF's FDB."""
    address = MacAddress.parse(mac)
    with open_host(host_choice(sysfs_root, simulate, state)) as kernel:
        fdb.del_fdb(kernel, pf, address)
    _out(ctx).print(f"{pf}: removed {address}")
