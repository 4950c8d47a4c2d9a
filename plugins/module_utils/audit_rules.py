# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Which nodes and servers of a fleet are stuck or inconsistent, from one read of everything?
(pure, stdlib only)

The caller reads Ironic (nodes, conductors, allocations) and, when Nova is configured, Nova
(servers, services, hypervisors) and Placement once into a Snapshot; `audit` judges it against
per-state age thresholds (audit_thresholds) and fills each finding's action from the recovery
policy, so the report and the recovery always agree. Ages are measured on Ironic's clock
(`Snapshot.now`) so a skewed controller clock cannot make a node look stuck. Servers on
hypervisors that are not nodes of the snapshot (another cell, libvirt computes) are not judged."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states
from ansible_collections.ironwave.baremetal.plugins.module_utils import audit_thresholds as at
from ansible_collections.ironwave.baremetal.plugins.module_utils import recovery_policy as rp
from ansible_collections.ironwave.baremetal.plugins.module_utils.timestamps import parse_iso

KINDS: Mapping[str, str] = MappingProxyType({
    "node_locked_dead_conductor": "node reserved by a conductor that is not alive (or not listed) past the threshold",
    "node_stuck": "node in a working (-ing) state past its threshold",
    "node_wait_expiring": "node in a wait state past its threshold; Ironic only fails it after its 30 min timeout",
    "node_held": "node in deploy/clean/service hold past its threshold",
    "node_failed": "node in a failed state (deploy failed, clean failed, error, ...)",
    "allocation_stale": "Ironic allocation in error, or without a node past the threshold",
    "server_task_stuck": "server task_state past its threshold",
    "server_on_down_compute": "server on a nova-compute service that is down, forced down or gone",
    "server_error_node_active": "server ERROR while its node is active for it (an interrupted build)",
    "server_node_mismatch": "ACTIVE server whose node is not active or holds another instance",
    "node_two_servers": "two or more servers report the same node as their hypervisor",
    "orphan_node": "node holds an instance_uuid no server has (and no Ironic allocation)",
    "allocation_wrong_provider": "server's Placement allocation is on a provider that is not its node",
    "provider_two_consumers": "a node's resource provider has more than one consumer",
    "server_without_allocation": "ACTIVE (or BUILD with a host) server with no Placement allocation",
    "node_unmanaged": "node not in maintenance with no hypervisor, or only hypervisors whose compute is down",
    "node_managed_twice": "node has hypervisor records on more than one compute host",
    "shard_without_compute": "a node shard that no nova-compute serves",
    "conductor_group_without_compute": "a node conductor group that no nova-compute serves",
})
_ORDER = {kind: i for i, kind in enumerate(KINDS)}
HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
HOST = "OS-EXT-SRV-ATTR:host"
NODE_FIELDS = ("provision_state", "target_provision_state", "provision_updated_at", "updated_at", "reservation",
               "conductor", "maintenance", "instance_uuid", "power_state", "last_error")
# Ironic fails a wait state after these (see audit_thresholds).
IRONIC_WAIT_TIMEOUT = {"wait call-back": at.DEPLOY_CALLBACK_TIMEOUT, "clean wait": at.CLEAN_CALLBACK_TIMEOUT,
                       "inspect wait": at.INSPECT_WAIT_TIMEOUT}


@dataclass(frozen=True)
class Snapshot:
    nodes: list
    now: float                                  # epoch seconds on Ironic's clock
    conductors: list = field(default_factory=list)
    ironic_allocations: list = field(default_factory=list)
    servers: list | None = None                 # None: Nova not configured, no Nova rule runs
    services: list | None = None
    hypervisors: list | None = None
    placement: Mapping | None = None            # provider uuid -> {consumer uuid: resources}
    compute_shards: Mapping | None = None       # compute host -> shard (None: serves every node)
    compute_conductor_groups: Mapping | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    node: str | None = None
    node_uuid: str | None = None
    server: str | None = None
    server_id: str | None = None
    age_s: float | None = None
    evidence: Mapping = field(default_factory=dict)
    action: str = "report_only"
    detail: str = ""


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time ('Z', an offset, or naive = UTC); None for junk."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_iso(value)


