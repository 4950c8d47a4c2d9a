#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_reserve
short_description: Atomically reserve a bare metal node for a named instance
version_added: 0.1.0
description:
  - Reserves one node for O(instance_name) with Ironic's allocation API (O(mode=allocation), the
    default, as metalsmith does) or by setting the node's C(instance_uuid) (O(mode=instance_uuid)).
    Ironic makes either atomic; two concurrent reservations never get the same node.
  - Idempotent - the same O(instance_name) gets the same node back (the allocation is named after
    the instance; in O(mode=instance_uuid) the instance UUID is derived from the name unless given).
  - "Candidates are prefiltered like Ironic's allocation code: not associated, C(available), not in
    maintenance, with a power state; then narrowed by O(node), O(candidate_nodes), O(resource_class),
    O(traits), O(conductor_group) and O(expression). The candidate list comes from a bulk listing
    shared by all hosts running this task at the same time (one request per tick)."
  - If the candidates are taken between listing and reserving, the module picks others, at most
    O(max_attempts) rounds, and reports every attempt. When nothing is left it fails at once naming
    the filter and what was tried; when a node was lost to another instance the error kind is
    C(node_associated).
  - openstacksdk's blanket retries are off; HTTP 503 answers are retried with backoff and reported as
    C(backpressure).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
options:
  instance_name:
    description:
      - Name of the instance the node is reserved for; the allocation's name. Must be a valid Ironic
        logical name (letters, digits, C(-), C(.), C(_), C(~)).
    type: str
    required: true
  instance_uuid:
    description:
      - UUID to reserve the node under. With O(mode=allocation) it becomes the allocation UUID (and so
        the node's C(instance_uuid)); default there is a new random UUID per attempt (reruns find the
        node by the allocation name). With O(mode=instance_uuid) it is written to the node; default
        there is a UUID derived from O(instance_name) (uuid5), so reruns find the same node.
      - With an explicit UUID, a lost race is decided by Ironic alone (it may take a few seconds), because
        a UUID cannot be reused safely while Ironic still works on a deleted allocation.
    type: str
  mode:
    description:
      - C(allocation) uses Ironic's allocation API (microversion 1.52 or later).
      - C(instance_uuid) sets the node's C(instance_uuid) and C(instance_info.display_name) in one PATCH,
        for clouds or workflows that do not use allocations. Ironic answers C(NodeAssociated) if the
        node was taken meanwhile.
    type: str
    choices: [allocation, instance_uuid]
    default: allocation
  instance_info:
    description:
      - Only with O(mode=instance_uuid). Keys written to the node's C(instance_info) in the same PATCH
        that reserves it (e.g. C(image_source)), as Nova's Ironic driver does, so the deploy has nothing
        left to patch - one request per node instead of two.
      - On a rerun that finds the node already reserved, and not deployed, the keys are compared and
        patched when they differ.
    type: dict
  node:
    description: Reserve exactly this node (name or UUID). Same as a one-element O(candidate_nodes).
    type: str
  candidate_nodes:
    description: Only these nodes (names or UUIDs), tried in the given order.
    type: list
    elements: str
  resource_class:
    description: Only nodes of this resource class. Default is the resource class of the best candidate.
    type: str
  traits:
    description: Only nodes having all these traits.
    type: list
    elements: str
    default: []
  conductor_group:
    description: Only nodes in this conductor group (C("") is the default group).
    type: str
  expression:
    description:
      - A JMESPath expression evaluated on each node (fields C(uuid), C(name), C(properties),
        C(resource_class), C(traits), C(conductor_group), ...); only nodes where it is true are
        candidates. Example C(properties.memory_mb >= `262144`). Validated before anything is done.
    type: str
  max_attempts:
    description:
      - Allocation attempts. After a failed attempt, nodes taken by other instances are excluded and
        the rest are offered again (after a short jittered pause when none was taken).
    type: int
    default: 5
  batch:
    description:
      - Candidates offered to Ironic per attempt when every candidate is already claimed by another
        host of this controller (Ironic tries them in random order). Otherwise the module offers one
        node that it claimed for this instance in a file shared by the controller's worker
        processes, so parallel reservations do not race for the same nodes.
    type: int
    default: 3
  timeout:
    description: Seconds to wait in total for Ironic to process the allocation.
    type: int
    default: 60
  stuck_timeout:
    description:
      - Seconds after which an allocation still C(allocating) counts as a failed attempt; it is
        deleted and the next attempt made. Ironic normally decides in well under a second (a few
        seconds while it retries a locked node). Deleting it is safe - each attempt has its own
        allocation UUID, and Ironic cannot attach a node to a deleted allocation.
    type: int
    default: 8
  spacing:
    description:
      - Seconds between allocation requests sent by all hosts of this controller together (booked
        through a shared file next to the poll cache). Ironic processes a burst of allocations
        concurrently, and on sqlite some then fail with "database is locked", each costing a
        DELETE and a new POST; spacing them avoids that. C(0) sends at once.
    type: float
    default: 0.5
