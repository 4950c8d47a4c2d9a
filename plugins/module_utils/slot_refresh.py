# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Keep a held slot marker alive exactly as long as its run needs it (logic; the store, clock,
sleep and guard are passed in, slot_daemon runs it in a process of its own).

After wave_slot has taken a slot, the run may wait a long time before the node turns busy (the
busy gate of node_deploy, cleaning started by someone else). Every `ttl / 4` s the refresher
rewrites the marker (beat + 1) so that readers keep counting it. It stops, sending nothing more:
- when the run is gone (its ansible-playbook killed) - checked every second and right before each
  write, so the marker stops changing within a second or two and dies `ttl` later for everyone;
- when the run is halted (its failure budget tripped: no more deploys will be started);
- when the slot is released (release stops the refresher before it removes the marker);
- when the node turned busy (it counts as busy now) or moved on, or the marker is no longer the one
  it wrote (removed, rewritten by someone else).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_acquire import (
    IN_TRANSITION, Guard, SlotStore, WriteRefused)
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming

RELEASED = "released"
RUN_GONE = "run_gone"
HALTED = "halted"
NODE_GONE = "node_gone"
NODE_MOVED = "node_moved"
MARKER_CHANGED = "marker_changed"


@dataclass
class HeldRefresher:
    store: SlotStore
    uuid: str
    lease: sl.Lease
    since: float                         # when the held write started (our clock)
    guard: Guard
    stopped: Callable[[], bool] = lambda: False
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    busy_states: frozenset = sl.BUSY_STATES
    step: float = 1.0
    writes: int = 0
    lapses: int = 0                      # rewrites that landed too late (readers may have dropped it)
    failures: int = 0
    _beats: set = field(default_factory=set)

    def stop_reason(self) -> str | None:
        if self.stopped():
            return RELEASED
        if not self.guard.alive():
            return RUN_GONE
        if self.guard.halted():
            return HALTED
        return None

    def _still_ours(self, node: sl.SlotNode | None) -> str | None:
        if node is None:
            return NODE_GONE
        lease = node.lease
        if lease is None or lease.run_id != self.lease.run_id or lease.beat not in self._beats:
            return MARKER_CHANGED
        if sl.is_busy(node, self.busy_states) or not sl.lease_counts(node, self.busy_states):
            return NODE_MOVED
        return None

    def run(self) -> str:
        """Refresh until one of the stop reasons; returns it."""
        timing = SlotTiming(self.lease.ttl)
        last_start = self.since
        self._beats = {self.lease.beat}
        while True:
            due = last_start + timing.refresh
            while self.clock() < due:
                reason = self.stop_reason()
                if reason:
                    return reason
                self.sleep(min(self.step, max(0.0, due - self.clock())))
            reason = self.stop_reason()
            if reason:
                return reason
            try:
                reason = self._still_ours(self.store.read_node(self.uuid))
            except Exception:  # noqa: BLE001 - cannot read: still rewrite, liveness is what matters
                self.failures += 1
            if reason:
                return reason
            reason = self.stop_reason()      # right before the write
            if reason:
                return reason
            new = sl.refreshed(self.lease, self.wall())
            start = self.clock()
            try:
                self.store.write(self.uuid, new, timing.write_deadline)
            except WriteRefused as exc:
                if exc.kind == IN_TRANSITION:
                    return NODE_MOVED
                return MARKER_CHANGED
            except Exception:  # noqa: BLE001 - it may or may not have landed: accept either beat
                self.failures += 1
                self._beats.add(new.beat)
                self.lease = new
                continue
            self.writes += 1
            if not timing.continuous(last_start, self.clock()):
                self.lapses += 1
            last_start = start
            self.lease = new
            self._beats = {new.beat}
