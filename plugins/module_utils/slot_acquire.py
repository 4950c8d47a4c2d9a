# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Taking and giving back a slot of the cloud-counted limit: the protocol of slot_lease run
against a node store, with the clock, the sleep and the run guard passed in (no Ansible; unit
tests drive it with a fake store and a fake clock).

The store (slot_store.IronicSlotStore on Ironic) offers:
    listing(newer_than) -> [SlotNode]     all nodes, read after `newer_than` (our clock), annotated
                                          with how long this controller has seen each marker unchanged
    read_node(ident) -> SlotNode | None   one node, fresh
    write(uuid, lease | None, deadline)   write or remove our marker; raises WriteRefused (absent,
                                          in_transition) or an IronwaveError
Every write is preceded by guard.check(): an orphaned worker (its ansible-playbook killed) or a
halted run sends nothing more.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Protocol

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming

# Re-queue at most this many times in a row after our own writes came too late (an API stalling
# for longer than lease_ttl / 4 per request), then fail: a larger lease_ttl is needed.
MAX_LAPSES = 3
ABSENT = "absent"
IN_TRANSITION = "in_transition"


class WriteRefused(errors.IronwaveError):
    """Ironic refused a marker write for a reason that is an answer, not a failure: the marker is
    already gone (ABSENT) or the node is in a transition / locked (IN_TRANSITION)."""


class SlotStore(Protocol):
    def listing(self, newer_than: float | None) -> list[sl.SlotNode]: ...
    def read_node(self, ident: str) -> sl.SlotNode | None: ...
    def write(self, uuid: str, lease: sl.Lease | None, deadline: float) -> None: ...


class Guard(Protocol):
    def check(self, what: str) -> None: ...
    def alive(self) -> bool: ...
    def halted(self) -> str | None: ...


@dataclass(frozen=True)
class SlotRequest:
    node: str
    run_id: str
    limit: int = 1
    scope: str = sl.GLOBAL
    holder: str | None = None
    ttl: float = sl.DEFAULT_TTL
    timeout: float = 3600.0
    poll_interval: float = 1.0
    max_poll_interval: float = 5.0
    busy_states: frozenset = sl.BUSY_STATES
    skip_states: tuple = ()
    proc: sl.Proc | None = None


