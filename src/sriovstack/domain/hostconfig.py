"""A host's SR-IOV configuration in Nova's and Neutron's own syntax: a TOML file or a local.conf."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sriovstack.domain.alias import Alias, parse_aliases
from sriovstack.domain.devspec import (
    DeviceSpec,
    DeviceSpecList,
    device_specs_from_data,
    parse_device_spec,
)
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.mappings import (
    DeviceMappings,
    ExcludedDevices,
    NetworkVlanRanges,
    SriovAgentConfig,
    VendorDevs,
    devstack_vlan_ranges,
    parse_device_mappings,
    parse_exclude_devices,
    parse_network_vlan_ranges,
    parse_vendor_devs,
)

SECTIONS: Mapping[str, tuple[str, ...]] = {
    "pci": ("device_spec", "passthrough_whitelist", "alias"),
    "sriov_nic": ("physical_device_mappings", "exclude_devices"),
    "ml2_sriov": ("supported_pci_vendor_devs",),
    "ml2_type_vlan": ("network_vlan_ranges",),
    "FDB": ("shared_physical_device_mappings",),
}
"""What a host configuration file may hold, by section (as in nova.conf and Neutron's files)."""

FDB_WHERE = "[FDB] shared_physical_device_mappings"
"""The OVS agent's FDB extension option (Newton): PFs whose FDB gets co-resident ports' MACs."""

SPEC_NAMES = (("pci", "device_spec"), ("pci", "passthrough_whitelist"))
"""``device_spec`` and its name before Zed (26); local.conf may also use Havana's ``[DEFAULT]``."""


@dataclass(frozen=True, slots=True)
class HostConfig:
    """What a host offers (device specs), what flavors may ask (aliases), what Neutron serves."""

    device_specs: DeviceSpecList = field(default_factory=DeviceSpecList)
    aliases: tuple[Alias, ...] = ()
    agent: SriovAgentConfig = field(default_factory=SriovAgentConfig)
    supported_pci_vendor_devs: VendorDevs | None = None  # None: not set, nothing is refused
    network_vlan_ranges: NetworkVlanRanges = field(default_factory=NetworkVlanRanges)
    # Independent of [sriov_nic]: in Neutron the OVS agent reads it, and a shared PF need not
    # be one the SR-IOV agent maps.
    fdb_mappings: DeviceMappings = field(default_factory=DeviceMappings)

    @property
    def device_mappings(self) -> DeviceMappings:
        return self.agent.device_mappings

    @property
    def exclude_devices(self) -> ExcludedDevices:
        return self.agent.exclude_devices


# ------------------------------------------------------------------------------ TOML


def parse_host_config(text: str, *, source: str = "host config") -> HostConfig:
    """A host configuration file (TOML); device specs and aliases as JSON text or tables."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(source, f"is not valid TOML ({exc})") from None
    for section, body in data.items():
        if section not in SECTIONS:
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise InvalidInput(f"[{section}]", f"is not a known section; known: {known}")
        if not isinstance(body, Mapping):
            raise InvalidInput(f"[{section}]", "must be a table")
        for key in body:
            if key not in SECTIONS[section]:
                known = ", ".join(SECTIONS[section])
                raise InvalidInput(f"[{section}] {key}", f"is not a known key; known: {known}")
    pci = data.get("pci", {})
    nic = data.get("sriov_nic", {})
    vendor_devs = data.get("ml2_sriov", {}).get("supported_pci_vendor_devs")
    vlan_ranges = data.get("ml2_type_vlan", {}).get("network_vlan_ranges")
    fdb = data.get("FDB", {}).get("shared_physical_device_mappings")
    return HostConfig(
        device_specs=_toml_specs(pci),
        aliases=_toml_aliases(pci.get("alias")),
        agent=_agent(nic.get("physical_device_mappings"), nic.get("exclude_devices")),
        supported_pci_vendor_devs=None
        if vendor_devs is None
        else parse_vendor_devs(vendor_devs, where="[ml2_sriov] supported_pci_vendor_devs"),
        network_vlan_ranges=NetworkVlanRanges()
        if vlan_ranges is None
        else parse_network_vlan_ranges(vlan_ranges, where="[ml2_type_vlan] network_vlan_ranges"),
        fdb_mappings=_fdb_mappings(fdb),
    )


def _toml_specs(pci: Mapping[str, object]) -> DeviceSpecList:
    given = [key for key in ("device_spec", "passthrough_whitelist") if key in pci]
    if len(given) > 1:
        raise InvalidInput(
            "[pci] passthrough_whitelist",
            "is device_spec's old name: give one of them, not both",
        )
    if not given:
        return DeviceSpecList()
    key = given[0]
    value = pci[key]
    items = value if isinstance(value, list) else [value]
    specs: list[DeviceSpec] = []
    for i, item in enumerate(items):
        where = f"[pci] {key}[{i}]" if isinstance(value, list) else f"[pci] {key}"
        if isinstance(item, str):
            specs.extend(parse_device_spec(item, where=where))
        else:
            specs.extend(device_specs_from_data(item, where=where))
    return DeviceSpecList(tuple(specs))


def _toml_aliases(value: object) -> tuple[Alias, ...]:
    if value is None:
        return ()
    items: list[str | Mapping[str, object]] = []
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        if not isinstance(item, str | Mapping):
            raise InvalidInput(f"[pci] alias[{i}]", "must be JSON text or a table", item)
        items.append(item)
    return parse_aliases(items, where="[pci] alias")


def _agent(
    mappings: object,
    excluded: object,
    *,
    mappings_where: str = "[sriov_nic] physical_device_mappings",
    excluded_where: str = "[sriov_nic] exclude_devices",
) -> SriovAgentConfig:
    return SriovAgentConfig(
        device_mappings=DeviceMappings()
        if mappings is None
        else parse_device_mappings(_list_value(mappings, mappings_where), where=mappings_where),
        exclude_devices=ExcludedDevices()
        if excluded is None
        else parse_exclude_devices(_list_value(excluded, excluded_where), where=excluded_where),
    )


def _fdb_mappings(value: object) -> DeviceMappings:
    # Neutron parses it as physical_device_mappings is parsed: parse_mappings(unique_keys=False).
    if value is None:
        return DeviceMappings()
    return parse_device_mappings(_list_value(value, FDB_WHERE), where=FDB_WHERE)


def _list_value(value: object, where: str) -> str | Sequence[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidInput(where, "must be comma-separated text or a list of strings", value)


# ------------------------------------------------------------------------- local.conf

_META = re.compile(r"\[\[\s*([^|\]]+?)\s*\|\s*([^\]]+?)\s*\]\]")
_SECTION = re.compile(r"\[\s*([^\]]+?)\s*\]")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ESCAPED_QUOTE = re.compile(r'\\+"')

LOCALRC_KEYS = (
    "PHYSICAL_DEVICE_MAPPINGS",
    "PHYSICAL_NETWORK",
    "TENANT_VLAN_RANGE",
    "ML2_VLAN_RANGES",
)
"""The DevStack variables read from ``[[local|localrc]]``; every other line is left alone."""

JSON_KEYS = (
    ("DEFAULT", "pci_passthrough_whitelist"),
    ("DEFAULT", "pci_alias"),
    ("pci", "passthrough_whitelist"),
    ("pci", "device_spec"),
    ("pci", "alias"),
)
"""nova.conf options whose values are JSON, read with the talk's slides' escaping undone."""


def parse_local_conf(text: str) -> HostConfig:
    """DevStack's local.conf, as the talk writes it: localrc variables and post-config options.

    Lines before the first ``[[...]]`` header are read as localrc, as in the talk's main slides.
    """
    localrc: dict[str, str] = {}
    ini: dict[tuple[str, str], list[str]] = {}
    lines = text.splitlines()
    meta = ("local", "localrc")
    section: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if header := _META.fullmatch(line):
            meta, section = (header[1], header[2]), None
        elif meta == ("local", "localrc"):
            _shell_line(line, localrc)
        elif header := _SECTION.fullmatch(line):
            section = header[1]
            # oslo.config lowercases group names, so Neutron reads [fdb] as [FDB]; taking it
            # here too keeps a lower-case section from being silently ignored.
            if section.lower() == "fdb":
                section = "FDB"
        elif section is not None and "=" in line:
            key, _, value = (part.strip() for part in line.partition("="))
            if (section, key) in JSON_KEYS:
                # A value the slides wrapped onto the next line continues until its braces close.
                while value.count("{") > value.count("}") and i < len(lines):
                    value += lines[i].strip()
                    i += 1
                value = _unescape(value)
            ini.setdefault((section, key), []).append(value)
    return _local_conf_config(ini, localrc)


def _shell_line(line: str, localrc: dict[str, str]) -> None:
    assign = _ASSIGN.fullmatch(line)
    if assign is None or assign[1] not in LOCALRC_KEYS:
        return  # commands (enable_plugin ...) and variables sriovstack does not use
    name, append, raw = assign[1], assign[2], assign[3]
    try:
        words = shlex.split(raw, comments=True)
    except ValueError as exc:
        raise InvalidInput(
            f"local.conf {name}", f"is not a valid shell word ({exc})", raw
        ) from None
    if len(words) > 1:
        raise InvalidInput(f"local.conf {name}", "must be one shell word (quote it)", raw)
    value = _expand(words[0] if words else "", localrc, name)
    localrc[name] = localrc.get(name, "") + value if append else value


def _expand(value: str, localrc: Mapping[str, str], name: str) -> str:
    def variable(match: re.Match[str]) -> str:
        ref = match[1] or match[2]
        if ref not in localrc:
            raise InvalidInput(
                f"local.conf {name}", f"refers to ${ref}, which local.conf does not set earlier"
            )
        return localrc[ref]

    return _VARIABLE.sub(variable, value)


def _unescape(value: str) -> str:
    """The talk's ``{"name\\\\":\\\\"x540vf\\\\"}``: every backslash run before a quote goes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]  # a shell-quoted value
    return _ESCAPED_QUOTE.sub('"', value)


def _local_conf_config(
    ini: Mapping[tuple[str, str], list[str]], localrc: Mapping[str, str]
) -> HostConfig:
    mappings = _last(ini, "sriov_nic", "physical_device_mappings")
    vlan_ranges = _last(ini, "ml2_type_vlan", "network_vlan_ranges")
    vendor_devs = _last(ini, "ml2_sriov", "supported_pci_vendor_devs")
    return HostConfig(
        device_specs=_ini_specs(ini),
        aliases=_ini_aliases(ini),
        # post-config runs after DevStack wrote the localrc value, so an explicit option wins.
        agent=_agent(
            mappings if mappings is not None else localrc.get("PHYSICAL_DEVICE_MAPPINGS"),
            _last(ini, "sriov_nic", "exclude_devices"),
            mappings_where="[sriov_nic] physical_device_mappings"
            if mappings is not None
            else "PHYSICAL_DEVICE_MAPPINGS",
        ),
        supported_pci_vendor_devs=None
        if vendor_devs is None
        else parse_vendor_devs(vendor_devs, where="[ml2_sriov] supported_pci_vendor_devs"),
        network_vlan_ranges=_local_vlan_ranges(vlan_ranges, localrc),
        fdb_mappings=_fdb_mappings(_last(ini, "FDB", "shared_physical_device_mappings")),
    )


def _last(ini: Mapping[tuple[str, str], list[str]], section: str, key: str) -> str | None:
    values = ini.get((section, key))
    return values[-1] if values else None


def _ini_specs(ini: Mapping[tuple[str, str], list[str]]) -> DeviceSpecList:
    names = [*SPEC_NAMES, ("DEFAULT", "pci_passthrough_whitelist")]
    given = [name for name in names if name in ini]
    if len(given) > 1:
        shown = " and ".join(f"[{s}] {k}" for s, k in given)
        raise InvalidInput(shown, "name the same option (device_spec): give only one of them")
    if not given:
        return DeviceSpecList()
    section, key = given[0]
    values = ini[given[0]]
    specs: list[DeviceSpec] = []
    for i, value in enumerate(values):
        where = f"[{section}] {key}" + (f"[{i}]" if len(values) > 1 else "")
        specs.extend(parse_device_spec(value, where=where))
    return DeviceSpecList(tuple(specs))


def _ini_aliases(ini: Mapping[tuple[str, str], list[str]]) -> tuple[Alias, ...]:
    given = [name for name in (("pci", "alias"), ("DEFAULT", "pci_alias")) if name in ini]
    if len(given) > 1:
        raise InvalidInput(
            "[DEFAULT] pci_alias", "is [pci] alias's old name: give one of them, not both"
        )
    if not given:
        return ()
    section, key = given[0]
    return parse_aliases(ini[given[0]], where=f"[{section}] {key}")


def _local_vlan_ranges(option: str | None, localrc: Mapping[str, str]) -> NetworkVlanRanges:
    if option is not None:
        return parse_network_vlan_ranges(option, where="[ml2_type_vlan] network_vlan_ranges")
    if localrc.get("ML2_VLAN_RANGES"):
        # DevStack uses ML2_VLAN_RANGES as given, ignoring PHYSICAL_NETWORK/TENANT_VLAN_RANGE.
        return parse_network_vlan_ranges(localrc["ML2_VLAN_RANGES"], where="ML2_VLAN_RANGES")
    return devstack_vlan_ranges(localrc.get("PHYSICAL_NETWORK"), localrc.get("TENANT_VLAN_RANGE"))
