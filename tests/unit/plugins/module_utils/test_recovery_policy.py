# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import recovery_policy as rp
from ansible_collections.ironwave.baremetal.plugins.module_utils.audit_rules import Finding
from ironwave_testlib.recovery_cases import nf, node, server, sf


def node_of(finding):
    """The node a node finding was made from (None for findings without a node)."""
    if not finding.node_uuid:
        return None
    return node(**{k: finding.evidence[k] for k in ("provision_state", "instance_uuid", "maintenance", "reservation")})


def plan(finding, n=None, s=None, ours=False, policy=None):
    return rp.plan_for(finding, rp.Context(n, s, ours), policy)


DEAD = {"reservation": "c2"}
# (case, finding, context node, context server, ours, action, verbs, waits_for of the last step)
ROWS = [
    ("wait call-back, ours", nf("node_wait_expiring", node("wait call-back")), True, "redeploy", ["abort", "deploy"], "active"),
    ("wait call-back, not ours", nf("node_wait_expiring", node("wait call-back")), False, "undeploy", ["undeploy"], "available"),
    ("deploy hold, ours", nf("node_held", node("deploy hold")), True, "redeploy", ["abort", "deploy"], "active"),
    ("deploy hold, not ours", nf("node_held", node("deploy hold")), False, "undeploy", ["undeploy"], "available"),
    ("deploy failed, ours", nf("node_failed", node("deploy failed")), True, "redeploy", ["deploy"], "active"),
    ("deploy failed, not ours", nf("node_failed", node("deploy failed")), False, "undeploy", ["undeploy"], "available"),
    ("error", nf("node_failed", node("error")), True, "undeploy", ["undeploy"], "available"),
    ("clean wait", nf("node_wait_expiring", node("clean wait", None)), False, "reclean",
     ["abort", "manage", "provide"], "available"),
    ("clean hold", nf("node_held", node("clean hold", None)), False, "reclean", ["abort", "manage", "provide"], "available"),
    ("clean failed", nf("node_failed", node("clean failed", None)), False, "reclean", ["manage", "provide"], "available"),
    ("inspect wait", nf("node_wait_expiring", node("inspect wait", None)), False, "abort_inspection",
     ["abort", "manage"], "manageable"),
    ("inspect failed", nf("node_failed", node("inspect failed", None)), False, "manage", ["manage"], "manageable"),
    ("adopt failed", nf("node_failed", node("adopt failed", None)), False, "manage", ["manage"], "manageable"),
    ("service hold", nf("node_held", node("service hold")), False, "abort_service", ["abort", "abort"], "active"),
    ("service failed", nf("node_failed", node("service failed")), False, "abort_service", ["abort"], "active"),
    ("rescue failed", nf("node_failed", node("rescue failed")), False, "report_only", [], None),
    ("stuck, live conductor", nf("node_stuck", node("deploying"), conductor_alive=True), True, "report_only", [], None),
    ("stuck, dead conductor", nf("node_stuck", node("deploying", conductor="c2"), conductor_alive=False), True,
     "wait_takeover", ["wait_takeover", "deploy"], "active"),
    ("dead lock, deploying, ours", nf("node_locked_dead_conductor", node("deploying", **DEAD)), True,
     "wait_takeover", ["wait_takeover", "deploy"], "active"),
    ("dead lock, deploying, not ours", nf("node_locked_dead_conductor", node("deploying", **DEAD)), False,
     "wait_takeover", ["wait_takeover", "undeploy"], "available"),
    ("dead lock, cleaning", nf("node_locked_dead_conductor", node("cleaning", None, **DEAD)), False,
     "wait_takeover", ["wait_takeover", "manage", "provide"], "available"),
    ("dead lock, active", nf("node_locked_dead_conductor", node("active", **DEAD)), False,
     "wait_takeover", ["wait_takeover"], "unlocked"),
    ("orphan", nf("orphan_node", node("active", "gone")), False, "undeploy", ["undeploy"], "available"),
    ("orphan, clean failed", nf("orphan_node", node("clean failed", "gone")), False, "report_only", [], None),
    ("maintenance", nf("node_failed", node("deploy failed", maintenance=True)), True, "report_only", [], None),
    ("allocation", Finding("allocation_stale", evidence={"uuid": "a1", "state": "error"}), False, "report_only", [], None),
]
SERVER_ROWS = [
    ("error, node active for it", "server_error_node_active", server(status="ERROR"), node(), "mark_server_active",
     ["set_server_state"], "ACTIVE"),
    ("spawning, node active for it", "server_task_stuck", server("spawning", "BUILD"), node(), "mark_server_active",
     ["set_server_state"], "ACTIVE"),
    ("spawning, node failed", "server_task_stuck", server("spawning", "BUILD"), node("deploy failed"),
     "mark_server_error", ["set_server_state"], "ERROR"),
    ("spawning, node still deploying", "server_task_stuck", server("spawning", "BUILD"), node("wait call-back"),
     "report_only", [], None),
    ("scheduling, no host", "server_task_stuck", server("scheduling", "BUILD", host=None), None,
     "mark_server_error", ["set_server_state"], "ERROR"),
    ("deleting", "server_task_stuck", server("deleting"), node(), "delete_server", ["delete_server"], "deleted"),
    ("reboot, power on", "server_task_stuck", server("rebooting"), node(), "reissue_power", ["clear_task_state"], "ACTIVE"),
    ("hard reboot, power off", "server_task_stuck", server("rebooting_hard"), node(power="power off"),
     "reissue_power", ["clear_task_state", "reboot_server"], "ACTIVE"),
    ("powering on, power off", "server_task_stuck", server("powering-on"), node(power="power off"),
     "reissue_power", ["clear_task_state", "power_on"], "ACTIVE"),
    ("powering on, power on", "server_task_stuck", server("powering-on"), node(), "reissue_power",
     ["clear_task_state"], "ACTIVE"),
    ("powering off", "server_task_stuck", server("powering-off"), node(power="power off"), "reissue_power",
     ["clear_task_state", "power_off"], "SHUTOFF"),
    ("reboot, power unknown", "server_task_stuck", server("rebooting"), node(power=None), "report_only", [], None),
    ("image task", "server_task_stuck", server("image_uploading"), node(), "clear_task_state",
     ["clear_task_state"], "ACTIVE"),
    ("rebuilding", "server_task_stuck", server("rebuilding"), node(), "mark_server_error", ["set_server_state"], "ERROR"),
    ("unknown task", "server_task_stuck", server("pausing"), node(), "report_only", [], None),
]


