#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: nova_crosscheck
short_description: Cross-check servers, Ironic nodes and Placement allocations; a server -> node -> allocation table
version_added: 0.2.0
description:
  - For every server tagged O(tag) (or named in O(names)) - its hypervisor_hostname is an Ironic
    node, that node's instance_uuid is the server and it is C(active), the server's Placement
    allocation is only on that node's provider; fleet-wide - no node claimed by two servers, no
    provider with two consumers.
  - Returns one row per server and the violations, and a text table for people (RV(table)).
  - Read-only. Fails when a violation is found unless O(fail_on_violation=false).
options:
  tag:
    description: Servers with this tag.
    type: str
    default: ironwave
  names:
    description: Only these server names (still among O(tag)'s servers).
    type: list
    elements: str
  fail_on_violation:
    description: Fail the task when a violation is found.
    type: bool
    default: true
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
  - ironwave.baremetal.attributes.read_only
author:
  - ironwave.baremetal developers (@ironwave)
"""

EXAMPLES = r"""
- name: Cross-check every server this collection built
  ironwave.baremetal.nova_crosscheck:
    cloud: mycloud
  register: check
- name: Show the table
  ansible.builtin.debug:
    msg: "{{ check.table }}"
"""

RETURN = r"""
rows:
  description: One per server - name, server_id, status, node_name, node_uuid, node_state, node_instance_uuid, allocation_providers, ok.
  returned: always
  type: list
  elements: dict
violations:
  description: Each violation - rule and message.
  returned: always
  type: list
  elements: dict
table:
  description: The rows as aligned text lines.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, nova_crosscheck, nova_table
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_io import NovaIO
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule, cloud_identity


class NovaCrosscheck(IronwaveModule):
    argument_spec = dict(
        tag=dict(type="str", default="ironwave"),
        names=dict(type="list", elements="str"),
        fail_on_violation=dict(type="bool", default=True),
    )

    def run(self) -> dict:
        p = self.params
        io = NovaIO(self.conn, self.client, cloud_identity(p, self.conn), p["outage_budget"], p["tag"])
        servers = io.nova.servers(tags=p["tag"])
        if p["names"] is not None:
            servers = [s for s in servers if s.get("name") in set(p["names"])]
        nodes = {n["uuid"]: n for n in self.client.list_nodes(("uuid", "name", "provision_state", "instance_uuid"))}
        allocations = {s["id"]: io.placement.consumer_allocations(s["id"]) for s in servers}
        rows, violations = nova_crosscheck.fleet(servers, nodes, allocations)
        rows.sort(key=lambda r: str(r.get("name")))
        result = {"changed": False, "rows": rows, "table": nova_table.render(rows),
                  "violations": [{"rule": v.rule, "message": v.message} for v in violations],
                  "requests": io.counts()}
        if violations and p["fail_on_violation"]:
            raise errors.DeploymentFailed(f"{len(violations)} cross-check violation(s): " + "; ".join(
                v.message for v in violations), kind="nova_crosscheck", **result)
        return result


def main() -> None:
    NovaCrosscheck()()


if __name__ == "__main__":
    main()
