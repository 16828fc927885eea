"""The wanted VF layout of a host, saved so it can be re-applied at boot (the agent reads it)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput, SriovstackError
from sriovstack.host.kernel import Kernel
from sriovstack.host.provisioning import VfCountChange, set_vf_count

DEFAULT_PATH = Path("/etc/sriovstack/vfs.json")


@dataclass(frozen=True, slots=True)
class WantedPF:
    """How many VFs a PF should have and which driver they should be bound to."""

    address: PciAddress
    ifname: str | None
    num_vfs: int
    vf_driver: str | None = None


def load_wanted(path: Path) -> dict[PciAddress, WantedPF]:
    """The saved layout; an absent file means nothing is wanted yet."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {PciAddress.parse(key): _wanted_pf(key, value) for key, value in data["pfs"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidInput) as exc:
        raise InvalidInput(str(path), f"is not a sriovstack VF layout file ({exc})") from None


def _wanted_pf(key: str, value: Mapping[str, Any]) -> WantedPF:
    count, ifname, driver = value["num_vfs"], value.get("ifname"), value.get("vf_driver")
    # bool is an int in Python; JSON true is not a count.
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"num_vfs of {key} must be a whole number, 0 or more: {count!r}")
    if not all(v is None or isinstance(v, str) for v in (ifname, driver)):
        raise ValueError(f"ifname and vf_driver of {key} must be strings or null")
    return WantedPF(PciAddress.parse(key), ifname, count, driver)


def save_wanted(path: Path, wanted: Mapping[PciAddress, WantedPF]) -> None:
    """Write the layout atomically."""
    data = {
        "pfs": {
            str(w.address): {"ifname": w.ifname, "num_vfs": w.num_vfs, "vf_driver": w.vf_driver}
            for w in sorted(wanted.values(), key=lambda w: w.address)
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


def record(path: Path, change: VfCountChange, vf_driver: str | None) -> None:
    """Remember a PF's new VF count (and driver) in the layout file."""
    wanted = load_wanted(path)
    pf = change.pf
    previous = wanted.get(pf.address)
    driver = vf_driver if vf_driver is not None else (previous.vf_driver if previous else None)
    wanted[pf.address] = WantedPF(pf.address, pf.netdev, change.after, driver)
    save_wanted(path, wanted)


def apply_wanted(kernel: Kernel, wanted: Mapping[PciAddress, WantedPF]) -> list[str]:
    """Re-apply a saved layout (at boot); one line per PF saying what happened."""
    report = []
    for w in sorted(wanted.values(), key=lambda w: w.address):
        try:
            change = set_vf_count(kernel, str(w.address), w.num_vfs, vf_driver=w.vf_driver)
        except SriovstackError as exc:
            report.append(f"{w.ifname or w.address}: failed: {exc}")
            continue
        what = f"{change.before} -> {change.after} VFs" if change.changed else f"{change.after} VFs"
        report.append(f"{change.pf.name}: {what}" + (f" on {w.vf_driver}" if w.vf_driver else ""))
    return report
