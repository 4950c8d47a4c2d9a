#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_shards
short_description: Plan node shards per nova-compute service and set them on the Ironic nodes
version_added: 0.1.0
description:
  - Reads every node (one paged listing at API 1.82, where C(shard) exists) and, when Nova is
    configured, which nova-compute manages each node today (hypervisors) and which compute services
    are up; plans shards of at most O(max_size) nodes per conductor group and resource class (stable -
    a node with a shard keeps it, adding nodes moves no node a compute manages) and writes C(shard)
    on the nodes that need one.
  - A node managed by a nova-compute is given a shard only when that very compute will serve the
    shard; otherwise it is left as it is and reported in RV(refused) with the
    C(nova-manage db ironic_compute_node_move) procedure (Ironic says a node's shard must not change
    once a nova-compute manages it).
  - RV(computes) is what each nova-compute's C([ironic]) section must say (C(shard), C(conductor_group));
    C(playbooks/shards.yml) pushes it with M(ironwave.baremetal.service_config) and restarts the computes.
  - Check mode shows the plan and sends nothing; diff mode shows the shards before and after.
options:
  max_size:
    description: Most nodes in one shard (one nova-compute lists them all; Nova's guidance is a few hundred).
    type: int
    default: 300
  computes:
    description:
      - Compute hosts new shards may go to. Default - the nova-compute services that are up and
        enabled (none without Nova, so new shards stay unassigned until hosts are given).
    type: list
    elements: str
  existing:
    description: Shard -> compute host already configured with C([ironic] shard) for it.
    type: dict
  resource_classes:
    description: Only plan the nodes of these resource classes (default all).
    type: list
    elements: str
    default: []
  nova:
    description: C(auto) reads Nova when the catalog has a compute endpoint; C(always) requires it; C(never) does not.
    type: str
    choices: [auto, always, never]
    default: auto
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
author:
  - ironwave.baremetal developers (@ironwave)
attributes:
  check_mode:
    support: full
    details: Shows the shard plan and sends nothing.
  diff_mode:
    support: full
    details: The shards of the nodes before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Show the shard plan
  ironwave.baremetal.fleet_shards:
    cloud: mycloud
    max_size: 250
  check_mode: true
  register: shards

- name: Set the shards on the nodes
  ironwave.baremetal.fleet_shards:
    cloud: mycloud
    max_size: 250
  register: shards
"""

RETURN = r"""
plan:
  description: The whole plan - nodes, shards, computes, refused, changes, unchanged, unassigned, oversize, idle_computes, notes.
  returned: always
  type: dict
computes:
  description: "Compute host -> C({ironic: {shard, conductor_group}}), the settings of its nova.conf."
  returned: always
  type: dict
refused:
  description: Managed nodes whose shard would change, each with the move procedure in C(message).
  returned: always
  type: list
  elements: dict
nova:
  description: Whether Nova was read.
  returned: always
  type: bool
requests:
  description: API requests made, per service.
  returned: always
  type: dict
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import shard_apply_run
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class FleetShards(IronwaveModule):
    argument_spec = dict(
        max_size=dict(type="int", default=300),
        computes=dict(type="list", elements="str"),
        existing=dict(type="dict"),
        resource_classes=dict(type="list", elements="str", default=[]),
        nova=dict(type="str", choices=list(shard_apply_run.NOVA_MODES), default="auto"),
    )

    def run(self) -> dict:
        req = shard_apply_run.ShardRequest.from_params(self.params)
        return shard_apply_run.apply(self.conn, self.client, req, self.ansible.check_mode)


def main() -> None:
    FleetShards()()


if __name__ == "__main__":
    main()
