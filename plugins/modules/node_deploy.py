#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_deploy
short_description: Deploy a reserved bare metal node, only if it belongs to the expected instance
version_added: 0.1.0
description:
  - Checks the input first as Ironic's API would (O(deploy_steps), O(config_drive)), so input
    Ironic refuses fails before anything is written.
  - Reads the node (or a very fresh shared node listing, see O(precheck_max_age)) and classifies its
    association. It deploys only when the node is associated with exactly the expected instance
    (O(instance_uuid) and/or O(instance_name)), is not in maintenance and is C(available) - or is in
    C(deploy failed) (Ironic moves its C(deploying) nodes there when it starts after a crash; a
    rerun deploys such a node of ours again).
  - Already C(active) for the same instance, or already deploying for it - C(changed=false).
  - Associated with another instance - fails at once with a message naming the node and both
    instances; the node is not touched. Not reserved, orphaned, mismatched, busy or unusable - fails
    with the reasons, nothing changed.
  - Then waits at the busy gate (O(busy_limit)), and only then sets O(instance_info) (only keys that
    differ) and O(traits) (which select deploy templates) and requests C(active) with the optional
    O(config_drive) and O(deploy_steps). When that request fails without effect, O(instance_info)
    and O(traits) are put back as they were (RV(rolled_back)); a busy-gate timeout writes nothing.
    A node found deploying for the same instance after the gate or by its verifying listing (a
    killed run's request that Ironic took late) is followed as above, C(changed=false), nothing
    written.
  - Each deploy request asks for the bare metal API microversion it needs - 1.52, 1.56 for a dict
    O(config_drive) (1.59 with C(vendor_data)), 1.69 for O(deploy_steps) - bounded by what the server
    offers (read once per controller from C(GET /v1), only when more than 1.52 is needed); a server
    too old fails with an error naming the field, before anything is written.
  - A deploy request that fails ambiguously (HTTP 502/504 from a proxy, a dropped connection,
    "database is locked", or C(invalid_state) from a resend) is followed by a read of the node - ours
    and deploying or active means the request took effect, and the task succeeds.
  - After the deploy request the association is verified again, from a node listing made after the
    request; with O(wait=true) from the final state.
  - "HTTP 503 (C(ConcurrentActionLimit), C(NoFreeConductorWorker)) is retried with backoff until
    O(backpressure_timeout) and reported as C(backpressure: true) with the count of 503s."
  - Waiting polls a node listing shared by all hosts running this task (one request per tick).
  - Under the wave strategy (O(run_guard)), a run that is gone (ansible-playbook killed) or halted
    (failure budget) stops this task while it waits at the busy gate and right before each write
    and the deploy request; nothing is sent then. The first HTTP 503 is signalled to the strategy
    at once (not when the task ends); the busy limit it lowers applies at the gate's next tick.
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  node:
    description:
      - Node name or UUID (the C(node) returned by M(ironwave.baremetal.node_reserve)).
      - Required unless O(reserve) is given (one of the two).
    type: str
  reserve:
    description:
      - Reserve the node when the busy gate admits the host instead of before (no O(node)); only with
        O(busy_board=cloud) and O(busy_limit) above 0, and O(instance_name) (the instance UUID is
        derived from it as by M(ironwave.baremetal.node_reserve) C(mode=instance_uuid), unless
        O(instance_uuid) is given).
      - A rerun finds the node its instance already holds (in the shared listing) and goes on with it
        as with O(node). Otherwise the host waits at the gate without a node; at admission it picks a
        candidate from the listing that admitted it (the same filters and order as
        M(ironwave.baremetal.node_reserve); hosts of one controller take different nodes) and writes
        C(instance_uuid), C(instance_info.display_name), O(instance_info) and its claim in one
        request. A node another run took meanwhile is refused by Ironic (C(NodeAssociated)) with
        nothing changed, and the next candidate is tried (5 at most). Then the claim is verified as
        usual; a host that must retry keeps its reservation and writes only its claim again.
      - A gate timeout then has reserved nothing. After the reservation, failures leave the node
        reserved (as M(ironwave.baremetal.node_reserve) would) for a rerun.
    type: dict
    suboptions:
      resource_class:
        description: Resource class the node must have.
        type: str
      traits:
        description: Traits the node must have.
        type: list
        elements: str
      conductor_group:
        description: Conductor group the node must be in (required with O(busy_scope=conductor_group)).
        type: str
      candidate_nodes:
        description: Only these nodes (names or UUIDs), tried in this order.
        type: list
        elements: str
      expression:
        description: JMESPath expression evaluated per node (node_reserve's O(ironwave.baremetal.node_reserve#module:expression)).
        type: str
  instance_name:
    description: Expected instance name (allocation name). Checked against the node's allocation.
    type: str
  instance_uuid:
    description:
      - Expected instance UUID (the node's C(instance_uuid); C(instance_uuid) returned by
        M(ironwave.baremetal.node_reserve)). Giving it saves one request per node.
    type: str
  instance_info:
    description: Keys to set in the node's C(instance_info) before deploying (for example C(image_source)).
    type: dict
  config_drive:
    description:
      - Config drive, a dict (C(meta_data), C(user_data), C(network_data), C(vendor_data)) that Ironic
        builds into an image, or a URL or a gzipped, base64-encoded image as a string.
      - Never logged (it carries user data and keys); note that Ansible then masks its values
        wherever they appear in the task result.
    type: raw
  deploy_steps:
    description: Deploy steps to run (list of dicts with C(interface), C(step), C(args), C(priority)).
    type: list
    elements: dict
  traits:
    description:
      - Traits to add to the node before deploying. Deploy templates whose names match run their steps.
    type: list
    elements: str
  wait:
    description: Wait until the node is C(active) (or failed).
    type: bool
    default: false
  timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between shared polls while waiting.
      - With O(busy_board=cloud) and other runs sharing the gate (their markers claim a slot, or sit
        on nodes their deploys turned busy), each of K runs polls every K x O(poll_interval), at its
        own phase of that period (its rank among the sorted run ids, on the wall clock), so together
        they read Ironic about once per O(poll_interval). A listing this run made after the tick point
        of the run before it (the one verifying an admission) serves its tick. Controllers whose clocks
        disagree read at uneven moments; the limit holds either way.
    type: float
    default: 2.0
  backpressure_timeout:
    description: Seconds to keep retrying a deploy request answered with HTTP 503 before failing.
    type: int
    default: 300
  precheck_max_age:
    description:
      - With O(instance_uuid) and without O(instance_info), the association check before the
        deploy may use the node listing shared by all hosts (one request per tick instead of one
        per node) when that copy is at most this many seconds old and shows the node ours and
        C(available). Anything else is decided from a direct read of the node. C(0) always reads
        the node directly (the check then is milliseconds old instead of up to this age; the
        association is verified again after the request either way).
      - With O(busy_limit) above 0, a copy that does not show the node ours yet (it may predate the
        reservation) is followed by the next shared listing before the node is read directly.
      - With O(busy_board=cloud) and K runs sharing the gate, a copy the next tick of this run would
        accept (at most K x O(poll_interval) old) is accepted too; the association is checked again
        from the listing that admits the node.
    type: float
    default: 2.0
  busy_limit:
    description:
      - The busy gate. When above C(0), the deploy request is sent only while fewer than this many
        nodes are busy in Ironic (deploying, wait call-back, deleting, cleaning, clean wait,
        inspecting, inspect wait) within O(busy_scope), counted from the node listing all waiting
        hosts share plus the deploy requests let through that a listing cannot show yet. Until then
        the module waits (reported as RV(slot_wait)); nothing is written to the node meanwhile.
      - Those requests are recorded on a board keyed by the bare metal endpoint actually reached
        (not the cloud's name or how it was given), in one directory per host whatever the user or
        C($TMPDIR) (C(/tmp/ironwave-busy-gate), or C(IRONWAVE_BUSY_GATE_DIR)). So the limit is exact
        for all runs on one host that reach the same Ironic. Runs that do not share that directory
        (other controllers, containers or AWX jobs with a private C(/tmp) unless it is exposed to
        them) each admit against the listing alone and may together exceed the limit until a
        listing shows the others' deploys (about one O(poll_interval)); for a strict limit across
        them use M(ironwave.baremetal.wave_slot) (the deploy role's C(deploy_limit_scope=cloud)).
      - Pair it with the wave strategy's prefetch so hosts reserve their nodes and start their
        modules while other nodes deploy, and a freed slot is refilled within one O(poll_interval)
        (with K runs sharing O(busy_board=cloud), each polls every K x O(poll_interval); see there).
    type: int
    default: 0
  busy_scope:
    description:
      - What O(busy_limit) counts. C(global) - every node of the cloud; C(conductor_group) - the
        nodes in this node's conductor group (Ironic's capacity is per conductor group).
    type: str
    default: global
    choices: [global, conductor_group]
  busy_board:
    description:
      - Where the busy gate's admissions are counted. C(local) - the board on this host described
        under O(busy_limit).
      - C(cloud) - also on Ironic, so runs on different controllers (AWX job slices, two operators)
        share one strict limit. Once this host's board admits the node, the module writes a claim - a
        slot marker in phase C(choosing) (node C(extra.ironwave_slot), the format of
        M(ironwave.baremetal.wave_slot), which counts it like a held slot) - then reads a listing sent
        after that write and goes only if busy nodes plus live markers (any phase, this one included)
        are at most O(busy_limit); otherwise it removes its claim and tries again after a jittered
        back-off. The claim is never written as C(held) - two hosts that saw the same free slot both
        show a claim until one withdraws, while Ironic's busy count never exceeds O(busy_limit). Hosts of this controller admitted at the
        same tick wait (at most 0.15 s) for each other's marker writes and share one verifying listing.
        A marker stops counting once its node
        leaves C(available) (a busy node counts as busy), so it stays on the deployed node, inert
        (the next marker written there replaces it); after a deploy request that failed without
        effect the module removes it. Markers of a run that is gone stop counting
        as described for M(ironwave.baremetal.wave_slot). No FIFO across runs (wave_slot queues).
    type: str
    default: local
    choices: [local, cloud]
    version_added: 0.2.0
  run_id:
    description:
      - With O(busy_board=cloud), the id of this run written in the marker. The action plugin fills
        it in like M(ironwave.baremetal.wave_slot)'s (C(IRONWAVE_RUN_ID), C(ironwave_run_id),
        C(awx_job_id), else this ansible-playbook process).
    type: str
    version_added: 0.2.0
notes:
  - Supports check mode (nothing is sent but reads) and diff (provision_state, instance_info keys, traits).
attributes:
  check_mode:
    support: full
    details: Nothing is sent but reads; C(changed) says whether a deploy would be requested.
  diff_mode:
    support: full
    details: The provision state, the instance_info keys and the traits before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Reserve
  ironwave.baremetal.node_reserve:
    cloud: ironwave-local
    instance_name: "{{ inventory_hostname }}"
  register: reservation

- name: Deploy, only if the node is still ours
  ironwave.baremetal.node_deploy:
    cloud: ironwave-local
    node: "{{ reservation.node }}"
    instance_name: "{{ inventory_hostname }}"
    instance_uuid: "{{ reservation.instance_uuid }}"
    instance_info:
      image_source: http://images.example/ubuntu.qcow2
      image_checksum: sha256:0123...
    config_drive:
      meta_data:
        hostname: "{{ inventory_hostname }}"
    wait: true
"""

RETURN = r"""
node:
  description: Node UUID (with O(reserve), the node reserved at admission).
  returned: always
  type: str
instance_uuid:
  description: With O(reserve), the instance UUID written on the node.
  returned: when O(reserve) reserved a node
  type: str
reservation:
  description: With O(reserve), each node tried at admission and the outcome (C(reserved), or why Ironic refused it).
  returned: when O(reserve) reserved a node
  type: list
  elements: dict
provision_state:
  description: The node's provision state at the end (C(active) with O(wait=true)).
  returned: success
  type: str
association:
  description: The association check before the deploy (verdict, owner, reasons, facts).
  returned: always
  type: dict
association_after:
  description:
    - Who owns the node according to the association check after the deploy request (C(ours); any
      other owner fails the task). The owner, not the verdict, since the node is legitimately
      C(busy) right after the request.
  returned: when a deploy was requested
  type: str
last_error:
  description: Ironic's last_error when the deploy failed.
  returned: failure
  type: str
backpressure:
  description: True when Ironic answered HTTP 503 (concurrent action limit or no free conductor worker).
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen and retried.
  returned: always
  type: int
elapsed:
  description: Seconds the module spent deciding and calling Ironic (after Python imports).
  returned: always
  type: float
slot_wait:
  description: Seconds spent waiting at the busy gate (O(busy_limit)) before the deploy request.
  returned: always
  type: float
ansible_facts:
  description: C(ironwave_backpressure=true) when Ironic pushed back; the wave strategy shrinks its window for it.
  returned: when RV(backpressure) is true
  type: dict
rolled_back:
  description:
    - On a failed deploy request after O(instance_info)/O(traits) were written - true when they
      were put back as they were.
  returned: failure, when instance_info or traits had been written
  type: bool
phases:
  description:
    - What happened to the node, in time order, for a timeline. Each entry has C(phase), C(at) (epoch
      seconds) and C(source) - C(ironic) when the time is Ironic's own, C(module) when it is the
      module's clock.
    - C(reserved) - when the node became ours, the C(updated_at) of a read of the whole node that shows
      it C(available) and ours (the reservation is its last write), else the module's clock when it
      had read the node.
    - C(waiting) - when the module started waiting at the busy gate (only when it had to wait);
      C(admitted) - when the gate let it through (O(busy_limit) above 0).
    - Then each provision state seen while the module watched the node after the deploy request
      (C(deploying), C(wait call-back), C(active), C(deploy failed), ...) at Ironic's
      C(provision_updated_at) for it. States that lasted less than one poll (O(poll_interval), or K x
      O(poll_interval) with K runs sharing O(busy_board=cloud)) may not be seen.
    - Consecutive repeats are one entry, at most 50 entries (the last one is the latest state); a time
      earlier than the entry before (clock skew) is raised to it.
    - Empty when nothing was done (check mode, already C(active) or deploying without O(wait),
      refusals before the gate); also returned on failure once the flow had started.
  returned: always
  type: list
  elements: dict
  sample:
    - {phase: reserved, at: 1796542801.25, source: ironic}
    - {phase: waiting, at: 1796542801.9, source: module}
    - {phase: admitted, at: 1796542815.4, source: module}
    - {phase: deploying, at: 1796542815.61, source: ironic}
    - {phase: wait call-back, at: 1796542818.02, source: ironic}
    - {phase: active, at: 1796542871.7, source: ironic}
retries:
  description: Requests retried by the per-cause policy.
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen.
  returned: always
  type: dict
error_kind:
  description:
    - On failure, the cause (an association verdict such as C(associated_elsewhere), C(not_reserved),
      C(bad_request) for input that cannot work, C(timeout), C(deploy_failed), C(run_gone)/C(halted),
      or an Ironic error kind).
  returned: failure
  type: str
"""

import os

from ansible_collections.ironwave.baremetal.plugins.module_utils import busy_gate, errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils.deploy_flow import DeployFlow, DeployRequest
from ansible_collections.ironwave.baremetal.plugins.module_utils.deploy_io import DeployIO
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class NodeDeploy(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str"),
        reserve=dict(type="dict", options=dict(
            resource_class=dict(type="str"), traits=dict(type="list", elements="str"),
            conductor_group=dict(type="str"), candidate_nodes=dict(type="list", elements="str"),
            expression=dict(type="str"))),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        instance_info=dict(type="dict"),
        config_drive=dict(type="raw", no_log=True),
        deploy_steps=dict(type="list", elements="dict"),
        traits=dict(type="list", elements="str"),
        wait=dict(type="bool", default=False),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        backpressure_timeout=dict(type="int", default=300),
        precheck_max_age=dict(type="float", default=2.0),
        busy_limit=dict(type="int", default=0),
        busy_scope=dict(type="str", default="global", choices=list(busy_gate.SCOPES)),
        busy_board=dict(type="str", default="local", choices=["local", "cloud"]),
        run_id=dict(type="str"),
    )
    module_kwargs = dict(required_one_of=[("instance_name", "instance_uuid"), ("node", "reserve")],
                         mutually_exclusive=[("node", "reserve")])
    guarded = True   # the client checks the run guard before every mutating request (and retry)
    flow = None

    def run(self) -> dict:
        params = dict(self.params)
        if params["busy_board"] == "cloud":
            try:
                params["run_id"] = sl.module_run_id(params.get("run_id"), os.environ)
            except ValueError as exc:
                raise errors.BadInput(f"{exc} (busy_board cloud marks nodes with it)") from None
        self.flow = DeployFlow(DeployIO(Ops(self), self.guard), DeployRequest.from_params(params), self.guard,
                               check_mode=self.ansible.check_mode)
        return self.flow.run()

    def result_extra(self) -> dict:
        extra: dict = {"slot_wait": self.flow.slot_wait if self.flow else 0.0,
                       "phases": self.flow.phases if self.flow else []}   # on failure too
        if self.stats.backpressure:
            # Read by the wave strategy when the host leaves: shrink the window (AIMD).
            extra["ansible_facts"] = {"ironwave_backpressure": True}
        return extra


def main() -> None:
    NodeDeploy()()


if __name__ == "__main__":
    main()
