# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""recover_steps against every plan recovery_policy can make: the plans are built by walking the
policy's own tables (NODE_STATES, SERVER_TASKS, KIND_ACTIONS), so a new verb without a request, or
a translation no plan uses any more, fails here."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states
from ansible_collections.ironwave.baremetal.plugins.module_utils import recover_steps as rs
from ansible_collections.ironwave.baremetal.plugins.module_utils import recovery_policy as rp
from ironwave_testlib.recovery_cases import nf, node, server, sf


def _policies(key):
    """No override, plus one override per action the policy allows for `key`."""
    allowed = [a for a in rp.KIND_ACTIONS.get(key, ()) or
               (rp.NODE_STATES.get(key) or rp.SERVER_TASKS.get(key) or ()) if a in rp.ACTIONS]
    return [None] + [rp.resolve_policy({key: a}) for a in allowed]


def every_plan():
    """Every plan the policy tables lead to, over states, overrides, ownership and node contexts."""
    plans = []
    for state in rp.NODE_STATES:
        for kind in ("node_failed", "node_held", "node_wait_expiring"):
            for policy in _policies(state) + _policies(kind):
                for ours in (True, False):
                    n = node(state)
                    plans.append(rp.plan_for(nf(kind, n), rp.Context(n, None, ours), policy))
    for state in ("deploying", "cleaning", "active"):
        for kind, extra in (("node_locked_dead_conductor", {}), ("node_stuck", {"conductor_alive": False})):
            for fails_to in (None, *rp.TAKEOVER_FAILS_TO.values()):
                for policy in _policies(fails_to) if fails_to else [None]:
                    for ours in (True, False):
                        n = node(state, reservation="c2")
                        plans.append(rp.plan_for(nf(kind, n, **extra), rp.Context(n, None, ours), policy))
    for state in ironic_states.UNDEPLOY_FROM:
        n = node(state, "gone")
        plans.append(rp.plan_for(nf("orphan_node", n), rp.Context(n, None, False)))
    contexts = [node(), node(power="power off"), node("deploy failed"), node("wait call-back"), node(power=None)]
    for task in rp.SERVER_TASKS:
        for policy in _policies(task) + _policies("server_task_stuck"):
            for n in contexts:
                for host in ("cmp1", None):
                    s = server(task, "BUILD" if task in ("spawning", "scheduling") else "ACTIVE", host)
                    plans.append(rp.plan_for(sf("server_task_stuck", s, n), rp.Context(n, s), policy))
    s = server(status="ERROR")
    plans.append(rp.plan_for(sf("server_error_node_active", s, node()), rp.Context(node(), s)))
    return plans


PLANS = list({repr(p): p for p in every_plan()}.values())
STEPS = list({repr(s): s for p in PLANS for s in p.steps}.values())   # Step args are not hashable


def test_the_walk_covers_node_and_server_plans():
    actions = {p.action for p in PLANS}
    assert set(rp.NODE_ACTIONS) | set(rp.SERVER_ACTIONS) | {"wait_takeover"} <= actions


def test_every_verb_the_policy_produces_has_a_translation_and_no_translation_is_dead():
    assert {s.verb for s in STEPS} == rs.VERBS


@pytest.mark.parametrize("step", STEPS, ids=lambda s: f"{s.verb}->{s.waits_for}")
def test_every_step_translates(step):
    req = rs.request_for(step, node("deploy failed"), server())
    if step.verb in rs.WAIT_ONLY:
        assert req is None
        return
    assert req.service == ("ironic" if step.target == "node" else "nova")
    if step.target == "node":
        assert req.as_tuple() == ("ironic", "PUT", "/nodes/n1/states/provision", {"target": rs.NODE_TARGETS[step.verb]})
        assert req.ident == "n1"
    elif step.verb == "delete_server":
        assert req.as_tuple() == ("nova", "DELETE", "/servers/s1", None)
    else:
        assert (req.method, req.path, req.ident) == ("POST", "/servers/s1/action", "s1")


@pytest.mark.parametrize("verb,target", [("abort", "abort"), ("deploy", "active"), ("rebuild", "rebuild"),
                                         ("undeploy", "deleted"), ("manage", "manage"), ("provide", "provide")])
def test_node_targets(verb, target):
    req = rs.request_for(rp.Step("node", verb), node("error"), None)
    assert req.body == {"target": target} and req.microversion is None


@pytest.mark.parametrize("state", ["service wait", "service hold", "service failed"])
def test_aborting_servicing_asks_for_the_servicing_api(state):
    assert rs.request_for(rp.Step("node", "abort"), node(state), None).microversion == rs.SERVICE_MICROVERSION


@pytest.mark.parametrize("verb,args,body", [
    ("set_server_state", {"state": "active"}, {"os-resetState": {"state": "active"}}),
    ("set_server_state", {"state": "error"}, {"os-resetState": {"state": "error"}}),
    ("clear_task_state", {"state": "active"}, {"os-resetState": {"state": "active"}}),
    ("reboot_server", {"type": "HARD"}, {"reboot": {"type": "HARD"}}),
    ("power_on", {}, {"os-start": None}),
    ("power_off", {}, {"os-stop": None}),
])
def test_server_bodies(verb, args, body):
    assert rs.request_for(rp.Step("server", verb, args), None, server()).body == body