def _age(now: float, *values: Any) -> float | None:
    for value in values:
        when = parse_time(value)
        if when is not None:
            return max(0.0, now - when)
    return None


def _past(age: float | None, limit: float | None) -> bool:
    return limit is not None and age is not None and age > limit


def _node_f(kind: str, node: Mapping, age: float | None, detail: str, **extra: Any) -> Finding:
    evidence = {k: node.get(k) for k in NODE_FIELDS}
    return Finding(kind, node.get("name") or node.get("uuid"), node.get("uuid"), age_s=age,
                   evidence={**evidence, **extra}, detail=detail)


def _server_f(kind: str, server: Mapping, node: Mapping | None, age: float | None, detail: str,
              **extra: Any) -> Finding:
    evidence = {"status": server.get("status"), "vm_state": server.get("OS-EXT-STS:vm_state"),
                "task_state": server.get("OS-EXT-STS:task_state"), "updated": server.get("updated"),
                "host": server.get(HOST), "hypervisor_hostname": server.get(HYPERVISOR)}
    if node:
        evidence.update({k: node.get(k) for k in ("provision_state", "instance_uuid", "power_state")})
    node = node or {}
    return Finding(kind, node.get("name") or node.get("uuid"), node.get("uuid"), server.get("name"), server.get("id"),
                   age, {**evidence, **extra}, detail=detail)


def live_conductors(conductors: list[Mapping[str, Any]]) -> set | None:
    """Hostnames of the conductors alive now; None when nobody can be called dead.

    Ironic on SQLite (one combined process) never refreshes a conductor's heartbeat ("the
    conductor's last_updated field will also not update"), so after heartbeat_timeout it lists
    every conductor as not alive although one serves the API. Then the one registered last
    (newest updated_at) is the live one and older ones were stopped without deregistering
    (SIGKILL, power loss); without updated_at nothing is known."""
    if not conductors:
        return None
    alive = {c.get("hostname") for c in conductors if c.get("alive")}
    if alive:
        return alive
    stamped = [c for c in conductors if c.get("updated_at")]
    if not stamped:
        return None
    return {max(stamped, key=lambda c: str(c["updated_at"])).get("hostname")}


def _ironic(snap: Snapshot, th: at.Thresholds) -> Iterable[tuple]:
    alive = live_conductors(snap.conductors)
    for node in snap.nodes:
        state, label = node.get("provision_state"), node.get("name") or node.get("uuid")
        age = _age(snap.now, node.get("provision_updated_at"), node.get("updated_at"))
        held_by = node.get("reservation")
        # Without a conductor listing nobody can be called dead.
        if held_by and alive is not None and held_by not in alive:
            lock_age = _age(snap.now, node.get("updated_at"), node.get("provision_updated_at"))
            if lock_age is None or lock_age > th.check("dead_conductor_lock"):
                yield _node_f("node_locked_dead_conductor", node, lock_age,
                              f"node {label} ({state}) is locked by conductor {held_by}, which is not alive"), node
                continue
        if state in at.WORKING and _past(age, th.node(state)):
            handler = held_by or node.get("conductor")
            alive_flag = (handler in alive) if (alive is not None and handler) else None
            yield _node_f("node_stuck", node, age, f"node {label} has been {state} for {age:.0f} s",
                          conductor_alive=alive_flag), node
        elif state in at.WAITING and _past(age, th.node(state)):
            left = IRONIC_WAIT_TIMEOUT.get(state)
            extra = {"ironic_times_out_in_s": max(0.0, left - age)} if left else {}
            yield _node_f("node_wait_expiring", node, age, f"node {label} has been in {state} for {age:.0f} s",
                          **extra), node
        elif state in at.HOLDING and _past(age, th.node(state)):
            yield _node_f("node_held", node, age, f"node {label} has been in {state} for {age:.0f} s"), node
        elif state in ironic_states.FAILED:
            yield _node_f("node_failed", node, age, f"node {label} is {state}: {node.get('last_error') or ''}"), node
    for alloc in snap.ironic_allocations:
        age = _age(snap.now, alloc.get("updated_at"), alloc.get("created_at"))
        error = alloc.get("state") == "error"
        if (error and (age is None or age > th.check("allocation"))) or \
                (not alloc.get("node_uuid") and _past(age, th.check("allocation"))):
            evidence = {k: alloc.get(k) for k in ("uuid", "name", "state", "node_uuid", "last_error")}
            yield Finding("allocation_stale", age_s=age, evidence=evidence,
                          detail=f"allocation {alloc.get('name') or alloc.get('uuid')} is {alloc.get('state')} "
                                 f"with node {alloc.get('node_uuid') or '(none)'}"), None


