# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""node_deploy's `phases`: what happened to the node, on a time axis (pure, no I/O).

Entries are {"phase", "at", "source"}: `at` in epoch seconds, `source` "ironic" when the time is
Ironic's own (provision_updated_at, updated_at), "module" when it is the module's clock (Ironic
did not say, or the step is the module's own: waiting at the busy gate, admitted)."""
from __future__ import annotations

from typing import Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils.timestamps import parse_iso

RESERVED, WAITING, ADMITTED = "reserved", "waiting", "admitted"
IRONIC, MODULE = "ironic", "module"
CAP = 50   # a node flapping for hours must not grow the task result without bound


class PhaseLog:
    """Phases in the order they happened. Consecutive identical phases are one entry; past CAP the
    last entry is replaced, so the list always ends with the latest state seen. An `at` earlier
    than the entry before it (clock skew between Ironic and this host) is raised to it, so the
    list stays in time order."""

    def __init__(self, cap: int = CAP) -> None:
        self.cap = max(2, cap)
        self.entries: list[dict] = []

    def add(self, phase: str, at: float, source: str = MODULE) -> None:
        if self.entries and self.entries[-1]["phase"] == phase:
            return
        if self.entries:
            at = max(at, self.entries[-1]["at"])
        entry = {"phase": phase, "at": round(float(at), 6), "source": source}
        if len(self.entries) >= self.cap:
            self.entries[-1] = entry
        else:
            self.entries.append(entry)

    def reserved(self, node: Mapping, ours: bool, now: float) -> None:
        """When the node became ours: Ironic's updated_at of a whole-node read that shows it ours
        (the allocation's write is the last one before the deploy), else the module's clock."""
        at = parse_iso(node.get("updated_at")) if ours else None
        self.add(RESERVED, now if at is None else at, MODULE if at is None else IRONIC)

    def observe(self, row: Mapping | None, seen: float) -> None:
        """A provision state Ironic reported: at its provision_updated_at, else when seen."""
        state = (row or {}).get("provision_state")
        if not state:
            return
        at = parse_iso(row.get("provision_updated_at"))
        self.add(state, seen if at is None else at, MODULE if at is None else IRONIC)

    def as_list(self) -> list[dict]:
        return [dict(e) for e in self.entries]


def merge(entries: list[Mapping], cap: int = CAP) -> list[dict]:
    """Entries recorded from several sources (each in its own order) as one PhaseLog list: sorted by
    `at` (stable, so a tie keeps the order they were recorded in), then consecutive repeats are one
    entry (the first: a state seen by two services dates from the one that saw it first) and the list
    is bounded like PhaseLog's."""
    log = PhaseLog(cap)
    for entry in sorted(entries, key=lambda e: e["at"]):
        log.add(entry["phase"], entry["at"], entry.get("source", MODULE))
    return log.as_list()
