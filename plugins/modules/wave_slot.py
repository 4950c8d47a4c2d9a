#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: wave_slot
short_description: Take or give back one slot of a concurrency limit shared by all runs, counted on Ironic
version_added: 0.1.0
description:
  - "A limit that holds across runs (AWX job slices, two operators, a CI job) because it is counted
    on Ironic, not in one process: a slot is held by a node that is busy in Ironic (O(busy_states):
    deploying, wait call-back, deleting, cleaning, clean wait, inspecting, inspect wait) or whose
    C(extra.ironwave_slot) marker says a run was admitted and is about to make it busy."
  - "O(state=acquired) writes a marker on O(node), takes a ticket and waits until
    C(busy + held + queued ahead + choosing < limit) in one bulk listing read
    (C(GET /v1/nodes?fields=uuid,name,provision_state,target_provision_state,provision_updated_at,conductor_group,extra)),
    then marks the slot held. Tickets make the queue first-come first-served across runs and
    exclude over-admission and livelock (Lamport's bakery algorithm). See C(docs/global-limit.md)
    in the collection."
  - "No clock is compared with another: a marker is rewritten every O(lease_ttl)/4 seconds while
    its run needs it, and readers drop a marker they have seen unchanged for O(lease_ttl) by their
    own clock. Controllers' clocks may disagree by any amount."
  - "After taking the slot a small detached process keeps the held marker alive until the node
    turns busy, the slot is released, or the run ends (killed runs included): a run may wait at a
    busy gate for longer than O(lease_ttl) without losing its slot."
  - "Start the operation (deploy, undeploy, clean, inspect) right after acquiring: while the node is
    busy it counts as busy; once it has moved on (C(active), failed, back to C(available)) the marker
    no longer counts. O(state=released) removes the marker; on a node Ironic refuses to update
    (in transition) the marker is left to lapse, which is harmless."
  - "Waiting hosts of one controller share their listings (one request per tick, as
    M(ironwave.baremetal.node_wait) does); polls are jittered and back off from O(poll_interval)
    to O(max_poll_interval)."
  - Works under any strategy, including the builtin C(host_pinned) and C(free).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  state:
    description:
      - C(acquired) waits for and takes a slot for O(node); C(released) gives it back.
    type: str
    choices: [acquired, released]
    default: acquired
  node:
    description: Node name or UUID the slot is taken for (the node the operation will run on).
    type: str
    required: true
  limit:
    description:
      - Slots shared by every run that uses the same O(scope) on this cloud. Required with
        O(state=acquired). Every run must pass the same value; a run with a larger value admits
        itself up to its own value. While the run's wave strategy publishes a lower busy limit
        (after backpressure), this run admits itself only up to that.
    type: int
  scope:
    description:
      - C(global) counts all nodes; C(conductor_group) counts only nodes in the conductor group of
        O(node) (matching Ironic's C([conductor] max_concurrent_per_conductor_group)).
    type: str
    choices: [global, conductor_group]
    default: global
  run_id:
    description:
      - Identity of this run, stored in the marker. Markers of the same run are this run's own
        (reruns are idempotent); other runs' live markers are never touched.
      - "Default, filled in by the action plugin: C($IRONWAVE_RUN_ID) on the controller, else the
        variable C(ironwave_run_id), else AWX's C(awx_job_id) (each job slice is its own job), else
        the controller's host name, the ansible-playbook PID and its start time."
    type: str
  holder:
    description: Who holds the slot, for people reading the node. Default C(inventory_hostname).
    type: str
  lease_ttl:
    description:
      - Seconds after which a marker that stopped changing is dead for every reader. Markers are
        rewritten every O(lease_ttl)/4 s while their run needs them (queued or held, however
        long), and each request is bounded by O(lease_ttl)/4 s, so a live marker never looks
        dead. A killed or crashed run's markers stop counting after O(lease_ttl) on other
        controllers and at once on its own controller (its ansible-playbook is gone).
      - Between 20 and 900. Raise it if Ironic takes more than O(lease_ttl)/4 s to answer.
    type: int
    default: 60
  timeout:
    description: Seconds to wait for a slot; then the marker is withdrawn and the task fails.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between the first admission checks (jittered).
    type: float
    default: 1.0
  max_poll_interval:
    description: The poll interval grows by half per check up to this many seconds.
    type: float
    default: 5.0
  busy_states:
    description: Provision states that hold a slot.
    type: list
    elements: str
    default: [deploying, wait call-back, deleting, cleaning, clean wait, inspecting, inspect wait]
  skip_states:
    description:
      - With O(state=acquired), provision states in which the node needs no slot because the work that
        follows will not make it busy, for example C(active) when the next step is a deploy that is
        already done. The module then returns RV(skipped=true) and writes nothing.
    type: list
    elements: str
    default: []
  force:
    description: With O(state=released), also remove another run's marker (for cleaning up by hand).
    type: bool
    default: false
notes:
  - Supports check mode (C(acquired) reports whether a slot is free now; nothing is written) and diff
    (the marker before and after).
  - Clock skew between controllers does not matter (no clock readings are compared); only clock
    rates do.
attributes:
  check_mode:
    support: full
    details: With O(state=acquired), reports whether a slot is free now; nothing is written.
  diff_mode:
    support: full
    details: The slot marker on the node before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
# Tasks of a play using `strategy: ansible.builtin.host_pinned`: at most 4 nodes deploying at any
# time across all runs (AWX slices included), while each run keeps its own forks.
- name: Reserve a node
  ironwave.baremetal.node_reserve:
    cloud: mycloud
    instance_name: "{{ inventory_hostname }}"
  register: reservation

- name: Take a deploy slot
  ironwave.baremetal.wave_slot:
    cloud: mycloud
    node: "{{ reservation.node }}"
    limit: 4

- name: Deploy and wait, giving the slot back whatever happens
  block:
    - name: Deploy
      ironwave.baremetal.node_deploy:
        cloud: mycloud
        node: "{{ reservation.node }}"
        instance_uuid: "{{ reservation.instance_uuid }}"
        wait: true
  always:
    - name: Give the slot back
      ironwave.baremetal.wave_slot:
        cloud: mycloud
        node: "{{ reservation.node }}"
        state: released

# One limit per conductor group, run id from AWX
- name: Take a slot in this node's conductor group
  ironwave.baremetal.wave_slot:
    cloud: mycloud
    node: "{{ reservation.node }}"
    limit: 10
    scope: conductor_group
    run_id: "awx-{{ awx_job_id }}"
"""

RETURN = r"""
skipped:
  description: True when the node was in one of O(skip_states) and no slot was taken.
  returned: when skipped
  type: bool
node:
  description: Node UUID.
  returned: when the node was found
  type: str
run_id:
  description: The run id used in the marker.
  returned: always
  type: str
run_id_source:
  description: Where the run id came from (set by the action plugin).
  returned: when the action plugin derived it
  type: str
lease:
  description:
    - The marker on the node at the end (C(run_id), C(holder), C(phase), C(ticket), C(beat), C(ttl),
      C(from_state), C(since), C(proc), C(written_at)).
  returned: state=acquired, success
  type: dict
ticket:
  description: This run's place in the queue (lower goes first; ties by node UUID).
  returned: state=acquired, success
  type: int
waited:
  description: Seconds spent waiting for admission.
  returned: state=acquired
  type: float
attempts:
  description: Admission checks made (each one listing read).
  returned: state=acquired
  type: int
holders:
  description:
    - The admission check that let this node in (C(busy), C(held), C(ahead), C(choosing), C(occupied),
      C(limit)); C(occupied) < C(limit). In check mode, the check as it stands now.
  returned: state=acquired
  type: dict
would_wait:
  description: In check mode, whether the acquire would have to wait now.
  returned: check mode, state=acquired
  type: bool
lapses:
  description: Times this run queued again because one of its marker writes landed too late.
  returned: when a slot was taken
  type: int
refresher:
  description:
    - PID of the detached process that keeps the held marker alive until the node turns busy, the
      slot is released or the run ends. Not started in check mode, for a busy node, or without the
      action plugin's run guard.
  returned: when a refresher was started
  type: int
release:
  description: What release did - C(remove), C(absent), C(foreign) (another run's marker, left) or C(in_transition) (left to lapse).
  returned: state=released
  type: str
backpressure:
  description: True when Ironic answered HTTP 503 to one of this module's requests.
  returned: always
  type: bool
backpressure_503_count:
  description: HTTP 503 answers seen (each retried with backoff).
  returned: always
  type: int
retries:
  description: Requests retried by the per-cause policy (NodeLocked, 503).
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen.
  returned: always
  type: dict
elapsed:
  description: Seconds in the module (after imports).
  returned: always
  type: float
error_kind:
  description:
    - On failure - C(timeout), C(conflict), C(node_busy), C(lost), C(moved), C(expired) (marker
      writes too slow for O(lease_ttl)), C(run_gone) / C(halted) (the run ended or was halted;
      nothing was sent), C(not_found), C(bad_request), or an Ironic error kind.
  returned: failure
  type: str
"""

import os

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_daemon
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_proc
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import RUN_GUARD_OPTION, RunControl
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_acquire import SlotAcquirer, SlotRequest
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_refresh import HeldRefresher
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_store import IronicSlotStore
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming


class WaveSlot(IronwaveModule):
    argument_spec = dict(
        state=dict(type="str", default="acquired", choices=["acquired", "released"]),
        node=dict(type="str", required=True),
        limit=dict(type="int"),
        scope=dict(type="str", default=sl.GLOBAL, choices=list(sl.SCOPES)),
        run_id=dict(type="str"),
        holder=dict(type="str"),
        lease_ttl=dict(type="int", default=int(sl.DEFAULT_TTL)),
        timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=1.0),
        max_poll_interval=dict(type="float", default=5.0),
        busy_states=dict(type="list", elements="str", default=list(sl.BUSY_STATE_LIST)),
        skip_states=dict(type="list", elements="str", default=[]),
        force=dict(type="bool", default=False),
    )
    module_kwargs = dict(required_if=[("state", "acquired", ("limit",))])

    def run(self) -> dict:
        p = self.params
        try:
            run_id = sl.module_run_id(p["run_id"], os.environ)
        except ValueError as exc:
            raise errors.BadInput(str(exc)) from None
        if p["state"] == "acquired":
            problems = sl.validate(p["limit"], p["lease_ttl"], p["timeout"], p["poll_interval"],
                                   p["max_poll_interval"], p["scope"])
            if problems:
                raise errors.BadInput("; ".join(problems), run_id=run_id)
        guard = RunControl.from_params(p.get(RUN_GUARD_OPTION))
        self.timing = SlotTiming(float(p["lease_ttl"]))
        request = SlotRequest(
            node=p["node"], run_id=run_id, limit=p["limit"] or 1, scope=p["scope"], holder=p["holder"],
            ttl=float(p["lease_ttl"]), timeout=float(p["timeout"]), poll_interval=p["poll_interval"],
            max_poll_interval=p["max_poll_interval"], busy_states=frozenset(p["busy_states"]),
            skip_states=tuple(p["skip_states"]), proc=slot_proc.run_proc(guard))
        acquirer = SlotAcquirer(self.store(), request, guard)
        check = self.ansible.check_mode
        try:
            if p["state"] == "released":
                return {**acquirer.release(p["force"], check, self.stop_refresher(run_id)), "run_id": run_id}
            result = acquirer.acquire(check, self.stop_refresher(run_id))
        finally:
            for warning in acquirer.warnings:
                self.ansible.warn(warning)
        held, since = result.pop("held_lease", None), result.pop("held_since", None)
        if held is not None and guard.pid is not None:   # without a run guard nothing says when the run ends
            result["refresher"] = self.start_refresher(result["node"], held, since, guard)
        return {**result, "run_id": run_id}

    def store(self) -> IronicSlotStore:
        ops = Ops(self)
        return IronicSlotStore(ops.request, ops.ident, self.params["poll_interval"], self.timing)

    def stop_refresher(self, run_id: str):
        """Stop this run's refresher of a node (before a release or a rewrite of its marker)."""
        wait = self.timing.write_deadline + self.timing.read_deadline + 2.0
        return lambda uuid: slot_daemon.stop(slot_daemon.pidfile_path(run_id, uuid), wait)

    def start_refresher(self, uuid: str, lease: sl.Lease, since: float, guard: RunControl) -> int | None:
        """Keep the held marker alive in a detached process (slot_refresh, slot_daemon)."""
        path = slot_daemon.pidfile_path(lease.run_id, uuid)

        def target(stopped) -> str:
            self._conn = self._client = None  # a connection of its own, not the parent's sockets
            return HeldRefresher(self.store(), uuid, lease, since, guard, stopped=stopped,
                                 busy_states=frozenset(self.params["busy_states"])).run()
        return slot_daemon.spawn(path, target, log=path[:-len(".pid")] + ".log")


def main() -> None:
    WaveSlot()()


if __name__ == "__main__":
    main()