@pytest.mark.parametrize("case,finding,ours,action,verbs,last", ROWS, ids=[r[0] for r in ROWS])
def test_node_policy_rows(case, finding, ours, action, verbs, last):
    p = plan(finding, node_of(finding), None, ours)
    assert (p.action, [s.verb for s in p.steps]) == (action, verbs)
    assert (p.steps[-1].waits_for if p.steps else None) == last
    assert all(s.target == "node" and s.timeout_s > 0 for s in p.steps)
    assert p.why


@pytest.mark.parametrize("case,kind,s,n,action,verbs,last", SERVER_ROWS, ids=[r[0] for r in SERVER_ROWS])
def test_server_policy_rows(case, kind, s, n, action, verbs, last):
    p = plan(sf(kind, s, n), n, s)
    assert (p.action, [st.verb for st in p.steps]) == (action, verbs)
    assert (p.steps[-1].waits_for if p.steps else None) == last
    assert not p.destructive and all(st.target == "server" for st in p.steps)


def test_an_interrupted_build_on_a_good_node_is_never_deleted():
    p = plan(sf("server_error_node_active", server(status="ERROR"), node()), node(), server(status="ERROR"))
    assert [(s.verb, dict(s.args)) for s in p.steps] == [("set_server_state", {"state": "active"})]


