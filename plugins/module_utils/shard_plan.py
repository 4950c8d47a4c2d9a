# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Split Ironic nodes into shards, one nova-compute service per shard (pure, stdlib only, no I/O).

Why shards: with `[ironic] shard` set, a nova-compute lists only that shard's nodes and drops the
hash ring ("at most one nova-compute service for each shard", nova/conf/ironic.py), so each service
owns a fixed, bounded set of nodes. Listing costs "2-10 seconds per every thousand nodes"
(nova/virt/ironic/driver.py), hence a size cap: nova docs say "several hundred" nodes per
nova-compute, the shards spec (nova-specs 2024.1 ironic-shards) uses one compute below ~500 nodes,
and Ironic targets ~300 nodes per conductor -> DEFAULT_MAX_SIZE = 300.

Why stability matters: Ironic says a node's shard "should never be changed once a nova-compute
service has identified a node". So a node that has a shard keeps it, adding nodes never moves a
node a compute manages, and a managed node that would need another compute is refused with the
documented move procedure (`nova-manage db ironic_compute_node_move`) instead of being re-sharded.

Placement order (deterministic whatever the input order):
1. nodes with a shard keep it; shards get a compute from `existing`, else from the host that
   manages most of their nodes today;
2. unsharded nodes managed by a compute go first to a shard of their (conductor_group,
   resource_class) that this very compute serves (no move needed);
3. then they fill existing shards of their group/class with room, by shard name then node uuid;
4. the rest go to new shards `<group|default>-<resource_class>-<k>` of size <= max_size: nodes a
   compute manages today in shards of that host (a hash-ring split becomes the shard split, no node
   moves), nodes nobody manages first into those shards' room, then into balanced new shards;
5. shards without a compute get a free host from `computes` (one that manages their nodes first,
   then by host name); left over -> `unassigned` (the operator must add nova-compute services).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Optional

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors

DEFAULT_MAX_SIZE = 300
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class NodeShard:
    """Where one node ends up. `changes`: the plan writes `shard` to Ironic. A refused node shows its
    planned `shard` with changes=False: it keeps `old_shard` until moved (see ShardPlan.refused)."""

    uuid: str
    name: Optional[str]
    shard: Optional[str]
    old_shard: Optional[str]
    changes: bool
    refused: bool = False
    managed_by: Optional[str] = None


@dataclass
class Shard:
    """One shard. conductor_group/resource_class are None when its (pre-existing) nodes mix them."""

    name: str
    conductor_group: Optional[str]
    resource_class: Optional[str]
    size: int = 0
    compute: Optional[str] = None
    new: bool = False
    oversize: bool = False


@dataclass(frozen=True)
class Refused:
    """A managed node whose shard would change: not planned as a change, with the move procedure."""

    uuid: str
    name: Optional[str]
    old_shard: Optional[str]
    shard: str
    source_host: str
    destination_host: Optional[str]
    message: str


@dataclass
class ShardPlan:
    max_size: int
    nodes: dict[str, NodeShard] = field(default_factory=dict)
    shards: dict[str, Shard] = field(default_factory=dict)
    computes: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)
    oversize: list[str] = field(default_factory=list)
    idle_computes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def changes(self) -> list[tuple[str, Optional[str], str]]:
        """(node uuid, old shard, new shard) to write to Ironic, by uuid; refused nodes excluded."""
        return [(n.uuid, n.old_shard, n.shard) for n in sorted(self.nodes.values(), key=lambda n: n.uuid)
                if n.changes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_size": self.max_size,
            "nodes": {u: asdict(n) for u, n in sorted(self.nodes.items())},
            "shards": {s: asdict(v) for s, v in sorted(self.shards.items())},
            "computes": {h: {"ironic": dict(c["ironic"])} for h, c in sorted(self.computes.items())},
            "refused": [asdict(r) for r in self.refused],
            "changes": [list(c) for c in self.changes()],
            "unchanged": list(self.unchanged),
            "unassigned": list(self.unassigned),
            "oversize": list(self.oversize),
            "idle_computes": list(self.idle_computes),
            "notes": list(self.notes),
        }


def shard_prefix(conductor_group: Optional[str], resource_class: Optional[str]) -> str:
    """Readable, config-safe prefix of new shard names: `<group|default>-<resource_class|none>`."""
    raw = f"{conductor_group or 'default'}-{resource_class or 'none'}".lower()
    return _UNSAFE.sub("-", raw).strip("-") or "shard"


