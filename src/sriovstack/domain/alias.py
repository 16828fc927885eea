"""Nova's ``[pci] alias`` and the flavor extra specs that ask for aliased PCI devices."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sriovstack.domain.devspec import BOOL_WORDS, FALSE_WORDS, TRUE_WORDS, DevType
from sriovstack.domain.errors import InvalidInput

ALIAS_EXTRA_SPEC = "pci_passthrough:alias"
NUMA_EXTRA_SPEC = "hw:pci_numa_affinity_policy"

_KEYS = (
    "name",
    "capability_type",
    "product_id",
    "vendor_id",
    "device_type",
    "numa_policy",
    "resource_class",
    "traits",
    "live_migratable",
)
_ID = re.compile(r"[0-9a-fA-F]{4}")
_COUNTS = re.compile(r"[^:]+:[0-9]+(?:\s*,\s*[^:]+:[0-9]+)*")  # Nova's API check of the spec


class NumaPolicy(enum.StrEnum):
    """How strictly a PCI device must sit on the guest's NUMA nodes."""

    REQUIRED = "required"
    LEGACY = "legacy"
    PREFERRED = "preferred"
    SOCKET = "socket"


@dataclass(frozen=True, slots=True)
class AliasSpec:
    """One entry of an alias: what a device must look like to serve it."""

    vendor_id: str | None  # four lower-case hex digits; both are required in an alias
    product_id: str | None
    dev_type: DevType | None = None
    capability_type: str | None = None
    resource_class: str | None = None
    traits: str | None = None
    live_migratable: str | None = None  # "true" or "false"

    def request(self) -> dict[str, str]:
        """The keys a pool must hold, as Nova matches them.

        ``resource_class`` and ``traits`` serve Placement only, and ``capability_type`` is a
        legacy key no pool carries, so none of them are matched.
        """
        keys = {
            key: value
            for key, value in (("vendor_id", self.vendor_id), ("product_id", self.product_id))
            if value is not None
        }
        if self.dev_type is not None:
            keys["dev_type"] = str(self.dev_type)
        if self.live_migratable is not None:
            keys["live_migratable"] = self.live_migratable
        return keys


@dataclass(frozen=True, slots=True)
class Alias:
    """A name a flavor asks for; its entries are alternatives (any one of them will do)."""

    name: str
    numa_policy: NumaPolicy
    specs: tuple[AliasSpec, ...]

    @property
    def dev_type(self) -> DevType | None:
        return self.specs[0].dev_type


@dataclass(frozen=True, slots=True)
class PciRequest:
    """``count`` devices of one alias, with the NUMA policy that applies to them."""

    alias: Alias
    count: int
    numa_policy: NumaPolicy


def parse_aliases(
    values: Sequence[str | Mapping[str, object]], *, where: str = "alias"
) -> tuple[Alias, ...]:
    """Every ``alias`` value (JSON text or a decoded table); same-name entries are merged."""
    merged: dict[str, tuple[NumaPolicy, list[AliasSpec]]] = {}
    for i, value in enumerate(values):
        at = f"{where}[{i}]" if len(values) > 1 else where
        name, policy, spec = parse_alias_entry(value, where=at)
        if name not in merged:
            merged[name] = (policy, [spec])
            continue
        first_policy, specs = merged[name]
        if policy != first_policy:
            raise InvalidInput(at, f"NUMA policy mismatch for alias '{name}'")
        # Quirk fixed on purpose: Nova reads the first entry's dev_type with [] and fails with
        # "'dev_type'" when an entry has none; here "none" is a value like any other.
        if spec.dev_type != specs[0].dev_type:
            raise InvalidInput(at, f"device type mismatch for alias '{name}'")
        specs.append(spec)
    # Nova checks the IDs once every entry is merged, and names every alias that lacks them;
    # both are required unless PCI-in-Placement is on, which sriovstack does not have.
    lacking = sorted(
        name
        for name, (_, specs) in merged.items()
        if any(s.vendor_id is None or s.product_id is None for s in specs)
    )
    if lacking:
        raise InvalidInput(
            where,
            f"the PCI alias(es) {','.join(lacking)} do not have vendor_id and product_id set",
        )
    return tuple(Alias(name, policy, tuple(specs)) for name, (policy, specs) in merged.items())


