# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Deploy one reserved node behind the busy gate: the flow behind node_deploy.

Steps, in this order (each a method, unit-tested with a fake Ironic and a fake clock):
1. check the input (as Ironic's API would, so nothing is written for input it refuses) and pick
   the microversion the request needs (bounded by the server's);
2. read the node (a fresh shared listing copy when it suffices) and plan by its association;
3. wait at the busy gate (busy_gate.py) - every tick honouring the run guard (a gone or halted
   run stops here; a busy limit lowered by the strategy applies at once);
4. re-check the association, write instance_info and traits, send the deploy request - the
   writes come last, right before the request, and are undone when the request fails without
   effect, so a gate timeout or a 400 leaves the node as it was;
5. after an ambiguous failure of the request (502/504, dropped connection, database locked, or
   invalid_state from a resend) re-read the node: ours and deploying/active is success;
6. verify the association from a listing made after the request, or wait until active.
Along the way `phases` (deploy_phases.PhaseLog) records when the node became ours, the wait at the
gate and each provision state seen after the request, at Ironic's own timestamps.

`io` is the Ironic side (deploy_io.DeployIO or a fake): node(ident), listing(ttl, max_age,
newer_than) -> poll_cache.Fetched, tick_in(ttl), classify(node, expected), board(),
patch_node(uuid, patch), set_traits(uuid, traits), deploy(uuid, body, microversion, deadline,
reconcile), server_version(), me -> (pid, start), alive(pid, start). Errors are raised typed
(errors.*); the module base class turns them into a failed task."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils import busy_gate, errors, input_checks, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import candidates as cand
from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
from ansible_collections.ironwave.baremetal.plugins.module_utils import deploy_phases
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import Fetched
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils import deploy_rules as rules
from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_states
from ansible_collections.ironwave.baremetal.plugins.module_utils import tick_plan
from ansible_collections.ironwave.baremetal.plugins.module_utils.reservation import derived_uuid, reserving_patch

# Failures after which the deploy request may have taken effect: re-read before deciding.
AMBIGUOUS_KINDS = frozenset({ironic_errors.INVALID_STATE, ironic_errors.SERVER_ERROR, ironic_errors.DATABASE_BUSY,
                             ironic_errors.ENDPOINT, ironic_errors.UNKNOWN, ironic_errors.CONFLICT,
                             ironic_errors.IN_TRANSITION,
                             getattr(ironic_errors, "CONNECTION", "connection")})


# How long a conductor's lock on our deployable node is waited out before the deploy is refused as
# busy (NodeLocked is retried for about as long by the client).
LOCK_WAIT = 30.0

# Longest wait for the marker writes of hosts admitted at the same tick, so that one verifying
# listing serves them all: a marker PATCH takes 50-150 ms on the local Ironic; a longer cap only
# delays every admission while Ironic is slow (a burst of reservations at the start).
MARKERS_WAIT = 0.15

# Reservation at admission (`reserve`): nodes tried before giving up when each one offered is taken
# by another run between the listing and our PATCH (each loss costs one refused PATCH, nothing else).
RESERVE_ATTEMPTS = 5

# The copy at hand tells how many runs share the cloud gate (tick_plan) when it is at most this old:
# reading it never costs a request; an older one only means the plain schedule until the next tick.
PLAN_MAX_AGE = 60.0


# A node taken between the listing and our reserving PATCH (or moving, or in maintenance by now).
# (slot_store raises a locked node or one in transition as WriteRefused, kind in_transition.)
RESERVE_LOST = frozenset({ironic_errors.NODE_ASSOCIATED, ironic_errors.INVALID_STATE, ironic_errors.MAINTENANCE,
                          ironic_errors.IN_TRANSITION, ironic_errors.NODE_LOCKED})


class _AlreadyReserved(Exception):
    """Ironic's InstanceAssociated at our reserving PATCH: the instance is on `node` already."""

    def __init__(self, node: Mapping) -> None:
        super().__init__(node.get("uuid"))
        self.node = node


class _NoGuard:
    def check(self, what: str) -> None:
        return None

    def busy_limit(self, configured: int) -> int:
        return configured


@dataclass(frozen=True)
class DeployRequest:
    """node_deploy's parameters, typed."""

    node: str | None
    expected: assoc.Expectation
    instance_info: Mapping | None = None
    config_drive: Any = None
    deploy_steps: list | None = None
    traits: list | None = None
    wait: bool = False
    timeout: float = 1800.0
    poll_interval: float = 2.0
    backpressure_timeout: float = 300.0
    precheck_max_age: float = 2.0
    busy_limit: int = 0
    busy_scope: str = "global"
    busy_board: str = "local"     # cloud: counted on Ironic (claim markers, cloud_gate), across runs
    run_id: str | None = None
    lease_ttl: float = sl.DEFAULT_TTL
    # No node yet: pick one matching this and reserve it when the cloud gate admits the host.
    reserve: cand.CandidateRequest | None = None

    @classmethod
    def from_params(cls, p: Mapping) -> "DeployRequest":
        reserve = None
        inst_uuid = p.get("instance_uuid") or None
        if p.get("reserve") is not None:
            reserve = cand.CandidateRequest.from_params(p["reserve"])
            # As node_reserve's mode instance_uuid: derived from the name, so a rerun finds its node.
            if not inst_uuid and p.get("instance_name"):
                inst_uuid = derived_uuid(p["instance_name"])
        expected = assoc.Expectation(instance_name=p.get("instance_name") or None, instance_uuid=inst_uuid)
        keys = ("instance_info", "config_drive", "deploy_steps", "traits", "wait", "timeout", "poll_interval",
                "backpressure_timeout", "precheck_max_age", "busy_limit", "busy_scope", "busy_board", "run_id",
                "lease_ttl")
        return cls(node=p.get("node") or None, expected=expected, reserve=reserve,
                   **{k: p[k] for k in keys if p.get(k) is not None})

    def body(self) -> dict:
        body: dict = {"target": ironic_states.ACTIVE}
        if self.config_drive is not None:
            body["configdrive"] = self.config_drive
        if self.deploy_steps:
            body["deploy_steps"] = self.deploy_steps
        return body


def refusal(result: assoc.AssociationResult, uuid: str, why: str = "", what: str = "deploy") -> str:
    if why:
        return f"refusing to {what} node {uuid}: {why}"
    return f"refusing to {what} node {uuid}: {result.message} [{result.verdict}]"


class DeployFlow:
    def __init__(self, io, req: DeployRequest, guard=None, check_mode: bool = False,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.io, self.req, self.guard = io, req, guard or _NoGuard()
        self.check_mode = check_mode
        self.clock, self.wall, self.sleep = clock, wall, sleep
        self.slot_wait = 0.0
        self.admitted_row: Mapping | None = None
        self.log = deploy_phases.PhaseLog()
        self.watching: str | None = None   # the node whose rows feed `log` (set once the flow acts)
        self.marker_written = False
        self.adopted: Mapping = {}   # the node as the re-check found it, when a deploy for us was under way
        self.reserved: Mapping | None = None   # `reserve`: the node our admission PATCH reserved (Ironic's answer)
        self.reserve_attempts: list[dict] = []
        # When this controller lists the nodes: every poll_interval, or - with other runs sharing
        # the cloud gate - every K x poll_interval at this run's phase (tick_plan).
        self.ticks = tick_plan.TickPlan(req.poll_interval)

    @property
    def phases(self) -> list[dict]:
        """The phases so far (empty until the flow acted: check mode, no-ops and refusals)."""
        return self.log.as_list()

    # -- 1. input ---------------------------------------------------------------------------
    def validate(self) -> str:
        """Raise BadInput for input that cannot work; return the microversion of the request."""
        input_checks.require(
            busy_gate.validate(self.req.busy_limit, self.req.busy_scope),
            input_checks.instance_info("instance_info", self.req.instance_info),
            input_checks.trait_names("traits", self.req.traits),
            input_checks.more_than_zero("poll_interval", self.req.poll_interval) if self.req.wait else None,
            input_checks.more_than_zero("timeout", self.req.timeout) if self.req.wait else None)
        self.validate_reserve()
        rules.validate_deploy_steps(self.req.deploy_steps)
        rules.validate_config_drive(self.req.config_drive)
        need, why = rules.needed_microversion(self.req.config_drive, self.req.deploy_steps)
        server = self.io.server_version() if why else None
        return rules.pick_microversion(self.req.config_drive, self.req.deploy_steps, server)

    def validate_reserve(self) -> None:
        req = self.req
        if req.reserve is None:
            if not req.node:
                raise errors.BadInput("node: required - the node reserved for the instance (node_reserve's "
                                      "`node`), or give `reserve` to reserve one at admission")
            return
        if req.node:
            raise errors.BadInput("node and reserve: give one - `node` deploys a node reserved before "
                                  "(ironwave.baremetal.node_reserve), `reserve` reserves one when the gate admits the host")
        if req.busy_board != "cloud" or req.busy_limit <= 0:
            raise errors.BadInput("reserve: only with busy_board=cloud and busy_limit > 0 (the node is reserved "
                                  "when the cloud-counted gate admits the host); otherwise reserve the node with "
                                  "ironwave.baremetal.node_reserve first and pass `node`")
        if not req.expected.instance_name:
            raise errors.BadInput("instance_name: required with reserve (it names the instance on the node it "
                                  "reserves; the instance UUID is derived from it, so a rerun finds that node)")
        if req.busy_scope == "conductor_group" and req.reserve.conductor_group is None:
            raise errors.BadInput("reserve.conductor_group: required with busy_scope=conductor_group (the slot is "
                                  "counted in one group before a node is picked); or use busy_scope=global")
        input_checks.require(input_checks.trait_names("reserve.traits", list(req.reserve.traits)))
        try:
            cand.compile_expression(req.reserve.expression)
        except cand.FilterError as exc:
            raise errors.BadInput(f"reserve.expression: {exc}") from None

    # -- the whole flow -----------------------------------------------------------------------
    def run(self) -> dict:
        microversion = self.validate()
        if self.req.reserve is not None:
            found = self.instance_node()
            if found is None:
                return self.reserve_and_deploy(microversion)
            self.req = replace(self.req, node=found["uuid"])   # a rerun: its node, the usual way
        return self.deploy_node(microversion)

    # -- reserve at admission (`reserve`) ---------------------------------------------------------
    def instance_node(self) -> Mapping | None:
        """The node this instance holds already (a rerun), from the shared listing - the copy the
        pre-check would accept. A reservation newer than that copy (a second copy of this run)
        shows up as Ironic's InstanceAssociated at our reserving PATCH."""
        req = self.req
        max_age, since = self.precheck_fresh()
        rows = self.io.listing(req.poll_interval, max_age=max_age, newer_than=since).data
        found = next((n for n in rows if n.get("instance_uuid") == req.expected.instance_uuid), None)
        if found is not None:
            self.refuse_outside_request(found)
        return found

    def refuse_outside_request(self, node: Mapping) -> None:
        why = cand.outside_request(node, self.req.reserve, self.req.expected.instance_uuid, "reserve.candidate_nodes")
        if why:
            raise errors.AssociationRefused(why, ironic_errors.INSTANCE_ASSOCIATED, node=node.get("uuid"))

    def candidates(self, rows, tried: list[str]) -> list[dict]:
        sel = cand.select(rows, self.req.reserve, self.req.expected.instance_name, tried)
        if not sel.candidates:
            raise errors.ReservationFailed(cand.exhausted_message(self.req.reserve, sel, tried),
                                           attempts=self.reserve_attempts)
        return sel.candidates

    def reserve_and_deploy(self, microversion: str) -> dict:
        """No node yet: wait at the gate for the instance, reserve a node at admission (one PATCH
        with the claim), verify, deploy."""
        req = self.req
        inst, name = req.expected.instance_uuid, req.expected.instance_name
        if self.check_mode:
            pick = self.candidates(self.io.listing(req.poll_interval).data, [])[0]
            after = {"node": pick["uuid"], "instance_uuid": inst, "provision_state": ironic_states.ACTIVE}
            return dict(changed=True, node=pick["uuid"], provision_state=None, instance_uuid=inst,
                        diff={"before": {"node": None, "instance_uuid": None, "provision_state": None}, "after": after})
        key = f"instance:{inst}"
        try:
            board = self.gate({"uuid": key, "conductor_group": req.reserve.conductor_group or ""})
        except _AlreadyReserved as exc:
            # A second copy of this run reserved a node for the instance meanwhile: that one, the usual way.
            self.io.board().update(lambda entries, now: busy_gate.withdraw(entries, key))
            self.refuse_outside_request(exc.node)
            self.req = replace(req, node=exc.node["uuid"])
            return self.deploy_node(microversion)
        uuid = self.reserved["uuid"]
        self.req = req = replace(req, node=uuid)
        node = {**self.reserved, **(self.admitted_row or {})}
        result = self.io.classify(node, req.expected)
        base = dict(node=uuid, instance_uuid=inst, association=result.as_dict(), reservation=self.reserve_attempts)
        # instance_info went with the reservation; traits (deploy templates) are written before the request.
        changes = rules.planned_changes(node, None, req.traits)
        diff = {"before": {"node": None, "instance_uuid": None, "provision_state": None, **changes.before},
                "after": {"node": uuid, "instance_uuid": inst, "provision_state": ironic_states.ACTIVE,
                          "display_name": name, **{f"instance_info.{k}": v for k, v in (req.instance_info or {}).items()},
                          **changes.after}}
        return self.deploy_admitted(uuid, changes, diff, microversion, board, base)

    def reserve_claiming(self, store) -> tuple[str, sl.Lease]:
        """At admission: pick a candidate from the listing that admitted us and reserve it with our
        claim in one PATCH (instance_uuid, instance_info, the claim). Ironic refuses a node taken
        meanwhile (NodeAssociated) and changes nothing: the next candidate is tried."""
        req = self.req
        inst, name = req.expected.instance_uuid, req.expected.instance_name
        tried: list[str] = []
        rows = self.tick_listing(None).data
        claims = self.io.claims(req.timeout + 60.0)
        ops = tuple(reserving_patch(inst, name, req.instance_info))
        for _attempt in range(RESERVE_ATTEMPTS):
            candidates = self.candidates(rows, tried)
            # One unclaimed candidate first, so hosts of this controller PATCH different nodes.
            first = claims.claim(name, lambda taken: cand.first_unclaimed(candidates, taken, name))
            row = next((n for n in candidates if n["uuid"] == first), candidates[0])
            (me,) = sl.parse_nodes([row])
            marker = cg.claim_marker(me, req.run_id, name, req.lease_ttl, self.io.run_proc(), self.wall())
            self.guard.check(f"reserving node {row['uuid']} for {name}")
            try:
                got = store.write(row["uuid"], marker, req.lease_ttl / 4, ops=ops)
            except errors.IronwaveError as exc:
                if exc.kind == ironic_errors.INSTANCE_ASSOCIATED:
                    found = self.tick_listing(self.wall())
                    hit = next((n for n in found.data if n.get("instance_uuid") == inst), None)
                    if hit is not None:
                        raise _AlreadyReserved(hit) from None
                if exc.kind not in RESERVE_LOST:
                    raise
                self.reserve_attempts.append({"candidates": [row["uuid"]], "outcome": exc.kind})
                tried.append(row["uuid"])
                continue
            self.reserve_attempts.append({"candidates": [row["uuid"]], "outcome": "reserved", "node": row["uuid"]})
            self.reserved = {**row, **(got if isinstance(got, Mapping) else {}), "instance_uuid": inst}
            self.watching = row["uuid"]
            self.log.reserved(self.reserved, True, self.wall())
            return row["uuid"], marker
        raise errors.ReservationFailed(
            f"gave up after {RESERVE_ATTEMPTS} nodes for {name} were taken between the listing and the reserving "
            f"request ({', '.join(tried)}); other runs reserve from the same pool - rerun, or give the runs disjoint "
            "pools (reserve.candidate_nodes, reserve.expression)", attempts=self.reserve_attempts)

    def deploy_node(self, microversion: str) -> dict:
        req = self.req
        node = self.from_listing() or self.io.node(req.node)
        if node is None:
            raise errors.NotFound(f"node {req.node!r} not found; check the name/UUID and the cloud", node=req.node)
        node = self.unlocked(node)
        uuid, state = node["uuid"], node.get("provision_state")
        result = self.io.classify(node, req.expected)
        base = dict(node=uuid, association=result.as_dict())
        decision = rules.plan(result, node)
        if decision.action == rules.REFUSE:
            raise errors.AssociationRefused(refusal(result, uuid, decision.why), decision.kind, **base)
        if decision.action == rules.DONE:
            return dict(changed=False, provision_state=state, **base)
        if decision.action == rules.IN_PROGRESS:
            if req.wait and not self.check_mode:
                self.watching = uuid
                return self.wait_and_verify(uuid, None, base, changed=False)
            return dict(changed=False, provision_state=state, **base)

        changes = rules.planned_changes(node, req.instance_info, req.traits)
        diff = {"before": {"provision_state": state, **changes.before},
                "after": {"provision_state": ironic_states.ACTIVE, **changes.after}}
        if self.check_mode:
            return dict(changed=True, provision_state=state, diff=diff, **base)

        self.watching = uuid
        # An available node of ours was last written by its reservation (a failed one by its failure).
        ours = result.owner == assoc.OWNER_OURS and state == ironic_states.AVAILABLE
        self.log.reserved(node, ours, self.wall())
        board = self.gate(node)
        return self.deploy_admitted(uuid, changes, diff, microversion, board, base)

    def deploy_admitted(self, uuid: str, changes: rules.Changes, diff: dict, microversion: str, board,
                        base: dict) -> dict:
        req = self.req
        requested = self.write_and_deploy(uuid, changes, microversion, board, base)
        if requested is None:
            # A deploy for our instance began while we waited at the gate (a killed run's request
            # that Ironic took late, a second copy of this run): follow it like the first check does.
            board.update(lambda entries, now: busy_gate.withdraw(entries, uuid))
            # A claim of ours stays: the node left `available`, so it counts for no one.
            self.marker_written = False
            if req.wait:
                return self.wait_and_verify(uuid, None, base, changed=False)
            return dict(changed=False, provision_state=self.adopted.get("provision_state"), **base)
        if board is not None:
            hold = req.timeout + 60.0
            board.update(lambda entries, now: busy_gate.mark_sent(entries, uuid, now, hold))
        base["diff"] = diff
        if req.wait:
            return self.wait_and_verify(uuid, requested, base, changed=True)
        return self.verify_after(uuid, requested, base)

    def unlocked(self, node: Mapping) -> Mapping:
        """The node once no conductor holds its lock, when the lock is all that stands in the way
        (rules.only_locked): re-read with a short backoff for at most LOCK_WAIT seconds; then the
        last read is judged as it is (and refused as busy if still locked)."""
        start, attempt = self.clock(), 0
        while rules.only_locked(self.io.classify(node, self.req.expected), node) \
                and self.clock() - start < LOCK_WAIT:
            self.guard.check(f"waiting for the lock on node {node['uuid']}")
            self.sleep(min(2.0, 0.25 * 2 ** attempt))
            attempt += 1
            node = self.io.node(node["uuid"]) or node
        return node

    def next_tick(self) -> None:
        """Sleep until the controller's shared listing is due again (join its next tick)."""
        due = self.ticks.next_in(self.wall()) if self.ticks.shared else self.io.tick_in(self.req.poll_interval)
        self.sleep(max(0.05, due) + 0.02)

    def follow_runs(self, nodes) -> None:
        """Update the tick plan from a listing's slot markers (busy_board cloud only)."""
        self.ticks = tick_plan.plan_for(self.req.poll_interval, self.req.run_id, nodes)

    def follow_rows(self, rows) -> None:
        """follow_runs from listing rows: only rows carrying a slot marker can name a run (every
        waiting host reads each copy, so the others are not parsed)."""
        self.follow_runs(sl.parse_nodes(r for r in rows if (r.get("extra") or {}).get(sl.MARKER_KEY)))

    def tick_fresh(self) -> tuple[float | None, float | None]:
        """(max_age, since) a copy read at a tick must meet when runs share the gate: made after
        the tick point of the run before this one (`since` on the wall clock, tick_plan.serves_from);
        else the plain ttl (None, None)."""
        if not self.ticks.shared:
            return None, None
        return self.ticks.period, self.ticks.serves_from(self.wall())

    # -- 2. the node from the shared listing ---------------------------------------------------
    def _row(self, rows) -> Mapping | None:
        return next((n for n in rows if self.req.node in (n.get("uuid"), n.get("name"))), None)

    def from_listing(self) -> Mapping | None:
        """The node from the shared listing, when that is enough to accept the deploy: with an
        expected instance UUID, without instance_info (the listing does not carry it), from a copy
        at most `precheck_max_age` old that shows the node ours and deployable. Anything else is
        decided from a direct read, so refusals never rest on a shared copy."""
        req = self.req
        if not req.expected.instance_uuid or req.instance_info or req.precheck_max_age <= 0:
            return None
        max_age, since = self.precheck_fresh()
        node = self._row(self.io.listing(req.poll_interval, max_age=max_age, newer_than=since).data)
        if node is not None and node.get("instance_uuid") != req.expected.instance_uuid and req.busy_limit > 0:
            # The copy may predate our own reservation. With a busy gate this host waits a tick
            # anyway: join the next shared listing instead of reading the node (one request fewer).
            asked = self.wall()
            self.next_tick()
            node = self._row(self.tick_listing(asked).data)
        if node is None or node.get("instance_uuid") != req.expected.instance_uuid:
            return None
        if rules.plan(self.io.classify(node, req.expected), node).action != rules.DEPLOY:
            return None
        return node

    def precheck_fresh(self) -> tuple[float, float | None]:
        """(max_age, since) of the copy the pre-check may accept: `precheck_max_age`; with runs
        sharing the cloud gate (learnt from the copy at hand) also any copy this run's next tick
        would accept - the association is checked again from the listing that admits the node."""
        req = self.req
        if req.busy_limit <= 0 or req.busy_board != "cloud":
            return req.precheck_max_age, None
        self.follow_rows(self.io.listing(req.poll_interval, max_age=PLAN_MAX_AGE).data)
        max_age, since = self.tick_fresh()
        if max_age is None or max_age <= req.precheck_max_age:
            return req.precheck_max_age, None
        return max_age, since

    # -- 3. the busy gate ----------------------------------------------------------------------
    def gate(self, node: Mapping):
        """Wait until the node may turn busy; returns the board holding our admission (None
        without a gate). Raises RunGone (run gone or halted) or SlotUnavailable (timeout).
        With `reserve` the node is not picked yet (`node` names the instance); the admission
        reserves one (reserve_claiming) and the board's entry is that node's from then on."""
        req = self.req
        if req.busy_limit <= 0:
            return None
        group = node.get("conductor_group") or ""
        board = self.io.board()
        hold = req.backpressure_timeout + 60.0
        pid, started = self.io.me
        start, waited_since = self.clock(), self.wall()
        cloud = req.busy_board == "cloud"
        store = self.io.slot_store(req.poll_interval, req.lease_ttl) if cloud else None
        scope = sl.Scope(sl.CONDUCTOR_GROUP if req.busy_scope == "conductor_group" else sl.GLOBAL, group)
        collisions = 0
        while True:
            uuid = self.board_key(node)
            self.guard.check(f"waiting at the busy gate for node {uuid}")
            limit = self.guard.busy_limit(req.busy_limit)
            if cloud:
                # Ironic's count: busy nodes and every live marker (claims, and wave_slot's queue).
                listed_at = self.wall() - req.poll_interval
                max_age, since = self.tick_fresh()
                seen = store.listing(None if since is None else self.clock() - max(0.0, self.wall() - since), max_age)
                self.follow_runs(seen)
                busy = cg.claimed(seen, scope, exclude=uuid)
            else:
                fetched = self.io.listing(req.poll_interval)
                busy = busy_gate.busy_in_listing(fetched.data, req.busy_scope, group)
                listed_at = self.wall() - fetched.age
            if board.update(lambda entries, now: busy_gate.try_admit(
                    entries, uuid, group, busy, listed_at, now, limit, req.busy_scope, hold, pid, started,
                    self.io.alive, marking=cloud)):
                if cloud and not self.cloud_verify(store, board, seen, uuid, limit, scope):
                    board.update(lambda entries, now: busy_gate.withdraw(entries, self.board_key(node)))
                    collisions += 1
                    self.sleep(cg.retry_delay(collisions, req.poll_interval))
                    continue
                uuid = self.board_key(node)
                if cloud:
                    fetched = self.io.listing(req.poll_interval)
                self.slot_wait = round(self.clock() - start, 3)
                self.log.add(deploy_phases.ADMITTED, self.wall())
                self.admitted_row = next((n for n in fetched.data if n.get("uuid") == uuid), None)
                return board
            if self.clock() - start > req.timeout:
                what = f"node {uuid}" if req.reserve is None or self.reserved else \
                    f"instance {req.expected.instance_name} (no node reserved yet)"
                raise errors.SlotUnavailable(
                    f"{what} waited {req.timeout:g} s for a busy slot: {len(busy)} node(s) stayed busy in "
                    f"scope {req.busy_scope} (busy_limit {limit}); raise busy_limit or timeout. Nothing was "
                    "written to the node", node=uuid if req.reserve is None or self.reserved else None)
            self.log.add(deploy_phases.WAITING, waited_since)   # once: repeats are dropped
            self.next_tick()

    def board_key(self, node: Mapping) -> str:
        """Our entry on the admission board: the node's, or the instance's until `reserve` has
        reserved a node (gate's `node` names the instance then)."""
        return self.reserved["uuid"] if self.reserved else node["uuid"]

    def cloud_verify(self, store, board, seen: list, key: str, limit: int, scope) -> bool:
        """Write our claim, then decide from a listing sent after the write (cloud_gate).
        False: over the limit there (withdrawn; try again later). `key` is our board entry (the
        instance's until `reserve` has reserved a node at this admission, then the node's)."""
        req = self.req
        uuid = key
        try:
            if req.node is None and self.reserved is None:   # `reserve`: no node yet
                uuid, marker = self.reserve_claiming(store)
            else:
                marker = self.write_claim(store, seen, uuid)
            written = time.monotonic()   # before others may see the write done: their listing is newer
        finally:
            def marked(entries, _now):
                busy_gate.rekey(entries, key, uuid)   # the node just reserved (a no-op otherwise)
                busy_gate.marked(entries, uuid)
            board.update(marked)
        self.await_markers(board, uuid)
        verdict = cg.verify(store.listing(written), uuid, req.run_id, limit, scope, beat=marker.beat)
        if verdict.verdict == cg.GO:
            self.marker_written = True
            return True
        if verdict.verdict == cg.MOVED:   # our marker counts for no one: left as it is
            if self.deploy_under_way(uuid):
                return True   # nothing to send: recheck() hands over to following it
        else:
            try:
                store.write(uuid, None, req.lease_ttl / 4)
            except Exception:  # noqa: BLE001 - a marker left behind stops counting when seen unchanged for its ttl
                pass
        if verdict.verdict != cg.RETRY:
            raise errors.IronwaveError(f"busy gate on Ironic: {verdict.message}", verdict.verdict, node=uuid)
        return False

    def write_claim(self, store, seen: list, uuid: str) -> sl.Lease:
        """Our claim on the node reserved before (node_reserve, or an earlier admission)."""
        req = self.req
        me = next((n for n in seen if n.uuid == uuid), None) or store.read_node(uuid)
        if me is None:
            raise errors.NotFound(f"node {uuid} disappeared while waiting for a busy slot", node=uuid)
        plan = sl.plan_announce(me, req.run_id, sl.BUSY_STATES)
        # A claim of ours already there (a withdrawal that failed) is written anew and
        # verified like a new one: it proves nothing about the count now.
        if plan.action not in (sl.ANNOUNCE, sl.ALREADY_HELD):
            raise errors.IronwaveError(plan.message, plan.action, node=uuid)
        marker = cg.claim_marker(me, req.run_id, req.expected.instance_name or uuid, req.lease_ttl,
                                 self.io.run_proc(), self.wall())
        store.write(uuid, marker, req.lease_ttl / 4)
        return marker

    def await_markers(self, board, uuid: str) -> None:
        """Hosts of this controller admitted at the same tick verify with one listing: wait (at
        most MARKERS_WAIT, a fraction of a tick) until their marker writes are done too."""
        until = self.clock() + min(MARKERS_WAIT, self.req.poll_interval / 4)
        while self.clock() < until and board.update(
                lambda entries, now: busy_gate.markers_in_flight(entries, uuid, now, self.io.alive)):
            self.sleep(0.02)

    def deploy_under_way(self, uuid: str) -> bool:
        """Our node left `available` while we were being admitted: is that a deploy for our own
        instance (a killed run's late request)? Then it is kept in `adopted` to be followed."""
        current = self.io.node(uuid)
        if current is not None and rules.plan(self.io.classify(current, self.req.expected),
                                              current).action == rules.IN_PROGRESS:
            self.adopted = current
            return True
        return False

    def recheck(self, uuid: str, base: dict) -> bool:
        """The association check before the gate may be minutes old: check again from the listing
        that admitted us (no extra request) or from a direct read. False: a deploy for our instance
        is in progress already (kept in `adopted`); nothing is to be sent."""
        row, req = self.admitted_row, self.req
        if self.adopted:
            return False
        if row is not None and row.get("instance_uuid") and row.get("instance_uuid") == req.expected.instance_uuid \
                and rules.plan(self.io.classify(row, req.expected), row).action in (rules.DEPLOY, rules.REDEPLOY):
            return True
        current = self.io.node(uuid)
        if current is None:
            raise errors.NotFound(f"node {uuid} disappeared while waiting for a busy slot", **base)
        current = self.unlocked(current)
        result = self.io.classify(current, req.expected)
        decision = rules.plan(result, current)
        if decision.action == rules.IN_PROGRESS:
            self.adopted = current
            return False
        if decision.action not in (rules.DEPLOY, rules.REDEPLOY):
            raise errors.AssociationRefused(refusal(result, uuid, decision.why) + " (changed while waiting for a "
                                            "busy slot)", decision.kind or result.verdict,
                                            **{**base, "association": result.as_dict()})
        return True

    # -- 4./5. write last, deploy, undo on failure -----------------------------------------------
    def write_and_deploy(self, uuid: str, changes: rules.Changes, microversion: str, board,
                         base: dict) -> float | None:
        """Returns the wall time the deploy request was sent; None when the re-check after the
        gate found a deploy for our instance in progress already (nothing written or sent)."""
        written = False
        try:
            if board is not None and not self.recheck(uuid, base):
                return None
            self.guard.check(f"writing instance_info/traits of node {uuid}")
            if changes.patch or changes.traits is not None:
                written = True
                if changes.patch:
                    self.io.patch_node(uuid, changes.patch)
                if changes.traits is not None:
                    self.io.set_traits(uuid, changes.traits)
            self.guard.check(f"sending the deploy request for node {uuid}")
            requested = self.wall()
            self.send(uuid, microversion)
            return requested
        except BaseException as exc:
            if board is not None:
                board.update(lambda entries, now: busy_gate.withdraw(entries, uuid))
            self.drop_marker(uuid)
            if written:
                self.undo(uuid, changes, exc)
            raise

    def drop_marker(self, uuid: str) -> None:
        """Best effort: our claim goes after a request that failed without effect (the node
        stayed available, where the marker still counts). Once the node moved it is inert and stays
        (slot_lease.lease_counts); the next marker written on the node replaces it."""
        if not self.marker_written:
            return
        self.marker_written = False
        try:
            self.io.slot_store(self.req.poll_interval, self.req.lease_ttl).write(uuid, None, self.req.lease_ttl / 4)
        except Exception:  # noqa: BLE001 - inert once the node moved; seen unchanged for its ttl it is dead
            pass

    def send(self, uuid: str, microversion: str) -> None:
        req = self.req

        def reconcile():
            now = self.io.node(uuid)
            if now is not None and rules.took_effect(self.io.classify(now, req.expected), now):
                return now
            return None

        try:
            self.io.deploy(uuid, req.body(), microversion, req.backpressure_timeout, reconcile)
        except errors.IronwaveError as exc:
            if not (getattr(exc, "ambiguous", False) or exc.kind in AMBIGUOUS_KINDS):
                raise
            try:
                done = reconcile()
            except errors.IronwaveError:
                raise exc from None
            if done is None:
                raise

    def undo(self, uuid: str, changes: rules.Changes, cause: BaseException) -> None:
        """Put instance_info and traits back as they were (traits select deploy templates for the
        next deploy); the outcome is appended to the error being raised."""
        note = " instance_info/traits were put back as they were"
        try:
            if changes.traits is not None:
                self.io.set_traits(uuid, changes.old_traits)
            if changes.undo_patch:
                self.io.patch_node(uuid, changes.undo_patch)
        except errors.IronwaveError as exc:
            note = f" putting instance_info/traits back failed too ({exc.msg}); check the node"
        if isinstance(cause, errors.IronwaveError):
            cause.msg = f"{cause.msg};{note}"
            cause.args = (cause.msg,)
            cause.result["rolled_back"] = note.startswith(" instance_info/traits were")

    # -- 6. after the request --------------------------------------------------------------------
    def tick_listing(self, newer_than: float | None) -> Fetched:
        """The copy read at a tick: fresh as tick_fresh() says and made after `newer_than` (wall)."""
        max_age, since = self.tick_fresh()
        if since is not None:
            newer_than = since if newer_than is None else max(newer_than, since)
        return self.io.listing(self.req.poll_interval, max_age=max_age, newer_than=newer_than)

    def _find(self, uuid: str, newer_than: float | None) -> Mapping | None:
        fetched = self.tick_listing(newer_than)
        if self.req.busy_board == "cloud":
            self.follow_rows(fetched.data)
        row = next((n for n in fetched.data if n.get("uuid") == uuid), None)
        return self._seen(row, self.wall() - fetched.age)

    def _seen(self, row: Mapping | None, seen: float | None = None) -> Mapping | None:
        """Record the state of a row read after the deploy request (or while waiting for a deploy
        in progress) - `seen` is when the copy was made; returns the row."""
        if row is not None and self.watching == row.get("uuid"):
            self.log.observe(row, self.wall() if seen is None else seen)
        return row

    def _owned_or_refuse(self, node: Mapping, uuid: str, base: dict, when: str) -> str:
        verdict = self.io.classify(node, self.req.expected)
        if verdict.owner != assoc.OWNER_OURS:
            raise errors.AssociationRefused(refusal(verdict, uuid, what="accept deploy of") +
                                            f" (association changed {when})", verdict.verdict, **base)
        return verdict.owner

    def verify_after(self, uuid: str, requested: float, base: dict) -> dict:
        """From a listing made after our request (shared with the other hosts)."""
        after = self._find(uuid, requested) or self._seen(self.io.node(uuid))
        if after is None:
            raise errors.NotFound(f"node {uuid} disappeared after the deploy request", **base)
        owner = self._owned_or_refuse(after, uuid, base, "during the deploy request")
        return dict(changed=True, provision_state=after.get("provision_state"), association_after=owner, **base)

    def wait_and_verify(self, uuid: str, requested: float | None, base: dict, changed: bool) -> dict:
        """Until active or failed, from copies made after our request (a redeploy starts from
        `deploy failed`, which an older copy would still show)."""
        req = self.req
        start = self.clock()
        if requested is not None:
            # Join the controller's next regular listing instead of asking for one right after
            # our request: a deploy takes longer than a tick, and every host would ask.
            self.next_tick()
        while True:
            node = self._find(uuid, requested) or {}
            state = node.get("provision_state")
            finished = (state == ironic_states.ACTIVE and not node.get("target_provision_state")) or \
                state in ironic_states.DEPLOY_FAILED
            timed_out = not finished and self.clock() - start > req.timeout
            if finished or timed_out:
                break
            self.next_tick()
        if state != ironic_states.ACTIVE or timed_out:
            why = f"timed out after {req.timeout:g} s in state {state!r}" if timed_out else f"ended in {state!r}"
            raise errors.DeploymentFailed(f"deploy of node {uuid} {why}: {node.get('last_error')}",
                                          "timeout" if timed_out else "deploy_failed",
                                          last_error=node.get("last_error"), provision_state=state, **base)
        owner = self._owned_or_refuse(node, uuid, base, "during the deploy")
        # Our claim stays: it stopped counting when the node left `available` (its state
        # and provision_updated_at are in it), so removing it would cost a request per node.
        return dict(changed=changed, provision_state=state, association_after=owner, **base)
