# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as a
from ansible_collections.ironwave.baremetal.plugins.module_utils.association import (
    AllocationView, Expectation, NodeView, classify_association)

NODE = "11111111-1111-1111-1111-111111111111"
ALLOC = "22222222-2222-2222-2222-222222222222"
OTHER = "33333333-3333-3333-3333-333333333333"
OTHER_NODE = "44444444-4444-4444-4444-444444444444"


def node(**kw) -> NodeView:
    base = dict(uuid=NODE, name="n1", provision_state="available")
    base.update(kw)
    return NodeView(**base)


def ours_node(**kw) -> NodeView:
    alloc = AllocationView(uuid=ALLOC, name="web-1", node_uuid=NODE, state="active")
    base = dict(instance_uuid=ALLOC, allocation_uuid=ALLOC, allocation=alloc, allocation_found=True)
    base.update(kw)
    return node(**base)


BY_NAME = Expectation(instance_name="web-1")
BY_UUID = Expectation(instance_uuid=ALLOC)


def test_free_available_node():
    r = classify_association(node(), BY_NAME)
    assert (r.verdict, r.owner) == (a.FREE, a.OWNER_NONE)
    assert r.facts["uuid"] == NODE and r.facts["expected_instance_name"] == "web-1"


@pytest.mark.parametrize("state", ["manageable", "enroll"])
def test_unassociated_not_available_is_unusable(state):
    r = classify_association(node(provision_state=state), BY_NAME)
    assert r.verdict == a.UNUSABLE and "provide it first" in r.message


def test_unassociated_active_is_unusable():
    r = classify_association(node(provision_state="active"), BY_NAME)
    assert r.verdict == a.UNUSABLE and "without an instance" in r.message


def test_ours_by_allocation_name():
    r = classify_association(ours_node(), BY_NAME)
    assert (r.verdict, r.owner) == (a.OURS, a.OWNER_OURS)
    assert r.facts["allocation"]["name"] == "web-1"


def test_ours_by_instance_uuid_without_allocation():
    r = classify_association(node(instance_uuid=ALLOC, provision_state="active"), BY_UUID)
    assert r.verdict == a.OURS
    assert a.is_deployed(r) and not a.may_deploy(r)


def test_ours_by_both_name_and_uuid():
    r = classify_association(ours_node(), Expectation("web-1", ALLOC))
    assert r.verdict == a.OURS and a.may_deploy(r)


def test_allocation_not_fetched_uuid_expected_is_ours():
    r = classify_association(node(instance_uuid=ALLOC, allocation_uuid=ALLOC), BY_UUID)
    assert r.verdict == a.OURS


def test_allocation_not_fetched_name_expected_is_not_ours():
    r = classify_association(node(instance_uuid=ALLOC, allocation_uuid=ALLOC), BY_NAME)
    assert r.verdict == a.ASSOCIATED_ELSEWHERE


def test_associated_elsewhere_by_allocation_name_names_both_instances():
    alloc = AllocationView(uuid=ALLOC, name="db-9", node_uuid=NODE, state="active")
    r = classify_association(ours_node(allocation=alloc), BY_NAME)
    assert r.verdict == a.ASSOCIATED_ELSEWHERE
    assert "db-9" in r.message and "web-1" in r.message and NODE in r.message


def test_associated_elsewhere_by_foreign_instance_uuid():
    r = classify_association(node(instance_uuid=OTHER), BY_UUID)
    assert r.verdict == a.ASSOCIATED_ELSEWHERE
    assert OTHER in r.message and ALLOC in r.message


def test_associated_elsewhere_wins_over_maintenance_and_busy():
    r = classify_association(node(instance_uuid=OTHER, maintenance=True, provision_state="deploying",
                                  reservation="c1"), BY_UUID)
    assert r.verdict == a.ASSOCIATED_ELSEWHERE


def test_no_expectation_associated_node_is_elsewhere():
    r = classify_association(node(instance_uuid=OTHER), Expectation())
    assert r.verdict == a.ASSOCIATED_ELSEWHERE and "no expected instance" in r.message


def test_name_expected_instance_uuid_without_allocation_is_elsewhere():
    r = classify_association(node(instance_uuid=OTHER), BY_NAME)
    assert r.verdict == a.ASSOCIATED_ELSEWHERE and "no allocation naming" in r.message


def test_orphaned_missing_allocation():
    r = classify_association(node(instance_uuid=ALLOC, allocation_uuid=ALLOC, allocation_found=False), BY_NAME)
    assert (r.verdict, r.owner) == (a.ORPHANED, a.OWNER_ORPHANED)


def test_orphaned_instance_gone():
    r = classify_association(node(instance_uuid=OTHER, instance_exists=False), BY_UUID)
    assert r.verdict == a.ORPHANED and "no longer exists" in r.message


def test_mismatch_allocation_without_instance_uuid():
    r = classify_association(node(allocation_uuid=ALLOC), BY_NAME)
    assert r.verdict == a.ALLOCATION_MISMATCH


def test_mismatch_allocation_points_at_other_node():
    alloc = AllocationView(uuid=ALLOC, name="web-1", node_uuid=OTHER_NODE, state="active")
    r = classify_association(ours_node(allocation=alloc), BY_NAME)
    assert r.verdict == a.ALLOCATION_MISMATCH and OTHER_NODE in r.message


