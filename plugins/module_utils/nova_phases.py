# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_server's `phases`: one server's builds on a time axis, from Nova's and Ironic's own history
(pure, no I/O).

Entries are deploy_phases' {"phase", "at", "source"}: source "nova" when `at` is the server's
`updated` (Nova writes the instance at every status and task_state change), "ironic" when it is the
node's provision_updated_at, "module" when it is the module's clock (its own steps, or a service that
gave no time). Each source is recorded as seen while waiting, repeats dropped per source and build;
the result merges them in time order (deploy_phases.merge).

A service's time is kept inside [the build's floor, when it was seen]: nothing of a build happens
before this module asked for it (or, for a server that existed already, before the task started),
nor after the listing that showed it - so a skewed service clock cannot reorder the module's steps."""
from __future__ import annotations

from typing import Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import deploy_phases
from ansible_collections.ironwave.baremetal.plugins.module_utils.deploy_phases import CAP, IRONIC, MODULE, RESERVED
from ansible_collections.ironwave.baremetal.plugins.module_utils.timestamps import parse_iso

NOVA = "nova"
REQUESTED = "requested"
TASK_STATE = "OS-EXT-STS:task_state"
# The node's state before Nova's driver starts the deploy: its provision_updated_at dates the last
# cleaning, not this build.
NODE_IDLE = ("available", "manageable", "enroll")


def server_phase(server: Mapping | None) -> str | None:
    """The phase a server reading shows: its task_state while BUILD (scheduling, networking,
    block_device_mapping, spawning, as Nova names them), "active", "error", else the status in
    lower case; None when it shows none (BUILD between two tasks)."""
    status = str((server or {}).get("status") or "").upper()
    if status == "BUILD":
        return (server or {}).get(TASK_STATE) or None
    return {"ACTIVE": "active", "ERROR": "error"}.get(status, status.lower() or None)


def within(at: float | None, floor: float | None, seen: float) -> float:
    """A service's time for what was seen at `seen`, kept in [floor, seen]; `seen` when it gave none."""
    if at is None:
        return seen
    if floor is not None:
        at = max(at, floor)
    return min(at, seen)


class BuildPhases:
    """What the module saw of its builds, per source; as_list() merges them."""

    def __init__(self, cap: int = CAP) -> None:
        self.cap = max(2, cap)
        self.floor: float | None = None
        self._raw: list[dict] = []
        self._last: dict[tuple[str, str], str] = {}   # (source track, server id) -> last phase

    def reserved(self, node: Mapping | None, ours: bool, since: float, now: float) -> None:
        """A node picked and marked between `since` and `now`: at Ironic's updated_at of the read
        that showed it ours (our marker is its last write), else `now`."""
        at = parse_iso((node or {}).get("updated_at")) if ours else None
        if at is None or not since - 1.0 <= at <= now:   # a second of slack: Ironic stores microseconds, clocks drift
            self._add(RESERVED, now, MODULE)
        else:
            self._add(RESERVED, at, IRONIC)

    def requested(self, server_id: str, at: float) -> None:
        """Nova accepted our create request, sent at `at`: the new build's floor."""
        self.floor = at
        self._add(REQUESTED, at, MODULE)

    def resumed(self, at: float) -> None:
        """A server that existed before the task (BUILD or ERROR): its past is not this run's."""
        self.floor = at

    def observe_server(self, server: Mapping | None, seen: float) -> None:
        phase = server_phase(server)
        if phase is None or not server.get("id"):
            return
        at = parse_iso(server.get("updated"))
        self._track((NOVA, server["id"]), phase, within(at, self.floor, seen), MODULE if at is None else NOVA)

    def observe_node(self, row: Mapping | None, server_id: str, seen: float) -> None:
        """The node's provision state while it holds our server (before that, its state is not this
        build's: the node is idle or another server's)."""
        state = (row or {}).get("provision_state")
        if not state or state in NODE_IDLE or row.get("instance_uuid") != server_id:
            return
        at = parse_iso(row.get("provision_updated_at"))
        self._track((IRONIC, server_id), state, within(at, self.floor, seen), MODULE if at is None else IRONIC)

    def as_list(self) -> list[dict]:
        return deploy_phases.merge(self._raw, self.cap)

    def _track(self, track: tuple[str, str], phase: str, at: float, source: str) -> None:
        if self._last.get(track) == phase:
            return
        self._last[track] = phase
        self._add(phase, at, source)

    def _add(self, phase: str, at: float, source: str) -> None:
        self._raw.append({"phase": phase, "at": float(at), "source": source})
        if len(self._raw) > 2 * self.cap:   # a flapping build: keep the first ones and the latest
            del self._raw[self.cap - 1]
