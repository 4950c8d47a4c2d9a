# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Recovery of an audit's findings (the flow behind fleet_recover).

One audit pass (fleet_audit_run) gives the findings; recovery_policy gives each its Plan;
`select_plans` (pure) decides which run; each step re-reads its node/server first (the first step
also checks recovery_policy.still_applies, so a node that moved since the audit is left alone),
sends the request of recover_steps and waits - bounded by the step's timeout on the injected
clock/sleep - until recover_steps.reached says done. A failed plan is recorded and the next one
tried; the failure is raised only at the end, with the whole report."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import (
    errors, fleet_audit_run, recover_steps, recovery_policy)
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import NODE_VIEW_FIELDS
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_client import NovaApi

# Kinds with an automatic action (the default of `kinds`).
AUTO_KINDS = tuple(k for k, actions in recovery_policy.KIND_ACTIONS.items() if actions)
POLL_S = 5.0
NODE_FIELDS = NODE_VIEW_FIELDS + ("provision_updated_at",)   # what still_applies compares
NEEDS_OPT_IN = "needs allow_destructive: true"


@dataclass
class RecoverRequest:
    audit: fleet_audit_run.AuditRequest = field(default_factory=fleet_audit_run.AuditRequest)
    allow_destructive: bool = False
    kinds: tuple = AUTO_KINDS
    max_actions: int = 20

    @classmethod
    def from_params(cls, p: Mapping) -> "RecoverRequest":
        allow = p.get("allow_destructive", False)
        if not isinstance(allow, bool):
            raise errors.BadInput(f"allow_destructive: {allow!r} is not a boolean (true/false)")
        kinds = p.get("kinds") or ()
        if isinstance(kinds, str) or not all(isinstance(k, str) for k in kinds):
            raise errors.BadInput(f"kinds: {kinds!r} must be a list of finding kinds")
        unknown = [k for k in kinds if k not in recovery_policy.KIND_ACTIONS]
        manual = [k for k in kinds if k in recovery_policy.KIND_ACTIONS and k not in AUTO_KINDS]
        if unknown or manual:
            what = f"unknown finding kind(s) {', '.join(unknown)}" if unknown else \
                f"{', '.join(manual)} ha(s) no automatic recovery (report only)"
            raise errors.BadInput(f"kinds: {what}; use any of {', '.join(AUTO_KINDS)}")
        most = p.get("max_actions", 20)
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            raise errors.BadInput(f"max_actions: {most!r} must be a whole number of at least 1 (use check mode "
                                  "to only see the plan)")
        audit = fleet_audit_run.AuditRequest.from_params({**p, "fail_on": ()})
        return cls(audit, allow, tuple(dict.fromkeys(kinds)) or AUTO_KINDS, most)


def _objects(finding: Any, plan: recovery_policy.Plan) -> set:
    return {("node", finding.node_uuid) if s.target == "node" else ("server", finding.server_id) for s in plan.steps}


def select_plans(pairs: list, req: RecoverRequest) -> tuple[list[int], dict[int, str]]:
    """Which (finding, plan) pairs run, by index, and why each other one is skipped. One plan per
    node/server per run (a second finding on it waits for the next audit), at most max_actions."""
    run: list[int] = []
    skipped: dict[int, str] = {}
    taken: set = set()
    for i, (finding, plan) in enumerate(pairs):
        mine = _objects(finding, plan)
        if plan.action == "report_only" or not plan.steps:
            skipped[i] = f"report only: {plan.why}" if plan.why else "report only"
        elif finding.kind not in req.kinds:
            skipped[i] = f"kind {finding.kind} is not in kinds"
        elif plan.destructive and not req.allow_destructive:
            skipped[i] = NEEDS_OPT_IN
        elif mine & taken:
            skipped[i] = "another plan of this run acts on the same node/server"
        elif len(run) >= req.max_actions:
            skipped[i] = f"max_actions ({req.max_actions}) reached"
        else:
            run.append(i)
            taken |= mine
    return run, skipped


def _seen(node: Mapping | None, server: Mapping | None) -> dict:
    out: dict[str, Any] = {}
    if node is not None:
        out["node"] = {k: node.get(k) for k in ("provision_state", "target_provision_state", "reservation",
                                                "maintenance", "last_error")}
    if server is not None:
        out["server"] = {"status": server.get("status"), "task_state": server.get("OS-EXT-STS:task_state")}
    return out


