"""Which of a host's PFs and VFs the device specs select, and the Nova pool each one joins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.alias import Alias
from sriovstack.domain.devspec import (
    DeviceSpec,
    DeviceSpecList,
    DevType,
    PciFunction,
    TagValue,
    read_bool,
)
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.mappings import SriovAgentConfig, VendorDevs

UNPOOLED_TAGS = ("resource_class", "traits")
"""Tags Nova leaves out of pool keys: they only shape Placement inventories."""


@dataclass(frozen=True, slots=True)
class PoolKey:
    """What Nova groups equal devices by: IDs, NUMA node, type, the spec's tags, the PF.

    VFs of one PF share a pool (``address`` is the PF's); Nova splits pools per PF since
    Antelope (27).
    """

    vendor_id: str  # four lower-case hex digits, as Nova keeps them
    product_id: str
    numa_node: int | None
    dev_type: DevType
    address: PciAddress  # the PF's address for a VF, else the device's own
    parent_ifname: str | None = None  # a VF's PF netdev, when it has one
    tags: tuple[tuple[str, TagValue], ...] = ()

    def as_dict(self) -> dict[str, TagValue]:
        """The pool as Nova's dict: fixed keys, then tags."""
        pool: dict[str, TagValue] = {
            "vendor_id": self.vendor_id,
            "product_id": self.product_id,
            "numa_node": self.numa_node,
            "dev_type": str(self.dev_type),
            "address": str(self.address),
        }
        if self.parent_ifname is not None:
            pool["parent_ifname"] = self.parent_ifname
        pool.update(self.tags)
        return pool

    def get(self, key: str) -> TagValue:
        return self.as_dict().get(key)


@dataclass(frozen=True, slots=True)
class Selected:
    """One function a device spec selects, the spec (first match) and its pool."""

    function: PciFunction
    spec: DeviceSpec
    spec_index: int
    pool: PoolKey
    problems: tuple[str, ...] = ()  # why Neutron would not serve it, when its config is given


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool with the functions in it."""

    key: PoolKey
    members: tuple[Selected, ...]

    @property
    def count(self) -> int:
        return len(self.members)


def host_functions(inventory: HostInventory) -> tuple[PciFunction, ...]:
    """Every PF (then its VFs) and every NIC without SR-IOV, as device specs see them."""
    functions: list[PciFunction] = []
    for pf in inventory.pfs:
        # libvirt calls a function with the SR-IOV capability a PF even with no VF enabled.
        functions.append(
            PciFunction(
                address=pf.address,
                vendor_id=pf.vendor_id,
                product_id=pf.device_id,
                dev_type=DevType.PF if pf.total_vfs > 0 else DevType.PCI,
                netdev=pf.netdev,
                numa_node=pf.numa_node,
                vf_product_id=pf.vf_device_id or None,
            )
        )
        functions.extend(
            PciFunction(
                address=vf.address,
                vendor_id=vf.vendor_id,
                product_id=vf.device_id,
                dev_type=DevType.VF,
                netdev=vf.netdev,
                parent=pf.address,
                parent_netdev=pf.netdev,
                numa_node=vf.numa_node,
            )
            for vf in pf.vfs
        )
    functions.extend(
        PciFunction(
            address=nic.address,
            vendor_id=nic.vendor_id,
            product_id=nic.device_id,
            dev_type=DevType.PCI,
            netdev=nic.netdev,
        )
        for nic in inventory.other_nics
    )
    return tuple(functions)


def pool_key(function: PciFunction, spec: DeviceSpec) -> PoolKey:
    """The pool Nova puts ``function`` in when ``spec`` selected it."""
    tags = {k: v for k, v in spec.tags if k not in UNPOOLED_TAGS}
    if function.dev_type in (DevType.PF, DevType.VF) and tags.get("remote_managed") is None:
        tags["remote_managed"] = "false"  # Nova's default for VFs and PFs
    return PoolKey(
        vendor_id=f"{function.vendor_id:04x}",
        product_id=f"{function.product_id:04x}",
        numa_node=function.numa_node,
        dev_type=function.dev_type,
        address=function.parent or function.address,
        parent_ifname=function.parent_netdev if function.dev_type is DevType.VF else None,
        tags=tuple(tags.items()),
    )


def select_functions(
    functions: Sequence[PciFunction],
    specs: DeviceSpecList,
    *,
    agent: SriovAgentConfig | None = None,
    vendor_devs: VendorDevs | None = None,
) -> tuple[Selected, ...]:
    """Each function some spec selects, with its pool and, given Neutron's config, its problems."""
    specs.check_on_host(functions)
    selected = []
    for function in functions:
        spec = specs.match(function)
        if spec is None:
            continue
        problems = _neutron_problems(function, spec, agent, vendor_devs)
        selected.append(
            Selected(function, spec, specs.index(spec), pool_key(function, spec), problems)
        )
    return tuple(selected)


def select_devices(
    inventory: HostInventory,
    specs: DeviceSpecList,
    *,
    agent: SriovAgentConfig | None = None,
    vendor_devs: VendorDevs | None = None,
) -> tuple[Selected, ...]:
    """``select_functions`` over a host's inventory."""
    return select_functions(host_functions(inventory), specs, agent=agent, vendor_devs=vendor_devs)


def group_pools(selected: Sequence[Selected]) -> tuple[Pool, ...]:
    """The pools, in the order their first member was selected."""
    members: dict[PoolKey, list[Selected]] = {}
    for item in selected:
        members.setdefault(item.pool, []).append(item)
    return tuple(Pool(key, tuple(items)) for key, items in members.items())


def satisfies(pool: PoolKey, alias: Alias) -> bool:
    """Whether a pool's devices can serve ``alias`` (spec match, then Nova's pool filters).

    NUMA affinity and counts need a guest and free devices, so they are not judged here.
    """
    requests = [spec.request() for spec in alias.specs]
    if not any(_prop_match(pool, request) for request in requests):
        return False
    # Nova hands out PFs only to requests that ask for type-PF ...
    if pool.dev_type is DevType.PF and all(r.get("dev_type") != DevType.PF for r in requests):
        return False
    # ... and remote-managed devices only to requests that ask for them (an alias cannot).
    return not read_bool(pool.get("remote_managed"))


def _prop_match(pool: PoolKey, request: dict[str, str]) -> bool:
    # Nova compares strings case-insensitively; a key the pool lacks reads as null.
    return all(_folded(pool.get(key)) == _folded(value) for key, value in request.items())


def _folded(value: TagValue) -> TagValue:
    return value.lower() if isinstance(value, str) else value


def _neutron_problems(
    function: PciFunction,
    spec: DeviceSpec,
    agent: SriovAgentConfig | None,
    vendor_devs: VendorDevs | None,
) -> tuple[str, ...]:
    problems = []
    info = f"{function.vendor_id:04x}:{function.product_id:04x}"
    if vendor_devs is not None and not vendor_devs.allows(function.vendor_id, function.product_id):
        problems.append(f"pci_vendor_info {info} is not in supported_pci_vendor_devs")
    # The NIC agent serves VFs only; a whole PF (direct-physical) is bound without it.
    if agent is None or function.dev_type is not DevType.VF:
        return tuple(problems)
    pf = function.parent_netdev
    physnets = agent.device_mappings.physnets_of(pf) if pf is not None else ()
    if not physnets:
        problems.append(f"its PF {pf or function.parent} is not in physical_device_mappings")
    elif _folded(spec.physical_network) not in {p.lower() for p in physnets}:
        problems.append(
            f"the spec tags physnet {spec.physical_network} but physical_device_mappings "
            f"puts {pf} on {', '.join(physnets)}"
        )
    if agent.exclude_devices.excludes(pf, function.address):
        problems.append(f"exclude_devices leaves it to the host ({pf})")
    return tuple(problems)
