# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Reserve one node for a named instance: the race, its retries and its timeouts.

Ironic makes a reservation atomic (an allocation, or a PATCH of instance_uuid that Ironic refuses
with NodeAssociated when the node was taken); this class decides what to offer, how long to
wait, when a lost race is lost, and what a rerun finds. It talks to Ironic only through the
lifecycle facade it is given (`lifecycle_ops.Ops`: the client, the controller-wide shared
listings, the claim board and the pacer) and reads time only through `clock`/`sleep`, so unit
tests drive the races with a fake Ironic and a fake clock.

Failures are typed: errors.BadInput (nothing sent), errors.ReservationFailed (pool exhausted,
gave up, timed out), errors.AssociationRefused (the allocation of this name points at a node that
is not ours), errors.RunGone (the run was killed or halted: nothing more is sent).
"""
from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils import candidates as cand
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, input_checks, ironic_errors, ironic_states
from ansible_collections.ironwave.baremetal.plugins.module_utils.association import (
    OWNER_OURS, Expectation, NodeView, classify_association)

# Fixed namespace so uuid5(name) is the same on every controller.
NAMESPACE = uuidlib.UUID("6f0d3f7e-3b1c-5e4a-9a7e-1f2b0c9d8e71")
MODES = ("allocation", "instance_uuid")

# What a rerun does with the node the instance already holds (see rerun_action).
HAND_BACK = "hand_back"   # return it: node_deploy deploys it (again) or finds it active
RELEASE = "release"       # drop our allocation and reserve another node


def derived_uuid(instance_name: str) -> str:
    return str(uuidlib.uuid5(NAMESPACE, instance_name))


def rerun_action(node: dict) -> str:
    """A rerun found the instance's node (ours). `deploy failed` - also what Ironic makes of the
    nodes that were `deploying` when it crashed - is handed back for node_deploy to deploy again.
    A node that cannot be deployed again without an operator (maintenance, other failed states)
    is released so another node is reserved; an active or busy node is always handed back."""
    state = node.get("provision_state")
    if state == ironic_states.ACTIVE or state in ironic_states.TRANSIENT or node.get("target_provision_state"):
        return HAND_BACK
    if node.get("maintenance"):
        return RELEASE
    if state in ironic_states.FAILED and state != ironic_states.DEPLOYFAIL:
        return RELEASE
    return HAND_BACK


def reserving_patch(inst_uuid: str, instance_name: str, instance_info: dict | None = None) -> list[dict]:
    """The JSON patch that reserves a node in mode instance_uuid: Ironic applies it only to a node
    with no instance (NodeAssociated) and only while no other node has this instance
    (InstanceAssociated), so a lost race changes nothing."""
    patch = [{"op": "add", "path": "/instance_uuid", "value": inst_uuid},
             {"op": "add", "path": "/instance_info/display_name", "value": instance_name}]
    return patch + [{"op": "add", "path": f"/instance_info/{k}", "value": v} for k, v in (instance_info or {}).items()]


@dataclass(frozen=True)
class Tuning:
    """The reservation's timing, in seconds (one place, so the relations are visible).

    Ironic decides an allocation in well under a second unless it retries a locked node
    (node_locked_retry_*: a few seconds) or lost it (seen on sqlite: "database is locked").
    """

    first_look: float = 0.3           # wait before the first look at a just-posted allocation
    fast_tick: float = 2.0            # shared listing tick while Ironic should be deciding
    slow_tick: float = 4.0            # ... after `fast_for` seconds
    fast_for: float = 4.0
    failed_after: float = 3.0         # only then ask the (shared) listing of failed allocations
    reread_every: float = 10.0        # read the allocation itself this often
    claim_margin: float = 30.0        # a claim lives timeout + this
    retry_base: float = 0.3           # jittered pause after a failure that took no node
    retry_cap: float = 3.0
    min_sleep: float = 0.2


@dataclass(frozen=True)
class ReservationSpec:
    instance_name: str
    request: cand.CandidateRequest
    instance_uuid: str | None = None          # given by the user
    mode: str = "allocation"
    instance_info: dict = field(default_factory=dict)
    max_attempts: int = 5
    batch: int = 3
    timeout: float = 60.0
    stuck_timeout: float = 8.0
    spacing: float = 0.5
    check_mode: bool = False

    @classmethod
    def from_params(cls, p: dict, check_mode: bool = False) -> "ReservationSpec":
        """Validate the module parameters (errors.BadInput naming the field, nothing sent)."""
        for name in ("max_attempts", "batch"):
            if p.get(name) is not None and p[name] < 1:
                raise errors.BadInput(f"{name}: must be at least 1 (got {p[name]})")
        for name in ("timeout", "stuck_timeout"):
            if p.get(name) is not None and p[name] <= 0:
                raise errors.BadInput(f"{name}: must be more than 0 seconds (got {p[name]})")
        if p.get("spacing") is not None and p["spacing"] < 0:
            raise errors.BadInput(f"spacing: must be 0 or more seconds (got {p['spacing']})")
        mode = p.get("mode") or "allocation"
        if p.get("instance_info") and mode != "instance_uuid":
            raise errors.BadInput("instance_info: only with mode=instance_uuid (it is written in the reserving "
                                  "PATCH); with allocations pass it to ironwave.baremetal.node_deploy instead")
        problem = input_checks.trait_names("traits", p.get("traits"))
        if problem:
            raise errors.BadInput(problem)
        if p.get("instance_uuid"):
            try:
                uuidlib.UUID(str(p["instance_uuid"]))
            except ValueError:
                raise errors.BadInput(f"instance_uuid: {p['instance_uuid']!r} is not a UUID; give a UUID "
                                      "or leave it out") from None
        req = cand.CandidateRequest.from_params(p)
        try:
            cand.compile_expression(req.expression)
        except cand.FilterError as exc:
            raise errors.BadInput(str(exc)) from None
        return cls(instance_name=p["instance_name"], request=req, instance_uuid=p.get("instance_uuid") or None,
                   mode=mode, instance_info=dict(p.get("instance_info") or {}),
                   max_attempts=p.get("max_attempts") or 5, batch=p.get("batch") or 3,
                   timeout=float(p.get("timeout") or 60), stuck_timeout=float(p.get("stuck_timeout") or 8),
                   spacing=float(p["spacing"]) if p.get("spacing") is not None else 0.5, check_mode=check_mode)


class _Done(Exception):
    """Internal: the reservation is decided (carries the result)."""

    def __init__(self, result: dict) -> None:
        super().__init__("done")
        self.result = result


class _NoGuard:
    def check(self, what: str) -> None:
        return None


class Reservation:
    """One instance's reservation. `ops` is a lifecycle_ops.Ops (or a fake with the same methods)."""

    def __init__(self, spec: ReservationSpec, ops, guard=None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, tuning: Tuning = Tuning(),
                 rng_delay: Callable[[int], float] | None = None) -> None:
        self.spec = spec
        self.ops = ops
        self.guard = guard or _NoGuard()
        self.clock = clock
        self.sleep = sleep
        self.t = tuning
        self.backoff = rng_delay or (lambda attempt: ironic_errors.backoff_delay(
            attempt, base=tuning.retry_base, cap=tuning.retry_cap))
        self.attempts: list[dict] = []
        self.considered: int | None = None
        self.selection = cand.Selection()
        # mode=instance_uuid: derived from the name so reruns find the node. Allocation mode: the
        # allocation's (unique) name gives idempotency; each attempt gets its own UUID.
        self.inst_uuid = spec.instance_uuid or derived_uuid(spec.instance_name)

    # -- entry point ---------------------------------------------------------------------------
    def run(self) -> dict:
        try:
            if self.spec.mode == "allocation":
                self.reserve_allocation()
            else:
                self.reserve_instance_uuid()
        except _Done as done:
            return done.result
        raise AssertionError("unreachable")  # pragma: no cover - both paths end in _Done or raise

    # -- results and failures ----------------------------------------------------------------
    def done(self, changed: bool, node: dict, allocation: dict | None = None, **extra: Any) -> None:
        after = {"node": node.get("uuid"), "instance_uuid": node.get("instance_uuid") or self.inst_uuid,
                 "instance_name": self.spec.instance_name}
        raise _Done(dict(changed=changed, node=node.get("uuid"), node_name=node.get("name"),
                         instance_uuid=after["instance_uuid"], allocation=allocation, attempts=self.attempts,
                         candidates_considered=self.considered or 0,
                         provision_state=node.get("provision_state"),
                         diff={"before": {"node": None} if changed else after, "after": after}, **extra))

    def failed(self, cls: type, msg: str, kind: str | None = None, **extra: Any) -> errors.IronwaveError:
        return cls(msg, kind, attempts=self.attempts, candidates_considered=self.considered or 0, **extra)

    def tick_check(self, what: str) -> None:
        self.guard.check(what)

    # -- candidates ------------------------------------------------------------------------------
    def pick(self, exclude: list[str], fresh: bool) -> list[dict]:
        nodes = self.ops.shared_nodes(max_age=0 if fresh else None)
        try:
            sel = cand.select(nodes, self.spec.request, self.spec.instance_name, exclude)
        except cand.FilterError as exc:
            raise self.failed(errors.BadInput, str(exc)) from None
        if self.considered is None:
            self.considered = len(sel.candidates)
        self.selection = sel
        return sel.candidates

    def lost_to_other(self, tried: list[str]) -> tuple[str, str] | None:
        """After a lost race: a node we tried, or one that would match but for its association,
        that now belongs to another instance - and that instance."""
        nodes = self.ops.shared_nodes(max_age=1.0)  # just refreshed by the caller
        by_uuid = {n["uuid"]: n for n in nodes}
        for u in tried:
            n = by_uuid.get(u) or {}
            if n.get("instance_uuid") and n.get("instance_uuid") != self.inst_uuid:
                return u, n["instance_uuid"]
        compiled = cand.compile_expression(self.spec.request.expression)
        for n in nodes:
            if n.get("instance_uuid") and n.get("provision_state") == ironic_states.AVAILABLE and \
                    cand.why_not({**n, "instance_uuid": None}, self.spec.request, compiled) is None:
                return n["uuid"], n["instance_uuid"]
        return None

    def exhausted(self, tried: list[str]) -> errors.IronwaveError:
        lost = self.lost_to_other(tried)
        msg = cand.exhausted_message(self.spec.request, self.selection, tried)
        if lost:
            # Same wording as Ironic's NodeAssociated, so it reads like the cause it is.
            return self.failed(errors.ReservationFailed, f"Node {lost[0]} is associated with instance "
                               f"{lost[1]}. {msg}", ironic_errors.NODE_ASSOCIATED)
        return self.failed(errors.ReservationFailed, msg)

    def choose_offer(self, candidates: list[dict], rc: str | None) -> list[dict]:
        """The nodes to offer Ironic: the first candidate no other host of this controller has
        claimed (alone, so parallel reservations do not collide inside Ironic, which tries the
        offered nodes in random order); when every candidate is claimed, the first `batch` ones."""
        same_rc = [n for n in candidates if n.get("resource_class") == rc]
        if self.spec.check_mode:
            return same_rc[:1]
        name = self.spec.instance_name
        board = self.ops.claims(ttl=self.spec.timeout + self.t.claim_margin)
        mine = board.claim(name, lambda claims: cand.first_unclaimed(same_rc, claims, name))
        return [n for n in same_rc if n["uuid"] == mine] if mine else same_rc[:self.spec.batch]

    # -- allocation mode ---------------------------------------------------------------------------
    def adopt_existing(self, alloc: dict) -> None:
        """An allocation with our name exists: it holds our node -> hand that back (or release it
        when it cannot be deployed again, see rerun_action); it failed -> delete it (it holds no
        node, only the name)."""
        if alloc.get("state") == "allocating":
            alloc = self.wait_allocation(alloc["uuid"], self.clock() - 3600)
        if alloc.get("state") == "active" and alloc.get("node_uuid"):
            node = next((n for n in self.ops.shared_nodes() if n["uuid"] == alloc["node_uuid"]), None)
            # The shared copy may predate the allocation or a change of the node: only "ours and
            # active" (the common rerun) is taken from it; anything else is decided on a direct read.
            if node is None or node.get("instance_uuid") != alloc["uuid"] or node.get("maintenance") \
                    or node.get("provision_state") != ironic_states.ACTIVE:
                node = self.ops.get_node(alloc["node_uuid"])
            if node is None:
                raise self.failed(errors.NotFound, f"allocation {alloc.get('name')} points at node "
                                  f"{alloc['node_uuid']}, which does not exist")
            view = NodeView.from_mapping(node, allocation=alloc, allocation_found=True)
            result = classify_association(view, Expectation(self.spec.instance_name))
            if result.owner != OWNER_OURS:
                raise self.failed(errors.AssociationRefused, f"allocation {alloc.get('name')} exists but "
                                  f"{result.message}", result.verdict, association=result.as_dict())
            if rerun_action(node) == HAND_BACK:
                self.done(False, node, alloc, association=result.verdict)
            outcome = (f"released node {node['uuid']} (provision state {node.get('provision_state')!r}"
                       f"{', maintenance' if node.get('maintenance') else ''}): it cannot be deployed again")
        else:
            outcome = f"removed failed allocation {alloc['uuid']}: {alloc.get('last_error')}"
        if self.spec.check_mode:
            self.attempts.append({"candidates": [], "outcome": "would have " + outcome})
            return
        self.tick_check(f"deleting allocation {alloc['uuid']}")
        self.ops.client.delete_allocation(alloc["uuid"])
        self.attempts.append({"candidates": [], "outcome": outcome})

    def adopt_by_name(self) -> None:
        alloc = self.ops.get_allocation(self.spec.instance_name)
        if alloc:
            self.adopt_existing(alloc)

    def wait_allocation(self, alloc_uuid: str, posted: float, offered: tuple[str, ...] = ()) -> dict:
        """Wait for Ironic to decide. Success shows in the shared node listing (the winner's
        instance_uuid becomes the allocation UUID), a failure in the shared listing of failed
        allocations: all reserving hosts share one request of each per tick. The allocation itself
        is read only rarely (every `reread_every` s, and before calling it stuck)."""
        t = self.t
        start = self.clock()
        deadline = start + self.spec.timeout
        self.sleep(t.first_look)
        asked = 0
        while True:
            self.tick_check(f"waiting for allocation {alloc_uuid}")
            tick = t.fast_tick if self.clock() - posted < t.fast_for else t.slow_tick
            nodes = self.ops.shared_nodes(ttl=tick, newer_than=posted)
            mine = [n for n in nodes if n.get("instance_uuid") == alloc_uuid]
            if mine:
                return {"uuid": alloc_uuid, "name": self.spec.instance_name, "node_uuid": mine[0]["uuid"],
                        "state": "active", "last_error": None}
            # Shortcuts only with a UUID of our own making (see reserve_allocation).
            taken = self.taken_by_others(offered, nodes) if not self.spec.instance_uuid else []
            if taken:
                # Ironic would only give up after its own NodeLocked retries; every offered node
                # already belongs to another instance, so decide now.
                return {"uuid": alloc_uuid, "state": "error", "doomed": True, "seen_at": posted,
                        "last_error": "all offered nodes were taken meanwhile: " + "; ".join(
                            f"Node {u} is associated with instance {i}." for u, i in taken)}
            waited = self.clock() - posted
            if waited > t.failed_after:
                seen_at = self.clock()
                failed = self.ops.shared_failed_allocations(ttl=tick, newer_than=posted).get(alloc_uuid)
                if failed:
                    return {**failed, "seen_at": seen_at}
            stuck = bool(offered) and not self.spec.instance_uuid and waited > self.spec.stuck_timeout
            if stuck or self.clock() - start > t.reread_every * (1 + asked):
                asked += 1
                alloc = self.ops.get_allocation(alloc_uuid)
                if alloc is None:
                    raise self.failed(errors.ReservationFailed, f"allocation {alloc_uuid} disappeared while "
                                      "waiting (deleted by someone else?)", ironic_errors.NOT_FOUND)
                if alloc["state"] != "allocating":
                    return {**alloc, "seen_at": self.clock()}
            if stuck:
                # Seen with Ironic on sqlite under concurrent allocations: the conductor hits
                # "database is locked" and cannot even record the failure. Drop it and retry.
                return {"uuid": alloc_uuid, "state": "error", "stuck": True, "seen_at": self.clock(),
                        "last_error": f"still allocating after {waited:.0f} s (Ironic lost it; see its log)"}
            if self.clock() > deadline:
                raise self.failed(errors.ReservationFailed, f"allocation {alloc_uuid} still allocating after "
                                  f"{self.spec.timeout:.0f} s; raise timeout or check Ironic's conductor",
                                  "timeout")
            self.sleep(max(t.min_sleep, self.ops.node_listing(tick).next_tick_in()) + 0.05)

    def taken_by_others(self, offered: tuple[str, ...], nodes: list[dict]) -> list[tuple[str, str]]:
        by_uuid = {n["uuid"]: n for n in nodes}
        taken = [(u, (by_uuid.get(u) or {}).get("instance_uuid")) for u in offered]
        if offered and all(inst and inst != self.inst_uuid for _node, inst in taken):
            return taken
        return []

    def post_allocation(self, body: dict) -> dict | None:
        """POST the allocation. None when the name is taken (an earlier or parallel run of this
        instance): that allocation was adopted instead (a decided one ends the reservation)."""
        try:
            return self.ops.client.create_allocation(body)
        except errors.IronwaveError as exc:
            if exc.kind != ironic_errors.DUPLICATE:
                raise
        existing = self.ops.get_allocation(self.spec.instance_name) or self.ops.get_allocation(body["uuid"])
        if existing is None:
            raise self.failed(errors.ReservationFailed, f"allocation name {self.spec.instance_name!r} is taken "
                              "but no allocation of that name can be read", ironic_errors.DUPLICATE)
        self.adopt_existing(existing)
        return None

    def reserve_allocation(self) -> None:
        spec = self.spec
        # Idempotency by name. Ironic keeps allocation names unique, so the POST itself is the check:
        # an existing allocation of this instance makes it answer 409 (duplicate) without changing
        # anything, and only then is the allocation read by name. That spares one GET per node on
        # the first run. Check mode sends no POST, so it asks by name up front.
        name_checked = spec.check_mode
        if name_checked:
            self.adopt_by_name()
        tried: list[str] = []
        candidates = self.pick([], fresh=False) or self.pick([], fresh=True)  # never judge an empty pool from an old copy
        for attempt in range(spec.max_attempts):
            if not candidates and not name_checked:
                # Nothing to offer (a rerun whose node is taken, or an exhausted pool): ask by name.
                name_checked = True
                self.adopt_by_name()
                candidates = self.pick(tried, fresh=True) if self.attempts else candidates
            if not candidates:
                raise self.exhausted(tried)
            rc = spec.request.resource_class or candidates[0].get("resource_class")
            offer = self.choose_offer(candidates, rc)
            if spec.check_mode:
                self.done(True, offer[0], None, check_mode_pick=True)
            # A fresh allocation UUID per attempt (unless one was given): after we delete a doomed
            # allocation, Ironic's worker for it may still be retrying and would write its failure
            # onto a new allocation that reused the UUID (seen with Ironic 39).
            self.inst_uuid = spec.instance_uuid or str(uuidlib.uuid4())
            body = {"name": spec.instance_name, "resource_class": rc, "uuid": self.inst_uuid,
                    "candidate_nodes": [n["uuid"] for n in offer]}
            if spec.request.traits:
                body["traits"] = list(spec.request.traits)
            self.ops.pacer("allocations", spec.spacing).wait_turn()
            self.tick_check(f"reserving a node for {spec.instance_name}")
            posted = self.clock()
            alloc = self.post_allocation(body)
            if alloc is None:  # our old allocation was removed (failed, or its node released): post again
                name_checked = True
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
            self.tick_check(f"deleting failed allocation {alloc['uuid']}")
            self.ops.client.delete_allocation(alloc["uuid"])
            # Exclude only nodes that really went to another instance; a node that failed for
            # another reason (e.g. a database lock inside Ironic) stays a candidate, after a
            # jittered pause. The shared listing must postdate the moment the failure was seen.
            seen_at = alloc.get("seen_at") or self.clock()
            nodes = {n["uuid"]: n for n in self.ops.shared_nodes(ttl=1.0, newer_than=seen_at)}
            taken = [n["uuid"] for n in offer if (nodes.get(n["uuid"]) or {}).get("instance_uuid")
                     or n["uuid"] not in nodes]
            tried.extend(u for u in taken if u not in tried)
            if not taken:
                self.sleep(self.backoff(attempt))
            candidates = self.pick(tried, fresh=False)
        if candidates:
            last = self.attempts[-1]["outcome"] if self.attempts else "?"
            raise self.failed(errors.ReservationFailed, f"gave up after {spec.max_attempts} allocation attempts "
                              f"for {spec.request.describe()} with {len(candidates)} candidate(s) left; "
                              f"last: {last}. Raise max_attempts or spacing")
        raise self.exhausted(tried)

    # -- instance_uuid mode ------------------------------------------------------------------------
    def reserve_instance_uuid(self) -> None:
        spec = self.spec
        mine = next((n for n in self.ops.shared_nodes() if n.get("instance_uuid") == self.inst_uuid), None)
        if mine:
            self.refuse_outside_request(mine)
            self.done(self.refresh_instance_info(mine), mine)
        tried: list[str] = []
        candidates = self.pick([], fresh=False) or self.pick([], fresh=True)
        board = self.ops.claims(ttl=spec.timeout + self.t.claim_margin)
        for _round in range(spec.max_attempts):
            if not candidates:
                raise self.exhausted(tried)
            # One unclaimed candidate first, so parallel hosts of this controller PATCH different nodes.
            first = None if spec.check_mode else board.claim(
                spec.instance_name, lambda claims: cand.first_unclaimed(candidates, claims, spec.instance_name))
            ordered = [n for n in candidates if n["uuid"] == first] + [n for n in candidates if n["uuid"] != first]
            for node in ordered[:spec.batch]:
                if spec.check_mode:
                    self.done(True, node, check_mode_pick=True)
                patch = reserving_patch(self.inst_uuid, spec.instance_name, spec.instance_info)
                self.tick_check(f"reserving node {node['uuid']} for {spec.instance_name}")
                try:
                    got = self.ops.client.patch_node(node["uuid"], patch)
                except errors.IronwaveError as exc:
                    if exc.kind == ironic_errors.INSTANCE_ASSOCIATED:
                        # This instance is already on a node (a parallel run got there first).
                        hit = self.ops.client.list_nodes(fields=("uuid", "name", "instance_uuid", "provision_state"),
                                                         instance_uuid=self.inst_uuid)
                        if hit:
                            self.refuse_outside_request(hit[0])
                            self.done(self.refresh_instance_info(hit[0]), hit[0])
                    # Taken meanwhile: associated, or already moving (another run's deploy got
                    # in while our PATCH waited for the node's lock).
                    if exc.kind not in (ironic_errors.NODE_ASSOCIATED, ironic_errors.INVALID_STATE,
                                        ironic_errors.MAINTENANCE, ironic_errors.IN_TRANSITION):
                        raise
                    self.attempts.append({"candidates": [node["uuid"]], "outcome": exc.kind})
                    tried.append(node["uuid"])
                    continue
                self.attempts.append({"candidates": [node["uuid"]], "outcome": "reserved", "node": node["uuid"]})
                self.done(True, {**node, "instance_uuid": (got or {}).get("instance_uuid") or self.inst_uuid})
            candidates = self.pick(tried, fresh=True)
        raise self.exhausted(tried)

    def refuse_outside_request(self, node: dict) -> None:
        """The instance is already on `node`: refuse when the caller asked for other nodes
        (node/candidate_nodes) instead of silently handing back a node they did not ask for."""
        why = cand.outside_request(node, self.spec.request, self.inst_uuid, "node/candidate_nodes")
        if why:
            raise self.failed(errors.AssociationRefused, why, ironic_errors.INSTANCE_ASSOCIATED, node=node.get("uuid"))

    def refresh_instance_info(self, node: dict) -> bool:
        """A rerun found our node: make its instance_info match (unless it is deployed already).
        Returns whether anything changed."""
        want = self.spec.instance_info
        if not want or node.get("provision_state") not in (None, ironic_states.AVAILABLE):
            return False
        have = (self.ops.get_node(node["uuid"]) or {}).get("instance_info") or {}
        patch = [{"op": "add", "path": f"/instance_info/{k}", "value": v} for k, v in want.items() if have.get(k) != v]
        if patch and not self.spec.check_mode:
            self.tick_check(f"updating instance_info of node {node['uuid']}")
            self.ops.client.patch_node(node["uuid"], patch)
        if patch:
            self.attempts.append({"candidates": [node["uuid"]], "outcome": f"instance_info: {len(patch)} key(s) patched"})
        return bool(patch)
