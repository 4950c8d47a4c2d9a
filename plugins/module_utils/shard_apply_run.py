# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Plan and apply node shards (I/O glue; shard_plan decides).

Reads the nodes in one paged listing at API 1.82 (`shard` exists from 1.82 on) and, when Nova is
configured, which nova-compute manages each node today (hypervisors) and which compute services are
up. Writes `shard` only on the nodes the plan marks as changes - never on a node managed by another
compute (shard_plan refuses those with the move procedure) - one PATCH each, skipped in check mode."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, fleet_audit_io, shard_plan
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import ApiError
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_client import NovaApi

SHARD_MICROVERSION = "1.82"
NODE_FIELDS = ("uuid", "name", "shard", "conductor_group", "resource_class", "instance_uuid", "maintenance")
NOVA_MODES = ("auto", "always", "never")


@dataclass
class ShardRequest:
    max_size: int = shard_plan.DEFAULT_MAX_SIZE
    computes: tuple | None = None          # None: the nova-compute services that are up
    existing: Mapping | None = None
    nova: str = "auto"
    resource_classes: tuple = ()
    outage_budget: float = 120.0

    @classmethod
    def from_params(cls, p: Mapping) -> "ShardRequest":
        if p.get("nova", "auto") not in NOVA_MODES:
            raise errors.BadInput(f"nova: {p.get('nova')!r} is not one of {', '.join(NOVA_MODES)}")
        computes = p.get("computes")
        size = p.get("max_size")
        return cls(max_size=shard_plan.DEFAULT_MAX_SIZE if size is None else size,
                   computes=None if computes is None else tuple(computes), existing=p.get("existing"),
                   nova=p.get("nova") or "auto", resource_classes=tuple(p.get("resource_classes") or ()),
                   outage_budget=float(p.get("outage_budget") or 120))


def read_nova_ownership(conn, outage_budget: float) -> tuple[dict[str, str], list[str]]:
    """(node uuid -> compute host managing it, compute hosts that are up and enabled)."""
    nova = NovaApi(conn, outage_budget=outage_budget)
    managed = {h["hypervisor_hostname"]: (h.get("service") or {}).get("host")
               for h in nova.hypervisors() if h.get("hypervisor_hostname")}
    up = sorted(s["host"] for s in nova.compute_services()
                if s.get("state") == "up" and s.get("status") == "enabled" and not s.get("forced_down"))
    return {u: h for u, h in managed.items() if h}, up


def read_nodes(ironic, resource_classes: tuple) -> list[dict]:
    saved = ironic.microversion
    ironic.microversion = SHARD_MICROVERSION
    try:
        nodes = ironic.list("/nodes", "nodes", NODE_FIELDS)
    except ApiError as exc:
        if "406" not in exc.msg and "version" not in exc.msg.lower():
            raise
        raise errors.BadInput(f"this Ironic does not offer API {SHARD_MICROVERSION} (node shards, 2023.2 and "
                              f"later): {exc.msg}") from exc
    finally:
        ironic.microversion = saved
    return [n for n in nodes if not resource_classes or n.get("resource_class") in resource_classes]


def apply(conn, ironic, req: ShardRequest, check_mode: bool) -> dict[str, Any]:
    nodes = read_nodes(ironic, req.resource_classes)
    with_nova = req.nova == "always" or (req.nova == "auto" and fleet_audit_io.nova_configured(conn))
    managed, up = read_nova_ownership(conn, req.outage_budget) if with_nova else ({}, [])
    computes = list(req.computes) if req.computes is not None else up
    plan = shard_plan.plan(nodes, managed=managed, computes=computes, max_size=req.max_size,
                           existing=req.existing)
    changes = plan.changes()
    if not check_mode:
        for uuid, _old, new in changes:
            ironic.request("PATCH", f"/nodes/{uuid}", json=[{"op": "add", "path": "/shard", "value": new}],
                           microversion=SHARD_MICROVERSION)
    out = plan.as_dict()
    before = {u: o for u, o, _new in changes}
    after = {u: n for u, _old, n in changes}
    return {"changed": bool(changes), "plan": out, "computes": out["computes"], "refused": out["refused"],
            "nova": with_nova, "requests": {"ironic": ironic.requests},
            "diff": {"before": {"shards": before}, "after": {"shards": after}}}
