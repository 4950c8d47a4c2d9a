#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_release
short_description: Release a bare metal node's reservation, only if it belongs to the expected instance
version_added: 0.1.0
description:
  - Removes the reservation made by M(ironwave.baremetal.node_reserve) from a node that is not
    deployed - deletes its allocation, or (for a node reserved with C(mode=instance_uuid)) clears C(instance_uuid) and
    C(instance_info.display_name).
  - Only when the node is associated with the expected instance, unless O(force=true).
  - A deployed node is refused - use M(ironwave.baremetal.node_undeploy), which also releases it.
  - Nothing reserved (no allocation with that name, node not associated) - C(changed=false).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
options:
  node:
    description: Node name or UUID. When omitted, the node is found from the allocation named O(instance_name).
    type: str
  instance_name:
    description: Expected instance name (allocation name).
    type: str
  instance_uuid:
    description: Expected instance UUID.
    type: str
  force:
    description: Release whatever the node is associated with (never while it is deployed or busy).
    type: bool
    default: false
notes:
  - Supports check mode and diff.
"""

EXAMPLES = r"""
- name: Give web-1's reservation back
  ironwave.baremetal.node_release:
    cloud: ironwave-local
    instance_name: web-1
"""

RETURN = r"""
node:
  description: Node UUID (null when nothing was reserved).
  returned: always
  type: str
released:
  description: What was removed (C(allocation <uuid>) or C(instance_uuid <uuid>)).
  returned: when changed
  type: str
association:
  description: The association check before acting.
  returned: when a node was found
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
  description: On failure, the cause.
  returned: failure
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import (
    Ops, association_error, expectation, finish, result_keys)
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule

RELEASABLE = ("available", "manageable", "enroll", "deploy failed", "error", "clean failed", "inspect failed")


class NodeRelease(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str"),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        force=dict(type="bool", default=False),
    )
    module_kwargs = dict(required_one_of=[("node", "instance_name")],
                         required_if=[("force", False, ("instance_name", "instance_uuid"), True)])

    def run(self) -> None:
        p = self.params
        ops = Ops(self)
        expected = expectation(p)
        alloc = None
        if p["node"]:
            node = ops.get_node(p["node"])
            if node is None:
                self.fail(f"node {p['node']!r} not found", "not_found")
        else:
            alloc = ops.get_allocation(p["instance_name"])
            if alloc is None:
                finish(self, changed=False, node=None)
            if not alloc.get("node_uuid"):  # a failed allocation holding only the name
                if not self.ansible.check_mode:
                    ops.request("DELETE", f"/allocations/{alloc['uuid']}")
                finish(self, changed=True, node=None, released=f"allocation {alloc['uuid']}",
                       diff={"before": {"allocation": alloc["uuid"]}, "after": {"allocation": None}})
            node = ops.get_node(alloc["node_uuid"])
        uuid, state = node["uuid"], node.get("provision_state")
        result = ops.classify(node, expected)
        base = dict(node=uuid, association=result.as_dict())
        if result.owner == assoc.OWNER_NONE:
            finish(self, changed=False, **base)
        if not p["force"] and result.owner != assoc.OWNER_OURS:
            self.fail(association_error(result, f"release node {uuid}") + " (force: true overrides)",
                      result.verdict, **base)
        if state not in RELEASABLE or node.get("target_provision_state"):
            self.fail(f"refusing to release node {uuid} in provision state {state!r}: undeploy it "
                      "(ironwave.baremetal.node_undeploy), which releases it too", "invalid_state", **base)
        alloc_id = node.get("allocation_uuid")
        released = f"allocation {alloc_id}" if alloc_id else f"instance_uuid {node.get('instance_uuid')}"
        diff = {"before": {"instance_uuid": node.get("instance_uuid"), "allocation": alloc_id},
                "after": {"instance_uuid": None, "allocation": None}}
        if not self.ansible.check_mode:
            if alloc_id:
                ops.request("DELETE", f"/allocations/{alloc_id}")
            else:
                patch = [{"op": "remove", "path": "/instance_uuid"}]
                if "display_name" in (node.get("instance_info") or {}):
                    patch.append({"op": "remove", "path": "/instance_info/display_name"})
                ops.request("PATCH", f"/nodes/{uuid}", json=patch)
        finish(self, changed=True, released=released, diff=diff, **base)

    def fail(self, msg: str, kind: str, **extra) -> None:
        self.ansible.fail_json(msg=msg, error_kind=kind, **{**result_keys(self), **extra})


def main() -> None:
    NodeRelease()()


if __name__ == "__main__":
    main()
