# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Fleet descriptions: validate, generate and plan enrollment (pure Python, no cloud).

A fleet is a list of node entries. The whole list is validated before anything changes so one
typo never leaves a half-enrolled fleet; every bad entry is reported in one error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_states, secret_values

INTERFACE_FIELDS = (
    "bios_interface", "boot_interface", "console_interface", "deploy_interface",
    "firmware_interface", "inspect_interface", "management_interface", "network_interface",
    "power_interface", "raid_interface", "rescue_interface", "storage_interface", "vendor_interface",
)
# Node fields compared and patched on existing nodes.
SCALAR_FIELDS = ("driver", "resource_class", "conductor_group", "description", "owner", "lessee",
                 "shard") + INTERFACE_FIELDS
DICT_FIELDS = ("driver_info", "properties", "extra")
ALLOWED_FIELDS = frozenset(("name", "uuid", "traits", "ports", "macs") + SCALAR_FIELDS + DICT_FIELDS)

MASKED = "******"  # how Ironic returns secrets in driver_info
_NAME_RE = re.compile(r"^[A-Za-z0-9\-._~]{1,255}$")
_RESOURCE_CLASS_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
_TRAIT_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")
_CONDUCTOR_GROUP_RE = re.compile(r"^[A-Za-z0-9_\-.]{0,255}$")
_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PORT_FIELDS = frozenset(("address", "pxe_enabled", "physical_network", "local_link_connection", "extra"))
_INT_PROPERTIES = ("cpus", "memory_mb", "local_gb")


