#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: nova_server
short_description: Build one bare metal server through Nova, pinned to a node no other build competes for
version_added: 0.2.0
description:
  - Looks the server up by O(name). C(ACTIVE) - only the cross-check below runs (C(changed=false));
    C(BUILD) - waits for it; C(ERROR) - handled like a failed build.
  - Pinned mode (O(pin=true), the default) - picks a usable node (resource class of the flavor,
    C(available), not in maintenance, no instance, a Placement provider with room, a compute
    service), writes a pick marker under the node's C(extra) key C(ironwave_pick_<key>) (one key per
    server name; it does not associate the node, which Nova would refuse), waits O(settle) seconds
    and reads it back - the node is this host's when its key is the only live one and its Placement
    provider has no allocation, else it picks again. Markers of other runs count as live for
    O(pick_ttl) seconds on Ironic's clock (the HTTP C(Date) of Ironic's answer when written, against
    the C(Date) of the reading answer), so controllers with skewed clocks agree.
  - Then creates the server with C(hypervisor_hostname) = the node UUID (compute API 2.74, admin) -
    the scheduler only validates that node, and Placement's claim on its provider is atomic.
    O(pin=false) leaves the choice to the scheduler (where pinning is not allowed); the cross-check
    still runs.
  - Waits on one shared server listing (C(GET /servers/detail?tags=O(tag))) and one Ironic node
    listing per tick for every host of the controller, never one request per server per tick.
  - A build that ends in C(ERROR) is classified (RV(faults)) - NodeAssociated / "Failed to reserve
    node", NodeLocked, reschedules exhausted, node not available are races - the server is deleted,
    its node waited for until clean, and the build is made again on a freshly picked node, at most
    O(max_rebuilds) times (RV(rebuilds)). No valid host is built again only when a fresh capacity
    check still shows a usable node. Other faults fail the host.
  - After C(ACTIVE) - the cross-check (RV(crosscheck)) - the server's hypervisor_hostname is the node
    UUID, the node's instance_uuid is the server, the node is C(active), the server's Placement
    allocation is only on the node's provider and that provider has no other consumer. A violation
    fails the host.
  - O(state=absent) deletes the server and waits until it is gone.
  - Check mode sends no write; C(changed) says whether a server would be built or deleted.
options:
  name:
    description: Server name (one inventory host = one server).
    type: str
    required: true
  state:
    description:
      - C(present) builds (and waits), C(absent) deletes.
      - C(picked) only picks and marks a node (returned in RV(node)) - for a cloud-counted slot
        (M(ironwave.baremetal.wave_slot)) taken on that node before the build; the following
        C(present) task with O(node) set to it builds there. An existing server returns its node.
      - C(released) removes this server's pick marker from O(node) (a picked node whose build never
        ran - a halted wave, a slot timeout); otherwise it would hold the node for O(pick_ttl).
    type: str
    choices: [present, picked, released, absent]
    default: present
  flavor:
    description:
      - Flavor name or id; its extra specs must request exactly one C(resources:CUSTOM_*=1) (the
        nodes' resource class) - the error names the extra spec otherwise. Required with O(state=present).
    type: str
  image:
    description: Image name or id, resolved through the image service. Required with O(state=present).
    type: str
  key_name:
    description: Keypair name.
    type: str
  networks:
    description: C(none), C(auto) or a list of C({uuid|port|fixed_ip}) dicts, as the compute API takes.
    type: raw
    default: none
  user_data:
    description: User data (plain text; base64-encoded by the module). Never logged.
    type: str
  metadata:
    description: Server metadata (string values).
    type: dict
  availability_zone:
    description: Availability zone.
    type: str
  node:
    description:
      - Node UUID to try first (from M(ironwave.baremetal.nova_pick)); it still goes through the
        pick protocol. Rebuilds after a race pick afresh.
    type: str
  pin:
    description: Pin the build to the picked node (needs admin and compute API 2.74).
    type: bool
    default: true
  run_id:
    description: Identity of this run in pick markers; default the run guard's PID and start time.
    type: str
  host:
    description: Who holds the pick (shown in markers); default O(name).
    type: str
  tag:
    description: Server tag that groups the servers of the shared listing.
    type: str
    default: ironwave
  max_rebuilds:
    description: Builds made again after a race, per server (each is reported in RV(faults)).
    type: int
    default: 2
  timeout:
    description: Seconds a build may take before the host fails with C(build_timeout).
    type: int
    default: 1800
  poll_interval:
    description: Seconds between shared listings.
    type: float
    default: 2.0
  settle:
    description: Seconds between writing a pick marker and reading it back.
    type: float
    default: 1.0
  pick_ttl:
    description: Seconds after which another run's pick marker is dead (Ironic's clock).
    type: int
    default: 1800
  placement_wait:
    description:
      - Seconds to wait, when no node is usable but some are free in Ironic while Placement still
        shows their provider full, for Placement to catch up before failing with the numbers.
      - A node just cleaned (its server deleted) is free in Ironic before nova-compute's next
        resource update, every 60 seconds by default, frees its provider.
      - C(0) fails at once.
    type: float
    default: 90.0
  wait:
    description: Wait for C(ACTIVE) (and the cross-check).
    type: bool
    default: true
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
author:
  - ironwave.baremetal developers (@ironwave)
attributes:
  check_mode:
    support: full
    details: Sends no write; C(changed) says whether a server would be built or deleted.
  diff_mode:
    support: full
    details: The server (and the node it is on) before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Build the server of this inventory host on a node of its own
  ironwave.baremetal.nova_server:
    cloud: mycloud
    name: "{{ inventory_hostname }}"
    flavor: baremetal
    image: ubuntu-24.04
    key_name: ops
    user_data: "{{ lookup('ansible.builtin.file', 'cloud-init.yaml') }}"
  register: built