@pytest.mark.parametrize("kind,text", [
    ("node_managed_twice", "nova-manage db ironic_compute_node_move"), ("shard_without_compute", "[ironic] shard"),
    ("provider_two_consumers", "heal_allocations"), ("server_without_allocation", "heal_allocations"),
    ("allocation_wrong_provider", "allocation delete"), ("node_two_servers", "instance_uuid"),
    ("server_on_down_compute", "ironic_compute_node_move"), ("node_unmanaged", "nova-compute"),
    ("server_node_mismatch", "baremetal node show"), ("conductor_group_without_compute", "conductor_group"),
    ("allocation_stale", "allocation delete"),
])
def test_report_only_kinds_name_the_manual_procedure(kind, text):
    p = plan(Finding(kind, evidence={}), node(), server())
    assert p.action == "report_only" and p.steps == () and text in p.why


def test_destructive_means_undeploy_and_needs_the_opt_in():
    plans = [plan(r[1], node_of(r[1]), None, r[2]) for r in ROWS]
    plans += [plan(sf(r[1], r[2], r[3]), r[3], r[2]) for r in SERVER_ROWS]
    for p in plans:
        undeploys = any(s.verb == "undeploy" for s in p.steps)
        assert p.destructive is undeploys
        assert p.needs_opt_in == ("allow_destructive" if undeploys else None)
    assert any(p.destructive for p in plans)


@pytest.mark.parametrize("overrides,finding,ours,action", [
    ({"deploy failed": "undeploy"}, nf("node_failed", node("deploy failed")), True, "undeploy"),
    ({"wait call-back": "redeploy"}, nf("node_wait_expiring", node("wait call-back")), False, "redeploy"),
    ({"node_failed": "report_only"}, nf("node_failed", node("deploy failed")), True, "report_only"),
    ({"node_failed": "undeploy"}, nf("node_failed", node("clean failed")), False, "report_only"),   # not from there
    ({"node_failed": "undeploy", "deploy failed": "redeploy"}, nf("node_failed", node("deploy failed")), True,
     "redeploy"),                                                                                   # state wins
    ({"clean failed": "manage"}, nf("node_failed", node("clean failed")), False, "manage"),
    ({"node_stuck": "wait_takeover"}, nf("node_stuck", node("deploying"), conductor_alive=True), True, "wait_takeover"),
    ({"node_locked_dead_conductor": "report_only"}, nf("node_locked_dead_conductor", node("deploying", **DEAD)),
     True, "report_only"),
    ({"orphan_node": "report_only"}, nf("orphan_node", node("active", "gone")), False, "report_only"),
    ({"deploy failed": "report_only"}, nf("node_locked_dead_conductor", node("deploying", **DEAD)), True,
     "wait_takeover"),
])
def test_node_overrides(overrides, finding, ours, action):
    n = node(finding.evidence["provision_state"], finding.evidence["instance_uuid"],
             reservation=finding.evidence["reservation"])
    assert plan(finding, n, None, ours, rp.resolve_policy(overrides)).action == action


def test_a_state_override_follows_a_takeover():
    f = nf("node_locked_dead_conductor", node("deploying", **DEAD))
    p = plan(f, node("deploying", **DEAD), None, True, rp.resolve_policy({"deploy failed": "report_only"}))
    assert [s.verb for s in p.steps] == ["wait_takeover"] and "report_only" in p.why


@pytest.mark.parametrize("overrides,kind,s,n,action", [
    ({"spawning": "mark_server_error"}, "server_task_stuck", server("spawning", "BUILD"), node(), "mark_server_error"),
    ({"server_error_node_active": "report_only"}, "server_error_node_active", server(status="ERROR"), node(),
     "report_only"),
    ({"rebooting": "mark_server_error"}, "server_task_stuck", server("rebooting"), node(), "mark_server_error"),
    ({"server_task_stuck": "report_only"}, "server_task_stuck", server("deleting"), node(), "report_only"),
])
def test_server_overrides(overrides, kind, s, n, action):
    assert plan(sf(kind, s, n), n, s, policy=rp.resolve_policy(overrides)).action == action


