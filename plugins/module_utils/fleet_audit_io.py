# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The reads of one fleet audit pass (I/O only; audit_rules decides).

Bulk reads only: one paged Ironic node listing with fields=, the conductors, the allocations;
when Nova is configured one paged server listing of all projects, the compute services, the
hypervisors, and Placement allocations for the providers Placement itself reports as used.
Placement has no listing of every allocation: reading a provider's allocations is one GET each,
so only the providers that hold something (or that Nova says hold an instance) are read - never
one read per idle node. `now` is Ironic's clock (the Date header of the node listing), so ages do
not depend on the controller's clock."""
from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterable

from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import ApiError
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_client import NovaApi, PlacementApi

# API 1.82: `shard` on nodes; 1.49: conductors; 1.52: allocations.
AUDIT_MICROVERSION = "1.82"
# Not `conductor` nor `allocation_uuid`: Ironic 39 answers 500 to a node listing whose fields= names
# one of the fields the API computes ("type object 'Node' has no attribute 'conductor'"). The
# conductor at work is `reservation`; allocation_uuid is filled from the allocation listing.
# Not `updated_at` either: fields= refuses it (400), provision_updated_at dates the state.
NODE_FIELDS = ("uuid", "name", "provision_state", "target_provision_state", "provision_updated_at",
               "reservation", "conductor_group", "maintenance", "maintenance_reason",
               "last_error", "instance_uuid", "power_state", "resource_class", "shard",
               "instance_info", "extra")
CONDUCTOR_FIELDS = ("hostname", "alive", "conductor_group", "updated_at")  # updated_at: audit_rules.live_conductors
ALLOCATION_FIELDS = ("uuid", "name", "node_uuid", "state", "resource_class", "updated_at", "created_at")


def _epoch(date_header: str | None, fallback: Callable[[], float]) -> float:
    try:
        return parsedate_to_datetime(date_header).timestamp() if date_header else fallback()
    except (TypeError, ValueError, IndexError):
        return fallback()


def _slim_node(node: dict) -> dict:
    """instance_info and extra can carry secrets (configdrive, passwords): keep only what the
    rules read - who deployed it and the pick markers' presence."""
    out = {k: node.get(k) for k in NODE_FIELDS + ("allocation_uuid",) if k not in ("instance_info", "extra")}
    info, extra = node.get("instance_info") or {}, node.get("extra") or {}
    out["deployed_by"] = (extra.get("ironwave_deployed_by") or info.get("ironwave_deployed_by")
                          if isinstance(extra, dict) and isinstance(info, dict) else None)
    out["extra_keys"] = sorted(extra) if isinstance(extra, dict) else []
    return out


def read_ironic(ironic, clock: Callable[[], float]) -> dict[str, Any]:
    saved = ironic.microversion
    ironic.microversion = AUDIT_MICROVERSION
    try:
        try:
            nodes = ironic.list("/nodes", "nodes", NODE_FIELDS)
        except ApiError as exc:
            if "406" not in exc.msg and "version" not in exc.msg.lower():
                raise
            # An Ironic older than 2023.2 (API 1.82): no shards to read.
            ironic.microversion = saved
            nodes = ironic.list("/nodes", "nodes", tuple(f for f in NODE_FIELDS if f != "shard"))
        now = _epoch(ironic.last_date, clock)
        conductors = ironic.list("/conductors", "conductors", CONDUCTOR_FIELDS)
        allocations = ironic.list("/allocations", "allocations", ALLOCATION_FIELDS)
    finally:
        ironic.microversion = saved
    allocation_of = {a["node_uuid"]: a["uuid"] for a in allocations if a.get("node_uuid")}
    for node in nodes:
        node["allocation_uuid"] = allocation_of.get(node.get("uuid"))
    return {"nodes": [_slim_node(n) for n in nodes], "conductors": conductors,
            "ironic_allocations": allocations, "now": now}


def read_nova(conn, outage_budget: float, resource_classes: Iterable[str], **kwargs: Any) -> dict[str, Any]:
    nova = NovaApi(conn, outage_budget=outage_budget, **kwargs)
    placement = PlacementApi(conn, outage_budget=outage_budget, **kwargs)
    servers = nova.servers(all_tenants=1)
    services = nova.compute_services()
    hypervisors = nova.hypervisors()
    every = {p["uuid"] for p in placement.providers()}
    free: set[str] = set()
    for rc in sorted(set(resource_classes)):
        free |= {p["uuid"] for p in placement.providers(f"{rc}:1")}
    # Used providers, and the node of every server (a server must have an allocation there).
    wanted = (every - free) | {s.get("OS-EXT-SRV-ATTR:hypervisor_hostname") for s in servers} - {None}
    by_provider = {u: placement.provider_allocations(u) for u in sorted(wanted & every)}
    return {"servers": servers, "services": services, "hypervisors": hypervisors, "placement": by_provider,
            "requests": {"compute": nova.api.requests, "placement": placement.api.requests}}


def nova_configured(conn) -> bool:
    """Does the cloud's catalog (or config) name a compute endpoint?"""
    try:
        return bool(conn.compute.get_endpoint())
    except Exception:  # noqa: BLE001 - keystoneauth raises several kinds for "no such service"
        return False
