#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_audit
short_description: Audit a bare metal fleet - stuck states, dead conductors' locks, association and ownership
version_added: 0.1.0
description:
  - One read-only pass with bulk reads - one paged Ironic node listing with C(fields=), the
    conductors and the allocations; when Nova is configured the servers of all projects, the
    compute services, the hypervisors and the Placement allocations of the providers Placement
    reports as used (Placement has no listing of every allocation; an idle node's provider is never
    read).
  - Each finding has a kind, the evidence, its age (on Ironic's clock - the HTTP C(Date) of the node
    listing - so a controller's clock does not matter) and the recommended action, from the pure
    policy table recovery acts on.
  - "Kinds: C(node_locked_dead_conductor), C(node_stuck), C(node_wait_expiring), C(node_held),
    C(node_failed), C(allocation_stale); with Nova C(server_task_stuck), C(server_on_down_compute),
    C(server_error_node_active), C(server_node_mismatch), C(node_two_servers), C(orphan_node),
    C(allocation_wrong_provider), C(provider_two_consumers), C(server_without_allocation),
    C(node_unmanaged), C(node_managed_twice), C(shard_without_compute),
    C(conductor_group_without_compute). See docs/fleet-health.md."
  - Fails only for the kinds named in O(fail_on). Check mode is the same (nothing is written).
options:
  fail_on:
    description: Finding kinds that fail the task (after the whole audit is reported).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.fleet_audit
  - ironwave.baremetal.attributes
  - ironwave.baremetal.attributes.read_only
author:
  - ironwave.baremetal developers (@ironwave)
"""

EXAMPLES = r"""
- name: Audit the fleet
  ironwave.baremetal.fleet_audit:
    cloud: mycloud
  register: audit

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ audit.table }}"

- name: Fail when a node is locked by a dead conductor or an instance is orphaned
  ironwave.baremetal.fleet_audit:
    cloud: mycloud
    thresholds:
      wait call-back: 600
    fail_on: [node_locked_dead_conductor, orphan_node]
"""

RETURN = r"""
findings:
  description: Each finding - kind, node, node_uuid, server, server_id, age_s, evidence, action, detail.
  returned: always
  type: list
  elements: dict
by_kind:
  description: Number of findings per kind (only kinds found).
  returned: always
  type: dict
summary:
  description: One line, e.g. C(3 findings - node_failed 2, orphan_node 1).
  returned: always
  type: str
table:
  description: The findings as aligned text lines, or C(no findings).
  returned: always
  type: list
  elements: str
nova:
  description: Whether Nova was audited.
  returned: always
  type: bool
checked:
  description: How many nodes, servers and conductors were read.
  returned: always
  type: dict
requests:
  description: API requests made, per service.
  returned: always
  type: dict
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet_audit_run
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class FleetAudit(IronwaveModule):
    argument_spec = dict(
        **fleet_audit_run.AUDIT_OPTIONS,
        fail_on=dict(type="list", elements="str", default=[]),
    )

    def run(self) -> dict:
        req = fleet_audit_run.AuditRequest.from_params(self.params)
        audit = fleet_audit_run.audit_once(self.conn, self.client, req)
        result = {"changed": False, **audit.result()}
        fleet_audit_run.check_fail_on(audit, req.fail_on, result)
        return result


def main() -> None:
    FleetAudit()()


if __name__ == "__main__":
    main()
