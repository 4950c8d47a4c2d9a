# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What the `ironwave.baremetal.ironic` inventory makes of an Ironic node listing (pure).

Decides which nodes become hosts (filters), under which name, with which host variables (the
node's fields under a prefix, secrets masked) and in which groups (provision state, resource
class, conductor group, shard, traits, maintenance, owning nova-compute host). Kept apart from the
plugin so the rules are unit-tested without Ansible or a cloud. Masking happens here, before the
plugin caches anything: a secret must never reach the inventory cache file or `--list` output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, secret_values

try:  # optional: only the `filter` option needs it
    import jmespath
    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - depends on the environment
    jmespath = None
    HAS_JMESPATH = False

MASK = "********"
DEFAULT_VARS_PREFIX = "ironic_"
# Node fields whose values are BMC credentials, image tokens and the like: masked by key.
MASKED_FIELDS = ("driver_info", "instance_info", "driver_internal_info")
# Keys that match a secret word but only name files/images (never a credential).
SAFE_KEYS = frozenset({"deploy_kernel", "deploy_ramdisk", "rescue_kernel", "rescue_ramdisk", "kernel",
                       "ramdisk", "bootloader"})

# Group kinds, in the order the groups are added; each maps to (node field, group prefix).
GROUP_KINDS = ("provision_state", "resource_class", "conductor_group", "shard", "traits", "maintenance",
               "compute_host")
DEFAULT_GROUP_BY = ("provision_state", "resource_class", "conductor_group", "shard", "traits",
                    "maintenance")
_GROUP_PREFIX = {
    "provision_state": "ironic_state_",
    "resource_class": "ironic_rc_",
    "conductor_group": "ironic_group_",
    "shard": "ironic_shard_",
    "traits": "ironic_trait_",
    "compute_host": "ironic_compute_",
}
MAINTENANCE_GROUP = "ironic_maintenance"

_UNSAFE = re.compile(r"[^a-z0-9_]+")


def sanitize(text: Any) -> str:
    """A valid Ansible group-name part: lower case, every run of other characters one `_`
    ("wait call-back" -> "wait_call_back", "CUSTOM_GPU" -> "custom_gpu")."""
    return _UNSAFE.sub("_", str(text).lower()).strip("_")


def group_name(kind: str, value: Any) -> str | None:
    """The group of one value of one kind, or None when the value gives no group (empty)."""
    if kind == "maintenance":
        return MAINTENANCE_GROUP if value else None
    if kind not in _GROUP_PREFIX:
        raise errors.BadInput(f"group_by: unknown group kind {kind!r}; use some of {', '.join(GROUP_KINDS)}")
    part = sanitize(value) if value not in (None, "") else ""
    return f"{_GROUP_PREFIX[kind]}{part}" if part else None


def host_name(node: dict) -> str:
    """inventory_hostname: the node's name, else its UUID (names are unique in Ironic)."""
    return str(node.get("name") or node["uuid"])


def node_groups(node: dict, group_by: Iterable[str] = DEFAULT_GROUP_BY,
                compute_host: str | None = None) -> list[str]:
    """Every group the node belongs to, in GROUP_KINDS order, without duplicates. An empty
    conductor group (Ironic's default group), no shard, no resource class give no group."""
    wanted = set(group_by)
    unknown = wanted - set(GROUP_KINDS)
    if unknown:
        raise errors.BadInput(f"group_by: unknown group kind(s) {', '.join(sorted(unknown))}; "
                              f"use some of {', '.join(GROUP_KINDS)}")
    out: list[str] = []
    for kind in GROUP_KINDS:
        if kind not in wanted:
            continue
        if kind == "traits":
            values: list[Any] = list(node.get("traits") or [])
        elif kind == "compute_host":
            values = [compute_host]
        else:
            values = [node.get(kind)]
        for value in values:
            name = group_name(kind, value)
            if name and name not in out:
                out.append(name)
    return out


def is_masked_key(key: Any) -> bool:
    """A driver_info / instance_info key holding a secret (the collection's one classifier)."""
    return str(key).lower() not in SAFE_KEYS and secret_values.is_secret_key(key)


