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

import time
from collections import Counter
from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet as fleet_core
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import (
    IronwaveModule, call_with_retry, classify_exception)

LIST_FIELDS = ["uuid", "name", "provision_state", "target_provision_state", "last_error",
               "power_state", "maintenance", "traits"] + list(fleet_core.SCALAR_FIELDS) + list(fleet_core.DICT_FIELDS)
POLL_FIELDS = ["uuid", "name", "provision_state", "target_provision_state", "last_error", "power_state"]


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

    def _entries(self) -> list:
        entries = list(self.params["nodes"] or [])
        gen = self.params.get("generate")
        if gen:
            try:
                entries += fleet_core.generate_fleet(**{k: v for k, v in gen.items() if v is not None})
            except fleet_core.FleetError as exc:
                self.ansible.fail_json(msg=str(exc), problems=exc.problems)
        return entries

    def _list_nodes(self, fields: list[str]) -> list[dict[str, Any]]:
        return [n.to_dict(computed=False) for n in self.conn.baremetal.nodes(fields=fields)]

    def run(self) -> None:
        entries = self._entries()
        try:
            specs = fleet_core.validate_fleet(entries)
        except fleet_core.FleetError as exc:
            self.ansible.fail_json(msg=str(exc), problems=exc.problems)
        self._mask_secrets(specs)
        target = self.params["target_state"]

        try:
            current = {n["name"]: n for n in self._list_nodes(LIST_FIELDS) if n.get("name")}
        except Exception as exc:  # noqa: BLE001
            self.fail_sdk(exc, "listing nodes")
        uuid_to_name = {n["id"]: name for name, n in current.items()}
        port_owner: dict[str, str] = {}
        for port in self.conn.baremetal.ports(fields=["address", "node_uuid"]):
            port_owner[fleet_core.normalize_mac(port.address)] = uuid_to_name.get(port.node_id, port.node_id)

        plan = fleet_core.plan_enroll(specs, current, port_owner)
        if plan.conflicts:
            self.ansible.fail_json(msg="invalid fleet description (nothing was changed): " + "; ".join(plan.conflicts),
                                   problems=plan.conflicts)
        moves = {s.name: fleet_core.next_action((current.get(s.name) or {}).get("provision_state", "enroll"), target)
                 for s in specs}
        diff = self._diff(specs, plan, current)
        changed = bool(plan.create or plan.update or plan.traits or plan.ports or any(moves.values()))
        result: dict[str, Any] = dict(
            changed=changed, created=list(plan.create),
            updated=sorted(set(plan.update) | (set(plan.traits) | set(plan.ports)) - set(plan.create)),
            moved=sorted(n for n, a in moves.items() if a), failed_nodes=[], diff=diff)
        if self.ansible.check_mode:
            result["states"] = dict(Counter((current.get(s.name) or {}).get("provision_state", "absent")
                                            for s in specs))
            result["nodes"] = [dict(name=s.name, provision_state=(current.get(s.name) or {}).get("provision_state"))
                               for s in specs]
            self.ansible.exit_json(**result)

        by_name = {s.name: s for s in specs}
        errors: dict[str, str] = {}
        for name in plan.create:
            spec = by_name[name]
            try:
                node = self.conn.baremetal.create_node(name=name, **spec.fields)
                current[name] = node.to_dict(computed=False)
            except Exception as exc:  # noqa: BLE001 - reported per node, others proceed
                errors[name] = self._err(exc, f"creating node {name}")
        for name, ops in plan.update.items():
            try:
                call_with_retry(lambda: self.conn.baremetal.patch_node(current[name]["id"], ops))
            except Exception as exc:  # noqa: BLE001
                errors[name] = self._err(exc, f"updating node {name}")
        for name, traits in plan.traits.items():
            if name in errors:
                continue
            try:
                call_with_retry(lambda: self.conn.baremetal.set_node_traits(current[name]["id"], traits))
            except Exception as exc:  # noqa: BLE001
                errors[name] = self._err(exc, f"setting traits on node {name}")
        for name, ports in plan.ports.items():
            if name in errors:
                continue
            for port in ports:
                try:
                    self.conn.baremetal.create_port(node_id=current[name]["id"], **port)
                except Exception as exc:  # noqa: BLE001
                    errors[name] = self._err(exc, f"creating port {port['address']} on node {name}")

        final = self._drive_states(specs, current, target, errors, result)
        result["failed_nodes"] = [
            dict(name=s.name, provision_state=final.get(s.name, {}).get("provision_state"),
                 last_error=errors.get(s.name) or final.get(s.name, {}).get("last_error"))
            for s in specs if s.name in errors or self._not_reached(final.get(s.name, {}), target)
        ]
        result["states"] = dict(Counter(final.get(s.name, {}).get("provision_state", "absent") for s in specs))
        result["nodes"] = [dict(name=s.name, uuid=final.get(s.name, {}).get("id"),
                                provision_state=final.get(s.name, {}).get("provision_state")) for s in specs]
        result["changed"] = bool(result["created"] or result["updated"] or result["moved"])
        if result["failed_nodes"] and self.params["fail_on_error"]:
            names = ", ".join(f"{f['name']} ({f['provision_state']}: {f['last_error']})" for f in result["failed_nodes"])
            self.ansible.fail_json(msg=f"{len(result['failed_nodes'])} of {len(specs)} node(s) did not reach "
                                       f"{target}: {names}", **result)
        self.ansible.exit_json(**result)

    def _drive_states(self, specs, current, target, errors, result) -> dict[str, dict[str, Any]]:
        """Request manage/provide as each node becomes ready for it; poll in bulk until settled."""
        names = {s.name for s in specs} - set(errors)
        acted: set[str] = set()
        powered: set[str] = set()
        deadline = time.monotonic() + self.params["timeout"]
        state = {n: current[n] for n in names if n in current}
        moved = set(result["moved"])
        while True:
            pending = False
            for name in sorted(names):
                node = state.get(name)
                if not node:
                    continue
                ps = node.get("provision_state")
                action = fleet_core.next_action(ps, target)
                if action and not node.get("target_provision_state"):
                    if name in acted and ps == "enroll" and node.get("last_error"):
                        continue  # verification failed: report, don't loop
                    try:
                        call_with_retry(lambda: self.conn.baremetal.set_node_provision_state(node["id"], action))
                        acted.add(name)
                        moved.add(name)
                        pending = True
                    except Exception as exc:  # noqa: BLE001
                        errors[name] = self._err(exc, f"{action} on node {name}")
                elif ps == target == "available" and node.get("power_state") is None \
                        and self.params["set_power_off"]:
                    # The power request is asynchronous: keep polling until the state shows.
                    pending = True
                    if name in powered:
                        continue
                    try:
                        self.conn.baremetal.set_node_power_state(node["id"], "power off")
                        powered.add(name)
                        moved.add(name)
                    except Exception as exc:  # noqa: BLE001
                        errors[name] = self._err(exc, f"powering off node {name}")
                elif ps in fleet_core.TRANSIENT or node.get("target_provision_state"):
                    pending = True
                elif ps == "enroll" and name not in acted:
                    pending = True
            result["moved"] = sorted(moved)
            if not self.params["wait"] or not pending or time.monotonic() > deadline:
                return {n["name"]: n for n in self._list_nodes(POLL_FIELDS) if n.get("name") in names} | \
                    {n: state[n] for n in state if n in errors}
            time.sleep(self.params["poll_interval"])
            state = {n["name"]: n for n in self._list_nodes(POLL_FIELDS) if n.get("name") in names}

    def _not_reached(self, node: dict[str, Any], target: str) -> bool:
        ps = node.get("provision_state")
        if ps == target:
            return False
        outcome = fleet_core.enroll_outcome(ps, target, node.get("last_error"), True)
        return outcome == "failed" or (self.params["wait"] and outcome == "wait")

    def _err(self, exc: BaseException, what: str) -> str:
        return classify_exception(exc).one_line(what)

    def _mask_secrets(self, specs) -> None:
        """Register driver_info values as secrets so Ansible masks them in any output."""
        for spec in specs:
            for key, value in (spec.fields.get("driver_info") or {}).items():
                if isinstance(value, str) and value and fleet_core.is_secret_key(key):
                    self.ansible.no_log_values.add(value)

    def _diff(self, specs, plan, current) -> dict[str, Any]:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for spec in specs:
            if spec.name in plan.create:
                after[spec.name] = dict(spec.fields, traits=spec.traits, ports=[p["address"] for p in spec.ports])
                continue
            changes = {}
            for op in plan.update.get(spec.name, []):
                changes[op["path"].lstrip("/").replace("/", ".")] = op["value"]
            if spec.name in plan.traits:
                changes["traits"] = plan.traits[spec.name]
            if spec.name in plan.ports:
                changes["ports(new)"] = [p["address"] for p in plan.ports[spec.name]]
            if changes:
                node = current[spec.name]
                before[spec.name] = {k: _lookup(node, k) for k in changes}
                after[spec.name] = changes
        return dict(before=before, after=after)


def _lookup(node: dict, dotted: str) -> Any:
    if dotted == "ports(new)":
        return []
    value: Any = node
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def main() -> None:
    FleetEnroll()()


if __name__ == "__main__":
    main()