@dataclass
class SlotAcquirer:
    store: SlotStore
    req: SlotRequest
    guard: Guard
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    warnings: list = field(default_factory=list)
    attempts: int = 0
    lapses: int = 0
    late_in_a_row: int = 0            # lapses since our last write that landed in time
    last_start: float | None = None   # when our latest marker write started (our clock)
    last_done: float | None = None

    @property
    def timing(self) -> SlotTiming:
        return SlotTiming(self.req.ttl)

    # -- I/O steps --------------------------------------------------------------------------
    def _write(self, uuid: str, lease: sl.Lease | None, what: str) -> bool:
        """Write (or remove) our marker; True when it landed with no gap since the previous one."""
        self.guard.check(what)
        start = self.clock()
        self.store.write(uuid, lease, self.timing.write_deadline)
        done = self.clock()
        ok = self.timing.continuous(self.last_start, done)
        self.last_start, self.last_done = start, done
        if ok and lease is not None and lease.phase != sl.CHOOSING:
            self.late_in_a_row = 0
        return ok

    def _withdraw(self, uuid: str) -> None:
        """Best effort: remove our marker after a failure. Nothing is sent when the run is gone or
        halted (the marker then dies on its own)."""
        try:
            self._write(uuid, None, "withdrawing the slot marker")
        except Exception:  # noqa: BLE001 - already failing; the marker stops counting on its own
            pass

    def _limit(self) -> int:
        """The configured limit, lowered while the run's strategy publishes a lower busy limit
        (backpressure): admitting fewer is always safe."""
        lowered = getattr(self.guard, "busy_limit", None)
        return lowered(self.req.limit) if lowered else self.req.limit

    def _listing(self) -> list[sl.SlotNode]:
        return self.store.listing(self.last_done)

    # -- acquire ----------------------------------------------------------------------------
    def acquire(self, check_mode: bool = False,
                stop_refresher: Callable[[str], None] = lambda uuid: None) -> dict[str, Any]:
        """Take a slot; the result carries `held_lease` and `held_since` (when its write started)
        for the refresher. `stop_refresher(uuid)` stops a refresher of ours before we rewrite."""
        r = self.req
        start = self.clock()
        deadline = start + r.timeout
        nodes = self.store.listing(start - r.poll_interval)
        me = next((n for n in nodes if r.node in (n.uuid, n.name)), None)
        if me is None:
            raise errors.NotFound(f"node {r.node!r} not found; check the name/UUID and the cloud", node=r.node)
        base = {"node": me.uuid, "run_id": r.run_id}
        if me.provision_state in r.skip_states and not me.target_provision_state and not me.lease:
            return dict(changed=False, skipped=True, waited=0.0, attempts=0, holders={},
                        msg=f"node is {me.provision_state} (a skip state): no slot needed", **base)
        plan = sl.plan_announce(me, r.run_id, r.busy_states)
        if plan.action == sl.ALREADY_HELD:
            return self._already_held(me, plan, check_mode, base, stop_refresher)
        if plan.action != sl.ANNOUNCE:
            raise errors.IronwaveError(plan.message, plan.action, **base)
        before = me.lease.to_extra() if me.lease else None
        scope = sl.Scope(r.scope, me.conductor_group)
        holder = r.holder or me.name or me.uuid
        if check_mode:
            return self._dry_run(nodes, me, holder, scope, before, base)

        backoff = sl.PollBackoff(base=r.poll_interval, cap=r.max_poll_interval, rng=self.rng)
        lease: sl.Lease | None = None
        while True:
            if lease is None:
                lease = self._enter_queue(me, holder, base)
                if lease is None:
                    continue
            self.guard.check("waiting for a slot")
            nodes = self._listing()
            self.attempts += 1
            decision = sl.admission(nodes, me.uuid, r.run_id, self._limit(), scope, r.busy_states, beat=lease.beat)
            if decision.verdict == sl.ADMIT:
                held = sl.as_held(lease, self.wall())
                if self._write(me.uuid, held, "taking the slot"):
                    return dict(changed=True, lease=held.to_extra(), ticket=held.ticket,
                                waited=round(self.clock() - start, 3), attempts=self.attempts,
                                holders=decision.as_dict(), msg=decision.message, lapses=self.lapses,
                                diff={"before": {"marker": before}, "after": {"marker": held.to_extra()}},
                                held_lease=held, held_since=self.last_start, **base)
                lease = self._lapsed(me, base)
                continue
            if decision.verdict != sl.WAIT:
                if decision.verdict != sl.LOST:
                    self._withdraw(me.uuid)
                raise errors.IronwaveError(f"lost the queue place for node {me.label()}: {decision.message}",
                                           decision.verdict, holders=decision.as_dict(), attempts=self.attempts,
                                           **base)
            now = self.clock()
            if now >= deadline:
                self._withdraw(me.uuid)
                raise errors.SlotUnavailable(
                    f"no slot for node {me.label()} within {r.timeout:g} s: {decision.message}; raise the "
                    "limit or the timeout, or check for stuck busy nodes", holders=decision.as_dict(),
                    attempts=self.attempts, waited=round(now - start, 3), **base)
            if now - self.last_start >= self.timing.refresh:
                lease = sl.refreshed(lease, self.wall())
                if not self._write(me.uuid, lease, "refreshing the queued slot marker"):
                    lease = self._lapsed(me, base)
                    continue
            due = self.last_start + self.timing.refresh
            self.sleep(max(0.0, min(backoff.next(), due - self.clock(), deadline - self.clock())))

    def _enter_queue(self, me: sl.SlotNode, holder: str, base: dict) -> sl.Lease | None:
        """Announce (choosing), then take a ticket from a listing read after that write. None when
        the ticket write came too late to prove the marker never lapsed."""
        r = self.req
        self.last_start = None
        lease = sl.new_lease(me, r.run_id, holder, r.ttl, r.proc, self.wall())
        self._write(me.uuid, lease, "announcing a slot marker")
        nodes = self._listing()
        problem = sl.mine_problem(nodes, me.uuid, r.run_id, lease.beat)
        if problem:
            raise errors.IronwaveError(f"lost the queue place for node {me.label()}: {problem.message}",
                                       sl.LOST, **base)
        lease = sl.with_ticket(lease, sl.next_ticket(nodes, exclude=me.uuid), self.wall())
        if self._write(me.uuid, lease, "writing the queue ticket"):
            return lease
        return self._lapsed(me, base)

    def _lapsed(self, me: sl.SlotNode, base: dict) -> None:
        """Our last write landed too late: another run may have taken our marker for dead and been
        admitted in our place, so our ticket proves nothing. Queue again, a bounded number of times."""
        self.lapses += 1
        self.late_in_a_row += 1
        if self.late_in_a_row > MAX_LAPSES:
            self._withdraw(me.uuid)
            raise errors.IronwaveError(
                f"the slot marker of node {me.label()} could not be rewritten within lease_ttl "
                f"({self.req.ttl:g} s) {self.late_in_a_row} times in a row: Ironic answers too slowly for "
                "this lease_ttl; raise lease_ttl", sl.EXPIRED, lapses=self.lapses, **base)
        return None

    def _already_held(self, me: sl.SlotNode, plan: sl.AnnouncePlan, check_mode: bool, base: dict,
                      stop_refresher: Callable[[str], None]) -> dict:
        """Our run holds the slot already (a rerun of the task). A marker naming another process
        of the same run id (a rerun after a crash) is adopted, so that it can be kept alive."""
        lease = me.lease
        result = dict(changed=False, msg=plan.message, lease=lease.to_extra(), ticket=lease.ticket,
                      waited=0.0, attempts=0, holders={}, **base)
        if check_mode or sl.is_busy(me, self.req.busy_states) or self.req.proc is None or lease.proc == self.req.proc:
            return result
        stop_refresher(me.uuid)
        lease = sl.refreshed(lease, self.wall(), proc=self.req.proc)
        self._write(me.uuid, lease, "adopting the held slot marker")
        return {**result, "lease": lease.to_extra(), "held_lease": lease, "held_since": self.last_start}

    def _dry_run(self, nodes, me, holder, scope, before, base) -> dict:
        r = self.req
        pretend = sl.with_ticket(sl.new_lease(me, r.run_id, holder, r.ttl, r.proc, self.wall()),
                                 sl.next_ticket(nodes, exclude=me.uuid), self.wall())
        view = [replace(n, lease=pretend, unchanged_for=0.0, run_gone=False) if n.uuid == me.uuid else n
                for n in nodes]
        decision = sl.admission(view, me.uuid, r.run_id, r.limit, scope, r.busy_states)
        return dict(changed=True, would_wait=decision.verdict != sl.ADMIT, holders=decision.as_dict(),
                    msg=decision.message, waited=0.0, attempts=0,
                    diff={"before": {"marker": before}, "after": {"marker": sl.as_held(pretend, self.wall()).to_extra()}},
                    **base)

    # -- release ----------------------------------------------------------------------------
    def release(self, force: bool = False, check_mode: bool = False,
                stop_refresher: Callable[[str], None] = lambda uuid: None) -> dict[str, Any]:
        """Give the slot back: stop this run's refresher of the node first (so that it cannot write
        the marker again), then remove our marker."""
        r = self.req
        me = self.store.read_node(r.node)
        if me is None:
            raise errors.NotFound(f"node {r.node!r} not found; check the name/UUID and the cloud", node=r.node)
        base = {"node": me.uuid, "run_id": r.run_id}
        if not check_mode:
            stop_refresher(me.uuid)
            me = self.store.read_node(me.uuid) or me
        plan = sl.plan_release(me, r.run_id, force)
        before = me.lease.to_extra() if me.lease else None
        if plan.action != sl.REMOVE:
            if plan.action in (sl.FOREIGN, sl.IN_TRANSITION):
                self.warnings.append(plan.message)
            return dict(changed=False, release=plan.action, msg=plan.message, **base)
        diff = {"before": {"marker": before}, "after": {"marker": None}}
        if check_mode:
            return dict(changed=True, release=sl.REMOVE, diff=diff, **base)
        if not self.guard.alive():   # an orphan sends nothing; a halted run still gives slots back
            self.guard.check("releasing the slot")
        try:
            self.store.write(me.uuid, None, self.timing.write_deadline)
        except WriteRefused as exc:
            if exc.kind == ABSENT:
                return dict(changed=False, release=sl.ABSENT, msg="marker already gone", **base)
            # Started moving meanwhile (or locked past our retries): the marker stops counting
            # once the node leaves its announced state; let it lapse.
            msg = f"marker of node {me.label()} left to lapse: {exc.msg}"
            self.warnings.append(msg)
            return dict(changed=False, release=sl.IN_TRANSITION, msg=msg, **base)
        return dict(changed=True, release=sl.REMOVE, diff=diff, **base)