def plan(nodes: Iterable[Mapping[str, Any]], managed: Optional[Mapping[str, str]] = None,
         computes: Optional[Iterable[str]] = None, max_size: int = DEFAULT_MAX_SIZE,
         existing: Optional[Mapping[str, str]] = None) -> ShardPlan:
    """Plan shards for `nodes` (Ironic node dicts). `managed`: node uuid -> nova-compute host that
    manages it today (Nova hypervisors); `computes`: hosts available for new shards; `existing`:
    shard -> compute host already configured. Raises errors.BadInput for unusable input."""
    by_uuid = _check_nodes(nodes)
    managed = _check_managed(managed)
    free_hosts = _check_computes(computes)
    existing = _check_existing(existing)
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise errors.BadInput(f"max_size must be an integer >= 1 (got {max_size!r}): give the most nodes one "
                              f"nova-compute should list, e.g. {DEFAULT_MAX_SIZE}", field="max_size")

    result = ShardPlan(max_size=max_size)
    members: dict[str, list[str]] = {}  # shard -> node uuids
    for uuid in sorted(by_uuid):
        old = _shard_of(by_uuid[uuid])
        if old is not None:
            members.setdefault(old, []).append(uuid)

    shards = _existing_shards(by_uuid, members, existing, max_size, result)
    _assign_from_managed(shards, members, managed, result.notes, allowed=None)

    # Unsharded nodes, placed by group/class.
    todo: dict[tuple[str, str], list[str]] = {}
    for uuid in sorted(by_uuid):
        if _shard_of(by_uuid[uuid]) is None:
            todo.setdefault(_key(by_uuid[uuid]), []).append(uuid)
    placed: dict[str, str] = {}
    used_names = set(shards)
    for key in sorted(todo):
        group, rc = key
        open_shards = sorted((s for s in shards.values() if (s.conductor_group, s.resource_class) == (group, rc)),
                             key=lambda s: s.name)
        left = []
        for uuid in todo[key]:  # step 2: stay with the compute that manages the node today
            home = next((s for s in open_shards if managed.get(uuid) and s.compute == managed[uuid]
                         and s.size < max_size), None)
            if home is None:
                left.append(uuid)
            else:
                _put(uuid, home, placed, members)
        rest = []
        for uuid in left:  # step 3: existing shards with room, by name
            room = next((s for s in open_shards if s.size < max_size), None)
            if room is None:
                rest.append(uuid)
            else:
                _put(uuid, room, placed, members)
        # Step 4: new shards. Nodes a compute manages today get shards of their own host (a hash
        # ring split becomes the shard split and no node moves); nodes nobody manages fill those
        # shards' room, smallest first, then new shards of balanced size.
        by_host: dict[str, list[str]] = {}
        for uuid in rest:
            if managed.get(uuid):
                by_host.setdefault(managed[uuid], []).append(uuid)
        created: list[Shard] = []
        for host in sorted(by_host):
            created += _new_shards(by_host[host], group, rc, max_size, shards, used_names, placed, members)
        unmanaged = [u for u in rest if not managed.get(u)]
        for uuid in list(unmanaged):
            room = min((s for s in created if s.size < max_size), key=lambda s: (s.size, s.name), default=None)
            if room is not None:
                _put(uuid, room, placed, members)
                unmanaged.remove(uuid)
        _new_shards(unmanaged, group, rc, max_size, shards, used_names, placed, members)

    _assign_computes(shards, members, managed, free_hosts, result.notes)
    _node_results(by_uuid, managed, shards, placed, result)

    result.shards = dict(sorted(shards.items()))
    result.oversize = sorted(s.name for s in shards.values() if s.oversize)
    result.unassigned = sorted(s.name for s in shards.values() if s.compute is None)
    taken = {s.compute for s in shards.values() if s.compute}
    result.idle_computes = [h for h in free_hosts if h not in taken]
    for s in sorted(shards.values(), key=lambda s: s.name):
        if s.compute:
            ironic = {"shard": s.name}
            if s.conductor_group:  # the default group needs no filter: the shard already selects the nodes
                ironic["conductor_group"] = s.conductor_group
            result.computes[s.compute] = {"ironic": ironic}
    if result.idle_computes and result.computes:
        # An unsharded nova-compute lists every node and keeps those that hash to it on a ring of
        # all up computes, sharded ones included: it would manage nodes a shard's compute manages.
        # An empty shard of its own keeps it out of the ring until nodes are given to it.
        for host in result.idle_computes:
            name = _new_name(f"spare-{_UNSAFE.sub('-', host.lower()).strip('-') or 'compute'}", used_names)
            used_names.add(name)
            result.computes[host] = {"ironic": {"shard": name}}
        result.notes.append(f"{len(result.idle_computes)} compute(s) have no nodes ({', '.join(result.idle_computes)}): "
                            f"each gets an empty shard of its own so it manages no node a shard's compute manages")
    if result.unassigned:
        result.notes.append(f"{len(result.unassigned)} shard(s) have no nova-compute "
                            f"({', '.join(result.unassigned)}): add that many compute hosts to `computes`")
    return result


