# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""When a controller lists the nodes, while other runs share its cloud-counted busy gate (pure).

Why: every run (an AWX job slice, another controller) keeps its own listing stream; S runs at one
poll interval each list the nodes S times as often as one run, for no better view of the cloud.
With node_deploy's `busy_board: cloud` the runs sharing the gate are visible on Ironic: each marks
the nodes it admits with its run id (slot_lease markers). So with K runs sharing, each lists every
K x poll_interval, at its own phase in that period (its rank among the sorted run ids, on the wall
clock): together they still read the cloud about once per poll interval, and a slot freed in Ironic
is seen about as soon as one run would see it. Clocks that disagree only shift the phases (the
runs then read at uneven moments); safety never rests on the schedule - every admission is still
verified from a listing sent after its own marker write (cloud_gate).

A run counts as sharing while its marker claims a slot (held/waiting/choosing, slot_lease.lease_counts)
or sits on a node its deploy turned busy (written in `available`, the node now deploying); a
finished run's markers left on active nodes do not count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_states
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl


@dataclass(frozen=True)
class TickPlan:
    """interval: this run's poll interval; runs: runs sharing the gate (this one included);
    rank: this run's place among them. One run keeps the plain ttl schedule (`shared` false)."""

    interval: float
    runs: int = 1
    rank: int = 0

    @property
    def shared(self) -> bool:
        return self.runs > 1

    @property
    def period(self) -> float:
        return self.interval * self.runs

    def last(self, now: float) -> float:
        """The latest tick point at or before `now` (wall clock)."""
        offset = self.rank * self.interval
        return math.floor((now - offset) / self.period) * self.period + offset

    def next_in(self, now: float) -> float:
        """Seconds from `now` to the next tick point."""
        return self.last(now) + self.period - now

    def serves_from(self, now: float) -> float:
        """The earliest moment a copy may have been made to serve the latest tick point: the tick
        point of the run just before this one. A copy this run made since (the listing verifying
        an admission) is as new as anything the runs together would have read by then, so the
        tick needs no listing of its own."""
        return self.last(now) - (self.interval if self.shared else 0.0)


def sharing_runs(nodes: Iterable[sl.SlotNode], busy_states: frozenset = ironic_states.DEPLOY_IN_PROGRESS) -> set[str]:
    """Run ids whose markers show them deploying through the gate now (see the module doc)."""
    runs = set()
    for node in nodes:
        lease = node.lease
        if lease is None:
            continue
        if sl.lease_counts(node) or (node.provision_state in busy_states
                                     and lease.from_state == ironic_states.AVAILABLE):
            runs.add(lease.run_id)
    return runs


def plan_for(interval: float, run_id: str | None, nodes: Iterable[sl.SlotNode]) -> TickPlan:
    """The tick plan of run `run_id` from what a listing shows (one run without a run id)."""
    if not run_id:
        return TickPlan(interval)
    runs = sorted(sharing_runs(nodes) | {run_id})
    return TickPlan(interval, len(runs), runs.index(run_id))