requirements:
  - jmespath (only when O(expression) is used)
notes:
  - Supports check mode (reports the node that would be picked; nothing is created) and diff.
"""

EXAMPLES = r"""
- name: Reserve a node with at least 256 GiB RAM for web-1
  ironwave.baremetal.node_reserve:
    cloud: ironwave-local
    instance_name: web-1
    resource_class: baremetal
    traits: [CUSTOM_FAST_NVME]
    expression: "properties.memory_mb >= `262144`"
  register: reservation

- name: Reserve exactly node-007 for db-1
  ironwave.baremetal.node_reserve:
    cloud: ironwave-local
    instance_name: db-1
    node: node-007
"""

RETURN = r"""
node:
  description: UUID of the reserved node (in check mode, the node that would be reserved).
  returned: success
  type: str
node_name:
  description: Name of the reserved node.
  returned: success
  type: str
instance_uuid:
  description: The node's C(instance_uuid) after reservation (the allocation UUID in allocation mode).
  returned: success
  type: str
allocation:
  description: The allocation (uuid, name, node_uuid, state) in allocation mode.
  returned: success and mode is allocation
  type: dict
attempts:
  description: Each reservation attempt - the candidates offered and the outcome.
  returned: always
  type: list
  elements: dict
candidates_considered:
  description: How many nodes passed the filter on the first listing.
  returned: always
  type: int
backpressure:
  description: True when Ironic answered HTTP 503 (concurrent action limit or no free conductor worker).
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen (each was retried with backoff).
  returned: always
  type: int
elapsed:
  description: Seconds the module spent deciding and calling Ironic (after Python imports).
  returned: always
  type: float
retries:
  description: Requests retried by the per-cause policy (NodeLocked, 503).
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen, retried or not.
  returned: always
  type: dict
error_kind:
  description: On failure, the classified cause (for example C(node_associated), C(allocation_failed)).
  returned: failure
  type: str