class FleetError(ValueError):
    """The fleet description is invalid; `problems` lists every bad entry."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid fleet description (nothing was changed): " + "; ".join(problems))


@dataclass
class NodeSpec:
    """One validated node entry, normalised."""

    name: str
    fields: dict[str, Any]
    traits: list[str] | None = None
    macs: list[str] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)


def is_secret_key(key: str) -> bool:
    """Whether a driver_info key holds a secret (BMC passwords, SNMP communities, keys)."""
    return secret_values.is_secret_key(key)


def normalize_mac(mac: Any) -> str:
    return str(mac).strip().lower().replace("-", ":")


def _label(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"nodes[{index}]" + (f" ({name})" if name else "")


def _check_entry(index: int, entry: Any) -> tuple[list[str], NodeSpec | None]:
    label = _label(index, entry)
    if not isinstance(entry, dict):
        return [f"{label}: must be a mapping with at least name and driver, got {type(entry).__name__}"], None
    problems: list[str] = []
    unknown = sorted(set(entry) - ALLOWED_FIELDS)
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(unknown)} "
                        f"(allowed: {', '.join(sorted(ALLOWED_FIELDS))})")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.append(f"{label}: name is required and may only contain letters, digits and -._~ "
                        f"(got {name!r})")
    if _UUID_RE.match(str(name or "").lower()):
        problems.append(f"{label}: name must not look like a UUID; put it in 'uuid' instead")
    driver = entry.get("driver")
    if not isinstance(driver, str) or not driver.strip():
        problems.append(f"{label}: driver is required (for example 'ipmi', 'redfish' or 'fake-hardware')")
    if "uuid" in entry and not _UUID_RE.match(str(entry["uuid"]).lower()):
        problems.append(f"{label}: uuid {entry['uuid']!r} is not a UUID")
    rc = entry.get("resource_class")
    if rc is not None and (not isinstance(rc, str) or not _RESOURCE_CLASS_RE.match(rc)):
        problems.append(f"{label}: resource_class {rc!r} is invalid: use 1-80 letters, digits or _.- "
                        f"(for example 'baremetal')")
    cg = entry.get("conductor_group")
    if cg is not None and (not isinstance(cg, str) or not _CONDUCTOR_GROUP_RE.match(cg)):
        problems.append(f"{label}: conductor_group {cg!r} is invalid: use letters, digits or _.-")
    for key in DICT_FIELDS:
        if key in entry and entry[key] is not None and not isinstance(entry[key], dict):
            problems.append(f"{label}: {key} must be a mapping")
    props = entry.get("properties") or {}
    if isinstance(props, dict):
        for key in _INT_PROPERTIES:
            value = props.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                problems.append(f"{label}: properties.{key} must be a non-negative integer (got {value!r})")
    traits = entry.get("traits")
    if traits is not None:
        if not isinstance(traits, list):
            problems.append(f"{label}: traits must be a list")
            traits = None
        else:
            bad = [t for t in traits if not isinstance(t, str) or not _TRAIT_RE.match(t)]
            if bad:
                problems.append(f"{label}: invalid trait(s) {bad}: use upper-case names such as CUSTOM_GPU")
    ports: list[dict[str, Any]] = []
    raw_ports = entry.get("ports") or []
    if not isinstance(raw_ports, list):
        problems.append(f"{label}: ports must be a list of mappings with an 'address'")
        raw_ports = []
    for pi, port in enumerate(raw_ports):
        if isinstance(port, str):
            port = {"address": port}
        if not isinstance(port, dict) or "address" not in port:
            problems.append(f"{label}: ports[{pi}] must be a mapping with an 'address' (a MAC)")
            continue
        extra_keys = sorted(set(port) - _PORT_FIELDS)
        if extra_keys:
            problems.append(f"{label}: ports[{pi}] unknown field(s) {', '.join(extra_keys)} "
                            f"(allowed: {', '.join(sorted(_PORT_FIELDS))})")
        ports.append(dict(port, address=normalize_mac(port["address"]), _given=port["address"]))
    raw_macs = entry.get("macs") or []
    if not isinstance(raw_macs, list):
        problems.append(f"{label}: macs must be a list of MAC addresses")
        raw_macs = []
    ports.extend({"address": normalize_mac(m), "_given": m} for m in raw_macs)
    for port in ports:
        given = port.pop("_given")
        if not _MAC_RE.match(port["address"]):
            problems.append(f"{label}: macs/ports: {given!r} is not a MAC address; write it as aa:bb:cc:dd:ee:ff")
    if problems:
        return problems, None
    fields = {k: entry[k] for k in SCALAR_FIELDS + DICT_FIELDS + ("uuid",) if entry.get(k) is not None}
    spec = NodeSpec(name=name, fields=fields, traits=sorted(set(traits)) if traits is not None else None,
                    macs=[p["address"] for p in ports], ports=ports)
    return [], spec


def validate_fleet(entries: Any) -> list[NodeSpec]:
    """Validate a whole fleet; raise FleetError listing every problem, or return normalised specs."""
    if not isinstance(entries, list):
        raise FleetError([f"nodes must be a list of node mappings, got {type(entries).__name__}"])
    problems: list[str] = []
    specs: list[NodeSpec] = []
    seen_names: dict[str, int] = {}
    seen_macs: dict[str, str] = {}
    seen_uuids: dict[str, int] = {}
    for index, entry in enumerate(entries):
        errs, spec = _check_entry(index, entry)
        problems.extend(errs)
        # Duplicates are checked on every entry, valid or not, so one error lists them all.
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen_names:
                problems.append(f"nodes[{index}] ({name}): duplicate name, also nodes[{seen_names[name]}]: "
                                "give each node its own name")
            seen_names.setdefault(name, index)
        if spec is None:
            continue
        uuid = spec.fields.get("uuid")
        if uuid:
            if uuid in seen_uuids:
                problems.append(f"nodes[{index}] ({spec.name}): duplicate uuid {uuid}: give each node its own uuid")
            seen_uuids.setdefault(uuid, index)
        for mac in spec.macs:
            if mac in seen_macs:
                problems.append(f"nodes[{index}] ({spec.name}): duplicate MAC {mac}, also on {seen_macs[mac]}: "
                                "a MAC address belongs to one node only")
            seen_macs.setdefault(mac, spec.name)
        specs.append(spec)
    if problems:
        raise FleetError(problems)
    return specs


def generate_fleet(count: int, name_prefix: str = "node-", driver: str = "fake-hardware",
                   resource_class: str = "baremetal", properties: dict | None = None,
                   mac_prefix: str = "52:54:00", start: int = 1, width: int = 3,
                   conductor_groups: list[str] | None = None, traits: list[str] | None = None,
                   driver_info: dict | None = None) -> list[dict[str, Any]]:
    """N node entries with deterministic names and MACs (for demos, tests and benchmarks)."""
    if not isinstance(count, int) or count < 0:
        raise FleetError([f"generate.count must be a non-negative integer (got {count!r})"])
    if count + start > 0xFFFFFF:
        raise FleetError([f"generate.count {count} is too large for unique MACs under {mac_prefix}"])
    props = {"cpus": 8, "memory_mb": 65536, "local_gb": 100, "cpu_arch": "x86_64"}
    props.update(properties or {})
    nodes = []
    for i in range(start, start + count):
        mac_tail = ":".join(f"{(i >> s) & 0xFF:02x}" for s in (16, 8, 0))
        entry: dict[str, Any] = {
            "name": f"{name_prefix}{i:0{width}d}",
            "driver": driver,
            "resource_class": resource_class,
            "properties": dict(props),
            "macs": [f"{mac_prefix}:{mac_tail}"],
        }
        if driver_info:
            entry["driver_info"] = dict(driver_info)
        if traits:
            entry["traits"] = list(traits)
        if conductor_groups:
            entry["conductor_group"] = conductor_groups[(i - start) % len(conductor_groups)]
        nodes.append(entry)
    return nodes


def _dict_changes(path: str, desired: dict, current: dict | None) -> list[dict[str, Any]]:
    """JSON-patch ops setting only the desired keys (others on the node are left alone)."""
    current = current or {}
    ops = []
    for key, value in sorted(desired.items()):
        have = current.get(key, None)
        if key in current and (have == value or (have == MASKED and value is not None)):
            continue  # equal, or a secret Ironic masks (we cannot compare it)
        ops.append({"op": "add", "path": f"/{path}/{key}", "value": value})
    return ops


def node_patch(spec: NodeSpec, current: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON patch that makes an existing node match `spec` (empty when it already does)."""
    ops: list[dict[str, Any]] = []
    for key in SCALAR_FIELDS:
        if key in spec.fields and spec.fields[key] != current.get(key):
            ops.append({"op": "replace" if current.get(key) is not None else "add",
                        "path": f"/{key}", "value": spec.fields[key]})
    for key in DICT_FIELDS:
        if key in spec.fields:
            ops.extend(_dict_changes(key, spec.fields[key], current.get(key)))
    return ops


