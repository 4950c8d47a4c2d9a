# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Where a Nova build on Ironic stands, from one read of the server and its node (pure, stdlib only).

One predicate table, first match wins, so the waiting loop has a single place that says when a
build is done, failed, vanished or landed on the wrong node. Nova sets ACTIVE only after its
driver saw the node active (nova/virt/ironic/driver.py _wait_for_active), so ACTIVE with the node
not yet active (a stale node read) is still building; ACTIVE on another node than the pinned one
is never fine."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_faults

HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
TASK_STATE = "OS-EXT-STS:task_state"

BUILDING = "building"
ACTIVE = "active"
ERROR = "error"
GONE = "gone"
WRONG_NODE = "wrong_node"

_GONE_STATUSES = ("DELETED", "SOFT_DELETED")


@dataclass(frozen=True)
class Progress:
    outcome: str
    server: dict | None = None
    fault: nova_faults.BuildFault | None = None    # set for ERROR, GONE and WRONG_NODE (action fail)
    why: str = ""


def _status(server: Mapping) -> str:
    return str(server.get("status") or "").upper()


def _on_other_node(server: Mapping, node: Mapping | None, server_id: str, node_uuid: str | None) -> str:
    """Why an ACTIVE server is not where it should be ("" when it is)."""
    landed = server.get(HYPERVISOR)
    if node_uuid and landed and landed != node_uuid:
        return f"server {server_id} went ACTIVE on node {landed}, not the pinned node {node_uuid}"
    holder = (node or {}).get("instance_uuid")
    if holder and holder != server_id:
        return f"node {(node or {}).get('uuid') or node_uuid} holds instance {holder}, not server {server_id}"
    return ""


def _built(server: Mapping, node: Mapping | None, server_id: str) -> bool:
    return (node is not None and node.get("provision_state") == "active"
            and node.get("instance_uuid") == server_id)


def _gone(server, node, server_id, node_uuid):
    if server is None:
        why = f"server {server_id} no longer exists (deleted behind our back)"
        return Progress(GONE, None, nova_faults.make(nova_faults.SERVER_GONE, why), why)
    if _status(server) in _GONE_STATUSES:
        why = f"server {server_id} is {_status(server)}"
        return Progress(GONE, dict(server), nova_faults.make(nova_faults.SERVER_GONE, why), why)
    return None


def _error(server, node, server_id, node_uuid):
    if _status(server) != "ERROR":
        return None
    fault = nova_faults.classify(server.get("fault"), "ERROR", server.get(TASK_STATE))
    return Progress(ERROR, dict(server), fault, why=fault.message)


def _wrong_node(server, node, server_id, node_uuid):
    if _status(server) != "ACTIVE":
        return None
    why = _on_other_node(server, node, server_id, node_uuid)
    return Progress(WRONG_NODE, dict(server), nova_faults.make(nova_faults.WRONG_NODE, why), why) if why else None


def _active(server, node, server_id, node_uuid):
    if _status(server) == "ACTIVE" and _built(server, node, server_id):
        return Progress(ACTIVE, dict(server))
    return None


# First match wins; nothing matched -> still building.
RULES: tuple = (_gone, _error, _wrong_node, _active)


def progress(server: Mapping | None, node: Mapping | None, server_id: str, node_uuid: str | None) -> Progress:
    """Classify one observation. `node` is the node the server is (or should be) on, None when
    not known yet; `node_uuid` is the pinned node (None for an unpinned build)."""
    for rule in RULES:
        out = rule(server, node, server_id, node_uuid)
        if out is not None:
            return out
    status = _status(server)
    state = (node or {}).get("provision_state")
    why = f"server {status or '?'}, task {server.get(TASK_STATE) or '-'}, node {state or 'not known yet'}"
    return Progress(BUILDING, dict(server), why=why)


def retry_allowed(attempt: int, max_rebuilds: int, fault: nova_faults.BuildFault | None) -> bool:
    """May we delete the failed server and build again? `attempt` is the number of rebuilds done.
    Only races are rebuilt (recheck_capacity: the caller must also see a usable node first), and
    never more than `max_rebuilds` times, so a persistent failure ends."""
    if fault is None or attempt < 0:
        return False
    return fault.action in (nova_faults.REBUILD, nova_faults.RECHECK_CAPACITY) and attempt < max_rebuilds