def _new_shards(uuids: list[str], group: str, rc: str, max_size: int, shards: dict[str, Shard],
                used_names: set[str], placed: dict[str, str], members: dict[str, list[str]]) -> list[Shard]:
    """`uuids` in as few new shards as max_size allows, of balanced size."""
    count = math.ceil(len(uuids) / max_size)
    out, start = [], 0
    for i in range(count):
        size = len(uuids) // count + (1 if i < len(uuids) % count else 0)
        name = _new_name(shard_prefix(group, rc), used_names)
        used_names.add(name)
        shards[name] = Shard(name=name, conductor_group=group, resource_class=rc, new=True)
        for uuid in uuids[start:start + size]:
            _put(uuid, shards[name], placed, members)
        out.append(shards[name])
        start += size
    return out


def _shard_of(node: Mapping[str, Any]) -> Optional[str]:
    shard = node.get("shard")
    return shard if isinstance(shard, str) and shard.strip() else None


def _key(node: Mapping[str, Any]) -> tuple[str, str]:
    return (node.get("conductor_group") or "", node.get("resource_class") or "")


def _put(uuid: str, shard: Shard, placed: dict[str, str], members: dict[str, list[str]]) -> None:
    shard.size += 1
    placed[uuid] = shard.name
    members.setdefault(shard.name, []).append(uuid)


def _new_name(prefix: str, used: set[str]) -> str:
    k = 1
    while f"{prefix}-{k}" in used:
        k += 1
    return f"{prefix}-{k}"


def _existing_shards(by_uuid: dict[str, Mapping[str, Any]], members: dict[str, list[str]],
                     existing: dict[str, str], max_size: int, result: ShardPlan) -> dict[str, Shard]:
    shards: dict[str, Shard] = {}
    for name in sorted(set(members) | set(existing)):
        keys = {_key(by_uuid[u]) for u in members.get(name, [])}
        if len(keys) == 1:
            group, rc = next(iter(keys))
        else:
            group = rc = None
            if keys:  # a compute filtering by one conductor_group would miss the others
                result.notes.append(f"shard {name} mixes conductor groups/resource classes "
                                    f"{sorted(keys)}: it gets no new nodes and no conductor_group filter")
            else:
                result.notes.append(f"shard {name} (existing, on {existing[name]}) has no node")
        size = len(members.get(name, []))
        shards[name] = Shard(name=name, conductor_group=group, resource_class=rc, size=size,
                             compute=existing.get(name), oversize=size > max_size)
        if size > max_size:
            result.notes.append(f"shard {name} has {size} nodes, more than max_size {max_size}: not split "
                                "(that would move managed nodes); new nodes go elsewhere")
    return shards


def _assign_from_managed(shards: dict[str, Shard], members: dict[str, list[str]], managed: dict[str, str],
                         notes: list[str], allowed: Optional[set[str]]) -> None:
    """Give each shard without a compute the free host that manages most of its nodes (ties by name).
    `allowed` limits the hosts (None: any host that manages nodes today)."""
    taken = {s.compute for s in shards.values() if s.compute}
    for name in sorted(shards):
        shard = shards[name]
        if shard.compute:
            continue
        votes = Counter(managed[u] for u in members.get(name, []) if u in managed)
        for host, _count in sorted(votes.items(), key=lambda hv: (-hv[1], hv[0])):
            if host not in taken and (allowed is None or host in allowed):
                shard.compute = host
                taken.add(host)
                break
        if allowed is None and len(votes) > 1 and not shard.new:
            notes.append(f"nodes of shard {name} are managed by several computes ({', '.join(sorted(votes))}): "
                         "one nova-compute per shard")


def _assign_computes(shards: dict[str, Shard], members: dict[str, list[str]], managed: dict[str, str],
                     free_hosts: list[str], notes: list[str]) -> None:
    # A nova-compute has one [ironic] shard option: only computes with no shard can take one.
    _assign_from_managed(shards, members, managed, notes, allowed=set(free_hosts))
    taken = {s.compute for s in shards.values() if s.compute}
    spare = [h for h in free_hosts if h not in taken]
    # Pre-existing shards first (their nodes may be serving instances), then new ones; by name.
    for shard in sorted(shards.values(), key=lambda s: (s.new, s.name)):
        if shard.compute is None and spare and (shard.size or shard.new):
            shard.compute = spare.pop(0)


