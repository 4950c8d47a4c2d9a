# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""fleet_recover_run: the request's validation and which plans run (pure parts only; the executor
runs against the real local Ironic in tests/integration/test_fleet_health.py)."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet_recover_run as fr
from ansible_collections.ironwave.baremetal.plugins.module_utils import recovery_policy as rp
from ansible_collections.ironwave.baremetal.plugins.module_utils.audit_rules import Finding


# -- RecoverRequest.from_params -----------------------------------------------------------------
def test_defaults():
    req = fr.RecoverRequest.from_params({})
    assert (req.allow_destructive, req.max_actions) == (False, 20)
    assert set(req.kinds) == {k for k, a in rp.KIND_ACTIONS.items() if a}
    assert "orphan_node" in req.kinds and "allocation_stale" not in req.kinds
    assert req.audit.fail_on == () and req.audit.nova == "auto"


def test_the_audit_options_pass_through_but_never_fail_on():
    req = fr.RecoverRequest.from_params({
        "allow_destructive": True, "kinds": ["node_failed", "node_failed", "orphan_node"], "max_actions": 3,
        "thresholds": {"wait call-back": 600}, "policy": {"deploy failed": "undeploy"}, "nova": "never",
        "compute_shards": {"c1": "s1"}, "ours_nodes": ["n1"], "fail_on": ["node_failed"], "outage_budget": 30})
    assert (req.allow_destructive, req.kinds, req.max_actions) == (True, ("node_failed", "orphan_node"), 3)
    audit = req.audit
    assert (audit.thresholds, audit.policy, audit.nova, audit.compute_shards, audit.ours_nodes, audit.outage_budget) == (
        {"wait call-back": 600}, {"deploy failed": "undeploy"}, "never", {"c1": "s1"}, ("n1",), 30.0)
    assert audit.fail_on == ()


def test_empty_kinds_means_every_automatic_kind():
    assert fr.RecoverRequest.from_params({"kinds": []}).kinds == fr.AUTO_KINDS


@pytest.mark.parametrize("params,field,words", [
    ({"allow_destructive": "yes"}, "allow_destructive", ["boolean"]),
    ({"kinds": ["node_on_fire"]}, "kinds", ["node_on_fire", "unknown", "node_failed"]),
    ({"kinds": ["allocation_stale"]}, "kinds", ["allocation_stale", "no automatic recovery"]),
    ({"kinds": "node_failed"}, "kinds", ["list"]),
    ({"kinds": [3]}, "kinds", ["list"]),
    ({"max_actions": 0}, "max_actions", ["at least 1"]),
    ({"max_actions": -2}, "max_actions", ["at least 1"]),
    ({"max_actions": "5"}, "max_actions", ["whole number"]),
    ({"max_actions": True}, "max_actions", ["whole number"]),
    ({"nova": "sometimes"}, "nova", ["auto"]),
])
def test_bad_input_names_the_field(params, field, words):
    with pytest.raises(errors.BadInput) as info:
        fr.RecoverRequest.from_params(params)
    assert info.value.msg.startswith(field + ":"), info.value.msg
    assert all(w in info.value.msg for w in words), info.value.msg


# -- select_plans ----------------------------------------------------------------------------------
def node(uuid, state, instance="i1"):
    return {"uuid": uuid, "name": f"node-{uuid}", "provision_state": state, "instance_uuid": instance,
            "power_state": "power on", "provision_updated_at": "2026-12-01T11:00:00+00:00", "reservation": None,
            "maintenance": False}


def node_pair(uuid, state, ours, kind="node_failed"):
    n = node(uuid, state)
    finding = Finding(kind, n["name"], uuid, evidence={"provision_state": state, "instance_uuid": "i1"})
    return finding, rp.plan_for(finding, rp.Context(n, None, ours))


def server_pair(sid, node_uuid, task="deleting"):
    s = {"id": sid, "name": f"srv-{sid}", "status": "ACTIVE", "OS-EXT-STS:task_state": task,
         "OS-EXT-SRV-ATTR:host": "cmp1"}
    finding = Finding("server_task_stuck", f"node-{node_uuid}", node_uuid, s["name"], sid,
                      evidence={"task_state": task, "status": "ACTIVE"})
    return finding, rp.plan_for(finding, rp.Context(node(node_uuid, "active", sid), s))


def req(**kw):
    return fr.RecoverRequest(**kw)


def test_report_only_destructive_and_runnable():
    pairs = [node_pair("a", "deploy failed", True), node_pair("b", "deploy failed", False),
             node_pair("c", "rescue failed", True),
             (Finding("allocation_stale", evidence={"uuid": "x"}),
              rp.Plan("allocation_stale", "report_only", why="delete it by hand"))]
    assert [p.action for _f, p in pairs] == ["redeploy", "undeploy", "report_only", "report_only"]
    run, skipped = fr.select_plans(pairs, req())
    assert run == [0]
    assert skipped[1] == "needs allow_destructive: true"
    assert skipped[2].startswith("report only") and skipped[3] == "report only: delete it by hand"
    run, skipped = fr.select_plans(pairs, req(allow_destructive=True))
    assert run == [0, 1] and set(skipped) == {2, 3}


def test_kinds_filter():
    pairs = [node_pair("a", "deploy failed", True), node_pair("b", "clean wait", False, "node_wait_expiring")]
    run, skipped = fr.select_plans(pairs, req(kinds=("node_wait_expiring",)))
    assert run == [1] and skipped == {0: "kind node_failed is not in kinds"}


def test_max_actions_counts_runnable_plans_only():
    pairs = [node_pair("r", "rescue failed", True)] + [node_pair(u, "deploy failed", True) for u in "abcd"]
    run, skipped = fr.select_plans(pairs, req(max_actions=2))
    assert run == [1, 2]
    assert skipped[3] == skipped[4] == "max_actions (2) reached" and skipped[0].startswith("report only")


def test_one_plan_per_object_per_run_but_a_node_and_its_server_may_both_run():
    first, again = node_pair("a", "deploy failed", True), node_pair("a", "deploy failed", True, "node_held")
    on_server = server_pair("s1", "a")
    assert on_server[1].action == "delete_server"
    run, skipped = fr.select_plans([first, again, on_server, server_pair("s1", "a")], req())
    assert run == [0, 2]
    assert skipped[1] == skipped[3] == "another plan of this run acts on the same node/server"


def test_a_skipped_plan_does_not_take_its_object_or_a_slot():
    pairs = [node_pair("a", "deploy failed", False), node_pair("a", "deploy failed", True, "node_held")]
    run, skipped = fr.select_plans(pairs, req(max_actions=1))
    assert run == [1] and skipped == {0: fr.NEEDS_OPT_IN}


def test_nothing_to_select():
    assert fr.select_plans([], req()) == ([], {})
