# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Undeploy and release, only for the expected instance (the flows behind node_undeploy and
node_release). Each takes the lifecycle ops (Ironic client facade), the module parameters and
check mode; returns the task result or raises a typed error (errors.*)."""
from __future__ import annotations

from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import (
    association_error, expectation, wait_for_states)

# A reservation may be given back in these states; a deployed node is undeployed instead.
RELEASABLE = ("available", "manageable", "enroll", "deploy failed", "error", "clean failed", "inspect failed")
NOT_DEPLOYED = ("available", "manageable", "enroll")


def _node_or_fail(ops, ident: str) -> dict:
    node = ops.get_node(ident)
    if node is None:
        raise errors.NotFound(f"node {ident!r} not found; check the name/UUID and the cloud", node=ident)
    return node


def undeploy(ops, p: dict[str, Any], check_mode: bool) -> dict:
    expected = expectation(p)
    node = _node_or_fail(ops, p["node"])
    uuid, state = node["uuid"], node.get("provision_state")
    result = ops.classify(node, expected)
    base = dict(node=uuid, association=result.as_dict())
    if result.owner == assoc.OWNER_NONE and state in NOT_DEPLOYED:
        return dict(changed=False, provision_state=state, **base)
    if state == ironic_states.DEPLOYWAIT and (p["force"] or result.owner == assoc.OWNER_OURS):
        pass  # a stuck deploy may be aborted by tearing down
    elif not assoc.may_undeploy(result, p["force"]):
        hint = "" if p["force"] or result.verdict == assoc.BUSY else " (force: true overrides)"
        raise errors.AssociationRefused(association_error(result, f"undeploy node {uuid}") + hint,
                                        result.verdict, **base)
    if state not in ironic_states.UNDEPLOY_FROM:
        raise errors.IronwaveError(f"refusing to undeploy node {uuid}: provision state {state!r} cannot be "
                                   "torn down", "invalid_state", **base)
    target = "available" if not node.get("protected") else state
    diff = {"before": {"provision_state": state, "instance_uuid": node.get("instance_uuid")},
            "after": {"provision_state": target, "instance_uuid": None}}
    if check_mode:
        return dict(changed=True, provision_state=state, diff=diff, **base)
    if p["clean"] and not node.get("automated_clean"):
        ops.request("PATCH", f"/nodes/{uuid}", json=[{"op": "replace", "path": "/automated_clean", "value": True}])
    ops.request("PUT", f"/nodes/{uuid}/states/provision", json={"target": "deleted"},
                deadline=p["backpressure_timeout"])
    if not p["wait"]:
        return dict(changed=True, provision_state="deleting", diff=diff, **base)
    nodes, timed_out = wait_for_states(ops, [uuid], {"available"}, p["timeout"], p["poll_interval"],
                                       ironic_states.CLEAN_FAILED_OR_ERROR)
    end = nodes.get(uuid) or {}
    if timed_out or end.get("provision_state") != "available":
        raise errors.IronwaveError(
            f"undeploy of node {uuid} ended in {end.get('provision_state')!r}{' (timed out)' if timed_out else ''}: "
            f"{end.get('last_error')}", "timeout" if timed_out else "undeploy_failed",
            last_error=end.get("last_error"), **base)
    return dict(changed=True, provision_state="available", diff=diff, **base)


def release(ops, p: dict[str, Any], check_mode: bool) -> dict:
    expected = expectation(p)
    if p["node"]:
        node = _node_or_fail(ops, p["node"])
    else:
        alloc = ops.get_allocation(p["instance_name"])
        if alloc is None:
            return dict(changed=False, node=None)
        if not alloc.get("node_uuid"):  # a failed allocation holding only the name
            if not check_mode:
                ops.request("DELETE", f"/allocations/{alloc['uuid']}")
            return dict(changed=True, node=None, released=f"allocation {alloc['uuid']}",
                        diff={"before": {"allocation": alloc["uuid"]}, "after": {"allocation": None}})
        node = _node_or_fail(ops, alloc["node_uuid"])
    uuid, state = node["uuid"], node.get("provision_state")
    result = ops.classify(node, expected)
    base = dict(node=uuid, association=result.as_dict())
    if result.owner == assoc.OWNER_NONE:
        return dict(changed=False, **base)
    if not p["force"] and result.owner != assoc.OWNER_OURS:
        raise errors.AssociationRefused(association_error(result, f"release node {uuid}") + " (force: true overrides)",
                                        result.verdict, **base)
    if state not in RELEASABLE or node.get("target_provision_state"):
        raise errors.IronwaveError(f"refusing to release node {uuid} in provision state {state!r}: undeploy it "
                                   "(ironwave.baremetal.node_undeploy), which releases it too", "invalid_state", **base)
    alloc_id = node.get("allocation_uuid")
    released = f"allocation {alloc_id}" if alloc_id else f"instance_uuid {node.get('instance_uuid')}"
    diff = {"before": {"instance_uuid": node.get("instance_uuid"), "allocation": alloc_id},
            "after": {"instance_uuid": None, "allocation": None}}
    if not check_mode:
        if alloc_id:
            ops.request("DELETE", f"/allocations/{alloc_id}")
        else:
            patch = [{"op": "remove", "path": "/instance_uuid"}]
            if "display_name" in (node.get("instance_info") or {}):
                patch.append({"op": "remove", "path": "/instance_info/display_name"})
            ops.request("PATCH", f"/nodes/{uuid}", json=patch)
    return dict(changed=True, released=released, diff=diff, **base)
