#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_info
short_description: Summarise bare metal nodes by provision state with one bulk listing
version_added: 0.1.0
description:
  - Lists Ironic nodes (one bulk request, only the fields needed) and returns them with counts by
    provision state, optionally filtered by name prefix, resource class or conductor group.
  - Also returns C(table), a plain-text table of the counts for reports and job logs.
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
  - ironwave.baremetal.attributes.read_only
options:
  name_prefix:
    description: Only nodes whose name starts with this.
    type: str
  names:
    description: Only these nodes (names or UUIDs).
    type: list
    elements: str
  resource_class:
    description: Only nodes of this resource class.
    type: str
  conductor_group:
    description: Only nodes in this conductor group.
    type: str
"""

EXAMPLES = r"""
- name: Count the demo fleet by state
  ironwave.baremetal.fleet_info:
    cloud: ironwave-local
    name_prefix: demo-
  register: fleet

- name: Show it
  ansible.builtin.debug:
    msg: "{{ fleet.table }}"
"""

RETURN = r"""
nodes:
  description: The nodes, with name, uuid, provision_state, power_state, instance_uuid, maintenance, last_error.
  returned: always
  type: list
  elements: dict
states:
  description: Count of nodes by provision state.
  returned: always
  type: dict
  sample: {available: 20, active: 4}
total:
  description: Number of nodes listed.
  returned: always
  type: int
table:
  description: The counts as a plain-text table, one line per state.
  returned: always
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils.fleet_summary import (
    FIELDS, filter_nodes, node_row, state_counts, state_table)
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class FleetInfo(IronwaveModule):
    argument_spec = dict(
        name_prefix=dict(type="str"),
        names=dict(type="list", elements="str"),
        resource_class=dict(type="str"),
        conductor_group=dict(type="str"),
    )

    def run(self) -> dict:
        nodes = filter_nodes([node_row(n) for n in self.client.list_nodes(FIELDS)],
                             name_prefix=self.params["name_prefix"], names=self.params["names"],
                             resource_class=self.params["resource_class"],
                             conductor_group=self.params["conductor_group"])
        counts = state_counts(nodes)
        return dict(changed=False, nodes=nodes, states=counts, total=len(nodes), table=state_table(counts))


def main() -> None:
    FleetInfo()()


if __name__ == "__main__":
    main()
