# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_build_rules as rules
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_faults as nf

SID = "5c7a2d6e-1f0b-4b8e-9a43-0d3c1f1e2a11"
NODE = "0f7d9a3c-8c55-4a2e-b0f4-6c0e7d2a9b10"
OTHER_NODE = "9d1e0c2b-3a4f-4e5d-8c6b-7a8f9e0d1c2b"


def _server(status="BUILD", hyp=None, task=None, fault=None):
    server = {"id": SID, "name": "web-1", "status": status, rules.HYPERVISOR: hyp, rules.TASK_STATE: task}
    if fault is not None:
        server["fault"] = fault
    return server


def _node(state="available", instance=None, uuid=NODE):
    return {"uuid": uuid, "provision_state": state, "instance_uuid": instance}


def test_active_when_server_active_and_node_active_with_our_instance():
    out = rules.progress(_server("ACTIVE", NODE), _node("active", SID), SID, NODE)
    assert out.outcome == rules.ACTIVE and out.fault is None
    assert out.server["id"] == SID


def test_unpinned_active():
    assert rules.progress(_server("ACTIVE", NODE), _node("active", SID), SID, None).outcome == rules.ACTIVE


@pytest.mark.parametrize("server,node", [
    (_server("BUILD", None, "scheduling"), None),
    (_server("BUILD", NODE, "spawning"), _node("deploying", SID)),
    (_server("BUILD", NODE, "spawning"), _node("wait call-back", SID)),
    (_server("BUILD", NODE, "block_device_mapping"), _node("available", None)),
    (_server("ACTIVE", NODE), _node("deploying", SID)),      # stale node read: wait one more poll
    (_server("ACTIVE", NODE), None),                         # node not read yet
    (_server("ACTIVE", NODE), _node("active", None)),        # instance_uuid not visible yet
    (_server("SHUTOFF", NODE), _node("active", SID)),        # not ours to decide: the timeout ends it
])
def test_building(server, node):
    out = rules.progress(server, node, SID, NODE)
    assert out.outcome == rules.BUILDING
    assert out.why


def test_building_why_names_states():
    out = rules.progress(_server("BUILD", NODE, "spawning"), _node("deploying", SID), SID, NODE)
    assert out.why == "server BUILD, task spawning, node deploying"
    assert "node not known yet" in rules.progress(_server(), None, SID, None).why


def test_error_carries_the_classified_fault():
    fault = {"code": 500, "message": "No valid host was found. There are not enough hosts available."}
    out = rules.progress(_server("ERROR", None, None, fault), _node(), SID, NODE)
    assert out.outcome == rules.ERROR
    assert (out.fault.kind, out.fault.action) == (nf.NO_VALID_HOST, nf.RECHECK_CAPACITY)
    assert out.why == fault["message"]


def test_error_without_fault_is_unknown():
    out = rules.progress(_server("error"), None, SID, NODE)
    assert out.outcome == rules.ERROR and out.fault.kind == nf.UNKNOWN


def test_gone_when_server_vanished_or_deleted():
    assert rules.progress(None, _node(), SID, NODE).outcome == rules.GONE
    assert SID in rules.progress(None, None, SID, None).why
    assert rules.progress(_server("DELETED"), None, SID, NODE).outcome == rules.GONE
    assert rules.progress(_server("SOFT_DELETED"), None, SID, NODE).outcome == rules.GONE


def test_wrong_node_when_active_elsewhere_than_pinned():
    out = rules.progress(_server("ACTIVE", OTHER_NODE), _node("active", SID, OTHER_NODE), SID, NODE)
    assert out.outcome == rules.WRONG_NODE
    assert OTHER_NODE in out.why and NODE in out.why


def test_wrong_node_when_the_node_holds_another_instance():
    out = rules.progress(_server("ACTIVE", NODE), _node("active", "someone-else"), SID, NODE)
    assert out.outcome == rules.WRONG_NODE
    assert "someone-else" in out.why


def test_unpinned_build_is_never_wrong_node_by_hostname():
    out = rules.progress(_server("ACTIVE", OTHER_NODE), _node("active", SID, OTHER_NODE), SID, None)
    assert out.outcome == rules.ACTIVE


def test_error_wins_over_wrong_node_data():
    out = rules.progress(_server("ERROR", OTHER_NODE), _node("active", "x"), SID, NODE)
    assert out.outcome == rules.ERROR


def test_progress_is_frozen_and_copies_the_server():
    server = _server("ACTIVE", NODE)
    out = rules.progress(server, _node("active", SID), SID, NODE)
    server["status"] = "ERROR"
    assert out.server["status"] == "ACTIVE"
    with pytest.raises(AttributeError):
        out.outcome = "x"  # type: ignore[misc]


ACTION = {nf.NODE_LOCKED: nf.REBUILD, nf.NODE_ASSOCIATED: nf.REBUILD, nf.NO_VALID_HOST_RACE: nf.REBUILD,
          nf.COMPUTE_RESOURCES_UNAVAILABLE: nf.REBUILD, nf.NO_VALID_HOST: nf.RECHECK_CAPACITY}


def _fault(kind):
    return nf.BuildFault(kind, ACTION.get(kind, nf.FAIL), "m", "a")


@pytest.mark.parametrize("kind,attempt,limit,allowed", [
    (nf.NODE_LOCKED, 0, 2, True),
    (nf.NODE_ASSOCIATED, 1, 2, True),
    (nf.NO_VALID_HOST_RACE, 2, 2, False),        # bounded
    (nf.COMPUTE_RESOURCES_UNAVAILABLE, 0, 0, False),
    (nf.NO_VALID_HOST, 0, 3, True),              # the caller rechecks capacity first
    (nf.DEPLOY_FAILED, 0, 3, False),
    (nf.BUILD_TIMEOUT, 0, 3, False),
    (nf.UNKNOWN, 0, 3, False),
    (nf.NODE_LOCKED, -1, 3, False),
])
def test_retry_allowed(kind, attempt, limit, allowed):
    assert rules.retry_allowed(attempt, limit, _fault(kind)) is allowed


def test_retry_not_allowed_without_fault():
    assert rules.retry_allowed(0, 3, None) is False


def test_gone_and_wrong_node_carry_a_failing_fault():
    gone = rules.progress(None, None, SID, NODE)
    assert (gone.fault.kind, gone.fault.action) == (nf.SERVER_GONE, nf.FAIL)
    assert gone.fault.message == gone.why
    wrong = rules.progress(_server("ACTIVE", OTHER_NODE), _node("active", SID, OTHER_NODE), SID, NODE)
    assert (wrong.fault.kind, wrong.fault.action) == (nf.WRONG_NODE, nf.FAIL)
    assert rules.retry_allowed(0, 3, wrong.fault) is False
    assert rules.progress(_server("BUILD"), None, SID, NODE).fault is None
