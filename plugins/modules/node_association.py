#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_association
short_description: Classify a bare metal node's node-instance association (read-only)
version_added: 0.1.0
description:
  - Reads one node (by O(node)), or finds it by the instance it should belong to (O(instance_name)
    through its allocation, or O(instance_uuid)), and classifies it against the expected instance
    with the same rules every lifecycle module uses.
  - "Verdicts: C(ours), C(free) (unassociated and available), C(associated_elsewhere),
    C(allocation_mismatch) (node and allocation disagree), C(orphaned) (points at an allocation or
    instance that no longer exists), C(busy) (transient state, pending target or conductor lock),
    C(unusable) (maintenance, failed states, or not available)."
  - Never changes anything; always returns C(changed=false).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
  - ironwave.baremetal.attributes.read_only
options:
  node:
    description: Node name or UUID. When omitted the node is found from O(instance_name) or O(instance_uuid).
    type: str
  instance_name:
    description: The expected instance name (the allocation name M(ironwave.baremetal.node_reserve) used).
    type: str
  instance_uuid:
    description: The expected instance UUID (the node's C(instance_uuid); for allocations, the allocation UUID).
    type: str
  instance_exists:
    description:
      - Whether the instance still exists (for example looked up in Nova). C(false) turns a foreign
        association into C(orphaned). Leave unset when unknown.
    type: bool
notes:
  - Check mode is supported (the module is read-only).
"""

EXAMPLES = r"""
- name: Is node-007 ours?
  ironwave.baremetal.node_association:
    cloud: ironwave-local
    node: node-007
    instance_name: web-1
  register: assoc

- name: Stop unless it is ours
  ansible.builtin.assert:
    that: assoc.verdict == 'ours'
    fail_msg: "{{ assoc.reasons | join('; ') }}"

- name: Which node does instance web-2 hold?
  ironwave.baremetal.node_association:
    cloud: ironwave-local
    instance_name: web-2
"""

RETURN = r"""
found:
  description: Whether a node was found.
  returned: always
  type: bool
verdict:
  description: The classification (see description); C(null) when no node was found.
  returned: always
  type: str
  sample: ours
owner:
  description: Who owns the node regardless of its state, one of C(ours), C(none), C(other), C(orphaned), C(mismatch).
  returned: when found
  type: str
reasons:
  description: Why, one sentence per rule that decided.
  returned: always
  type: list
  elements: str
facts:
  description: The node fields and allocation the decision was made from, and the expectation.
  returned: when found
  type: dict
node:
  description: The node UUID.
  returned: when found
  type: str
elapsed:
  description: Seconds the module spent calling Ironic (after Python imports).
  returned: always
  type: float
backpressure:
  description: True when Ironic answered HTTP 503.
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen and retried.
  returned: always
  type: int
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils.association import NodeView, classify_association
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops, expectation
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class NodeAssociation(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str"),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        instance_exists=dict(type="bool"),
    )
    module_kwargs = dict(required_one_of=[("node", "instance_name", "instance_uuid")])

    def run(self) -> dict:
        ops = Ops(self)
        p = self.params
        expected = expectation(p)
        node = None
        if p["node"]:
            node = ops.get_node(p["node"])
        elif p["instance_uuid"]:
            body = ops.request("GET", f"/nodes?instance_uuid={p['instance_uuid']}&fields=uuid")
            hits = body.get("nodes", [])
            node = ops.get_node(hits[0]["uuid"]) if hits else None
        else:
            alloc = ops.get_allocation(p["instance_name"])
            if alloc and alloc.get("node_uuid"):
                node = ops.get_node(alloc["node_uuid"])
        if node is None:
            what = p["node"] or p["instance_uuid"] or p["instance_name"]
            return dict(changed=False, found=False, verdict=None, reasons=[f"no node found for {what!r}"])
        alloc, found = None, None
        if node.get("allocation_uuid"):
            alloc = ops.get_allocation(node["allocation_uuid"])
            found = alloc is not None
        view = NodeView.from_mapping(node, allocation=alloc, allocation_found=found,
                                     instance_exists=p["instance_exists"])
        result = classify_association(view, expected)
        return dict(changed=False, found=True, node=view.uuid, **result.as_dict())


def main() -> None:
    NodeAssociation()()


if __name__ == "__main__":
    main()