"""

import time
import uuid as uuidlib

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import candidates as cand
from ansible_collections.ironwave.baremetal.plugins.module_utils.association import (
    Expectation, NodeView, classify_association)
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import (
    NODE_VIEW_FIELDS, Ops, finish, result_keys)
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import (
    IronwaveModule, classify_exception)

# Fixed namespace so uuid5(name) is the same on every controller.
NAMESPACE = uuidlib.UUID("6f0d3f7e-3b1c-5e4a-9a7e-1f2b0c9d8e71")


def derived_uuid(instance_name: str) -> str:
    return str(uuidlib.uuid5(NAMESPACE, instance_name))


class NodeReserve(IronwaveModule):
    argument_spec = dict(
        instance_name=dict(type="str", required=True),
        instance_uuid=dict(type="str"),
        mode=dict(type="str", default="allocation", choices=["allocation", "instance_uuid"]),
        node=dict(type="str"),
        candidate_nodes=dict(type="list", elements="str"),
        resource_class=dict(type="str"),
        traits=dict(type="list", elements="str", default=[]),
        conductor_group=dict(type="str"),
        expression=dict(type="str"),
        max_attempts=dict(type="int", default=5),
        batch=dict(type="int", default=3),
        timeout=dict(type="int", default=60),
        stuck_timeout=dict(type="int", default=8),
        spacing=dict(type="float", default=0.5),
        instance_info=dict(type="dict"),
    )
    module_kwargs = dict(mutually_exclusive=[("node", "candidate_nodes")])

    def run(self) -> None:
        p = self.params
        self.ops = Ops(self)
        self.attempts: list[dict] = []
        if p["max_attempts"] < 1 or p["batch"] < 1:
            self.ansible.fail_json(msg="max_attempts and batch must be at least 1")
        if p["spacing"] < 0:
            self.ansible.fail_json(msg="spacing must be 0 or more seconds")
        if p["instance_info"] and p["mode"] != "instance_uuid":
            self.ansible.fail_json(msg="instance_info: only with mode=instance_uuid (it is written in the reserving "
                                       "PATCH); with allocations pass it to ironwave.baremetal.node_deploy instead",
                                   error_kind=ironic_errors.BAD_REQUEST)
        self.req = cand.CandidateRequest(
            resource_class=p["resource_class"], traits=tuple(p["traits"] or ()),
            conductor_group=p["conductor_group"],
            candidate_nodes=tuple([p["node"]] if p["node"] else (p["candidate_nodes"] or ())),
            expression=p["expression"])
        try:
            cand.compile_expression(p["expression"])
        except cand.FilterError as exc:
            self.ansible.fail_json(msg=str(exc), error_kind=ironic_errors.BAD_REQUEST)
        # mode=instance_uuid: derived from the name so reruns find the node. Allocation mode: the
        # allocation's (unique) name gives idempotency; each attempt gets its own UUID.
        self.inst_uuid = p["instance_uuid"] or derived_uuid(p["instance_name"])
        if p["mode"] == "allocation":
            self.reserve_allocation()
        else:
            self.reserve_instance_uuid()

    # -- helpers ------------------------------------------------------------------------
    def done(self, changed: bool, node: dict, allocation: dict | None = None, **extra) -> None:
        after = {"node": node.get("uuid"), "instance_uuid": node.get("instance_uuid") or self.inst_uuid,
                 "instance_name": self.params["instance_name"]}
        finish(self, changed=changed, node=node.get("uuid"), node_name=node.get("name"),
               instance_uuid=after["instance_uuid"], allocation=allocation, attempts=self.attempts,
               candidates_considered=getattr(self, "considered", 0),
               diff={"before": {"node": None} if changed else after, "after": after}, **extra)

    def fail(self, msg: str, kind: str, **extra) -> None:
        self.ansible.fail_json(msg=msg, error_kind=kind, attempts=self.attempts,
                               **{**result_keys(self), **extra})

    def lost_to_other(self, tried: list[str]) -> tuple[str, str] | None:
        """After a lost race: a node we tried, or one that would match but for its association,
        that now belongs to another instance - and that instance."""
        nodes = self.ops.shared_nodes(max_age=1.0)  # just refreshed by the caller
        by_uuid = {n["uuid"]: n for n in nodes}
        for u in tried:
            n = by_uuid.get(u) or {}
            if n.get("instance_uuid") and n.get("instance_uuid") != self.inst_uuid:
                return u, n["instance_uuid"]
        compiled = cand.compile_expression(self.req.expression)
        for n in nodes:
            if n.get("instance_uuid") and n.get("provision_state") == "available" and \
                    cand.why_not({**n, "instance_uuid": None}, self.req, compiled) is None:
                return n["uuid"], n["instance_uuid"]
        return None

    def pick(self, exclude: list[str], fresh: bool) -> list[dict]:
        nodes = self.ops.shared_nodes(max_age=0 if fresh else None)
        try:
            sel = cand.select(nodes, self.req, self.params["instance_name"], exclude)
        except cand.FilterError as exc:
            self.fail(str(exc), ironic_errors.BAD_REQUEST)
        if not hasattr(self, "considered"):
            self.considered = len(sel.candidates)
        self.selection = sel
        return sel.candidates

    def exhausted(self, tried: list[str]) -> None:
        lost = self.lost_to_other(tried)
        msg = cand.exhausted_message(self.req, self.selection, tried)
        if lost:
            # Same wording as Ironic's NodeAssociated, so it reads like the cause it is.
            self.fail(f"Node {lost[0]} is associated with instance {lost[1]}. {msg}",
                      ironic_errors.NODE_ASSOCIATED)
        self.fail(msg, ironic_errors.ALLOCATION_FAILED)

    # -- allocation mode -----------------------------------------------------------------
    def existing_allocation(self) -> dict | None:
        # One GET by name (Ironic looks names up directly): listing all allocations costs
        # O(allocations) in Ironic - over a second on a few hundred - and cannot filter by name.
        return self.ops.get_allocation(self.params["instance_name"])

    def adopt_existing(self, alloc: dict) -> None:
        """An allocation with our name exists: active -> return its node; error -> delete it."""
        if alloc.get("state") == "allocating":
            alloc = self.wait_allocation(alloc["uuid"], time.time() - 3600)
        if alloc.get("state") == "active" and alloc.get("node_uuid"):
            node = next((n for n in self.ops.shared_nodes() if n["uuid"] == alloc["node_uuid"]), None)
            if node is None or node.get("instance_uuid") != alloc["uuid"]:
                node = self.ops.get_node(alloc["node_uuid"])  # the shared copy predates the allocation
            view = NodeView.from_mapping(node, allocation=alloc, allocation_found=True)
            result = classify_association(view, Expectation(self.params["instance_name"]))
            if result.owner != "ours":
                self.fail(f"allocation {alloc['name']} exists but {result.message}", result.verdict,
                          association=result.as_dict())
            self.done(False, node, alloc, association=result.verdict)
        # A failed allocation with our name blocks the name: remove it (it holds no node).
        if not self.ansible.check_mode:
            self.ops.request("DELETE", f"/allocations/{alloc['uuid']}")
        outcome = f"removed failed allocation {alloc['uuid']}: {alloc.get('last_error')}"
        self.attempts.append({"candidates": [], "outcome": outcome})

    def wait_allocation(self, alloc_uuid: str, posted: float, offered: tuple[str, ...] = ()) -> dict:
        """Wait for Ironic to decide. Success shows in the shared node listing (the winner's
        instance_uuid becomes the allocation UUID), a failure in the shared listing of failed
        allocations: all reserving hosts share one request of each per tick. The allocation itself
        is read only rarely (every 10 s, and before calling it stuck)."""
        deadline = time.monotonic() + self.params["timeout"]
        time.sleep(0.3)
        asked, start = 0, time.time()
        while True:
            # Ironic decides in well under a second unless it lost the allocation (stuck) or is
            # retrying a locked node: tick every 2 s, then every 4 s while it takes longer.
            tick = 2.0 if time.time() - posted < 4.0 else 4.0
            nodes = self.ops.shared_nodes(ttl=tick, newer_than=posted)
            mine = [n for n in nodes if n.get("instance_uuid") == alloc_uuid]
            if mine:
                return {"uuid": alloc_uuid, "name": self.params["instance_name"], "node_uuid": mine[0]["uuid"],
                        "state": "active", "last_error": None}
            # Shortcuts only with a UUID of our own making (see reserve_allocation).
            taken = self.taken_by_others(offered, nodes) if not self.params["instance_uuid"] else []
            if taken:
                # Ironic would only give up after its own NodeLocked retries (node_locked_retry_*,
                # seconds); every offered node already belongs to another instance, so decide now.
                return {"uuid": alloc_uuid, "state": "error", "doomed": True, "seen_at": posted,
                        "last_error": "all offered nodes were taken meanwhile: " + "; ".join(
                            f"Node {u} is associated with instance {i}." for u, i in taken)}
            waited = time.time() - posted
            if waited > 3.0:  # uncontended, Ironic decides in well under a second
                seen_at = time.time()
                failed = self.ops.shared_failed_allocations(ttl=tick, newer_than=posted).get(alloc_uuid)
                if failed:
                    return {**failed, "seen_at": seen_at}
            stuck = offered and not self.params["instance_uuid"] and waited > self.params["stuck_timeout"]
            if stuck or time.time() - start > 10.0 * (1 + asked):
                asked += 1
                alloc = self.ops.get_allocation(alloc_uuid)
                if alloc is None:
                    self.fail(f"allocation {alloc_uuid} disappeared while waiting", ironic_errors.NOT_FOUND)
                if alloc["state"] != "allocating":
                    return {**alloc, "seen_at": time.time()}
            if stuck:
                # Seen with Ironic on sqlite under concurrent allocations: the conductor hits
                # "database is locked" and cannot even record the failure. Drop it and retry.
                return {"uuid": alloc_uuid, "state": "error", "stuck": True, "seen_at": time.time(),
                        "last_error": f"still allocating after {waited:.0f} s (Ironic lost it; see its log)"}
            if time.monotonic() > deadline:
                self.fail(f"allocation {alloc_uuid} still allocating after {self.params['timeout']} s",
                          "timeout")
            listing = self.ops.shared("nodes:" + ",".join(dict.fromkeys(cand.NODE_FIELDS + NODE_VIEW_FIELDS)), tick)
            time.sleep(max(0.2, listing.next_tick_in()) + 0.05)

    def taken_by_others(self, offered: tuple[str, ...], nodes: list[dict]) -> list[tuple[str, str]]:
        by_uuid = {n["uuid"]: n for n in nodes}
        taken = [(u, (by_uuid.get(u) or {}).get("instance_uuid")) for u in offered]
        if offered and all(inst and inst != self.inst_uuid for _node, inst in taken):
            return taken
        return []

    def adopt_by_name(self) -> None:
        """GET the allocation named after our instance; adopt it if there is one (exits when it holds
        a node, removes it when it failed)."""
        alloc = self.existing_allocation()
        if alloc:
            self.adopt_existing(alloc)

    def choose_offer(self, candidates: list[dict], rc: str) -> list[dict]:
        """The nodes to offer Ironic: the first candidate no other host of this controller has
        claimed (alone, so parallel reservations do not collide inside Ironic, which tries the
        offered nodes in random order); when every candidate is claimed, the first `batch` ones."""
        same_rc = [n for n in candidates if n.get("resource_class") == rc]
        if self.ansible.check_mode:
            return same_rc[:1]
        name = self.params["instance_name"]
        board = self.ops.claims(ttl=self.params["timeout"] + 30)
        mine = board.claim(name, lambda claims: cand.first_unclaimed(same_rc, claims, name))
        return [n for n in same_rc if n["uuid"] == mine] if mine else same_rc[:self.params["batch"]]

    def reserve_allocation(self) -> None:
        p = self.params
        # Idempotency by name. Ironic keeps allocation names unique, so the POST itself is the check:
        # an existing allocation of this instance makes it answer 409 (duplicate) without changing
        # anything, and only then is the allocation read by name. That spares one GET per node on
        # the first run. Check mode sends no POST, so it asks by name up front.
        name_checked = self.ansible.check_mode
        if name_checked:
            self.adopt_by_name()
        tried: list[str] = []
        candidates = self.pick([], fresh=False) or self.pick([], fresh=True)  # never judge an empty pool from an old copy
        for attempt in range(p["max_attempts"]):
            if not candidates and not name_checked:
                # Nothing to offer (a rerun whose node is taken, or an exhausted pool): ask by name.
                name_checked = True
                self.adopt_by_name()
            if not candidates:
                self.exhausted(tried)
            rc = p["resource_class"] or candidates[0].get("resource_class")
            offer = self.choose_offer(candidates, rc)
            if self.ansible.check_mode:
                self.done(True, offer[0], None, check_mode_pick=True)
            # A fresh allocation UUID per attempt (unless one was given): after we delete a doomed
            # allocation, Ironic's worker for it may still be retrying and would write its failure
            # onto a new allocation that reused the UUID (seen with Ironic 39).
            self.inst_uuid = p["instance_uuid"] or str(uuidlib.uuid4())
            body = {"name": p["instance_name"], "resource_class": rc, "uuid": self.inst_uuid,
                    "candidate_nodes": [n["uuid"] for n in offer]}
            if p["traits"]:
                body["traits"] = p["traits"]
            self.ops.pacer("allocations", p["spacing"]).wait_turn()
            posted = time.time()
            try:
                alloc = self.ops.request("POST", "/allocations", json=body)
            except Exception as exc:  # noqa: BLE001
                err = classify_exception(exc)
                if err.kind != ironic_errors.DUPLICATE:
                    raise
                # This instance already has an allocation (an earlier run, or a parallel one that
                # got there first): that is our reservation.
                name_checked = True
                existing = self.ops.get_allocation(p["instance_name"]) or self.ops.get_allocation(self.inst_uuid)
                if existing is None:
                    raise
                self.adopt_existing(existing)
                continue
            if alloc.get("state") == "allocating":
                alloc = self.wait_allocation(alloc["uuid"], posted, tuple(n["uuid"] for n in offer))
            if alloc["state"] == "active":
                node = next((n for n in offer if n["uuid"] == alloc["node_uuid"]), {"uuid": alloc["node_uuid"]})
                node = {**node, "instance_uuid": alloc["uuid"], "allocation_uuid": alloc["uuid"]}
                self.attempts.append({"candidates": [n["uuid"] for n in offer], "outcome": "reserved",
                                      "node": alloc["node_uuid"]})
                self.done(True, node, {k: alloc.get(k) for k in ("uuid", "name", "node_uuid", "state")})
            # Lost the race for every offered node: remove the failed allocation (it holds the
            # name) and re-pick from a fresh listing without those nodes.
            self.attempts.append({"candidates": [n["uuid"] for n in offer],
                                  "outcome": f"allocation failed: {alloc.get('last_error')}"})
            self.ops.request("DELETE", f"/allocations/{alloc['uuid']}")
            # Exclude only nodes that really went to another instance; a node that failed for
            # another reason (e.g. a database lock inside Ironic) stays a candidate, after a
            # jittered pause. The shared listing must postdate the moment the failure was seen.
            seen_at = alloc.get("seen_at") or time.time()
            nodes = {n["uuid"]: n for n in self.ops.shared_nodes(ttl=1.0, newer_than=seen_at)}
            taken = [n["uuid"] for n in offer if (nodes.get(n["uuid"]) or {}).get("instance_uuid")
                     or n["uuid"] not in nodes]
            tried.extend(u for u in taken if u not in tried)
            if not taken:
                time.sleep(ironic_errors.backoff_delay(attempt, base=0.3, cap=3.0))
            candidates = self.pick(tried, fresh=False)
        if candidates:
            last = self.attempts[-1]["outcome"] if self.attempts else "?"
            self.fail(f"gave up after {p['max_attempts']} allocation attempts for {self.req.describe()} "
                      f"with {len(candidates)} candidate(s) left; last: {last}",
                      ironic_errors.ALLOCATION_FAILED)
        self.exhausted(tried)

    # -- instance_uuid mode ------------------------------------------------------------------
    def reserve_instance_uuid(self) -> None:
        p = self.params
        mine = next((n for n in self.ops.shared_nodes() if n.get("instance_uuid") == self.inst_uuid), None)
        if mine:
            self.done(self.refresh_instance_info(mine), mine)
        tried: list[str] = []
        candidates = self.pick([], fresh=False) or self.pick([], fresh=True)
        board = self.ops.claims(ttl=p["timeout"] + 30)
        for _round in range(p["max_attempts"]):
            if not candidates:
                self.exhausted(tried)
            # One unclaimed candidate first, so parallel hosts of this controller PATCH different nodes.
            first = None if self.ansible.check_mode else board.claim(
                p["instance_name"], lambda claims: cand.first_unclaimed(candidates, claims, p["instance_name"]))
            ordered = [n for n in candidates if n["uuid"] == first] + [n for n in candidates if n["uuid"] != first]
            for node in ordered[:p["batch"]]:
                if self.ansible.check_mode:
                    self.done(True, node, check_mode_pick=True)
                patch = [{"op": "add", "path": "/instance_uuid", "value": self.inst_uuid},
                         {"op": "add", "path": "/instance_info/display_name", "value": p["instance_name"]}]
                patch += [{"op": "add", "path": f"/instance_info/{k}", "value": v}
                          for k, v in (p["instance_info"] or {}).items()]
                try:
                    got = self.ops.request("PATCH", f"/nodes/{node['uuid']}", json=patch)
                except Exception as exc:  # noqa: BLE001
                    err = classify_exception(exc)
                    if err.kind == ironic_errors.INSTANCE_ASSOCIATED:
                        hit = self.ops.request("GET", f"/nodes?instance_uuid={self.inst_uuid}&fields=uuid,name,instance_uuid")
                        if hit.get("nodes"):
                            self.done(self.refresh_instance_info(hit["nodes"][0]), hit["nodes"][0])
                    if err.kind not in (ironic_errors.NODE_ASSOCIATED, ironic_errors.INVALID_STATE,
                                        ironic_errors.MAINTENANCE):
                        raise
                    self.attempts.append({"candidates": [node["uuid"]], "outcome": err.kind})
                    tried.append(node["uuid"])
                    continue
                self.attempts.append({"candidates": [node["uuid"]], "outcome": "reserved", "node": node["uuid"]})
                self.done(True, {**node, "instance_uuid": got.get("instance_uuid")})
            candidates = self.pick(tried, fresh=True)
        self.exhausted(tried)

    def refresh_instance_info(self, node: dict) -> bool:
        """A rerun found our node: make its instance_info match (unless it is deployed already).
        Returns whether anything changed."""
        want = self.params["instance_info"] or {}
        if not want or node.get("provision_state") not in (None, "available"):
            return False
        have = (self.ops.get_node(node["uuid"]) or {}).get("instance_info") or {}
        patch = [{"op": "add", "path": f"/instance_info/{k}", "value": v} for k, v in want.items() if have.get(k) != v]
        if patch and not self.ansible.check_mode:
            self.ops.request("PATCH", f"/nodes/{node['uuid']}", json=patch)
        if patch:
            self.attempts.append({"candidates": [node["uuid"]], "outcome": f"instance_info: {len(patch)} key(s) patched"})
        return bool(patch)


def main() -> None:
    NodeReserve()()


if __name__ == "__main__":
    main()
