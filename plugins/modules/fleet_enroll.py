#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_enroll
short_description: Enroll a fleet of bare metal nodes in Ironic and bring them to available
version_added: 0.1.0
description:
  - Takes a fleet description (a list of nodes and/or a generator for N nodes) and brings every node
    to O(target_state) (create, then C(manage), then C(provide)), idempotent by node name.
  - Existing nodes are updated (only the fields given), never duplicated; a second run reports no change.
  - The whole description is validated before anything changes. Duplicate names or MACs, unknown
    fields, a missing driver or a bad resource_class give one error listing every bad entry, and
    nothing is created.
  - Nodes that fail to reach O(target_state) are reported with Ironic's C(last_error); the others proceed.
  - Uses one bulk node listing and one bulk port listing per run, and one bulk listing per poll tick
    while waiting.
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  nodes:
    description:
      - The fleet, a list of nodes. Each node is a mapping with C(name) and C(driver) (required) and
        optionally C(uuid), C(driver_info), C(resource_class), C(properties), C(traits),
        C(conductor_group), C(shard), C(description), C(extra), C(owner), C(lessee), any
        C(*_interface), C(ports) (list of mappings with C(address) and optionally C(pxe_enabled),
        C(physical_network), C(local_link_connection), C(extra)) and C(macs) (a list of MAC addresses,
        shorthand for ports).
      - C(driver_info) values are secrets and never logged.
    type: list
    elements: raw
    default: []
  generate:
    description:
      - Generate N nodes with deterministic names and MAC addresses (for demos, tests and benchmarks),
        in addition to O(nodes).
    type: dict
    suboptions:
      count:
        description: Number of nodes.
        type: int
        required: true
      name_prefix:
        description: Name prefix; names are C(<prefix><number>), numbers zero-padded to 3 digits.
        type: str
        default: node-
      start:
        description: First number.
        type: int
        default: 1
      driver:
        description: Hardware type.
        type: str
        default: fake-hardware
      resource_class:
        description: Resource class.
        type: str
        default: baremetal
      properties:
        description: Node properties (merged over cpus=8, memory_mb=65536, local_gb=100, cpu_arch=x86_64).
        type: dict
      mac_prefix:
        description: First three octets of the generated MAC addresses.
        type: str
        default: "52:54:00"
      conductor_groups:
        description: Conductor groups to spread the nodes over, round robin.
        type: list
        elements: str
      traits:
        description: Traits for every generated node.
        type: list
        elements: str
  target_state:
    description: Provision state to bring the nodes to.
    type: str
    choices: [available, manageable]
    default: available
  wait:
    description: Wait until every node reached O(target_state) or failed.
    type: bool
    default: true
  timeout:
    description: Seconds to wait in total.
    type: int
    default: 900
  poll_interval:
    description: Seconds between bulk polls while waiting.
    type: float
    default: 1.0
  set_power_off:
    description:
      - Give available nodes with an unknown power state a real one (power off). Nova needs a power
        state to offer a node.
    type: bool
    default: true
  fail_on_error:
    description: Fail the task (after the other nodes proceeded) when any node did not reach O(target_state).
    type: bool
    default: true
seealso:
  - name: Fleet enrollment guide
    description: docs/enroll.md in the collection.
    link: https://github.com/ironwave/baremetal/blob/main/docs/enroll.md
attributes:
  check_mode:
    support: full
    details: Plans the creations, updates, port additions and state moves from one listing and sends nothing.
  diff_mode:
    support: full
    details: The whole entry of each new node; before and after of the changed fields, traits and ports otherwise.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Enroll two real nodes
  ironwave.baremetal.fleet_enroll:
    cloud: mycloud
    nodes:
      - name: rack1-u01
        driver: redfish
        driver_info:
          redfish_address: https://10.0.0.11
          redfish_username: admin
          redfish_password: "{{ vault_bmc_password }}"
        resource_class: baremetal-large
        properties: {cpus: 64, memory_mb: 524288, local_gb: 1800, cpu_arch: x86_64}
        traits: [CUSTOM_GPU]
        conductor_group: rack1
        macs: ["52:54:00:aa:00:01"]

- name: Enroll 24 fake nodes on the local Ironic
  ironwave.baremetal.fleet_enroll:
    cloud: ironwave-local
    generate:
      count: 24
      name_prefix: demo-
"""

RETURN = r"""
created:
  description: Names of nodes created.
  returned: always
  type: list
  elements: str
updated:
  description: Names of existing nodes whose fields, traits or ports were changed.
  returned: always
  type: list
  elements: str
moved:
  description: Names of nodes on which a provision action (manage/provide) or power off was requested.
  returned: always
  type: list
  elements: str
failed_nodes:
  description: Nodes that did not reach the target state, with Ironic's last_error.
  returned: always
  type: list
  elements: dict
  sample: [{name: node-007, provision_state: enroll, last_error: "Failed to get power state ..."}]
states:
  description: Count of the fleet's nodes by provision state at the end.
  returned: always
  type: dict
  sample: {available: 24}
nodes:
  description: Name, UUID and provision state of each node of the fleet.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import input_checks, secret_values
from ansible_collections.ironwave.baremetal.plugins.module_utils.enroll_flow import (
    Enrollment, EnrollOptions, entries_from, validate)
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class FleetEnroll(IronwaveModule):
    argument_spec = dict(
        nodes=dict(type="list", elements="raw", default=[]),
        generate=dict(type="dict", options=dict(
            count=dict(type="int", required=True),
            name_prefix=dict(type="str", default="node-"),
            start=dict(type="int", default=1),
            driver=dict(type="str", default="fake-hardware"),
            resource_class=dict(type="str", default="baremetal"),
            properties=dict(type="dict"),
            mac_prefix=dict(type="str", default="52:54:00"),
            conductor_groups=dict(type="list", elements="str"),
            traits=dict(type="list", elements="str"),
        )),
        target_state=dict(type="str", default="available", choices=["available", "manageable"]),
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=900),
        poll_interval=dict(type="float", default=1.0),
        set_power_off=dict(type="bool", default=True),
        fail_on_error=dict(type="bool", default=True),
    )

    @classmethod
    def secrets_in(cls, params: dict) -> set[str]:
        """BMC secrets of the raw fleet, masked before validation (a bad entry must not print them)."""
        fleet = secret_values.secrets_under(params.get("nodes"), secret_values.is_secret_key)
        return super().secrets_in(params) | fleet

    def run(self) -> dict:
        p = self.params
        input_checks.require(input_checks.more_than_zero("timeout", p["timeout"]),
                             input_checks.more_than_zero("poll_interval", p["poll_interval"]),
                             input_checks.poll_fits("poll_interval", p["poll_interval"], "timeout", p["timeout"]))
        specs = validate(entries_from(p["nodes"], p.get("generate")))   # BadInput before any request
        options = EnrollOptions(target=p["target_state"], wait=p["wait"], timeout=p["timeout"],
                                poll_interval=p["poll_interval"], set_power_off=p["set_power_off"],
                                fail_on_error=p["fail_on_error"], check_mode=self.ansible.check_mode)
        return Enrollment(self.client, options).run(specs)


def main() -> None:
    FleetEnroll()()


if __name__ == "__main__":
    main()
