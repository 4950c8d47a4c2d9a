#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: nova_flavor
short_description: A bare metal flavor - exactly one node of a resource class, nothing of VCPU, RAM or disk
version_added: 0.2.0
description:
  - Creates the flavor when missing and sets its extra specs - C(resources:CUSTOM_<CLASS>=1) for
    the nodes' O(resource_class) (Nova's normalisation - C(baremetal) becomes C(CUSTOM_BAREMETAL)),
    C(resources:VCPU=0), C(resources:MEMORY_MB=0), C(resources:DISK_GB=0), plus O(extra_specs).
  - An existing flavor gets only the specs that differ (C(changed) then); other specs are left as
    they are. Its RAM, vCPUs and disk cannot change (Nova flavors are immutable) and are not compared.
  - A second custom resource class in O(extra_specs) is refused, naming the spec.
  - Supports check mode and diff.
options:
  name:
    description: Flavor name.
    type: str
    required: true
  resource_class:
    description: The nodes' resource class, as set in Ironic (C(baremetal)) or already normalised (C(CUSTOM_BAREMETAL)).
    type: str
    required: true
  extra_specs:
    description: More extra specs (for example C(trait:CUSTOM_RAID1=required)).
    type: dict
    default: {}
  ram:
    description: RAM in MiB shown for the flavor (Nova needs >= 1; not claimed in Placement).
    type: int
    default: 1024
  vcpus:
    description: vCPUs shown for the flavor (Nova needs >= 1; not claimed in Placement).
    type: int
    default: 1
  disk:
    description: Root disk GiB shown for the flavor (not claimed in Placement).
    type: int
    default: 10
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
author:
  - ironwave.baremetal developers (@ironwave)
attributes:
  check_mode:
    support: full
    details: Nothing is created or set; C(changed) says whether it would be.
  diff_mode:
    support: full
    details: Whether the flavor exists and its extra specs, before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: A flavor for the nodes of resource class baremetal
  ironwave.baremetal.nova_flavor:
    cloud: mycloud
    name: baremetal
    resource_class: baremetal
"""

RETURN = r"""
flavor:
  description: The flavor's id, name and extra specs (after the change).
  returned: success
  type: dict
set_specs:
  description: The extra specs this task set (or would set in check mode).
  returned: success
  type: dict
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, nova_flavor_rules
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_client import NovaApi
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class NovaFlavor(IronwaveModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        resource_class=dict(type="str", required=True),
        extra_specs=dict(type="dict", default={}),
        ram=dict(type="int", default=1024),
        vcpus=dict(type="int", default=1),
        disk=dict(type="int", default=10),
    )

    def run(self) -> dict:
        p = self.params
        for name in ("ram", "vcpus"):
            if p[name] < 1:
                raise errors.BadInput(f"{name}: Nova needs >= 1, got {p[name]} (it is not claimed for bare metal)")
        if p["disk"] < 0:
            raise errors.BadInput(f"disk: must be >= 0, got {p['disk']}")
        wanted = nova_flavor_rules.wanted_specs(p["resource_class"], p["extra_specs"])
        nova = NovaApi(self.conn, outage_budget=p["outage_budget"])
        try:
            flavor = nova.find_flavor(p["name"])
        except errors.BadInput:
            flavor = None
        before = {"exists": flavor is not None, "extra_specs": (flavor or {}).get("extra_specs", {})}
        changes = nova_flavor_rules.spec_changes(before["extra_specs"], wanted)
        after = {"exists": True, "extra_specs": {**before["extra_specs"], **changes}}
        if not self.ansible.check_mode and (flavor is None or changes):
            if flavor is None:
                flavor = nova.create_flavor({"name": p["name"], "ram": p["ram"], "vcpus": p["vcpus"],
                                             "disk": p["disk"]})
            nova.set_flavor_extra_specs(flavor["id"], changes)
        changed = flavor is None or before["exists"] is False or bool(changes)
        return {"changed": changed, "set_specs": changes, "diff": {"before": before, "after": after},
                "flavor": {"id": (flavor or {}).get("id"), "name": p["name"], "extra_specs": after["extra_specs"]}}


def main() -> None:
    NovaFlavor()()


if __name__ == "__main__":
    main()
