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
    exclude over-admission and livelock, whatever the controllers' clocks say (Lamport's bakery
    algorithm). See C(docs/global-limit.md) in the collection."
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
        itself up to its own value.
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
      - Seconds a held marker lives; the operation must start within this time (then the node
        counts as busy). Markers of crashed runs stop counting after it. Queueing markers live at
        most 60 s (choosing 30 s) and are refreshed while the run waits, so an interrupted run
        (Ctrl-C) blocks the queue behind it for a minute at most.
    type: int
    default: 900
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
  - Clock skew between controllers only shifts when markers expire; keep it well under O(lease_ttl).
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
  description: The marker on the node at the end (C(run_id), C(holder), C(phase), C(ticket), C(announced_at), C(expires_at), C(from_state), C(since)).
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
  description: On failure - C(timeout), C(conflict), C(node_busy), C(lost), C(moved), C(expired), C(not_found), or an Ironic error kind.
  returned: failure
  type: str
"""

import os
import time
from dataclasses import replace
from urllib.parse import quote

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops, finish, result_keys
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import (
    IronwaveModule, classify_exception)

MARKER_PATH = f"/extra/{sl.MARKER_KEY}"


class WaveSlot(IronwaveModule):
    argument_spec = dict(
        state=dict(type="str", default="acquired", choices=["acquired", "released"]),
        node=dict(type="str", required=True),
        limit=dict(type="int"),
        scope=dict(type="str", default=sl.GLOBAL, choices=list(sl.SCOPES)),
        run_id=dict(type="str"),
        holder=dict(type="str"),
        lease_ttl=dict(type="int", default=900),
        timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=1.0),
        max_poll_interval=dict(type="float", default=5.0),
        busy_states=dict(type="list", elements="str", default=list(sl.BUSY_STATE_LIST)),
        skip_states=dict(type="list", elements="str", default=[]),
        force=dict(type="bool", default=False),
    )
    module_kwargs = dict(required_if=[("state", "acquired", ("limit",))])

    # -- plumbing -----------------------------------------------------------------------
    def fail(self, msg: str, kind: str, **extra) -> None:
        self.ansible.fail_json(msg=msg, error_kind=kind, **{**result_keys(self), "run_id": self.run_id, **extra})

    def listing(self, newer_than: float | None = None) -> list[sl.SlotNode]:
        """One bulk listing, shared by this controller's waiting hosts (one request per tick);
        with `newer_than`, only a listing requested after that moment (after our own write)."""
        shared = self.ops.shared("slots:" + ",".join(sl.NODE_FIELDS), ttl=self.params["poll_interval"])
        rows = shared.get(lambda: self.ops._list("/nodes", "nodes", sl.NODE_FIELDS), newer_than=newer_than).data
        return sl.parse_nodes(rows)

    def read_node(self, ident: str) -> sl.SlotNode | None:
        try:
            row = self.ops.request("GET", f"/nodes/{quote(ident, safe='')}?fields={','.join(sl.NODE_FIELDS)}")
        except Exception as exc:  # noqa: BLE001 - not found is an answer, the rest is raised
            if classify_exception(exc).kind == ironic_errors.NOT_FOUND:
                return None
            raise
        return sl.SlotNode.from_mapping(row)

    def write(self, uuid: str, lease: sl.Lease | None) -> float:
        """Write (or remove) the marker; returns the time after Ironic answered."""
        op = {"op": "add", "path": MARKER_PATH, "value": lease.to_extra()} if lease else \
             {"op": "remove", "path": MARKER_PATH}
        self.ops.request("PATCH", f"/nodes/{uuid}", json=[op], deadline=self.write_deadline)
        return time.time()

    def withdraw(self, uuid: str) -> None:
        """Best effort: remove our marker after a failure (it would lapse anyway)."""
        try:
            self.write(uuid, None)
        except Exception:  # noqa: BLE001 - already failing; the marker expires on its own
            pass

    # -- entry --------------------------------------------------------------------------
    def run(self) -> None:
        p = self.params
        self.ops = Ops(self)
        self.run_id = p["run_id"] or os.environ.get(sl.RUN_ID_ENV)
        problem = sl.check_run_id(self.run_id)
        if problem:
            if not self.run_id:
                problem = ("run_id: not set; pass run_id, or set IRONWAVE_RUN_ID, or run the module "
                           "through its action plugin (the default), which derives one per run")
            self.ansible.fail_json(msg=problem, error_kind=ironic_errors.BAD_REQUEST)
        self.write_deadline = 30.0
        self.busy_states = frozenset(p["busy_states"])
        if p["state"] == "released":
            self.release()
        errors = sl.validate(p["limit"], p["lease_ttl"], p["timeout"], p["poll_interval"],
                             p["max_poll_interval"], p["scope"])
        if errors:
            self.ansible.fail_json(msg="; ".join(errors), error_kind=ironic_errors.BAD_REQUEST)
        self.acquire()

    def base(self, node: sl.SlotNode) -> dict:
        return {"node": node.uuid, "run_id": self.run_id}

    # -- acquire ------------------------------------------------------------------------
    def acquire(self) -> None:
        p = self.params
        ttl = float(p["lease_ttl"])
        start = time.monotonic()
        nodes = self.listing(newer_than=time.time() - p["poll_interval"])
        me = next((n for n in nodes if p["node"] in (n.uuid, n.name)), None)
        if me is None:
            self.fail(f"node {p['node']!r} not found; check the name/UUID and the cloud",
                      ironic_errors.NOT_FOUND, node=p["node"])
        base = self.base(me)
        if me.provision_state in p["skip_states"] and not me.target_provision_state and not me.lease:
            finish(self, changed=False, skipped=True, waited=0.0, attempts=0, holders={},
                   msg=f"node is {me.provision_state} (a skip state): no slot needed", **base)
        scope = sl.Scope(p["scope"], me.conductor_group)
        before = me.lease.to_extra() if me.lease else None
        plan = sl.plan_announce(me, self.run_id, time.time(), self.busy_states)
        if plan.action == sl.ALREADY_HELD:
            finish(self, changed=False, msg=plan.message, lease=me.lease.to_extra(), ticket=me.lease.ticket,
                   waited=0.0, attempts=0, holders={}, **base)
        if plan.action != sl.ANNOUNCE:
            self.fail(plan.message, plan.action, **base)
        holder = p["holder"] or me.name or me.uuid
        lease = sl.new_lease(me, self.run_id, holder, time.time(), ttl)

        if self.ansible.check_mode:
            now = time.time()
            pretend = sl.with_ticket(lease, sl.next_ticket(nodes, now), now, ttl)
            view = [replace(n, lease=pretend) if n.uuid == me.uuid else n for n in nodes]
            decision = sl.admission(view, me.uuid, self.run_id, now, p["limit"], scope, self.busy_states)
            finish(self, changed=True, would_wait=decision.verdict != sl.ADMIT, holders=decision.as_dict(),
                   msg=decision.message, waited=0.0, attempts=0,
                   diff={"before": {"marker": before}, "after": {"marker": sl.as_held(pretend, now, ttl).to_extra()}},
                   **base)

        # 1. announce (choosing), 2. take a ticket from a read made after that write. A choosing
        # marker that might have expired before the ticket lands is written again (others may
        # have stopped counting it), so the ticket always comes from a read inside its lifetime.
        while True:
            written = self.write(me.uuid, lease)
            nodes = self.listing(newer_than=written)
            now = time.time()
            if now - lease.announced_at < sl.CHOOSING_TTL / 2:
                break
            lease = sl.new_lease(me, self.run_id, holder, now, ttl)
        lease = sl.with_ticket(lease, sl.next_ticket(nodes, now), now, ttl)
        written = self.write(me.uuid, lease)
        # 3. wait for admission, reading only listings made after the ticket was written.
        backoff = sl.PollBackoff(base=p["poll_interval"], cap=p["max_poll_interval"])
        attempts = 0
        while True:
            nodes = self.listing(newer_than=written)
            attempts += 1
            now = time.time()
            decision = sl.admission(nodes, me.uuid, self.run_id, now, p["limit"], scope, self.busy_states)
            if decision.verdict == sl.ADMIT:
                break
            if decision.verdict != sl.WAIT:
                if decision.verdict != sl.LOST:
                    self.withdraw(me.uuid)
                self.fail(f"lost the queue place for node {me.label()}: {decision.message}", decision.verdict,
                          holders=decision.as_dict(), attempts=attempts, **base)
            waited = time.monotonic() - start
            if waited > p["timeout"]:
                self.withdraw(me.uuid)
                self.fail(f"no slot for node {me.label()} within {p['timeout']} s: {decision.message}; "
                          "raise the limit or the timeout, or check for stuck busy nodes",
                          "timeout", holders=decision.as_dict(), attempts=attempts, waited=round(waited, 3),
                          **base)
            if sl.needs_refresh(lease, now, ttl):
                lease = sl.refreshed(lease, now, ttl)
                self.write(me.uuid, lease)
            time.sleep(min(backoff.next(), max(0.0, p["timeout"] - waited) + 0.05))
        held = sl.as_held(lease, time.time(), ttl)
        self.write(me.uuid, held)
        finish(self, changed=True, lease=held.to_extra(), ticket=held.ticket,
               waited=round(time.monotonic() - start, 3), attempts=attempts, holders=decision.as_dict(),
               msg=decision.message, diff={"before": {"marker": before}, "after": {"marker": held.to_extra()}},
               **base)

    # -- release ------------------------------------------------------------------------
    def release(self) -> None:
        p = self.params
        me = self.read_node(p["node"])
        if me is None:
            self.fail(f"node {p['node']!r} not found; check the name/UUID and the cloud",
                      ironic_errors.NOT_FOUND, node=p["node"])
        base = self.base(me)
        plan = sl.plan_release(me, self.run_id, p["force"])
        before = me.lease.to_extra() if me.lease else None
        if plan.action != sl.REMOVE:
            if plan.action in (sl.FOREIGN, sl.IN_TRANSITION):
                self.ansible.warn(plan.message)
            finish(self, changed=False, release=plan.action, msg=plan.message, **base)
        diff = {"before": {"marker": before}, "after": {"marker": None}}
        if self.ansible.check_mode:
            finish(self, changed=True, release=sl.REMOVE, diff=diff, **base)
        try:
            self.write(me.uuid, None)
        except Exception as exc:  # noqa: BLE001 - two outcomes are not failures, see below
            err = classify_exception(exc)
            if err.status == 400 and "non-existent" in err.message:
                finish(self, changed=False, release=sl.ABSENT, msg="marker already gone", **base)
            if sl.IN_TRANSITION_RE.search(err.message) or err.kind == ironic_errors.NODE_LOCKED:
                # Started moving meanwhile (or locked for longer than our retries): the marker
                # stops counting once the node leaves its announced state; let it lapse.
                msg = f"marker of node {me.label()} left to lapse: {err.message}"
                self.ansible.warn(msg)
                finish(self, changed=False, release=sl.IN_TRANSITION, msg=msg, **base)
            raise
        finish(self, changed=True, release=sl.REMOVE, diff=diff, **base)


def main() -> None:
    WaveSlot()()


if __name__ == "__main__":
    main()