def _compute_down(service: Mapping | None) -> bool:
    return service is None or service.get("state") == "down" or bool(service.get("forced_down"))


def _nova(snap: Snapshot, th: at.Thresholds) -> Iterable[tuple]:
    nodes = {n.get("uuid"): n for n in snap.nodes}
    by_instance = {n["instance_uuid"]: n for n in snap.nodes if n.get("instance_uuid")}
    servers = list(snap.servers or ())
    ids = {s.get("id") for s in servers}
    computes = {s.get("host"): s for s in snap.services or () if s.get("binary") == "nova-compute"}
    providers, consumers_of = defaultdict(set), {}
    for provider, consumers in (snap.placement or {}).items():
        if isinstance(consumers, Mapping) and isinstance(consumers.get("allocations"), Mapping):
            consumers = consumers["allocations"]   # Placement's own wrapped form
        consumers_of[provider] = sorted(consumers or {})
        for consumer in consumers or {}:
            providers[consumer].add(provider)
    on_node = defaultdict(list)
    for server in servers:
        sid, hyp, status = server.get("id"), server.get(HYPERVISOR), str(server.get("status") or "").upper()
        if hyp and hyp not in nodes:
            continue
        node = nodes.get(hyp) or by_instance.get(sid)
        age, task, host = _age(snap.now, server.get("updated")), server.get("OS-EXT-STS:task_state"), server.get(HOST)
        name = server.get("name") or sid
        if hyp:
            on_node[hyp].append(server)
        if _past(age, th.server(task)):
            yield _server_f("server_task_stuck", server, node, age, f"server {name} has been {task} for "
                                                                    f"{age:.0f} s"), node, server
        if snap.services is not None and host and _compute_down(computes.get(host)):
            yield _server_f("server_on_down_compute", server, node, age, f"server {name}'s compute {host} is "
                                                                         "down, forced down or gone"), node, server
        if status == "ERROR" and node and node.get("provision_state") == "active" and node.get("instance_uuid") == sid:
            yield _server_f("server_error_node_active", server, node, age, f"server {name} is ERROR but node "
                            f"{node.get('name') or node.get('uuid')} is active for it"), node, server
        if status == "ACTIVE" and hyp and (nodes[hyp].get("provision_state") != "active"
                                           or nodes[hyp].get("instance_uuid") != sid):
            yield _server_f("server_node_mismatch", server, nodes[hyp], age, f"server {name} is ACTIVE on node "
                            f"{hyp}, which is {nodes[hyp].get('provision_state')} holding "
                            f"{nodes[hyp].get('instance_uuid') or 'nothing'}"), nodes[hyp], server
        if snap.placement is not None and (status == "ACTIVE" or (status == "BUILD" and host)):
            mine = providers.get(sid, set())
            if not mine:
                yield _server_f("server_without_allocation", server, node, age,
                                f"server {name} has no Placement allocation"), node, server
            elif hyp and mine != {hyp}:
                yield _server_f("allocation_wrong_provider", server, node, age, f"server {name} consumes "
                                f"{', '.join(sorted(mine - {hyp})) or 'nothing'} instead of only node {hyp}",
                                providers=sorted(mine)), node, server
    for hyp, held in sorted(on_node.items()):
        if len(held) > 1:
            names = sorted(s.get("name") or s.get("id") for s in held)
            yield _node_f("node_two_servers", nodes[hyp], None, f"node {hyp} is the hypervisor of {', '.join(names)}",
                          servers=names, server_ids=sorted(s.get("id") for s in held)), nodes[hyp], None
    for provider, consumers in sorted(consumers_of.items()):
        if provider in nodes and len(consumers) > 1:
            yield _node_f("provider_two_consumers", nodes[provider], None, f"node {provider}'s resource provider "
                          f"has consumers {', '.join(consumers)}", consumers=consumers), nodes[provider], None
    yield from _nova_nodes(snap, nodes, ids, computes)