def test_the_policy_steps_send_the_bodies_nova_start_up_would():
    by_verb = {s.verb: rs.request_for(s, None, server()).body for s in STEPS if s.target == "server"
               and s.verb != "delete_server"}
    assert by_verb["reboot_server"] == {"reboot": {"type": "HARD"}}
    assert {str(b) for v, b in by_verb.items() if v in ("set_server_state", "clear_task_state")} == {
        str({"os-resetState": {"state": "active"}}), str({"os-resetState": {"state": "error"}})}


def test_gone_objects_and_unknown_verbs():
    with pytest.raises(errors.NotFound, match="node is gone"):
        rs.request_for(rp.Step("node", "deploy"), None, None)
    with pytest.raises(errors.NotFound, match="server is gone"):
        rs.request_for(rp.Step("server", "power_on"), node(), None)
    with pytest.raises(errors.IronwaveError, match="'teleport'") as info:
        rs.request_for(rp.Step("node", "teleport"), node(), None)
    assert info.value.kind == "unsupported"


# -- reached ---------------------------------------------------------------------------------
NODE_STEPS = [s for s in STEPS if s.target == "node" and s.verb not in rs.WAIT_ONLY]
SERVER_STEPS = [s for s in STEPS if s.target == "server"]
TAKEOVERS = [s for s in STEPS if s.verb in rs.WAIT_ONLY]


@pytest.mark.parametrize("step", NODE_STEPS, ids=lambda s: f"{s.verb}->{s.waits_for}")
def test_node_steps_reach_their_state_and_fail_on_a_failed_one(step):
    assert rs.reached(step, node(step.waits_for), None) is True
    assert rs.reached(step, node(step.waits_for, target_provision_state="active"), None) is True   # deploy failed
    for busy in ("deploying", "wait call-back", "deleting", "cleaning", "clean wait", "verifying"):
        if busy != step.waits_for:
            assert rs.reached(step, node(busy), None) is False
    failed = sorted(ironic_states.FAILED - {step.waits_for})
    for state in failed:
        moved = node(state, provision_updated_at="2026-12-01T11:05:00+00:00")
        assert rs.reached(step, moved, None, before=node(state)) is None
        assert rs.reached(step, node(state), None, before=node(state)) is False   # not moved yet
    assert rs.reached(step, None, None) is None


def test_a_redeploy_that_fails_again_is_failed_not_waited_for():
    deploy = rp.Step("node", "deploy", {}, "active", rp.T_LONG)
    before = node("deploy failed")
    assert rs.reached(deploy, node("deploying"), None, before) is False
    assert rs.reached(deploy, node("deploy failed", provision_updated_at="2026-12-01T12:00:00+00:00"), None,
                      before) is None


@pytest.mark.parametrize("step", TAKEOVERS, ids=lambda s: f"{s.verb}->{s.waits_for}")
def test_takeover_waits_for_the_lock_and_the_failed_state(step):
    if step.waits_for == "unlocked":
        assert rs.reached(step, node("active"), None) is True
        assert rs.reached(step, node("active", reservation="c2"), None) is False
        return
    assert rs.reached(step, node(step.waits_for), None) is True
    assert rs.reached(step, node(step.waits_for, reservation="c3"), None) is False
    for working in rs.TAKEOVER_FROM:
        assert rs.reached(step, node(working, reservation="c2"), None) is False
    assert rs.reached(step, node("active"), None) is None   # moved elsewhere: the plan no longer applies
    assert rs.reached(step, None, None) is None


@pytest.mark.parametrize("step", SERVER_STEPS, ids=lambda s: f"{s.verb}->{s.waits_for}")
def test_server_steps(step):
    moved = "2026-12-01T12:00:00Z"
    if step.waits_for == "deleted":
        assert rs.reached(step, None, None) is True
        assert rs.reached(step, None, server(status="DELETED")) is True
        assert rs.reached(step, None, server("deleting")) is False
    else:
        assert rs.reached(step, None, server(status=step.waits_for)) is True
        assert rs.reached(step, None, server(status=step.waits_for.lower())) is True
        assert rs.reached(step, None, server("rebooting_hard", status=step.waits_for)) is False
        assert rs.reached(step, None, None) is None
    if step.waits_for != "ERROR":
        assert rs.reached(step, None, server(status="ERROR", updated=moved), before=server()) is None
        assert rs.reached(step, None, server(status="ERROR"), before=server(status="ERROR")) is False


# -- describe --------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", [p for p in PLANS if p.steps], ids=lambda p: f"{p.kind}:{p.action}")
def test_describe_says_each_step_and_its_bound(plan):
    lines = rs.describe(plan)
    assert len(lines) == len(plan.steps)
    for line, step in zip(lines, plan.steps):
        assert line.startswith(step.target + ":") and f"{step.timeout_s:.0f} s" in line
        assert step.verb in line or (step.verb in rs.WAIT_ONLY and "take over" in line)
        assert (step.waits_for in line) or (step.waits_for == "unlocked" and "lock" in line)


def test_describe_every_step_and_a_report_only_plan():
    assert all("unknown" not in line for p in PLANS for line in rs.describe(p))
    assert rs.describe(rp.Plan("node_stuck", "report_only")) == []
    n = node("deploying", reservation="c2")
    takeover = rp.plan_for(nf("node_locked_dead_conductor", n), rp.Context(n, None, True))
    assert rs.describe(takeover)[0] == ("node: wait for a live conductor to take over from c2, then wait for "
                                        "deploy failed (up to 300 s)")
    assert rs.describe(takeover)[1] == ("node: deploy (provision target 'active'), then wait for active "
                                        "(up to 3600 s)")
