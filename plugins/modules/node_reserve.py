#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_reserve
short_description: Atomically reserve a bare metal node for a named instance
version_added: 0.1.0
description:
  - Reserves one node for O(instance_name) with Ironic's allocation API (O(mode=allocation), the
    default, as metalsmith does) or by setting the node's C(instance_uuid) (O(mode=instance_uuid)).
    Ironic makes either atomic; two concurrent reservations never get the same node.
  - Idempotent - the same O(instance_name) gets the same node back (the allocation is named after
    the instance; in O(mode=instance_uuid) the instance UUID is derived from the name unless given).
  - "Candidates are prefiltered like Ironic's allocation code: not associated, C(available), not in
    maintenance, with a power state; then narrowed by O(node), O(candidate_nodes), O(resource_class),
    O(traits), O(conductor_group) and O(expression). The candidate list comes from a bulk listing
    shared by all hosts running this task at the same time (one request per tick)."
  - If the candidates are taken between listing and reserving, the module picks others, at most
    O(max_attempts) rounds, and reports every attempt. When nothing is left it fails at once naming
    the filter and what was tried; when a node was lost to another instance the error kind is
    C(node_associated).
  - A rerun that finds the instance's node hands it back - also when it is in C(deploy failed), which
    is where Ironic puts the nodes that were C(deploying) when it crashed, so that
    M(ironwave.baremetal.node_deploy) deploys it again. A node of the instance that cannot be
    deployed again without an operator (in maintenance, or in another failed state such as C(error)
    or C(clean failed)) is released (its allocation deleted) and another node is reserved.
  - openstacksdk's blanket retries are off; HTTP 503 answers are retried with backoff and reported as
    C(backpressure). An API restart or failover is ridden out up to O(outage_budget); a POST of an
    allocation whose connection dropped is answered by reading the allocation back by name.
  - When run by the collection's action plugin, a task whose C(ansible-playbook) run was killed or
    halted sends nothing more (error kind C(run_gone)).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  instance_name:
    description:
      - Name of the instance the node is reserved for; the allocation's name. Must be a valid Ironic
        logical name (letters, digits, C(-), C(.), C(_), C(~)).
    type: str
    required: true
  instance_uuid:
    description:
      - UUID to reserve the node under. With O(mode=allocation) it becomes the allocation UUID (and so
        the node's C(instance_uuid)); default there is a new random UUID per attempt (reruns find the
        node by the allocation name). With O(mode=instance_uuid) it is written to the node; default
        there is a UUID derived from O(instance_name) (uuid5), so reruns find the same node.
      - With an explicit UUID, a lost race is decided by Ironic alone (it may take a few seconds), because
        a UUID cannot be reused safely while Ironic still works on a deleted allocation.
    type: str
  mode:
    description:
      - C(allocation) uses Ironic's allocation API (microversion 1.52 or later).
      - C(instance_uuid) sets the node's C(instance_uuid) and C(instance_info.display_name) in one PATCH,
        for clouds or workflows that do not use allocations. Ironic answers C(NodeAssociated) if the
        node was taken meanwhile.
    type: str
    choices: [allocation, instance_uuid]
    default: allocation
  instance_info:
    description:
      - Only with O(mode=instance_uuid). Keys written to the node's C(instance_info) in the same PATCH
        that reserves it (e.g. C(image_source)), as Nova's Ironic driver does, so the deploy has nothing
        left to patch - one request per node instead of two.
      - On a rerun that finds the node already reserved, and not deployed, the keys are compared and
        patched when they differ.
    type: dict
  node:
    description: Reserve exactly this node (name or UUID). Same as a one-element O(candidate_nodes).
    type: str
  candidate_nodes:
    description: Only these nodes (names or UUIDs), tried in the given order.
    type: list
    elements: str
  resource_class:
    description: Only nodes of this resource class. Default is the resource class of the best candidate.
    type: str
  traits:
    description: Only nodes having all these traits.
    type: list
    elements: str
    default: []
  conductor_group:
    description: Only nodes in this conductor group (C("") is the default group).
    type: str
  expression:
    description:
      - A JMESPath expression evaluated on each node (fields C(uuid), C(name), C(properties),
        C(resource_class), C(traits), C(conductor_group), ...); only nodes where it is true are
        candidates. Example C(properties.memory_mb >= `262144`). Validated before anything is done.
    type: str
  max_attempts:
    description:
      - Allocation attempts. After a failed attempt, nodes taken by other instances are excluded and
        the rest are offered again (after a short jittered pause when none was taken).
    type: int
    default: 5
  batch:
    description:
      - Candidates offered to Ironic per attempt when every candidate is already claimed by another
        host of this controller (Ironic tries them in random order). Otherwise the module offers one
        node that it claimed for this instance in a file shared by the controller's worker
        processes, so parallel reservations do not race for the same nodes.
    type: int
    default: 3
  timeout:
    description: Seconds to wait in total for Ironic to process the allocation.
    type: int
    default: 60
  stuck_timeout:
    description:
      - Seconds after which an allocation still C(allocating) counts as a failed attempt; it is
        deleted and the next attempt made. Ironic normally decides in well under a second (a few
        seconds while it retries a locked node). Deleting it is safe - each attempt has its own
        allocation UUID, and Ironic cannot attach a node to a deleted allocation.
    type: int
    default: 8
  spacing:
    description:
      - Seconds between allocation requests sent by all hosts of this controller together (booked
        through a shared file next to the poll cache). Ironic processes a burst of allocations
        concurrently, and on sqlite some then fail with "database is locked", each costing a
        DELETE and a new POST; spacing them avoids that. C(0) sends at once.
    type: float
    default: 0.5