class _Executor:
    """Runs one plan's steps against the live objects; I/O only, decisions in recover_steps."""

    def __init__(self, conn, ironic, outage_budget: float, clock: Callable[[], float], sleep: Callable) -> None:
        self.conn, self.ironic, self.budget, self.clock, self.sleep = conn, ironic, outage_budget, clock, sleep
        self._nova: NovaApi | None = None

    @property
    def nova(self) -> NovaApi:
        if self._nova is None:
            self._nova = NovaApi(self.conn, outage_budget=self.budget)
        return self._nova

    def read(self, finding: Any, first: bool) -> tuple:
        node = self.ironic.get_node(finding.node_uuid, NODE_FIELDS) if finding.node_uuid else None
        server = None
        if finding.server_id:
            server = self.nova.get_server(finding.server_id)
        elif first and finding.kind == "orphan_node" and node and node.get("instance_uuid"):
            server = self.nova.get_server(node["instance_uuid"])   # still_applies: still no such server
        return node, server

    def send(self, request: recover_steps.Request, before: Mapping) -> None:
        if request.service == "ironic":
            def took_effect():
                # An ambiguous failure: the node moved (or took a target) if the request got through.
                fresh = self.ironic.get_node(request.ident, NODE_FIELDS)
                keys = ("provision_state", "target_provision_state", "provision_updated_at")
                return fresh if fresh and any(fresh.get(k) != before.get(k) for k in keys) else None
            self.ironic.request(request.method, request.path, json=dict(request.body or {}),
                                microversion=request.microversion, reconcile=took_effect)
        elif request.method == "DELETE":
            self.nova.delete_server(request.ident)
        else:
            self.nova.server_action(request.ident, dict(request.body or {}))

    def wait(self, step: Any, finding: Any, node: Mapping | None, server: Mapping | None) -> tuple:
        before = node if step.target == "node" else server
        deadline = self.clock() + step.timeout_s
        while True:
            if step.target == "node":
                node = self.ironic.get_node(finding.node_uuid, NODE_FIELDS)
            else:
                server = self.nova.get_server(finding.server_id)
            verdict = recover_steps.reached(step, node, server, before)
            if verdict is not False or self.clock() >= deadline:
                return verdict, node, server
            self.sleep(max(0.0, min(POLL_S, deadline - self.clock())))

    def execute(self, finding: Any, plan: recovery_policy.Plan, rec: dict) -> None:
        node = server = None
        for n, step in enumerate(plan.steps):
            node, server = self.read(finding, n == 0)
            if n == 0 and not recovery_policy.still_applies(finding, node, server):
                rec.update(outcome="skipped", reason="changed since the audit", last_seen=_seen(node, server))
                return
            request = recover_steps.request_for(step, node, server)
            if request is not None:
                rec["sent"] = True
                self.send(request, (node if step.target == "node" else server) or {})
            verdict, node, server = self.wait(step, finding, node, server)
            if verdict is not True:
                why = "reached a failed state" if verdict is None else f"timed out after {step.timeout_s:.0f} s"
                rec.update(outcome="failed", reason=f"step {n + 1} ({step.verb}) {why}", last_seen=_seen(node, server))
                return
        rec.update(outcome="done", reason="", last_seen=_seen(node, server))


def _record(finding: Any, plan: recovery_policy.Plan) -> dict:
    return {"kind": finding.kind, "node": finding.node, "node_uuid": finding.node_uuid, "server": finding.server,
            "server_id": finding.server_id, "action": plan.action, "destructive": plan.destructive,
            "why": plan.why, "steps": recover_steps.describe(plan), "outcome": "skipped", "reason": ""}


def run(conn, ironic, req: RecoverRequest, check_mode: bool, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep) -> dict:
    audit = fleet_audit_run.audit_once(conn, ironic, req.audit)
    ours = fleet_audit_run.ours_predicate(req.audit.ours_nodes)
    nodes = {n.get("uuid"): n for n in audit.snapshot.nodes}
    servers = {s.get("id"): s for s in audit.snapshot.servers or ()}
    pairs = []
    for finding in audit.findings:
        node = nodes.get(finding.node_uuid)
        ctx = recovery_policy.Context(node, servers.get(finding.server_id), bool(node and ours(node)))
        pairs.append((finding, recovery_policy.plan_for(finding, ctx, audit.policy)))
    chosen, skipped = select_plans(pairs, req)
    records = [_record(f, p) for f, p in pairs]
    for i, reason in skipped.items():
        records[i]["reason"] = reason
    executor, stop = _Executor(conn, ironic, req.audit.outage_budget, clock, sleep), None
    for i in chosen:
        rec = records[i]
        if check_mode or stop:
            rec.update(outcome="planned" if check_mode else "skipped", reason=f"not tried: {stop}" if stop else "")
            continue
        try:
            executor.execute(*pairs[i], rec)
        except (errors.RunGone, errors.CloudUnreachable) as exc:
            rec.update(outcome="failed", reason=exc.msg)
            stop = exc.msg
        except errors.IronwaveError as exc:   # refused (400/409), gone: this plan only
            rec.update(outcome="failed", reason=exc.msg)
    return _result(audit, records, chosen, check_mode)


def _result(audit: fleet_audit_run.AuditPass, records: list, chosen: list, check_mode: bool) -> dict:
    outcomes = [r["outcome"] for r in records]
    flags = [r.pop("sent", False) for r in records]   # pop from every record
    sent = any(flags)
    acted = [r for r in records if r["outcome"] in ("done", "failed", "planned")]
    shown = audit.result()
    after = [f"{r['action']} {r['kind']} {r['node'] or ''} {r['server'] or ''}".rstrip() + ": " + "; ".join(r["steps"])
             for r in (records[i] for i in chosen) if r["outcome"] in ("planned", "done", "failed")]
    result = {
        "changed": sent or "planned" in outcomes or "done" in outcomes, "plans": records,
        "actions": len(acted), "skipped": outcomes.count("skipped"),
        "failed_plans": outcomes.count("failed"),   # not `failed`: Ansible reads that key as the task's verdict
        "findings": shown["findings"], "by_kind": shown["by_kind"], "summary": shown["summary"],
        "table": shown["table"], "check_mode": check_mode,
        "diff": {"before": "\n".join([shown["summary"]] + shown["table"]) + "\n",
                 "after": "\n".join(after or ["no recovery actions"]) + "\n"},
    }
    if result["failed_plans"]:
        names = [r["node"] or r["server"] or r["kind"] for r in records if r["outcome"] == "failed"]
        raise errors.RecoveryFailed(f"{result['failed_plans']} recovery plan(s) failed ({', '.join(map(str, names))}); "
                                    "every other plan was tried - see `plans` for each step, reason and last seen "
                                    "state", **result)
    return result
