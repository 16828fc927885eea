"""The kernel command line and modprobe.d as SR-IOV needs them: IOMMU, PCI, blacklist options."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_BLACKLIST_KEYS = ("modprobe.blacklist", "module_blacklist")


def module_name(name: str) -> str:
    """The canonical form of a module (or driver) name: kmod treats '-' and '_' alike."""
    return name.strip().replace("-", "_")


def module_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(module_name(n) for n in names if n.strip())


def modprobe_blacklist(text: str) -> frozenset[str]:
    """Modules named by ``blacklist NAME`` lines of a modprobe.d file."""
    found = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "blacklist":
            found.append(words[1])
    return module_names(found)


@dataclass(frozen=True, slots=True)
class KernelParams:
    """The SR-IOV-relevant parameters of a kernel command line."""

    intel_iommu: bool | None  # True for intel_iommu=on, False for =off, None when unset
    amd_iommu: bool | None
    iommu_off: bool
    passthrough: bool  # iommu=pt or iommu.passthrough=1
    realloc: bool
    assign_busses: bool
    noari: bool
    blacklist: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> KernelParams:
        params: dict[str, list[str]] = {}
        for token in text.split():
            key, _, value = token.partition("=")
            params.setdefault(key, []).append(value.strip('"'))
        pci_opts = {o for v in params.get("pci", []) for o in v.split(",")}

        def switch(key: str) -> bool | None:
            values = params.get(key)
            if not values:
                return None
            return values[-1].split(",")[0] in ("on", "1", "y")

        return cls(
            intel_iommu=switch("intel_iommu"),
            amd_iommu=switch("amd_iommu"),
            iommu_off="off" in params.get("iommu", []),
            passthrough="pt" in params.get("iommu", [])
            or "1" in params.get("iommu.passthrough", []),
            realloc=bool(pci_opts & {"realloc", "realloc=on"}),
            assign_busses="assign-busses" in pci_opts,
            noari="noari" in pci_opts,
            blacklist=module_names(
                m for k in _BLACKLIST_KEYS for v in params.get(k, []) for m in v.split(",")
            ),
        )
