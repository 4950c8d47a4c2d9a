#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_undeploy
short_description: Tear down a bare metal node, only if it belongs to the expected instance
version_added: 0.1.0
description:
  - Classifies the node's association first and tears it down (C(deleted) provision action) only
    when it is associated with the expected instance (O(instance_name) and/or O(instance_uuid)),
    unless O(force=true). A node busy in a transient state is never touched, even with O(force).
  - Ironic removes the node's allocation (and so its C(instance_uuid)) as part of the teardown.
  - With O(clean=true) the node's C(automated_clean) is switched on first, so Ironic cleans it before
    it becomes C(available) again (counted against C([conductor] max_concurrent_clean)).
  - Already C(available) and not associated with anyone - C(changed=false).
  - "HTTP 503 is retried with backoff and reported as C(backpressure: true)."
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
options:
  node:
    description: Node name or UUID.
    type: str
    required: true
  instance_name:
    description: Expected instance name (allocation name).
    type: str
  instance_uuid:
    description: Expected instance UUID.
    type: str
  force:
    description: Tear down whatever the node is associated with (still refused while the node is busy).
    type: bool
    default: false
  clean:
    description: Turn on automated cleaning for this node before tearing it down.
    type: bool
    default: false
  wait:
    description: Wait until the node is C(available) (or failed).
    type: bool
    default: false
  timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 1800
  poll_interval:
    description: Seconds between shared polls while waiting.
    type: float
    default: 2.0
  backpressure_timeout:
    description: Seconds to keep retrying a request answered with HTTP 503.
    type: int
    default: 300
notes:
  - Supports check mode and diff.
"""

EXAMPLES = r"""
- name: Tear down web-1's node and wait for it to be available again
  ironwave.baremetal.node_undeploy:
    cloud: ironwave-local
    node: "{{ reservation.node }}"
    instance_name: web-1
    wait: true
"""

RETURN = r"""
node:
  description: Node UUID.
  returned: always
  type: str
provision_state:
  description: Provision state at the end.
  returned: success
  type: str
association:
  description: The association check before acting (verdict, owner, reasons, facts).
  returned: always
  type: dict
backpressure:
  description: True when Ironic answered HTTP 503.
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen and retried.
  returned: always
  type: int
elapsed:
  description: Seconds the module spent deciding and calling Ironic (after Python imports).
  returned: always
  type: float
retries:
  description: Requests retried by the per-cause policy.
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen.
  returned: always
  type: dict
error_kind:
  description: On failure, the cause (an association verdict or an Ironic error kind).
  returned: failure
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import (
    Ops, association_error, expectation, finish, wait_for_states, result_keys)
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule

UNDEPLOY_FROM = ("active", "deploy failed", "error", "wait call-back", "deploy hold", "rescue",
                 "rescue failed", "rescue wait", "unrescue failed", "service failed")


class NodeUndeploy(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str", required=True),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        force=dict(type="bool", default=False),
        clean=dict(type="bool", default=False),
        wait=dict(type="bool", default=False),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        backpressure_timeout=dict(type="int", default=300),
    )
    module_kwargs = dict(required_if=[("force", False, ("instance_name", "instance_uuid"), True)])

    def run(self) -> None:
        p = self.params
        ops = Ops(self)
        expected = expectation(p)
        node = ops.get_node(p["node"])
        if node is None:
            self.fail(f"node {p['node']!r} not found", "not_found", node=p["node"])
        uuid, state = node["uuid"], node.get("provision_state")
        result = ops.classify(node, expected)
        base = dict(node=uuid, association=result.as_dict())
        if result.owner == assoc.OWNER_NONE and state in ("available", "manageable", "enroll"):
            finish(self, changed=False, provision_state=state, **base)
        if state == "wait call-back" and (p["force"] or result.owner == assoc.OWNER_OURS):
            pass  # a stuck deploy may be aborted by tearing down
        elif not assoc.may_undeploy(result, p["force"]):
            self.fail(association_error(result, f"undeploy node {uuid}") +
                      ("" if p["force"] or result.verdict == assoc.BUSY else " (force: true overrides)"),
                      result.verdict, **base)
        if state not in UNDEPLOY_FROM:
            self.fail(f"refusing to undeploy node {uuid}: provision state {state!r} cannot be torn down",
                      "invalid_state", **base)
        target = "available" if not node.get("protected") else state
        diff = {"before": {"provision_state": state, "instance_uuid": node.get("instance_uuid")},
                "after": {"provision_state": target, "instance_uuid": None}}
        if self.ansible.check_mode:
            finish(self, changed=True, provision_state=state, diff=diff, **base)
        if p["clean"] and not node.get("automated_clean"):
            ops.request("PATCH", f"/nodes/{uuid}", json=[{"op": "replace", "path": "/automated_clean",
                                                         "value": True}])
        ops.request("PUT", f"/nodes/{uuid}/states/provision", json={"target": "deleted"},
                    deadline=p["backpressure_timeout"])
        if p["wait"]:
            nodes, timed_out = wait_for_states(ops, [uuid], {"available"}, p["timeout"], p["poll_interval"],
                                               frozenset({"clean failed", "error"}))
            end = nodes.get(uuid) or {}
            if timed_out or end.get("provision_state") != "available":
                self.fail(f"undeploy of node {uuid} ended in {end.get('provision_state')!r}"
                          f"{' (timed out)' if timed_out else ''}: {end.get('last_error')}",
                          "timeout" if timed_out else "undeploy_failed", last_error=end.get("last_error"), **base)
            finish(self, changed=True, provision_state="available", diff=diff, **base)
        finish(self, changed=True, provision_state="deleting", diff=diff, **base)

    def fail(self, msg: str, kind: str, **extra) -> None:
        self.ansible.fail_json(msg=msg, error_kind=kind, **{**result_keys(self), **extra})


def main() -> None:
    NodeUndeploy()()


if __name__ == "__main__":
    main()