"""

RETURN = r"""
server:
  description: The server - id, name, status, node (hypervisor_hostname), compute_host.
  returned: always
  type: dict
node:
  description: UUID of the node the server is on (or would be picked).
  returned: always
  type: str
rebuilds:
  description: Builds made again after a race.
  returned: always
  type: int
faults:
  description: One entry per failed build - kind, message, node, server.
  returned: always
  type: list
  elements: dict
crosscheck:
  description: C(ok) and the C(violations) found after the build.
  returned: always
  type: dict
picked:
  description: Nodes this task wrote a pick marker on (in order).
  returned: always
  type: list
  elements: str
requests:
  description: API requests this task sent, per service (compute, placement, image, ironic).
  returned: always
  type: dict
phases:
  description:
    - What happened to the server and its node, in time order, for a timeline (the
      P(ironwave.baremetal.wave_report#callback) callback draws it per host). Each entry has C(phase), C(at)
      (epoch seconds) and C(source) - C(nova) when the time is Nova's own (the server's C(updated)),
      C(ironic) when it is Ironic's (the node's C(provision_updated_at), C(updated_at)), C(module)
      when it is the module's clock.
    - C(reserved) - a node this task picked and marked (pinned mode), at Ironic's C(updated_at) of the
      read that showed the marker ours, else the module's clock. With O(state=picked) this is the only
      phase.
    - C(requested) - when the create request that Nova accepted was sent.
    - Then what the shared listings showed while the module waited - the server's task state while
      C(BUILD) as Nova names it (C(scheduling), C(networking), C(block_device_mapping),
      C(spawning)), C(active) (C(ACTIVE)) and C(error) (C(ERROR)); and the node's provision states
      while it holds the server (C(deploying), C(wait call-back), C(active), C(deploy failed), ...).
      States that lasted less than one O(poll_interval) may not be seen.
    - A rebuild after a race adds its own C(reserved), C(requested) and states.
    - A service's time is kept between the build's C(requested) (for a server that existed already,
      the task's start) and when the listing showing it was made, so skewed clocks cannot reorder
      the steps (Nova's times are whole seconds, so its first state is often dated at C(requested)).
      Consecutive repeats are one entry (the first seen), at most 50 entries (the last one is the
      latest state).
    - Empty when nothing was built (check mode, already C(ACTIVE), refusals); also returned on
      failure once a node was picked or a build waited for.
  returned: with O(state=present) or O(state=picked), on success and failure
  type: list
  elements: dict
  sample:
    - {phase: reserved, at: 1796542801.25, source: ironic}
    - {phase: requested, at: 1796542802.1, source: module}
    - {phase: spawning, at: 1796542802.9, source: nova}
    - {phase: deploying, at: 1796542804.3, source: ironic}
    - {phase: wait call-back, at: 1796542806.0, source: ironic}
    - {phase: active, at: 1796542840.7, source: ironic}
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_build import BuildRequest, ServerBuild
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_io import NovaIO
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_teardown import delete_server
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule, cloud_identity


class NovaServer(IronwaveModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "picked", "released", "absent"]),
        flavor=dict(type="str"),
        image=dict(type="str"),
        key_name=dict(type="str", no_log=False),
        networks=dict(type="raw", default="none"),
        user_data=dict(type="str", no_log=True),
        metadata=dict(type="dict"),
        availability_zone=dict(type="str"),
        node=dict(type="str"),
        pin=dict(type="bool", default=True),
        run_id=dict(type="str"),
        host=dict(type="str"),
        tag=dict(type="str", default="ironwave"),
        max_rebuilds=dict(type="int", default=2),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        settle=dict(type="float", default=1.0),
        pick_ttl=dict(type="int", default=1800),
        placement_wait=dict(type="float", default=90.0),
        wait=dict(type="bool", default=True),
    )
    module_kwargs = dict(required_if=[("state", "present", ("flavor", "image")), ("state", "picked", ("flavor",))])
    guarded = True   # a killed or halted run sends no create request
    nova = None
    build = None

    def run(self) -> dict:
        p = self.params
        self.nova = NovaIO(self.conn, self.client, cloud_identity(p, self.conn), p["outage_budget"], p["tag"])
        if p["state"] == "released":
            key = BuildRequest(name=p["name"], flavor="", image="", host="", run_id="").marker_key
            cleared = bool(p["node"]) and not self.ansible.check_mode and self.nova.clear_marker(p["node"], key)
            return {"changed": cleared, "node": p["node"]}
        if p["state"] == "absent":
            return delete_server(self.nova, p["name"], self.ansible.check_mode, timeout=p["timeout"],
                                 poll_interval=p["poll_interval"])
        req = BuildRequest.from_params(p, self.guard)
        self.build = ServerBuild(self.nova, req, check_mode=self.ansible.check_mode)
        outcome = self.build.pick_only() if p["state"] == "picked" else self.build.run()
        result = outcome.as_result()
        result["diff"] = {"before": {"server": p["name"] if not outcome.changed else None},
                          "after": {"server": p["name"], "node": outcome.node}}
        return result

    def result_extra(self) -> dict:
        extra: dict = {"requests": self.nova.counts() if self.nova else {}}
        if self.params["state"] in ("present", "picked"):   # not absent/released: they would blank the timeline row
            extra["phases"] = self.build.out.phases if self.build else []   # on failure too
        return extra


def main() -> None:
    NovaServer()()


if __name__ == "__main__":
    main()