def parse_alias_entry(
    value: str | Mapping[str, object], *, where: str = "alias"
) -> tuple[str, NumaPolicy, AliasSpec]:
    """One alias value: its name, NUMA policy and the spec it adds to that name."""
    data = _load(value, where)
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise InvalidInput(
            where, f"additional properties are not allowed ({', '.join(unknown)} was unexpected)"
        )
    if "name" not in data:
        raise InvalidInput(where, "'name' is a required property")
    name = data["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise InvalidInput(f"{where}.name", "must be a string of 1 to 256 characters", name)
    if not name.strip():
        # Nova strips the name and keeps an empty one, which no flavor can sensibly name.
        raise InvalidInput(f"{where}.name", "must not be blank", name)
    capability_type = _string(data, "capability_type", where)
    if capability_type not in (None, "pci"):
        raise InvalidInput(f"{where}.capability_type", "must be 'pci'", capability_type)
    spec = AliasSpec(
        vendor_id=_id(data, "vendor_id", where),
        product_id=_id(data, "product_id", where),
        dev_type=_device_type(data, where),
        capability_type=capability_type,
        resource_class=_string(data, "resource_class", where),
        traits=_string(data, "traits", where),
        live_migratable=_live_migratable(data, where),
    )
    policy = parse_numa_policy(data.get("numa_policy"), where=f"{where}.numa_policy")
    return name.strip(), policy, spec


def _load(value: str | Mapping[str, object], where: str) -> Mapping[str, object]:
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise InvalidInput(where, f"is not valid JSON ({exc})", value) from None
    else:
        data = value
    if not isinstance(data, Mapping):
        raise InvalidInput(where, "must be a JSON object", data)
    return data


def _string(data: Mapping[str, object], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{where}.{key}", "must be a string", value)
    return value


def _id(data: Mapping[str, object], key: str, where: str) -> str | None:
    value = _string(data, key, where)
    if value is None:
        return None
    # Stricter than device_spec on purpose (Nova's schema): exactly four hex digits, no "0x".
    if not _ID.fullmatch(value):
        raise InvalidInput(f"{where}.{key}", "must be exactly 4 hex digits, e.g. 8086", value)
    return value.lower()


def _device_type(data: Mapping[str, object], where: str) -> DevType | None:
    value = _string(data, "device_type", where)
    if value is None:
        return None
    try:
        return DevType(value)
    except ValueError:
        allowed = ", ".join(str(t) for t in DevType)
        raise InvalidInput(f"{where}.device_type", f"must be one of {allowed}", value) from None


def _live_migratable(data: Mapping[str, object], where: str) -> str | None:
    value = data.get("live_migratable")
    if value is None:
        return None
    if isinstance(value, bool):  # a JSON boolean means what its string form means
        return "true" if value else "false"
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.live_migratable", "must be a string", value)
    word = value.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return "true" if word in TRUE_WORDS else "false"
    raise InvalidInput(
        f"{where}.live_migratable",
        f"unrecognized value '{value}', acceptable values are: {BOOL_WORDS}",
    )


def parse_numa_policy(value: object, *, where: str = NUMA_EXTRA_SPEC) -> NumaPolicy:
    """A NUMA affinity policy; none given means ``legacy``."""
    if value is None:
        return NumaPolicy.LEGACY
    try:
        return NumaPolicy(str(value) if isinstance(value, str) else "")
    except ValueError:
        allowed = ", ".join(str(p) for p in NumaPolicy)
        raise InvalidInput(
            where, f"invalid PCI NUMA affinity: must be one of {allowed}", value
        ) from None


def parse_alias_counts(text: str, *, where: str = ALIAS_EXTRA_SPEC) -> tuple[tuple[str, int], ...]:
    """``"x540vf:2, other:1"``: each alias name with its device count (0 is allowed)."""
    if not _COUNTS.fullmatch(text):
        raise InvalidInput(where, "must be <alias>:<count>[, <alias>:<count> ...]", text)
    counts = []
    for item in text.split(","):
        name, sep, count = item.partition(":")
        if not sep or not count.strip().isdigit():
            raise InvalidInput(where, "must be <alias>:<count>[, <alias>:<count> ...]", text)
        counts.append((name.strip(), int(count)))
    return tuple(counts)


def parse_flavor_extra_specs(
    extra_specs: Mapping[str, str], aliases: Sequence[Alias]
) -> tuple[PciRequest, ...]:
    """The PCI requests a flavor's extra specs make (none without ``pci_passthrough:alias``)."""
    flavor_policy = extra_specs.get(NUMA_EXTRA_SPEC)
    policy = None if flavor_policy is None else parse_numa_policy(flavor_policy)
    text = extra_specs.get(ALIAS_EXTRA_SPEC)
    if text is None:
        return ()
    by_name = {a.name: a for a in aliases}
    requests = []
    for name, count in parse_alias_counts(text):
        alias = by_name.get(name)
        if alias is None:
            raise InvalidInput(ALIAS_EXTRA_SPEC, f"PCI alias {name} is not defined", text)
        # The flavor's policy overrides the alias's own.
        requests.append(PciRequest(alias, count, policy or alias.numa_policy))
    return tuple(requests)