def mask_secrets(value: Any) -> Any:
    """A copy with every value under a secret key (at any depth) replaced by MASK."""
    if isinstance(value, dict):
        return {k: (MASK if is_masked_key(k) and v not in (None, "") else mask_secrets(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def mask_node(node: dict) -> dict:
    """The node with the secrets of MASKED_FIELDS masked (other fields untouched)."""
    return {k: (mask_secrets(v) if k in MASKED_FIELDS else v) for k, v in node.items()}


def host_vars(node: dict, prefix: str = DEFAULT_VARS_PREFIX) -> dict:
    """The node's fields as host variables under `prefix` (ironic_uuid, ironic_provision_state, ...);
    `links` (API self-links) are left out. Expects an already masked node."""
    return {f"{prefix}{k}": v for k, v in node.items() if k != "links"}


def compile_filter(expression: str | None) -> Callable[[dict], bool] | None:
    """The `filter` option as a predicate on a node dict (truthy result keeps the node)."""
    if not expression:
        return None
    if not HAS_JMESPATH:
        raise errors.BadInput("filter: needs the Python library jmespath on the controller "
                              "(pip install jmespath), or remove the filter option")
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise errors.BadInput(f"filter: {expression!r} is not a valid JMESPath expression ({exc}); "
                              "example: \"maintenance == `false` && contains(traits, 'CUSTOM_GPU')\"") from exc
    return lambda node: bool(compiled.search(node))


@dataclass(frozen=True)
class NodeFilter:
    """Which nodes become hosts: all of resource_classes / provision_states (empty = any) and the
    JMESPath `expression` must match."""

    resource_classes: tuple[str, ...] = ()
    provision_states: tuple[str, ...] = ()
    expression: str | None = None
    _predicate: Callable[[dict], bool] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, resource_classes: Iterable[str] | None = None, provision_states: Iterable[str] | None = None,
              expression: str | None = None) -> "NodeFilter":
        for name, values in (("resource_class", resource_classes), ("provision_states", provision_states)):
            if values is not None and (isinstance(values, str) or
                                       not all(isinstance(v, str) and v for v in values)):
                raise errors.BadInput(f"{name}: give a list of non-empty strings, e.g. [baremetal]")
        return cls(tuple(resource_classes or ()), tuple(provision_states or ()), expression or None,
                   compile_filter(expression))

    def matches(self, node: dict) -> bool:
        if self.resource_classes and node.get("resource_class") not in self.resource_classes:
            return False
        if self.provision_states and node.get("provision_state") not in self.provision_states:
            return False
        return self._predicate(node) if self._predicate is not None else True


def compute_hosts_by_node(hypervisors: Iterable[dict]) -> dict[str, str]:
    """Node UUID -> nova-compute service host, from GET /os-hypervisors/detail (for Ironic
    hypervisor_hostname is the node UUID)."""
    out: dict[str, str] = {}
    for hyp in hypervisors:
        node_uuid = hyp.get("hypervisor_hostname")
        host = (hyp.get("service") or {}).get("host")
        if node_uuid and host:
            out[str(node_uuid)] = str(host)
    return out


@dataclass(frozen=True)
class Host:
    """One inventory host: its name, variables and groups."""

    name: str
    variables: dict
    groups: list[str]


def plan_hosts(nodes: Iterable[dict], node_filter: NodeFilter, group_by: Iterable[str] = DEFAULT_GROUP_BY,
               prefix: str = DEFAULT_VARS_PREFIX, compute_hosts: dict[str, str] | None = None) -> list[Host]:
    """The hosts for a listing: filtered (on the masked node, so a filter cannot read a secret),
    masked, named, grouped; sorted by name for a stable inventory."""
    group_by = tuple(group_by)
    hosts: list[Host] = []
    for raw in nodes:
        node = mask_node(raw)
        if not node_filter.matches(node):
            continue
        compute = (compute_hosts or {}).get(str(node.get("uuid")))
        variables = host_vars(node, prefix)
        if compute_hosts is not None:
            variables[f"{prefix}compute_host"] = compute
        hosts.append(Host(host_name(node), variables, node_groups(node, group_by, compute)))
    return sorted(hosts, key=lambda h: h.name)