def test_mismatch_allocation_uuid_differs_from_pointer():
    alloc = AllocationView(uuid=OTHER, name="web-1", node_uuid=NODE, state="active")
    r = classify_association(ours_node(allocation=alloc), BY_NAME)
    assert r.verdict == a.ALLOCATION_MISMATCH


def test_mismatch_instance_uuid_differs_from_allocation():
    r = classify_association(ours_node(instance_uuid=OTHER), BY_NAME)
    assert r.verdict == a.ALLOCATION_MISMATCH and OTHER in r.message


def test_ours_in_maintenance_is_unusable_but_owner_kept():
    r = classify_association(ours_node(maintenance=True, maintenance_reason="disk"), BY_NAME)
    assert (r.verdict, r.owner) == (a.UNUSABLE, a.OWNER_OURS)
    assert "disk" in r.message
    assert not a.may_undeploy(r) and a.may_undeploy(r, force=True)


def test_free_in_maintenance_is_unusable():
    r = classify_association(node(maintenance=True), BY_NAME)
    assert r.verdict == a.UNUSABLE and r.owner == a.OWNER_NONE


@pytest.mark.parametrize("state", sorted(a.FAILED_STATES))
def test_failed_states_unusable(state):
    r = classify_association(ours_node(provision_state=state, last_error="boom"), BY_NAME)
    assert r.verdict == a.UNUSABLE and "boom" in r.message
    assert a.may_undeploy(r)  # ours in a failed state may be torn down


@pytest.mark.parametrize("state", sorted(a.TRANSIENT_STATES | a.HOLD_STATES))
def test_transient_states_busy(state):
    r = classify_association(ours_node(provision_state=state), BY_NAME)
    assert r.verdict == a.BUSY
    assert not a.may_undeploy(r) and not a.may_undeploy(r, force=True)


def test_pending_target_is_busy():
    r = classify_association(node(provision_state="available", target_provision_state="active"), BY_NAME)
    assert r.verdict == a.BUSY and "-> active" in r.message


def test_conductor_lock_is_busy():
    r = classify_association(ours_node(provision_state="active", reservation="cond-1"), BY_NAME)
    assert r.verdict == a.BUSY and "cond-1" in r.message


def test_allocating_allocation_is_busy():
    alloc = AllocationView(uuid=ALLOC, name="web-1", node_uuid=NODE, state="allocating")
    r = classify_association(ours_node(allocation=alloc), BY_NAME)
    assert r.verdict == a.BUSY


def test_may_undeploy_rules():
    assert a.may_undeploy(classify_association(ours_node(provision_state="active"), BY_NAME))
    elsewhere = classify_association(node(instance_uuid=OTHER, provision_state="active"), BY_UUID)
    assert not a.may_undeploy(elsewhere) and a.may_undeploy(elsewhere, force=True)


def test_from_mapping_api_and_sdk_names():
    api = NodeView.from_mapping({"uuid": NODE, "instance_uuid": ALLOC, "allocation_uuid": ALLOC,
                                 "maintenance": True, "provision_state": "active"},
                                allocation={"uuid": ALLOC, "name": "web-1", "node_uuid": NODE,
                                            "state": "active"}, allocation_found=True)
    sdk = NodeView.from_mapping({"id": NODE, "instance_id": ALLOC, "allocation_id": ALLOC,
                                 "is_maintenance": True, "provision_state": "active"},
                                allocation={"id": ALLOC, "name": "web-1", "node_id": NODE, "state": "active"},
                                allocation_found=True)
    assert api == sdk and api.allocation.name == "web-1" and api.maintenance
    assert AllocationView.from_mapping(None) is None


def test_labels_and_as_dict():
    assert node().label == f"n1 ({NODE})"
    assert node(name=None).label == NODE
    assert Expectation().label == "(none)" and Expectation("a", "b").label == "a / b"
    d = classify_association(node(), BY_NAME).as_dict()
    assert d["verdict"] == a.FREE and isinstance(d["reasons"], list) and d["facts"]["owner"] == a.OWNER_NONE


def test_every_verdict_reachable():
    seen = {classify_association(n, e).verdict for n, e in [
        (ours_node(), BY_NAME), (node(), BY_NAME), (node(instance_uuid=OTHER), BY_UUID),
        (node(allocation_uuid=ALLOC), BY_NAME), (node(instance_uuid=OTHER, instance_exists=False), BY_UUID),
        (ours_node(provision_state="deploying"), BY_NAME), (node(maintenance=True), BY_NAME)]}
    assert seen == set(a.VERDICTS)


def test_name_matched_by_display_name_without_allocation():
    r = classify_association(node(instance_uuid=OTHER, display_name="web-1", provision_state="active"), BY_NAME)
    assert r.verdict == a.OURS
    r = classify_association(node(instance_uuid=OTHER, display_name="db-1"), BY_NAME)
    assert r.verdict == a.ASSOCIATED_ELSEWHERE and "display_name 'db-1'" in r.message
    v = NodeView.from_mapping({"uuid": NODE, "instance_uuid": OTHER, "instance_info": {"display_name": "web-1"}})
    assert v.display_name == "web-1"