def traits_change(spec: NodeSpec, current_traits: list[str] | None) -> list[str] | None:
    """The full trait list to set, or None when unchanged / not managed."""
    if spec.traits is None:
        return None
    return spec.traits if sorted(set(current_traits or [])) != spec.traits else None


def missing_ports(spec: NodeSpec, existing_macs: set[str]) -> list[dict[str, Any]]:
    return [p for p in spec.ports if p["address"] not in existing_macs]


@dataclass
class EnrollPlan:
    """What enrollment will do, node by node."""

    create: list[str] = field(default_factory=list)
    update: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    traits: dict[str, list[str]] = field(default_factory=dict)
    ports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


def plan_enroll(specs: list[NodeSpec], existing: dict[str, dict[str, Any]],
                port_owner: dict[str, str]) -> EnrollPlan:
    """Plan creates/updates. `existing` maps node name → node fields; `port_owner` maps MAC → node
    name (or UUID) currently owning that MAC in Ironic."""
    plan = EnrollPlan()
    for spec in specs:
        current = existing.get(spec.name)
        for port in spec.ports:
            owner = port_owner.get(port["address"])
            if owner is not None and owner != spec.name:
                plan.conflicts.append(f"{spec.name}: MAC {port['address']} already belongs to node {owner}")
        if current is None:
            plan.create.append(spec.name)
            if spec.traits:
                plan.traits[spec.name] = spec.traits
            if spec.ports:
                plan.ports[spec.name] = spec.ports
            continue
        ops = node_patch(spec, current)
        if ops:
            plan.update[spec.name] = ops
        traits = traits_change(spec, current.get("traits"))
        if traits is not None:
            plan.traits[spec.name] = traits
        owned = {mac for mac, owner in port_owner.items() if owner == spec.name}
        new_ports = missing_ports(spec, owned)
        if new_ports:
            plan.ports[spec.name] = new_ports
    return plan