def _nova_nodes(snap: Snapshot, nodes: Mapping, ids: set, computes: Mapping) -> Iterable[tuple]:
    allocation_ids = {a.get("uuid") for a in snap.ironic_allocations}
    hyps = defaultdict(list)
    for hyp in snap.hypervisors or ():
        hyps[hyp.get("hypervisor_hostname") or hyp.get("id")].append(hyp)
    for uuid, node in nodes.items():
        label, inst = node.get("name") or uuid, node.get("instance_uuid")
        # A tear down in progress still shows the instance; an allocation means a deploy without Nova.
        if inst and inst not in ids and node.get("provision_state") not in ironic_states.TRANSIENT \
                and inst not in allocation_ids and not node.get("allocation_uuid"):
            yield _node_f("orphan_node", node, None, f"node {label} holds instance {inst}, which Nova does not "
                                                     "list"), node, None
        if snap.hypervisors is None:
            continue
        mine = hyps.get(uuid, [])
        hosts = sorted({(h.get("service") or {}).get("host") for h in mine} - {None})
        if len(hosts) > 1:
            yield _node_f("node_managed_twice", node, None, f"node {label} has hypervisors on {', '.join(hosts)}",
                          compute_hosts=hosts), node, None
        if node.get("maintenance"):
            continue
        up = [h for h in mine if h.get("state") != "down" and (snap.services is None or not _compute_down(
            computes.get((h.get("service") or {}).get("host"))))]
        if not up:
            why = "has no hypervisor" if not mine else f"is only on down computes {', '.join(hosts)}"
            yield _node_f("node_unmanaged", node, None, f"node {label} {why}", compute_hosts=hosts), node, None
    for what, served_by, key in (("shard", snap.compute_shards, "shard"),
                                 ("conductor_group", snap.compute_conductor_groups, "conductor_group")):
        if served_by is None or any(v is None for v in served_by.values()):
            continue   # unset, or one compute serves every node
        groups = defaultdict(list)
        for node in nodes.values():
            if what == "conductor_group" or node.get(key):
                groups[node.get(key) or ""].append(node.get("name") or node.get("uuid"))
        for value in sorted(set(groups) - set(served_by.values())):
            yield Finding(f"{what}_without_compute", evidence={key: value, "nodes": sorted(groups[value])},
                          detail=f"{len(groups[value])} node(s) in {what} {value!r} and no nova-compute serves "
                                 "it"), None, None


def audit(snapshot: Snapshot, thresholds: at.Thresholds | None = None, ours: Callable[[Mapping], bool] | None = None,
          policy: rp.Policy | None = None) -> list[Finding]:
    """Every finding of the snapshot, with its action, sorted by kind (KINDS order), node, server."""
    th = thresholds or at.Thresholds()
    found = [(f, node, None) for f, node in _ironic(snapshot, th)]
    if snapshot.servers is not None:
        found += list(_nova(snapshot, th))
    out = []
    for finding, node, server in found:
        ctx = rp.Context(node, server, bool(ours(node)) if ours and node else False)
        out.append(replace(finding, action=rp.plan_for(finding, ctx, policy).action))
    return sorted(out, key=lambda f: (_ORDER[f.kind], f.node_uuid or "", f.server_id or ""))


def by_kind(findings: Iterable[Finding]) -> dict:
    counts = defaultdict(int)
    for finding in findings:
        counts[finding.kind] += 1
    return {kind: counts[kind] for kind in KINDS if counts[kind]}


def as_rows(findings: Iterable[Finding]) -> list[dict]:
    rows = []
    for finding in findings:
        row = asdict(finding)
        row["evidence"] = dict(finding.evidence)
        row["age_s"] = None if finding.age_s is None else round(finding.age_s, 1)
        rows.append(row)
    return rows


def select(findings: Iterable[Finding], kinds: Iterable[str] | None) -> list[Finding]:
    """The findings of `kinds` (fail_on); BadInput on an unknown kind."""
    wanted = set(kinds or ())
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise errors.BadInput(f"fail_on: unknown finding kind(s) {', '.join(unknown)}; use any of "
                              f"{', '.join(KINDS)}")
    return [f for f in findings if f.kind in wanted]
