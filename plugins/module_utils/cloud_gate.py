# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The cloud-counted busy gate: write-then-verify admission on Ironic's own node listing (pure).

node_deploy's busy gate with `busy_board: cloud` (deploy_flow.DeployFlow.cloud_verify): its board in
Ironic, so that runs on different controllers (AWX job slices) share one strict limit at a fraction
of a wave_slot lease's requests.

A host that may go (its controller's local board admitted it) writes a *claim* on its node - a
slot_lease marker in phase `choosing`, so wave_slot users and every reader count it - then reads a
listing sent after that write completed, and goes iff

    busy + held + claims (mine included) + waiting <= limit

in scope; otherwise it withdraws its claim and backs off with jitter. No tickets, no FIFO.

Why `choosing` and not `held`: the claim is written before the count is verified, so two hosts
that saw the same free slot both show a claim until the loser withdraws. `held` stays what it means
for wave_slot - a slot granted - and Ironic never shows busy + held above the limit; a gate host
that went shows its node busy one request later (its claim stops counting when the node moves).
Every reader counts a claim exactly as it counts a held marker: a bakery run counts others'
`choosing` markers whatever their rank, a gate host counts every marker in any phase.

Safety (at most `limit` hosts going at once, with the nodes busy counted as busy): among hosts that
went, take the one whose claim write completed last. Its verifying read was sent after that, so it
saw every other one's claim (or their node already busy, which counts as busy). With wave_slot's
bakery runs: a bakery run counts every claim and every `held` marker whatever its rank, and a gate
host counts every bakery marker in any phase, so whichever of the two wrote last sees the other.

A marker stops counting when its node leaves the state it was written in (slot_lease.lease_counts):
no release write is needed for counting once the deploy request turned the node busy.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable

from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl

GO = "go"
RETRY = "retry"      # over the limit in the verifying read: withdraw, back off, try again
LOST = sl.LOST       # my marker is gone or not mine
MOVED = sl.MOVED     # my node changed state meanwhile


@dataclass(frozen=True)
class Verdict:
    verdict: str
    limit: int
    busy: int = 0
    held: int = 0          # wave_slot's granted slots
    queued: int = 0        # claims (mine included) + wave_slot's waiting and choosing
    message: str = ""

    @property
    def occupied(self) -> int:
        return self.busy + self.held + self.queued


def claimed(nodes: Iterable[sl.SlotNode], scope: sl.Scope = sl.Scope(),
            busy_states: frozenset = sl.BUSY_STATES, exclude: str | None = None) -> set[str]:
    """Nodes in scope holding or claiming a slot, as a gate host counts them: busy, or carrying a
    live marker of any phase (slot_lease.count_holders' busy, held, waiting and choosing)."""
    holders = sl.count_holders([n for n in nodes if n.uuid != exclude], scope, busy_states)
    return {*holders.busy, *holders.held, *holders.waiting, *holders.choosing}


def occupied(nodes: Iterable[sl.SlotNode], scope: sl.Scope = sl.Scope(),
             busy_states: frozenset = sl.BUSY_STATES, exclude: str | None = None) -> int:
    """How many slots are in use or claimed (len(claimed(...)))."""
    return len(claimed(nodes, scope, busy_states, exclude))


def room(nodes: Iterable[sl.SlotNode], limit: int, scope: sl.Scope = sl.Scope(),
         busy_states: frozenset = sl.BUSY_STATES) -> int:
    """How many hosts may write a marker now (before writing: avoids certain collisions)."""
    return max(0, limit - occupied(nodes, scope, busy_states))


def claim_marker(node: sl.SlotNode, run_id: str, holder: str, ttl: float, proc: sl.Proc | None,
                 now: float) -> sl.Lease:
    """A claim: a marker in phase choosing without a ticket (gate hosts never queue by ticket)."""
    return sl.new_lease(node, run_id, holder, ttl, proc, now)


def verify(nodes: Iterable[sl.SlotNode], me: str, run_id: str, limit: int, scope: sl.Scope = sl.Scope(),
           busy_states: frozenset = sl.BUSY_STATES, beat: int | None = None) -> Verdict:
    """After my claim was written: may my host go? `nodes` must come from a listing sent
    after that write completed."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit!r}")
    nodes = list(nodes)
    problem = sl.mine_problem(nodes, me, run_id, beat)
    if problem:
        return Verdict(LOST, limit, message=problem.message)
    mine = next(n for n in nodes if n.uuid == me)
    if not sl.lease_counts(mine, busy_states):
        return Verdict(MOVED, limit, message=f"node {mine.label()} changed from {mine.lease.from_state!r} to "
                                             f"{mine.provision_state!r} before its deploy request")
    holders = sl.count_holders(nodes, scope, busy_states)
    queued = len(holders.waiting) + len(holders.choosing)
    total = holders.total + queued
    verdict = GO if total <= limit else RETRY
    return Verdict(verdict, limit, len(holders.busy), len(holders.held), queued,
                   message=(f"{len(holders.busy)} busy + {len(holders.held)} held + {queued} claimed or queued "
                            f"= {total} of {limit} in {scope.describe()}"))


def retry_delay(attempt: int, tick: float, rng: random.Random | None = None) -> float:
    """Jittered back-off after a collision, in listing ticks: hosts of different controllers that
    collided on one freed slot try again at different ticks."""
    r = rng or random
    return tick * r.uniform(0.5, 1.0 + min(attempt, 4))