# Provision-state steps towards the target (enroll → manageable → available).
def next_action(provision_state: str | None, target: str) -> str | None:
    """The provision action to take next for a node in `provision_state`, or None when there is
    nothing for enrollment to do (target reached, transient state to wait on, or a state that is
    someone else's business such as active)."""
    if target == "manageable":
        return {"enroll": "manage", "available": "manage"}.get(provision_state or "")
    return {"enroll": "manage", "manageable": "provide"}.get(provision_state or "")


TRANSIENT = ironic_states.ENROLL_SETTLING


def enroll_outcome(provision_state: str | None, target: str, last_error: str | None,
                   action_taken: bool) -> str:
    """'done' | 'wait' | 'failed' | 'other' for a node after enrollment actions."""
    if provision_state == target:
        return "done"
    if provision_state in TRANSIENT:
        return "wait"
    if provision_state in ("enroll", "manageable") and next_action(provision_state, target):
        # Back in enroll with an error means verification failed.
        return "failed" if last_error and action_taken else "wait"
    if provision_state and provision_state.endswith("failed"):
        return "failed"
    return "other"


# Node fields newer than the lifecycle's base API version 1.52: a fleet that uses them asks for the
# version they need (listing with fields= or sending an unknown field is refused otherwise).
FIELD_MICROVERSIONS = {"lessee": (1, 65), "shard": (1, 82), "firmware_interface": (1, 86)}
BASE_MICROVERSION = (1, 52)
# What enrollment reads from every node of the fleet, and per poll tick while waiting.
LIST_FIELDS = ("uuid", "name", "provision_state", "target_provision_state", "last_error", "power_state",
               "maintenance", "traits") + SCALAR_FIELDS + DICT_FIELDS
POLL_FIELDS = ("uuid", "name", "provision_state", "target_provision_state", "last_error", "power_state")


def used_fields(specs: list[NodeSpec]) -> set[str]:
    return {key for spec in specs for key in spec.fields}


def microversion_for(fields: set[str]) -> str:
    """The bare metal API version enrollment needs for these node fields."""
    major, minor = max([BASE_MICROVERSION] + [FIELD_MICROVERSIONS[f] for f in fields if f in FIELD_MICROVERSIONS])
    return f"{major}.{minor}"


def list_fields(fields: set[str]) -> tuple[str, ...]:
    """LIST_FIELDS without the newer fields the fleet does not use (an older API lacks them)."""
    return tuple(f for f in LIST_FIELDS if f not in FIELD_MICROVERSIONS or f in fields)


def _lookup(node: dict, dotted: str) -> Any:
    if dotted == "ports(new)":
        return []
    value: Any = node
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def enroll_diff(specs: list[NodeSpec], plan: EnrollPlan, current: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ansible's --diff: the whole entry for new nodes, before/after of the changed keys otherwise."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for spec in specs:
        if spec.name in plan.create:
            after[spec.name] = dict(spec.fields, traits=spec.traits, ports=[p["address"] for p in spec.ports])
            continue
        changes = {}
        for op in plan.update.get(spec.name, []):
            changes[op["path"].lstrip("/").replace("/", ".")] = op["value"]
        if spec.name in plan.traits:
            changes["traits"] = plan.traits[spec.name]
        if spec.name in plan.ports:
            changes["ports(new)"] = [p["address"] for p in plan.ports[spec.name]]
        if changes:
            before[spec.name] = {k: _lookup(current[spec.name], k) for k in changes}
            after[spec.name] = changes
    return dict(before=before, after=after)
