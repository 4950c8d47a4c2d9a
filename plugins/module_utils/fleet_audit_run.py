# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""One audit pass: read (fleet_audit_io), judge (audit_rules with audit_thresholds and
recovery_policy), shape the result. Shared by fleet_audit and fleet_recover, so recovery acts on
exactly the findings the audit reports."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import (
    audit_rules, audit_table, audit_thresholds, errors, fleet_audit_io, nova_capacity, recovery_policy)

NOVA_MODES = ("auto", "always", "never")
# The audit's module options (fleet_audit, and fleet_recover which audits first); documented in
# doc_fragments/fleet_audit.py.
AUDIT_OPTIONS = {
    "thresholds": {"type": "dict"},
    "policy": {"type": "dict"},
    "nova": {"type": "str", "choices": list(NOVA_MODES), "default": "auto"},
    "compute_shards": {"type": "dict"},
    "compute_conductor_groups": {"type": "dict"},
    "ours_nodes": {"type": "list", "elements": "str", "default": []},
}


@dataclass
class AuditRequest:
    thresholds: Mapping | None = None
    policy: Mapping | None = None
    fail_on: tuple = ()
    nova: str = "auto"
    compute_shards: Mapping | None = None
    compute_conductor_groups: Mapping | None = None
    ours_nodes: tuple = ()
    outage_budget: float = 120.0

    @classmethod
    def from_params(cls, p: Mapping) -> "AuditRequest":
        if p.get("nova", "auto") not in NOVA_MODES:
            raise errors.BadInput(f"nova: {p.get('nova')!r} is not one of {', '.join(NOVA_MODES)}")
        return cls(thresholds=p.get("thresholds"), policy=p.get("policy"), fail_on=tuple(p.get("fail_on") or ()),
                   nova=p.get("nova") or "auto", compute_shards=p.get("compute_shards"),
                   compute_conductor_groups=p.get("compute_conductor_groups"),
                   ours_nodes=tuple(p.get("ours_nodes") or ()), outage_budget=float(p.get("outage_budget") or 120))


@dataclass
class AuditPass:
    snapshot: audit_rules.Snapshot
    findings: list
    policy: recovery_policy.Policy
    thresholds: audit_thresholds.Thresholds
    requests: dict

    def result(self) -> dict:
        rows = audit_rules.as_rows(self.findings)
        counts = audit_rules.by_kind(self.findings)
        return {"findings": rows, "by_kind": counts, "summary": audit_table.summary(counts),
                "table": audit_table.render(rows), "nova": self.snapshot.servers is not None,
                "checked": {"nodes": len(self.snapshot.nodes),
                            "servers": len(self.snapshot.servers or ()),
                            "conductors": len(self.snapshot.conductors)},
                "requests": self.requests}


def ours_predicate(names: Iterable[str]) -> Callable[[Mapping], bool]:
    """A node is ours (recovery may deploy it again) when it was reserved through an Ironic
    allocation - how this collection's standalone path and metalsmith deploy - or is named in
    ours_nodes. A node Nova deployed (instance_uuid = a server) never is: Nova owns it."""
    named = set(names)

    def ours(node: Mapping) -> bool:
        return bool(node.get("allocation_uuid")) or node.get("uuid") in named or node.get("name") in named
    return ours


def audit_once(conn, ironic, req: AuditRequest, clock: Callable[[], float] = time.time) -> AuditPass:
    thresholds = audit_thresholds.resolve(req.thresholds)
    policy = recovery_policy.resolve_policy(req.policy)
    audit_rules.select([], req.fail_on)                     # BadInput on an unknown kind, before any read
    ironic_view = fleet_audit_io.read_ironic(ironic, clock)
    requests: dict[str, Any] = {"ironic": None}
    nova_view: dict[str, Any] = {}
    with_nova = req.nova == "always" or (req.nova == "auto" and fleet_audit_io.nova_configured(conn))
    if with_nova:
        classes = {nova_capacity.placement_class(n["resource_class"]) for n in ironic_view["nodes"]
                   if n.get("resource_class")}
        nova_view = fleet_audit_io.read_nova(conn, req.outage_budget, classes)
        requests.update(nova_view.pop("requests"))
    requests["ironic"] = ironic.requests
    snapshot = audit_rules.Snapshot(
        nodes=ironic_view["nodes"], now=ironic_view["now"], conductors=ironic_view["conductors"],
        ironic_allocations=ironic_view["ironic_allocations"], servers=nova_view.get("servers"),
        services=nova_view.get("services"), hypervisors=nova_view.get("hypervisors"),
        placement=nova_view.get("placement"), compute_shards=req.compute_shards,
        compute_conductor_groups=req.compute_conductor_groups)
    findings = audit_rules.audit(snapshot, thresholds, ours_predicate(req.ours_nodes), policy)
    return AuditPass(snapshot, findings, policy, thresholds, requests)


def check_fail_on(audit: AuditPass, fail_on: Iterable[str], result: dict) -> None:
    hits = audit_rules.select(audit.findings, fail_on)
    if hits:
        counts = audit_rules.by_kind(hits)
        raise errors.AuditFindings(f"{audit_table.summary(counts)} of a kind in fail_on; see `table` for each "
                                   "node/server and its recommended action", **result)
