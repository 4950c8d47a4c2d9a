#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: nova_capacity
short_description: Bare metal capacity for a flavor, from Placement and Ironic, before any build
version_added: 0.2.0
description:
  - Reads the flavor's resource class (its one C(resources:CUSTOM_*=1) extra spec), Placement's
    providers (free = total - reserved - used), Ironic's nodes (C(available), not in maintenance, no
    instance) and Nova's hypervisors (which compute service owns which node), and counts the nodes
    usable by a pinned build - per compute service and per conductor group, with the reasons the
    others are not usable.
  - Nodes another run or host holds a live pick marker on (see M(ironwave.baremetal.nova_server))
    are not usable.
  - With O(count) or O(names), fails at once when the request is larger than the capacity, or than
    what the project's instance quota still allows (Nova would accept the requests and fail the
    surplus builds later with "Quota exceeded"), with the numbers; nothing is created. Read-only
    (check mode is the same).
options:
  flavor:
    description: Flavor name or id.
    type: str
    required: true
  count:
    description: Servers about to be built; more than the usable nodes fails with the numbers.
    type: int
  names:
    description:
      - Server names about to be built; those that already exist (tagged O(tag), not in C(ERROR))
        are not counted, so an idempotent rerun needs no free node, and one in C(ERROR) that still
        holds a node is counted on that node. Use instead of O(count).
    type: list
    elements: str
  tag:
    description: The tag the servers were built with (see M(ironwave.baremetal.nova_server)).
    type: str
    default: ironwave
  pick_ttl:
    description: Seconds after which another run's pick marker is dead (Ironic's clock).
    type: int
    default: 1800
  placement_wait:
    description:
      - When fewer nodes are usable than requested only because Placement still shows providers
        of nodes free in Ironic as full (a node cleaned since nova-compute's last resource update,
        every 60 seconds by default), read again for up to this many seconds before failing.
      - C(0) answers at once.
    type: float
    default: 90.0
  max_concurrent_builds:
    description:
      - The compute services' C([DEFAULT] max_concurrent_builds) - an integer for all of them, or a
        mapping of compute service host to its value (hosts not listed - Nova's default C(10)).
        C(0) means unlimited, as in Nova.
      - Gives RV(build_window) - a compute builds at most this many servers at once and queues the
        rest inside nova-compute.
    type: raw
    default: 10
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
  - ironwave.baremetal.attributes.read_only
author:
  - ironwave.baremetal developers (@ironwave)
"""

EXAMPLES = r"""
- name: Is there room for every server of this play?
  ironwave.baremetal.nova_capacity:
    cloud: mycloud
    flavor: baremetal
    names: "{{ ansible_play_hosts_all }}"
  run_once: true
"""

RETURN = r"""
resource_class:
  description: The flavor's Placement resource class.
  returned: success
  type: str
usable:
  description: Number of nodes a pinned build may use now.
  returned: success
  type: int
placement_free:
  description: Providers of the resource class with room for one more.
  returned: success
  type: int
ironic_free:
  description: Nodes of the resource class that are available, not in maintenance and have no instance.
  returned: success
  type: int
per_compute:
  description: Usable nodes per nova-compute service host.
  returned: success
  type: dict
per_conductor_group:
  description: Usable nodes per conductor group ("" = the default group).
  returned: success
  type: dict
build_window:
  description:
    - Builds the cloud can run at once - the sum over compute services of the lower of their usable
      nodes and their O(max_concurrent_builds). C(playbooks/nova_deploy.yml) caps its wave window with it.
  returned: success
  type: int
per_compute_window:
  description: RV(build_window) per compute service host.
  returned: success
  type: dict
excluded:
  description: Nodes of the resource class that are not usable, counted by reason.
  returned: success
  type: dict
requested:
  description: Servers counted against the capacity (O(count), or O(names) not yet built).
  returned: success
  type: int
quota_free:
  description: Servers the project's instance quota still allows (null - unlimited).
  returned: success
  type: int
reclaimed:
  description:
    - Servers of O(names) in ERROR whose Placement allocation still holds a node - nova_server
      deletes and rebuilds them, so that node counts for them and they are not counted in RV(requested).
  returned: success
  type: int
already_built:
  description: Names of O(names) whose server already exists (not in ERROR).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_capacity
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_build import BuildRequest, ServerBuild
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_io import NovaIO
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule, cloud_identity


class NovaCapacity(IronwaveModule):
    argument_spec = dict(
        flavor=dict(type="str", required=True),
        count=dict(type="int"),
        names=dict(type="list", elements="str"),
        tag=dict(type="str", default="ironwave"),
        pick_ttl=dict(type="int", default=1800),
        placement_wait=dict(type="float", default=90.0),
        max_concurrent_builds=dict(type="raw", default=10),
    )
    module_kwargs = dict(mutually_exclusive=[("count", "names")])

    def run(self) -> dict:
        p = self.params
        if p["count"] is not None and p["count"] < 0:
            raise nova_capacity.errors.BadInput(f"count: must be >= 0, got {p['count']}")
        if p["placement_wait"] < 0:
            raise nova_capacity.errors.BadInput(f"placement_wait: must be >= 0 seconds, got {p['placement_wait']}")
        nova_capacity.build_window({}, p["max_concurrent_builds"])   # bad input fails before any request
        io = NovaIO(self.conn, self.client, cloud_identity(p, self.conn), p["outage_budget"], "ironwave")
        req = BuildRequest(name="", flavor=p["flavor"], image="", host="", run_id="capacity",
                           pick_ttl=float(p["pick_ttl"]), placement_wait=float(p["placement_wait"]))
        count, built, reclaimed = p["count"], [], 0
        if p["names"] is not None:
            ours = [s for s in io.nova.servers(tags=p["tag"]) if s.get("name") in set(p["names"])]
            built = sorted({s["name"] for s in ours if s.get("status") != "ERROR"})
            count = len(set(p["names"])) - len(built)
            # A server of ours in ERROR is deleted and rebuilt by nova_server: the node its
            # allocation still holds comes back for it.
            reclaimed = sum(1 for s in ours if s.get("status") == "ERROR" and s["name"] not in built
                            and io.placement.consumer_allocations(s["id"]))
            count -= reclaimed
        cap = ServerBuild(io, req).capacity_for(count or 0)
        window = nova_capacity.build_window(cap.per_compute, p["max_concurrent_builds"])
        absolute = io.nova.limits()
        if count:
            nova_capacity.check_request(cap, count, p["flavor"])
            nova_capacity.check_quota(absolute, count)
        return {"changed": False, "resource_class": cap.resource_class, "usable": len(cap.usable),
                "placement_free": cap.placement_free, "ironic_free": cap.ironic_free,
                "per_compute": cap.per_compute, "per_conductor_group": cap.per_conductor_group,
                "build_window": sum(window.values()), "per_compute_window": window,
                "excluded": cap.excluded, "requested": count or 0, "already_built": built,
                "reclaimed": reclaimed,
                "quota_free": nova_capacity.quota_free(absolute),
                "requests": io.counts()}


def main() -> None:
    NovaCapacity()()


if __name__ == "__main__":
    main()
