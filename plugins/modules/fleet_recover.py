#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_recover
short_description: Recover stuck and failed bare metal nodes and servers found by the fleet audit
version_added: 0.1.0
description:
  - Runs one audit pass (the same as M(ironwave.baremetal.fleet_audit), with the same options) and
    turns each finding into a plan from the per-state recovery policy, then carries the plans out
    one after the other. Opt-in by nature - nothing runs unless this module is called.
  - "Policy summary (the full table is in docs/fleet-health.md): C(wait call-back), C(deploy hold)
    and C(deploy failed) - deploy again when the collection deployed the node (an Ironic allocation or
    O(ours_nodes)), else undeploy; C(error) - undeploy; C(clean wait), C(clean hold), C(clean failed) -
    abort, manage, provide; C(inspect wait) - abort the inspection; C(inspect failed), C(adopt failed) -
    manage; C(service wait/hold/failed) - abort servicing; a node locked by a dead conductor - wait
    (bounded) for a live conductor to take it over, then recover its failed state; servers - an
    interrupted build is marked ACTIVE when its node is active for it, else ERROR; C(deleting) is
    deleted again; reboots and power actions are reissued by the node's power state; image tasks are
    cleared. Findings without a safe automatic move (e.g. C(node_stuck) with a live conductor,
    Placement and compute ownership problems) are reported with the manual procedure, never acted on."
  - Every step re-reads its node and server right before it is sent; the first step of a plan is
    skipped (reason C(changed since the audit)) when anything the finding was made of changed.
  - Every step is bounded in time (its timeout from the policy); a plan that times out or reaches a
    failed state is recorded as failed with the last seen state and the next plan is tried. The task
    fails after all plans were tried if any failed, with the whole report.
  - "Tearing a node down (undeploy) is destructive and only done with O(allow_destructive=true);
    otherwise such a plan is skipped with the reason C(needs allow_destructive: true)."
  - In check mode nothing is sent; each plan that would run has the outcome C(planned). With
    C(--diff) the findings are the before and the planned actions the after.
options:
  allow_destructive:
    description: Carry out destructive plans (tearing a node down, C(undeploy)).
    type: bool
    default: false
  kinds:
    description:
      - Finding kinds to recover; the others are reported as skipped. Empty means every kind with an
        automatic action.
    type: list
    elements: str
    default: []
  max_actions:
    description: At most this many plans are carried out in one run; the rest are skipped (at least 1).
    type: int
    default: 20
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.fleet_audit
  - ironwave.baremetal.attributes
author:
  - ironwave.baremetal developers (@ironwave)
attributes:
  check_mode:
    support: full
    details: Nothing is sent; each plan that would run has the outcome C(planned).
  diff_mode:
    support: full
    details: The audit's findings are the before and the planned actions the after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Show what recovery would do
  ironwave.baremetal.fleet_recover:
    cloud: mycloud
  check_mode: true
  register: plan

- name: Recover failed deploys and stuck servers, tearing down nodes nobody owns
  ironwave.baremetal.fleet_recover:
    cloud: mycloud
    kinds: [node_failed, node_wait_expiring, orphan_node, server_task_stuck]
    allow_destructive: true
    max_actions: 10
"""

RETURN = r"""
plans:
  description:
    - One per finding, in the audit's order - kind, node, node_uuid, server, server_id, action,
      destructive, why, steps (one line each), outcome (C(done), C(skipped), C(failed) or C(planned)),
      reason, and last_seen (the node's and server's state after the last step) when acted on.
  returned: always
  type: list
  elements: dict
actions:
  description: Plans carried out (or, in check mode, planned), failed ones included.
  returned: always
  type: int
skipped:
  description: Plans skipped (report only, kind not selected, destructive, changed since the audit, max_actions).
  returned: always
  type: int
failed_plans:
  description:
    - Plans that failed (timed out, reached a failed state or were refused). Not named C(failed), which
      Ansible reads as the task's own verdict.
  returned: always
  type: int
findings:
  description: The audit's findings (as M(ironwave.baremetal.fleet_audit) returns them).
  returned: always
  type: list
  elements: dict
by_kind:
  description: Number of findings per kind (only kinds found).
  returned: always
  type: dict
summary:
  description: The audit's one-line summary.
  returned: always
  type: str
table:
  description: The findings as aligned text lines.
  returned: always
  type: list
  elements: str
check_mode:
  description: Whether nothing was sent (check mode).
  returned: always
  type: bool
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet_audit_run, fleet_recover_run
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class FleetRecover(IronwaveModule):
    argument_spec = dict(
        allow_destructive=dict(type="bool", default=False),
        kinds=dict(type="list", elements="str", default=[]),
        max_actions=dict(type="int", default=20),
        **fleet_audit_run.AUDIT_OPTIONS,
    )

    def run(self) -> dict:
        req = fleet_recover_run.RecoverRequest.from_params(self.params)
        return fleet_recover_run.run(self.conn, self.client, req, self.ansible.check_mode)


def main() -> None:
    FleetRecover()()


if __name__ == "__main__":
    main()