@pytest.mark.parametrize("overrides,names", [
    ({"deploy faild": "undeploy"}, ["'deploy faild'", "deploy failed", "node_failed"]),
    ({"deploy failed": "reclean"}, ["'deploy failed'", "'reclean'", "redeploy", "undeploy"]),
    ({"node_two_servers": "delete_server"}, ["'node_two_servers'", "report_only"]),
    ({"orphan_node": "nuke"}, ["'orphan_node'", "undeploy"]),
    ({"spawning": "undeploy"}, ["'spawning'", "mark_server_error"]),
    ("undeploy", ["mapping"]),
])
def test_bad_overrides_name_the_key_and_the_allowed_values(overrides, names):
    with pytest.raises(errors.BadInput) as exc:
        rp.resolve_policy(overrides)
    for name in names:
        assert name in exc.value.msg


def test_no_overrides_is_the_default_policy():
    assert rp.resolve_policy(None) == rp.resolve_policy({}) == rp.Policy()


# -- still_applies ---------------------------------------------------------------------------
@pytest.mark.parametrize("change,applies", [
    ({}, True),
    ({"provision_state": "deploy failed"}, False),
    ({"provision_updated_at": "2026-12-01T11:30:00+00:00"}, False),
    ({"instance_uuid": "s9"}, False),
    ({"reservation": "c1"}, False),
    ({"maintenance": True}, False),
    ({"power_state": "power off"}, True),          # power sync does not change a node finding
    ({"last_error": "new text"}, True),
])
def test_still_applies_to_a_node(change, applies):
    f = nf("node_wait_expiring", node("wait call-back"))
    assert rp.still_applies(f, {**node("wait call-back"), **change}, None) is applies


@pytest.mark.parametrize("change,node_change,applies", [
    ({}, {}, True),
    ({"status": "ERROR"}, {}, False),
    ({"OS-EXT-STS:task_state": None}, {}, False),
    ({"updated": "2026-12-01T11:59:00Z"}, {}, False),
    ({}, {"power_state": "power off"}, False),     # the power plan depends on it
    ({}, {"provision_state": "deploy failed"}, False),
])
def test_still_applies_to_a_server(change, node_change, applies):
    f = sf("server_task_stuck", server("rebooting"), node())
    assert rp.still_applies(f, {**node(), **node_change}, {**server("rebooting"), **change}) is applies


def test_still_applies_when_things_vanish_or_appear():
    f = sf("server_task_stuck", server("deleting"), node())
    assert rp.still_applies(f, node(), None) is False
    assert rp.still_applies(nf("node_failed", node("deploy failed")), None, None) is False
    orphan = nf("orphan_node", node("active", "gone"))
    assert rp.still_applies(orphan, node("active", "gone"), None) is True
    assert rp.still_applies(orphan, node("active", "gone"), {"id": "gone", "status": "ACTIVE"}) is False
    assert rp.still_applies(Finding("shard_without_compute", evidence={"shard": "s2"}), None, None) is True


def test_the_plan_can_be_made_from_the_finding_alone():
    for s, n, action in ((server("spawning", "BUILD"), node(), "mark_server_active"),
                         (server("spawning", "BUILD"), node("deploy failed"), "mark_server_error"),
                         (server("rebooting_hard"), node(power="power off"), "reissue_power")):
        f = sf("server_task_stuck", s, n)
        assert rp.plan_for(f) == plan(f, n, s) and rp.plan_for(f).action == action
    f = nf("node_failed", node("deploy failed", maintenance=True))
    assert rp.plan_for(f).action == "report_only"
