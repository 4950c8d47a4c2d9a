# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""How often a slot marker is rewritten and how long each request may take, derived from one
number, the marker's `ttl` (pure).

A reader treats a marker as dead once it has seen it unchanged for `ttl` on its own clock, and its
estimate never exceeds how long the content really stood (slot_lease.observe). So a marker stays
live for every reader as long as each write of it *lands* less than `ttl` after the previous one
landed. Its writer cannot see landings, only its own request times: write i landed after write i
started and before it completed, so

    landing(i) - landing(i-1) < done(i) - start(i-1)

and `continuous(start(i-1), done(i))` (done - start < ttl) proves there was no gap. The writer's
loop keeps that true by construction: it starts a write at most `refresh` after the previous one
started, except that a listing read already under way (at most `read_deadline`) finishes first,
and a write gives up after `write_deadline`:

    done(i) - start(i-1) <= refresh + read_deadline + write_deadline = 3/4 ttl < ttl.

A write that still comes too late (a stalled API) is detected by `continuous`, and the writer then
treats its place as lost (it re-queues) instead of counting a marker others may have dropped.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlotTiming:
    ttl: float

    @property
    def refresh(self) -> float:
        """Start a rewrite this long after the previous write started."""
        return self.ttl / 4

    @property
    def write_deadline(self) -> float:
        """Retry budget of one marker write (NodeLocked, 503, a dropped connection)."""
        return self.ttl / 4

    @property
    def read_deadline(self) -> float:
        """Retry budget of one listing read made while a marker of ours is live."""
        return self.ttl / 4

    def continuous(self, previous_start: float | None, done: float) -> bool:
        """The write that completed at `done` landed less than ttl after the write that started at
        `previous_start` (None: there was none, e.g. the first write of a marker)."""
        return previous_start is None or done - previous_start < self.ttl