requirements:
  - jmespath (only when O(expression) is used)
notes:
  - Supports check mode (reports the node that would be picked; nothing is created) and diff.
attributes:
  check_mode:
    support: full
    details: Reports the node that would be picked (RV(check_mode_pick)); nothing is created or claimed.
  diff_mode:
    support: full
    details: The reserved node before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Reserve a node with at least 256 GiB RAM for web-1
  ironwave.baremetal.node_reserve:
    cloud: ironwave-local
    instance_name: web-1
    resource_class: baremetal
    traits: [CUSTOM_FAST_NVME]
    expression: "properties.memory_mb >= `262144`"
  register: reservation

- name: Reserve exactly node-007 for db-1
  ironwave.baremetal.node_reserve:
    cloud: ironwave-local
    instance_name: db-1
    node: node-007
"""

RETURN = r"""
node:
  description: UUID of the reserved node (in check mode, the node that would be reserved).
  returned: success
  type: str
node_name:
  description: Name of the reserved node.
  returned: success
  type: str
instance_uuid:
  description: The node's C(instance_uuid) after reservation (the allocation UUID in allocation mode).
  returned: success
  type: str
allocation:
  description: The allocation (uuid, name, node_uuid, state) in allocation mode.
  returned: success and mode is allocation
  type: dict
provision_state:
  description:
    - The node's provision state as last seen (C(available) for a new reservation; on a rerun for
      example C(active), or C(deploy failed) after an Ironic crash - then node_deploy deploys it again).
  returned: success
  type: str
association:
  description: On a rerun, the association verdict of the node found for the instance (C(ours), ...).
  returned: when the instance already held a node
  type: str
check_mode_pick:
  description: True in check mode when the node is the one that would be reserved.
  returned: check mode
  type: bool
attempts:
  description: Each reservation attempt - the candidates offered and the outcome.
  returned: always
  type: list
  elements: dict
candidates_considered:
  description: How many nodes passed the filter on the first listing.
  returned: always
  type: int
backpressure:
  description: True when Ironic answered HTTP 503 (concurrent action limit or no free conductor worker).
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen (each was retried with backoff).
  returned: always
  type: int
elapsed:
  description: Seconds the module spent deciding and calling Ironic (after Python imports).
  returned: always
  type: float
retries:
  description: Requests retried by the per-cause policy (NodeLocked, 503).
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen, retried or not.
  returned: always
  type: dict
error_kind:
  description: On failure, the classified cause (for example C(node_associated), C(allocation_failed)).
  returned: failure
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule
from ansible_collections.ironwave.baremetal.plugins.module_utils.reservation import (
    MODES, Reservation, ReservationSpec)


class NodeReserve(IronwaveModule):
    argument_spec = dict(
        instance_name=dict(type="str", required=True),
        instance_uuid=dict(type="str"),
        mode=dict(type="str", default="allocation", choices=list(MODES)),
        node=dict(type="str"),
        candidate_nodes=dict(type="list", elements="str"),
        resource_class=dict(type="str"),
        traits=dict(type="list", elements="str", default=[]),
        conductor_group=dict(type="str"),
        expression=dict(type="str"),
        max_attempts=dict(type="int", default=5),
        batch=dict(type="int", default=3),
        timeout=dict(type="int", default=60),
        stuck_timeout=dict(type="int", default=8),
        spacing=dict(type="float", default=0.5),
        instance_info=dict(type="dict"),
    )
    module_kwargs = dict(mutually_exclusive=[("node", "candidate_nodes")])
    guarded = True   # a killed or halted run sends no reservation request

    def run(self) -> dict:
        spec = ReservationSpec.from_params(self.params, self.ansible.check_mode)
        self.reservation = Reservation(spec, Ops(self), guard=self.guard)
        return self.reservation.run()

    def result_extra(self) -> dict:
        reservation = getattr(self, "reservation", None)
        if reservation is None:
            return {"attempts": [], "candidates_considered": 0}
        return {"attempts": reservation.attempts, "candidates_considered": reservation.considered or 0}


def main() -> None:
    NodeReserve()()


if __name__ == "__main__":
    main()
