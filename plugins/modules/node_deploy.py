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
  - Reads the node (or a very fresh shared node listing, see O(precheck_max_age)) and classifies its
    association first. It deploys only when the node is
    associated with exactly the expected instance (O(instance_uuid) and/or O(instance_name)), is not
    in maintenance and is C(available).
  - Already C(active) for the same instance, or already deploying for it - C(changed=false).
  - Associated with another instance - fails at once with a message naming the node and both
    instances; the node is not touched. Not reserved, orphaned, mismatched, busy or unusable - fails
    with the reasons, nothing changed.
  - Then sets O(instance_info) (only keys that differ) and O(traits) (which select deploy templates),
    and requests C(active) with the optional O(config_drive) and O(deploy_steps).
  - After the deploy request the association is verified again, from a node listing made after the
    request; with O(wait=true) from the final state.
  - "HTTP 503 (C(ConcurrentActionLimit), C(NoFreeConductorWorker)) is retried with backoff until
    O(backpressure_timeout) and reported as C(backpressure: true) with the count of 503s."
  - Waiting polls a node listing shared by all hosts running this task (one request per tick).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
options:
  node:
    description: Node name or UUID (the C(node) returned by M(ironwave.baremetal.node_reserve)).
    type: str
    required: true
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
    description: Config drive, a dict (C(meta_data), C(user_data), C(network_data)) or a URL/base64 string.
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
    description: Seconds between shared polls while waiting.
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
    type: float
    default: 2.0
  busy_limit:
    description:
      - The busy gate. When above C(0), the deploy request is sent only while fewer than this many
        nodes are busy in Ironic (deploying, wait call-back, deleting, cleaning, clean wait,
        inspecting, inspect wait) within O(busy_scope), counted from the node listing all waiting
        hosts share plus the deploy requests this controller let through that a listing cannot
        show yet. Until then the module waits (reported as RV(slot_wait)).
      - Pair it with the wave strategy's C(ironwave_wave_prefetch) so hosts reserve their nodes and
        start their modules while other nodes deploy, and a freed slot is refilled within one
        O(poll_interval). Exact for the runs of one controller; nodes other runs make busy count
        too, but for a strict limit across controllers use M(ironwave.baremetal.wave_slot).
    type: int
    default: 0
  busy_scope:
    description:
      - What O(busy_limit) counts. C(global) - every node of the cloud; C(conductor_group) - the
        nodes in this node's conductor group (Ironic's capacity is per conductor group).
    type: str
    default: global
    choices: [global, conductor_group]
notes:
  - Supports check mode (nothing is sent but reads) and diff (provision_state, instance_info keys, traits).
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
  description: Node UUID.
  returned: always
  type: str
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
retries:
  description: Requests retried by the per-cause policy.
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen.
  returned: always
  type: dict
error_kind:
  description: On failure, the cause (an association verdict such as C(associated_elsewhere), or an Ironic error kind).
  returned: failure
  type: str
