"""``sriovstack pci``: Nova device specs and aliases checked against one host's devices."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sriovstack.cli.options import Json, Simulate, StateFile, SysfsRoot, host_choice
from sriovstack.cli.render import print_json
from sriovstack.cli.session import open_host
from sriovstack.domain.alias import Alias, parse_aliases
from sriovstack.domain.devspec import DeviceSpec, DeviceSpecList, PciFunction, parse_device_spec
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.hostconfig import HostConfig, parse_host_config, parse_local_conf
from sriovstack.domain.pools import (
    Pool,
    PoolKey,
    Selected,
    group_pools,
    host_functions,
    satisfies,
    select_functions,
)
from sriovstack.host.inventory import read_inventory

app = typer.Typer(no_args_is_help=True, help="Nova PCI device specs and aliases on a host.")

_LOCAL_CONF_HEADER = re.compile(r"^\s*\[\[[^\]|]+\|[^\]]+\]\]\s*$", re.MULTILINE)

DeviceSpecs = Annotated[
    list[str] | None,
    typer.Option(
        "--device-spec",
        metavar="JSON",
        help="A Nova [pci] device_spec value: a JSON object or list of objects. Repeatable.",
    ),
]
Aliases = Annotated[
    list[str] | None,
    typer.Option("--alias", metavar="JSON", help="A Nova [pci] alias value. Repeatable."),
]
Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="A host configuration (TOML) or a DevStack local.conf; --device-spec and --alias "
        "replace what it says.",
    ),
]


@app.command("check")
def check(
    ctx: typer.Context,
    device_spec: DeviceSpecs = None,
    alias: Aliases = None,
    config: Config = None,
    sysfs_root: SysfsRoot = None,
    simulate: Simulate = None,
    state: StateFile = None,
    json: Json = False,
) -> None:
    """Which devices the device specs select, the pool each lands in, and the aliases served."""
    host_config = _read_config(config) if config is not None else HostConfig()
    specs = _specs(device_spec) if device_spec else host_config.device_specs
    if not specs:
        raise InvalidInput("--device-spec", "give at least one device spec (or --config FILE)")
    aliases = parse_aliases(alias, where="--alias") if alias else host_config.aliases
    with open_host(host_choice(sysfs_root, simulate, state), save=False) as kernel:
        functions = host_functions(read_inventory(kernel))
    selected = select_functions(
        functions,
        specs,
        agent=host_config.agent if config is not None else None,
        vendor_devs=host_config.supported_pci_vendor_devs,
    )
    pools = group_pools(selected)
    out: Console = ctx.obj["out"]
    if json:
        print_json(out, _as_json(specs, selected, pools, aliases))
        return
    where = simulate or (str(sysfs_root) if sysfs_root else "this host")
    _print(out, where, functions, specs, selected, pools, aliases)


def _read_config(path: Path) -> HostConfig:
    text = path.read_text(encoding="utf-8")
    if path.name.endswith("local.conf") or _LOCAL_CONF_HEADER.search(text):
        return parse_local_conf(text)
    return parse_host_config(text, source=str(path))


def _specs(values: list[str]) -> DeviceSpecList:
    specs: list[DeviceSpec] = []
    for i, value in enumerate(values):
        where = "--device-spec" if len(values) == 1 else f"--device-spec #{i + 1}"
        specs.extend(parse_device_spec(value, where=where))
    return DeviceSpecList(tuple(specs))


def _pool_numbers(pools: tuple[Pool, ...]) -> dict[PoolKey, int]:
    return {pool.key: n for n, pool in enumerate(pools, start=1)}


def _served(pool: Pool, aliases: tuple[Alias, ...]) -> list[str]:
    return [a.name for a in aliases if satisfies(pool.key, a)]


def _kind(function: PciFunction) -> str:
    return str(function.dev_type).removeprefix("type-")


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def _print(
    out: Console,
    where: str,
    functions: tuple[PciFunction, ...],
    specs: DeviceSpecList,
    selected: tuple[Selected, ...],
    pools: tuple[Pool, ...],
    aliases: tuple[Alias, ...],
) -> None:
    numbers = _pool_numbers(pools)
    out.print(
        f"{where}: {len(selected)} of {len(functions)} PCI functions selected by "
        f"{len(specs)} device spec{'s' if len(specs) != 1 else ''}, in {len(pools)} "
        f"pool{'s' if len(pools) != 1 else ''}",
        highlight=False,
    )
    for i, spec in enumerate(specs):
        out.print(f"  spec {i}: {spec.describe()}", highlight=False, markup=False)
    if not selected:
        out.print("no PCI function matches any device spec", highlight=False)
    else:
        out.print(_devices_table(selected, numbers))
        out.print(_pools_table(pools, aliases))
    for a in aliases:
        served = [str(numbers[p.key]) for p in pools if satisfies(p.key, a)]
        verdict = f"pool {', '.join(served)}" if served else "no pool: nothing here serves it"
        out.print(f"alias {a.name} ({a.numa_policy}): {verdict}", highlight=False, markup=False)


def _devices_table(selected: tuple[Selected, ...], numbers: dict[PoolKey, int]) -> Table:
    table = Table(title="selected devices", title_justify="left")
    columns = ["PCI", "type", "vendor:product", "devname", "physnet", "trusted", "pool", "spec"]
    problems = any(s.problems for s in selected)
    for column in columns + (["Neutron"] if problems else []):
        table.add_column(column, no_wrap=column != "Neutron")
    for s in selected:
        f = s.function
        row = [
            str(f.address),
            _kind(f),
            f"{f.vendor_id:04x}:{f.product_id:04x}",
            _text(f.netdev),
            _text(s.spec.physical_network),
            _text(s.spec.tag("trusted")),
            str(numbers[s.pool]),
            str(s.spec_index),
        ]
        table.add_row(*row, *(["; ".join(s.problems) or "ok"] if problems else []))
    return table


def _pools_table(pools: tuple[Pool, ...], aliases: tuple[Alias, ...]) -> Table:
    table = Table(title="pools", title_justify="left")
    for column in ("pool", "type", "vendor:product", "NUMA", "PF", "tags", "devices", "aliases"):
        table.add_column(column, no_wrap=column not in ("tags", "aliases"))
    for n, pool in enumerate(pools, start=1):
        key = pool.key
        tags = ", ".join(f"{k}={_text(v)}" for k, v in key.tags)
        table.add_row(
            str(n),
            str(key.dev_type).removeprefix("type-"),
            f"{key.vendor_id}:{key.product_id}",
            _text(key.numa_node),
            f"{key.address}" + (f" ({key.parent_ifname})" if key.parent_ifname else ""),
            tags or "-",
            str(pool.count),
            ", ".join(_served(pool, aliases)) or "-",
        )
    return table


def _as_json(
    specs: DeviceSpecList,
    selected: tuple[Selected, ...],
    pools: tuple[Pool, ...],
    aliases: tuple[Alias, ...],
) -> dict[str, Any]:
    numbers = _pool_numbers(pools)
    return {
        "specs": [spec.describe() for spec in specs],
        "devices": [
            {
                "address": str(s.function.address),
                "dev_type": str(s.function.dev_type),
                "vendor_id": f"{s.function.vendor_id:04x}",
                "product_id": f"{s.function.product_id:04x}",
                "devname": s.function.netdev,
                "parent": None if s.function.parent is None else str(s.function.parent),
                "physical_network": s.spec.physical_network,
                "trusted": s.spec.tag("trusted"),
                "pool": numbers[s.pool],
                "spec": s.spec_index,
                "problems": list(s.problems),
            }
            for s in selected
        ],
        "pools": [
            {
                "pool": numbers[p.key],
                "key": p.key.as_dict(),
                "count": p.count,
                "aliases": _served(p, aliases),
            }
            for p in pools
        ],
        "aliases": [
            {
                "name": a.name,
                "numa_policy": str(a.numa_policy),
                "specs": [spec.request() for spec in a.specs],
                "pools": [numbers[p.key] for p in pools if satisfies(p.key, a)],
            }
            for a in aliases
        ],
    }
