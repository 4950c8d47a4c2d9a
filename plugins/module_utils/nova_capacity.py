# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Is there room for the servers we are about to build through Nova? (pure, stdlib only)

Nova schedules an Ironic build on a Placement provider (one per node, total 1 of the node's
normalised resource class), the nova-compute service that owns the node then claims the node in
Ironic. A build on a node that any of the three (Ironic, Placement, the owning compute service)
considers unusable ends in ERROR, so before building anything we count the nodes that ALL of them
(and no other run's pick marker) consider usable, and refuse a wave that cannot fit."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors

CUSTOM_PREFIX = "CUSTOM_"
# nova.utils.normalize_rc_name / os_resource_classes.normalize_name: runs of anything but
# [0-9A-Za-z] (underscores included) become ONE "_", then upper-case (bug 1762789), then CUSTOM_.
_NON_ALNUM_RUN = re.compile(r"[^0-9A-Za-z]+")
_RESOURCES_KEY = re.compile(r"^resources(?P<group>[^:]*):(?P<rc>CUSTOM_[A-Z0-9_]+)$")
# nova.virt.ironic.driver._node_resources_unavailable: power state error or none is unusable.
_BAD_POWER = (None, "error")

# Exclusion reasons (one per node, the first that applies, in this order).
MAINTENANCE = "maintenance"
NOT_AVAILABLE = "not_available"          # + ":<provision state>"
HAS_INSTANCE = "has_instance"
BAD_POWER = "bad_power_state"
NO_PROVIDER = "no_provider"
NO_INVENTORY = "no_inventory"
PROVIDER_FULL = "provider_full"
NO_COMPUTE = "no_compute_service"
COMPUTE_DISABLED = "compute_service_disabled"
COMPUTE_DOWN = "compute_service_down"
PICKED = "picked_by_other_run"

# What to do about each reason (the first word of the exclusion counts in the error message).
ADVICE = {
    MAINTENANCE: "take nodes out of maintenance (baremetal node maintenance unset)",
    NOT_AVAILABLE: "bring nodes to available (manage, provide/clean)",
    HAS_INSTANCE: "delete the servers that hold nodes you want back",
    BAD_POWER: "fix the nodes' power credentials (power state error or none)",
    NO_PROVIDER: "wait for nova-compute to report new nodes to Placement ([DEFAULT] update_resources_interval), "
                 "check nova-compute logs",
    NO_INVENTORY: "check the nodes' resource_class and nova-compute logs (no inventory in Placement)",
    PROVIDER_FULL: "Placement holds allocations or reservations on them: find the consumers "
                   "(openstack resource provider show --allocations) and delete stale servers",
    NO_COMPUTE: "no nova-compute service owns them: check [ironic] conductor_group/shard of the compute "
                "services, run nova-manage cell_v2 discover_hosts --by-service",
    COMPUTE_DISABLED: "enable the compute service (openstack compute service set --enable)",
    COMPUTE_DOWN: "start the nova-compute service that owns them",
    PICKED: "another run is building on them: wait for it to finish",
}


def placement_class(ironic_resource_class: str) -> str:
    """The Placement resource class Nova reports for an Ironic node's resource_class."""
    return CUSTOM_PREFIX + _NON_ALNUM_RUN.sub("_", str(ironic_resource_class)).upper()


def _amount(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def flavor_resource_class(flavor_name: str, extra_specs: Mapping | None) -> str:
    """The CUSTOM_* class a bare metal flavor asks for: exactly one `resources:CUSTOM_X=1`
    (Nova ignores amounts of 0; an Ironic provider has total 1 so any other amount never fits)."""
    found = []
    for key, value in (extra_specs or {}).items():
        match = _RESOURCES_KEY.match(str(key))
        amount = _amount(value)
        if match and amount != 0:
            found.append((key, match.group("rc"), amount))
    fix = (f"set exactly one extra spec resources:CUSTOM_<CLASS>=1 on flavor {flavor_name} "
           f"(openstack flavor set --property resources:CUSTOM_BAREMETAL=1 {flavor_name})")
    if not found:
        raise errors.BadInput(f"flavor {flavor_name} asks for no custom resource class; {fix}", flavor=flavor_name)
    if len(found) > 1:
        keys = ", ".join(sorted(item[0] for item in found))
        raise errors.BadInput(f"flavor {flavor_name} asks for several custom resource classes ({keys}); a bare "
                              f"metal flavor asks for one node; {fix}", flavor=flavor_name)
    key, rc, amount = found[0]
    if amount != 1:
        raise errors.BadInput(f"flavor {flavor_name}: {key}={extra_specs[key]!r}, but an Ironic node offers "
                              f"exactly 1 {rc}; set {key}=1", flavor=flavor_name)
    return rc


@dataclass(frozen=True)
class Capacity:
    resource_class: str
    usable: tuple = ()                     # node uuids, sorted
    placement_free: int = 0                # sum over the class's providers of capacity - used
    ironic_free: int = 0                   # available, not in maintenance, no instance
    per_compute: dict = field(default_factory=dict)           # compute service host -> usable nodes
    per_conductor_group: dict = field(default_factory=dict)   # "" = default group -> usable nodes
    excluded: dict = field(default_factory=dict)              # reason -> nodes


def provider_free(provider: Mapping) -> int | None:
    """Placement's arithmetic: (total - reserved) * allocation_ratio - used; None without inventory."""
    inv = provider.get("inventory")
    if not isinstance(inv, Mapping):
        return None
    try:
        total = int(inv.get("total") or 0)
        reserved = int(inv.get("reserved") or 0)
        ratio = float(inv.get("allocation_ratio", 1.0) or 1.0)
        used = int(provider.get("used") or 0)
    except (TypeError, ValueError):
        return None
    return int((total - reserved) * ratio) - used


def _hypervisor_index(hypervisors: Iterable[Mapping]) -> dict:
    """node uuid -> hypervisor. hypervisor_hostname is the Ironic node uuid; since compute API 2.53
    `id` is the compute node uuid, which Nova sets to the Ironic node uuid too."""
    out = {}
    for hyp in hypervisors or ():
        key = hyp.get("hypervisor_hostname") or hyp.get("id")
        if key:
            out[str(key)] = hyp
    return out


def _exclusion(node: Mapping, provider: Mapping | None, hyp: Mapping | None, marker: Mapping | None,
               my_run: str) -> str | None:
    state = node.get("provision_state")
    if node.get("maintenance"):
        return MAINTENANCE
    if state != "available":
        return f"{NOT_AVAILABLE}:{state}"
    if node.get("instance_uuid"):
        return HAS_INSTANCE
    if "power_state" in node and node.get("power_state") in _BAD_POWER:
        return BAD_POWER
    if provider is None:
        return NO_PROVIDER
    free = provider_free(provider)
    if free is None:
        return NO_INVENTORY
    if free < 1:
        return PROVIDER_FULL
    if hyp is None:
        return NO_COMPUTE
    if hyp.get("status") == "disabled":
        return COMPUTE_DISABLED
    if hyp.get("state") == "down":
        return COMPUTE_DOWN
    if marker and marker.get("run") != my_run:
        return PICKED
    return None


def capacity(resource_class: str, providers: Iterable[Mapping], nodes: Iterable[Mapping],
             hypervisors: Iterable[Mapping], live_markers: Mapping | None, my_run: str) -> Capacity:
    """Count the nodes of `resource_class` (a Placement class) a pinned build can use now.
    `providers` are Placement providers of that class (uuid == node uuid); `live_markers` holds only
    markers the caller found live (nova_pick.marker_live)."""
    provs = {str(p.get("uuid")): p for p in providers or () if p.get("uuid")}
    hyps = _hypervisor_index(hypervisors)
    markers = live_markers or {}
    usable, excluded = [], Counter()
    per_compute, per_group = Counter(), Counter()
    ironic_free = 0
    for node in nodes or ():
        if not node.get("resource_class") or placement_class(node["resource_class"]) != resource_class:
            continue
        uuid = str(node.get("uuid"))
        hyp = hyps.get(uuid)
        host = ((hyp.get("service") or {}).get("host") or "(unknown host)") if hyp else None
        group = node.get("conductor_group") or ""
        if host:
            per_compute[host] += 0     # listed with 0 when none of its nodes is usable
        per_group[group] += 0
        if (node.get("provision_state") == "available" and not node.get("maintenance")
                and not node.get("instance_uuid")):
            ironic_free += 1
        reason = _exclusion(node, provs.get(uuid), hyp, markers.get(uuid), my_run)
        if reason:
            excluded[reason] += 1
            continue
        usable.append(uuid)
        per_compute[host] += 1
        per_group[group] += 1
    placement_free = sum(max(0, provider_free(p) or 0) for p in provs.values())
    return Capacity(resource_class, tuple(sorted(usable)), placement_free, ironic_free,
                    dict(sorted(per_compute.items())), dict(sorted(per_group.items())), dict(excluded))


# nova/conf/compute.py [DEFAULT] max_concurrent_builds: its default, and 0 = unlimited.
NOVA_MAX_CONCURRENT_BUILDS = 10


def _builds_limit(max_builds: Any, host: str) -> int:
    """One compute's max_concurrent_builds from an int (every compute) or a host -> int mapping
    (hosts not listed: Nova's default)."""
    where = "max_concurrent_builds"
    value = max_builds
    if isinstance(max_builds, Mapping):
        value = max_builds.get(host, NOVA_MAX_CONCURRENT_BUILDS)
        where = f"max_concurrent_builds[{host}]"
    if isinstance(value, str) and value.strip().isdigit():   # -e max_concurrent_builds=4 is a string
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.BadInput(f"{where}: {value!r} is not a number of builds >= 0 (Nova's [DEFAULT] "
                              f"max_concurrent_builds of the compute service; 0 = unlimited)", field=where)
    return value


def build_window(per_compute: Mapping[str, int], max_builds: Any = NOVA_MAX_CONCURRENT_BUILDS) -> dict[str, int]:
    """Builds each compute service can run at once: min(its usable nodes, its max_concurrent_builds).
    A compute runs at most max_concurrent_builds builds and queues the rest on its semaphore, so a
    wider window only makes builds wait inside nova-compute (holding RPC workers) instead of in the
    run. The sum is the Nova waves' window."""
    if isinstance(max_builds, Mapping):
        for host in max_builds:
            _builds_limit(max_builds, host)
    else:
        _builds_limit(max_builds, "")
    out = {}
    for host, usable in sorted(per_compute.items()):
        limit = _builds_limit(max_builds, host)
        out[host] = usable if limit == 0 else min(usable, limit)
    return out


def _advice(reason: str) -> str:
    return ADVICE.get(reason.split(":", 1)[0], "")


def check_request(cap: Capacity, requested: int, flavor: str) -> None:
    """Raise CapacityShort when fewer nodes are usable than servers requested (nothing built)."""
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise errors.BadInput(f"requested: {requested!r} is not a number of servers", flavor=flavor)
    if requested <= len(cap.usable):
        return
    top = sorted(cap.excluded.items(), key=lambda kv: (-kv[1], kv[0]))
    excl = ", ".join(f"{reason} {count}" for reason, count in top[:4]) or "none"
    per = ", ".join(f"{host} {count}" for host, count in cap.per_compute.items()) or "none"
    todo = [a for a in dict.fromkeys(_advice(item[0]) for item in top[:3]) if a]
    if cap.placement_free != cap.ironic_free:
        todo.append("Placement and Ironic disagree: wait one nova-compute resource update and retry")
    todo.append(f"or request at most {len(cap.usable)} servers")
    raise errors.CapacityShort(
        f"flavor {flavor} ({cap.resource_class}): {requested} servers requested but {len(cap.usable)} nodes "
        f"usable (Placement free {cap.placement_free}, Ironic free {cap.ironic_free}; per compute service: "
        f"{per}; excluded: {excl}); nothing was built; " + "; ".join(todo),
        requested=requested, usable=len(cap.usable), placement_free=cap.placement_free,
        ironic_free=cap.ironic_free, per_compute=dict(cap.per_compute),
        per_conductor_group=dict(cap.per_conductor_group), excluded=dict(cap.excluded))


def quota_free(absolute: Mapping | None) -> int | None:
    """Instances the project may still create (Nova's GET /limits "absolute"); None = unlimited/unknown."""
    if not isinstance(absolute, Mapping):
        return None
    limit, used = _amount(absolute.get("maxTotalInstances")), _amount(absolute.get("totalInstancesUsed"))
    if limit is None or limit < 0 or used is None:
        return None
    return max(0, limit - used)


def check_quota(absolute: Mapping | None, requested: int) -> None:
    """CapacityShort when the project's instance quota cannot hold `requested` more servers (Nova
    accepts the requests and fails the surplus builds later with "Quota exceeded")."""
    free = quota_free(absolute)
    if free is not None and requested > free:
        raise errors.CapacityShort(
            f"the project's instance quota allows {free} more server(s) ({absolute.get('totalInstancesUsed')} of "
            f"{absolute.get('maxTotalInstances')} used) but {requested} are requested; nothing was built; raise it "
            "(openstack quota set --instances N <project>) or request fewer", kind="quota",
            requested=requested, quota_free=free, quota_used=absolute.get("totalInstancesUsed"),
            quota_limit=absolute.get("maxTotalInstances"))