"""

import time

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils import busy_gate
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import (
    Ops, association_error, expectation, finish, wait_for_states, result_keys)
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import AdmissionBoard

DEPLOYING = ("deploying", "wait call-back", "deploy")
DEPLOY_FAILED = frozenset({"deploy failed", "error"})


class NodeDeploy(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str", required=True),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        instance_info=dict(type="dict"),
        config_drive=dict(type="raw", no_log=False),
        deploy_steps=dict(type="list", elements="dict"),
        traits=dict(type="list", elements="str"),
        wait=dict(type="bool", default=False),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        backpressure_timeout=dict(type="int", default=300),
        precheck_max_age=dict(type="float", default=2.0),
        busy_limit=dict(type="int", default=0),
        busy_scope=dict(type="str", default="global", choices=list(busy_gate.SCOPES)),
    )
    module_kwargs = dict(required_one_of=[("instance_name", "instance_uuid")])

    def run(self) -> None:
        p = self.params
        ops = Ops(self)
        self.slot_wait = 0.0
        problem = busy_gate.validate(p["busy_limit"], p["busy_scope"])
        if problem:
            self.ansible.fail_json(msg=problem, error_kind="bad_request")
        expected = expectation(p)
        node = self.node_from_listing(ops, expected) or ops.get_node(p["node"])
        if node is None:
            self.ansible.fail_json(msg=f"node {p['node']!r} not found; check the name/UUID and the cloud",
                                   error_kind="not_found", node=p["node"])
        uuid = node["uuid"]
        result = ops.classify(node, expected)
        state = node.get("provision_state")
        base = dict(node=uuid, association=result.as_dict())

        if result.verdict in (assoc.ASSOCIATED_ELSEWHERE, assoc.ORPHANED, assoc.ALLOCATION_MISMATCH):
            self.fail(association_error(result, f"deploy node {uuid}"), result.verdict, **base)
        if result.owner == assoc.OWNER_OURS and state == "active" and not node.get("target_provision_state"):
            finish(self, changed=False, provision_state=state, **base)
        already = result.owner == assoc.OWNER_OURS and (state in DEPLOYING or node.get("target_provision_state") == "active")
        if not already:
            if result.verdict == assoc.FREE:
                self.fail(f"refusing to deploy node {uuid}: it is not reserved for {expected.label}; "
                          "reserve it first (ironwave.baremetal.node_reserve)", "not_reserved", **base)
            if not assoc.may_deploy(result):
                self.fail(association_error(result, f"deploy node {uuid}"), result.verdict, **base)

        changes = self.planned_changes(node) if not already else {}
        diff = {"before": {"provision_state": state, **changes.get("before", {})},
                "after": {"provision_state": "active", **changes.get("after", {})}}
        if self.ansible.check_mode or already:
            if already and p["wait"] and not self.ansible.check_mode:
                self.wait_and_verify(ops, uuid, expected, base, changed=False)
            finish(self, changed=not already, provision_state=state, diff=diff, **base)

        if changes.get("patch"):
            ops.request("PATCH", f"/nodes/{uuid}", json=changes["patch"])
        if changes.get("traits") is not None:
            ops.request("PUT", f"/nodes/{uuid}/traits", json={"traits": changes["traits"]})
        body: dict = {"target": "active"}
        if p["config_drive"] is not None:
            body["configdrive"] = p["config_drive"]
        if p["deploy_steps"]:
            body["deploy_steps"] = p["deploy_steps"]
        gated = self.wait_for_slot(ops, node)
        if gated:
            self.recheck_after_gate(ops, uuid, expected, gated, base)
        requested = time.time()
        try:
            ops.request("PUT", f"/nodes/{uuid}/states/provision", json=body, deadline=p["backpressure_timeout"])
        except BaseException:
            if gated:
                gated.update(lambda entries, now: busy_gate.withdraw(entries, uuid))
            raise
        if gated:
            hold = p["timeout"] + 60.0
            gated.update(lambda entries, now: busy_gate.mark_sent(entries, uuid, now, hold))
        if p["wait"]:
            self.wait_and_verify(ops, uuid, expected, {**base, "diff": diff}, changed=True)
        # Verify again from a listing made after our request (shared with the other hosts).
        rows = ops.shared_nodes(ttl=p["poll_interval"], newer_than=requested)
        after = next((n for n in rows if n["uuid"] == uuid), None) or ops.get_node(uuid)
        verdict = ops.classify(after, expected)
        if verdict.owner != assoc.OWNER_OURS:
            self.fail(association_error(verdict, f"accept deploy of node {uuid}") +
                      " (association changed during the deploy request)", verdict.verdict, **base)
        finish(self, changed=True, provision_state=after.get("provision_state"),
               association_after=verdict.owner, diff=diff, **base)

    def wait_for_slot(self, ops: Ops, node: dict) -> AdmissionBoard | None:
        """The busy gate (see busy_gate.py): wait until this node may turn busy; returns the board
        holding our admission (None without a gate)."""
        p = self.params
        if p["busy_limit"] <= 0:
            return None
        uuid, group = node["uuid"], node.get("conductor_group") or ""
        board = ops.admissions()
        hold = p["backpressure_timeout"] + 60.0
        start = time.monotonic()
        while True:
            fetched = ops.shared_nodes_fetched(ttl=p["poll_interval"])
            busy = busy_gate.busy_in_listing(fetched.data, p["busy_scope"], group)
            listed_at = time.time() - fetched.age
            if board.update(lambda entries, now: busy_gate.try_admit(
                    entries, uuid, group, busy, listed_at, now, p["busy_limit"], p["busy_scope"], hold)):
                self.slot_wait = round(time.monotonic() - start, 3)
                self.admitted_row = next((n for n in fetched.data if n.get("uuid") == uuid), None)
                return board
            if time.monotonic() - start > p["timeout"]:
                self.fail(f"node {uuid} waited {p['timeout']} s for a busy slot: {len(busy)} node(s) stayed busy "
                          f"in scope {p['busy_scope']} (busy_limit {p['busy_limit']}); raise busy_limit or timeout",
                          "timeout", node=uuid)
            time.sleep(max(0.05, ops.node_listing(p["poll_interval"]).next_tick_in()) + 0.02)

    def recheck_after_gate(self, ops: Ops, uuid: str, expected, board: AdmissionBoard, base: dict) -> None:
        """The association check before the gate may be seconds old by now: check again from the
        listing that admitted us (no extra request), or from a direct read when that copy does not
        show the node ours and deployable. Refuse - and give the slot back - if it is not."""
        row = getattr(self, "admitted_row", None)
        if row is not None and row.get("instance_uuid") and row.get("instance_uuid") == expected.instance_uuid \
                and assoc.may_deploy(ops.classify(row, expected)):
            return
        current = ops.get_node(uuid)
        result = ops.classify(current, expected) if current else None
        if result is None or not assoc.may_deploy(result):
            board.update(lambda entries, now: busy_gate.withdraw(entries, uuid))
            if result is None:
                self.fail(f"node {uuid} disappeared while waiting for a busy slot", "not_found", **base)
            self.fail(association_error(result, f"deploy node {uuid}") + " (changed while waiting for a busy slot)",
                      result.verdict, **{**base, "association": result.as_dict()})

    def node_from_listing(self, ops: Ops, expected) -> dict | None:
        """The node from the shared listing, when that is enough to accept the deploy.

        Only with an expected instance UUID (then no allocation needs reading), without
        instance_info (the listing does not carry it), from a copy at most `precheck_max_age`
        seconds old, and only when it shows the node ours and deployable. A copy showing our
        instance UUID (in allocation mode a fresh random allocation UUID) was made after our
        reservation. Anything else - not ours, busy, failed, not listed - is decided from a direct
        read of the node, so refusals never rest on a shared copy.
        """
        p = self.params
        if not expected.instance_uuid or p["instance_info"] or p["precheck_max_age"] <= 0:
            return None
        rows = ops.shared_nodes(ttl=p["poll_interval"], max_age=p["precheck_max_age"])
        node = next((n for n in rows if p["node"] in (n.get("uuid"), n.get("name"))), None)
        if node is not None and node.get("instance_uuid") != expected.instance_uuid and p["busy_limit"] > 0:
            # The copy may predate our own reservation (made a moment ago). With a busy gate this
            # host is about to wait for a tick anyway: join the next shared listing instead of
            # reading the node directly (one request fewer per node).
            asked = time.time()
            time.sleep(ops.node_listing(p["poll_interval"]).next_tick_in() + 0.02)
            rows = ops.shared_nodes(ttl=p["poll_interval"], newer_than=asked)
            node = next((n for n in rows if p["node"] in (n.get("uuid"), n.get("name"))), None)
        if node is None or node.get("instance_uuid") != expected.instance_uuid:
            return None
        if not assoc.may_deploy(ops.classify(node, expected)):
            return None
        return node

    def planned_changes(self, node: dict) -> dict:
        p = self.params
        out: dict = {"before": {}, "after": {}}
        info = node.get("instance_info") or {}
        patch = []
        for key, value in (p["instance_info"] or {}).items():
            if info.get(key) != value:
                patch.append({"op": "add", "path": f"/instance_info/{key}", "value": value})
                out["before"][f"instance_info.{key}"] = info.get(key)
                out["after"][f"instance_info.{key}"] = value
        out["patch"] = patch
        if p["traits"]:
            have = list(node.get("traits") or [])
            want = sorted(set(have) | set(p["traits"]))
            if want != sorted(have):
                out["traits"] = want
                out["before"]["traits"], out["after"]["traits"] = sorted(have), want
        return out

    def wait_and_verify(self, ops: Ops, uuid: str, expected, base: dict, changed: bool) -> None:
        p = self.params
        nodes, timed_out = wait_for_states(ops, [uuid], {"active"}, p["timeout"], p["poll_interval"],
                                           DEPLOY_FAILED)
        node = nodes.get(uuid) or {}
        state = node.get("provision_state")
        if timed_out or state != "active":
            why = f"timed out after {p['timeout']} s in state {state!r}" if timed_out else f"ended in {state!r}"
            self.fail(f"deploy of node {uuid} {why}: {node.get('last_error')}",
                      "timeout" if timed_out else "deploy_failed", last_error=node.get("last_error"),
                      provision_state=state, **base)
        verdict = ops.classify(node, expected)
        if verdict.owner != assoc.OWNER_OURS:
            self.fail(association_error(verdict, f"accept deploy of node {uuid}") +
                      " (association changed during the deploy)", verdict.verdict, **base)
        finish(self, changed=changed, provision_state=state, association_after=verdict.owner, **base)

    def result_extra(self) -> dict:
        extra: dict = {"slot_wait": getattr(self, "slot_wait", 0.0)}
        if self.stats.backpressure:
            # Read by the wave strategy when the host leaves: shrink the window (AIMD).
            extra["ansible_facts"] = {"ironwave_backpressure": True}
        return extra

    def fail(self, msg: str, kind: str, **extra) -> None:
        self.ansible.fail_json(msg=msg, error_kind=kind, **{**result_keys(self), **extra})


def main() -> None:
    NodeDeploy()()


if __name__ == "__main__":
    main()
