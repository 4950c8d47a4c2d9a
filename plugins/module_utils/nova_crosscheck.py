# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Do Nova, Ironic and Placement tell the same story about a server? (pure, stdlib only)

After a build, three records must agree: Nova's server (its hypervisor_hostname is the Ironic node
uuid), Ironic's node (instance_uuid is the server id, state active) and Placement's allocation
(the server consumes only the node's provider, whose uuid is the node uuid, and nobody else
consumes that provider). The races that put two builds on one node show up as a disagreement
here even when every server says ACTIVE."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"

# Rules.
HYPERVISOR_MATCH = "hypervisor_hostname"
NODE_MISSING = "node_missing"
NODE_INSTANCE = "node_instance"
NODE_ACTIVE = "node_active"
ALLOCATION_MISSING = "allocation_missing"
ALLOCATION_ELSEWHERE = "allocation_elsewhere"
PROVIDER_SHARED = "provider_shared"
NODE_SHARED = "node_shared"
SERVER_NO_NODE = "server_no_node"


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


def allocation_providers(allocations: Any) -> list:
    """Provider uuids of Placement's GET /allocations/{consumer}, wrapped ({"allocations": {...}})
    or not ({rp: {"resources": ...}}); [] for junk."""
    if isinstance(allocations, Mapping) and isinstance(allocations.get("allocations"), Mapping):
        allocations = allocations["allocations"]
    if not isinstance(allocations, Mapping):
        return []
    return sorted(str(rp) for rp in allocations)


def _shared(provider_consumers: Mapping | None, only: Iterable[str] | None = None) -> list[Violation]:
    out = []
    wanted = set(only) if only is not None else None
    for rp, consumers in sorted((provider_consumers or {}).items()):
        if wanted is not None and rp not in wanted:
            continue
        names = sorted(str(c) for c in consumers or ())
        if len(names) > 1:
            out.append(Violation(PROVIDER_SHARED, f"resource provider {rp} has {len(names)} consumers: "
                                                  f"{', '.join(names)}"))
    return out


def check(server: Mapping, node: Mapping | None, consumer_allocations: Any,
          provider_consumers: Mapping | None) -> list[Violation]:
    """Violations for one built server (empty: all three services agree)."""
    sid = server.get("id")
    landed = server.get(HYPERVISOR)
    out = []
    if node is None:
        return [Violation(NODE_MISSING, f"server {sid} is on node {landed or '(none)'}, which Ironic does not "
                                        "list")] + _shared(provider_consumers)
    uuid = node.get("uuid")
    if landed != uuid:
        out.append(Violation(HYPERVISOR_MATCH, f"server {sid} reports hypervisor_hostname {landed or '(none)'}, "
                                               f"not node {uuid}"))
    if node.get("instance_uuid") != sid:
        out.append(Violation(NODE_INSTANCE, f"node {uuid} holds instance {node.get('instance_uuid') or '(none)'}, "
                                            f"not server {sid}"))
    if node.get("provision_state") != "active":
        out.append(Violation(NODE_ACTIVE, f"node {uuid} is {node.get('provision_state')}, not active"))
    providers = allocation_providers(consumer_allocations)
    if not providers:
        out.append(Violation(ALLOCATION_MISSING, f"server {sid} has no allocation in Placement"))
    elif providers != [uuid]:
        others = [rp for rp in providers if rp != uuid]
        out.append(Violation(ALLOCATION_ELSEWHERE, f"server {sid} consumes providers {', '.join(others)} "
                                                   f"besides/instead of node {uuid}'s"))
    return out + _shared(provider_consumers)


def _row(server: Mapping, node: Mapping | None, providers: list) -> dict:
    return {"name": server.get("name"), "server_id": server.get("id"), "status": server.get("status"),
            "node_name": (node or {}).get("name"), "node_uuid": server.get(HYPERVISOR),
            "node_state": (node or {}).get("provision_state"), "node_instance_uuid": (node or {}).get("instance_uuid"),
            "allocation_providers": providers, "ok": True}


def fleet(servers: Iterable[Mapping], nodes_by_uuid: Mapping, allocations_by_consumer: Mapping | None
          ) -> tuple[list, list]:
    """(one "server -> node -> allocation" row per server, fleet-wide violations). A row is ok when
    its server is ACTIVE, passes check() and is named by no fleet-wide violation."""
    servers = list(servers or ())
    allocs = allocations_by_consumer or {}
    rows, violations = [], []
    by_node = defaultdict(list)
    consumers = defaultdict(set)
    for consumer, allocation in allocs.items():
        for rp in allocation_providers(allocation):
            consumers[rp].add(str(consumer))
    bad = set()
    for server in servers:
        sid, landed = server.get("id"), server.get(HYPERVISOR)
        node = nodes_by_uuid.get(landed) if landed else None
        row = _row(server, node, allocation_providers(allocs.get(sid)))
        if landed:
            by_node[landed].append(sid)
        if str(server.get("status") or "").upper() == "ACTIVE":
            if node is None:
                where = landed or "no hypervisor_hostname"
                violations.append(Violation(SERVER_NO_NODE, f"server {server.get('name')} ({sid}) is ACTIVE on "
                                                            f"no known node ({where})"))
                bad.add(sid)
            elif check(server, node, allocs.get(sid), None):
                bad.add(sid)
        else:
            bad.add(sid)
        rows.append(row)
    holders = defaultdict(set)
    for uuid, sids in by_node.items():
        holders[uuid].update(sids)
    for uuid, node in nodes_by_uuid.items():
        if node and node.get("instance_uuid"):
            holders[uuid].add(node["instance_uuid"])
    for uuid, sids in sorted(holders.items()):
        if len(sids) > 1:
            violations.append(Violation(NODE_SHARED, f"node {uuid} is claimed by {len(sids)} servers: "
                                                     f"{', '.join(sorted(sids))}"))
            bad.update(sids)
    violations.extend(_shared(consumers))
    for sids in consumers.values():
        if len(sids) > 1:
            bad.update(sids)
    for row in rows:
        row["ok"] = row["server_id"] not in bad
    return rows, violations