def _node_results(by_uuid: dict[str, Mapping[str, Any]], managed: dict[str, str], shards: dict[str, Shard],
                  placed: dict[str, str], result: ShardPlan) -> None:
    for uuid in sorted(by_uuid):
        node = by_uuid[uuid]
        old = _shard_of(node)
        host = managed.get(uuid)
        if old is not None:
            result.nodes[uuid] = NodeShard(uuid, node.get("name"), old, old, False, managed_by=host)
            result.unchanged.append(uuid)
            served = shards[old].compute
            if host and served and host != served:
                result.notes.append(f"node {uuid} in shard {old} is managed by {host}, but {served} serves "
                                    f"that shard: move it with nova-manage db ironic_compute_node_move "
                                    f"--ironic-node-uuid {uuid} --destination-host {served}")
            continue
        new = placed[uuid]
        dest = shards[new].compute
        # A managed node may get a shard only when the compute serving that shard is its own.
        refused = host is not None and dest != host
        result.nodes[uuid] = NodeShard(uuid, node.get("name"), new, None, not refused, refused=refused,
                                       managed_by=host)
        if refused:
            result.refused.append(Refused(uuid, node.get("name"), None, new, host, dest,
                                          _move_message(uuid, node, new, host, dest)))


def _move_message(uuid: str, node: Mapping[str, Any], shard: str, source: str, dest: Optional[str]) -> str:
    label = f"{uuid} ({node['name']})" if node.get("name") else uuid
    target = dest or f"<the nova-compute for shard {shard}: none yet, add a host to computes>"
    instance = node.get("instance_uuid")
    when = (f"it has instance {instance}, so this is required" if instance
            else "required when the node has an instance")
    return (f"node {label} is managed by nova-compute {source}, and its shard would change to {shard} "
            f"(served by {target}): Ironic says a node's shard must not change once a nova-compute manages "
            f"it, so it was not changed. To move it: stop nova-compute on {source} and force it down "
            f"(openstack compute service set --down {source} nova-compute), configure {target} with "
            f"[ironic] shard={shard}, set the node's shard to {shard}, then run `nova-manage db "
            f"ironic_compute_node_move --ironic-node-uuid {uuid} --destination-host {target}` "
            f"({when}; it refuses a node with more than one instance).")


def _check_nodes(nodes: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    if nodes is None or isinstance(nodes, (str, bytes, Mapping)):
        raise errors.BadInput("nodes must be a list of Ironic node dicts (uuid, conductor_group, "
                              "resource_class, shard, ...)", field="nodes")
    by_uuid: dict[str, Mapping[str, Any]] = {}
    where: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            raise errors.BadInput(f"nodes[{i}] is a {type(node).__name__}, not a dict: pass Ironic node dicts",
                                  field=f"nodes[{i}]")
        uuid = node.get("uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            raise errors.BadInput(f"nodes[{i}] ({node.get('name') or 'no name'}) has no uuid: list the nodes "
                                  "with their uuid field", field=f"nodes[{i}].uuid")
        if uuid in by_uuid:
            raise errors.BadInput(f"nodes lists uuid {uuid} twice (nodes[{where[uuid]}] and nodes[{i}]): "
                                  "pass each node once", field=f"nodes[{i}].uuid")
        by_uuid[uuid] = node
        where[uuid] = i
    return by_uuid


def _check_managed(managed: Optional[Mapping[str, str]]) -> dict[str, str]:
    if managed is None:
        return {}
    if not isinstance(managed, Mapping):
        raise errors.BadInput("managed must map node uuid -> nova-compute host (from Nova's hypervisors)",
                              field="managed")
    for uuid, host in managed.items():
        if not isinstance(host, str) or not host:
            raise errors.BadInput(f"managed[{uuid}] is {host!r}: give the compute host (hypervisor "
                                  "service.host) or leave the node out", field=f"managed[{uuid}]")
    return dict(managed)


def _check_computes(computes: Optional[Iterable[str]]) -> list[str]:
    if computes is None:
        return []
    if isinstance(computes, (str, bytes, Mapping)):
        raise errors.BadInput("computes must be a list of nova-compute host names", field="computes")
    hosts = list(computes)
    for i, host in enumerate(hosts):
        if not isinstance(host, str) or not host:
            raise errors.BadInput(f"computes[{i}] is {host!r}: give nova-compute host names (CONF.host)",
                                  field=f"computes[{i}]")
    return sorted(set(hosts))


def _check_existing(existing: Optional[Mapping[str, str]]) -> dict[str, str]:
    if existing is None:
        return {}
    if not isinstance(existing, Mapping):
        raise errors.BadInput("existing must map shard name -> nova-compute host", field="existing")
    owner: dict[str, str] = {}
    for shard, host in sorted(existing.items()):
        if not isinstance(shard, str) or not shard or not isinstance(host, str) or not host:
            raise errors.BadInput(f"existing has {shard!r}: {host!r}; give shard name -> compute host",
                                  field="existing")
        if host in owner:
            raise errors.BadInput(f"existing gives compute {host} shards {owner[host]} and {shard}: a "
                                  "nova-compute has one [ironic] shard; give each shard its own host",
                                  field="existing")
        owner[host] = shard
    return dict(existing)
