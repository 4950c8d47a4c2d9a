# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The slot protocol's node store on Ironic (I/O only; decisions are in slot_lease/slot_acquire).

- listing(): one bulk `GET /v1/nodes?fields=...`, shared by every waiting host of this controller
  through the poll cache (one request per tick). Whoever makes the request also updates the
  controller's observation board (<cache dir>/<key>.slot-seen.json): when each marker's current
  content was first seen, on CLOCK_MONOTONIC (one clock for all processes of a machine). So a
  marker that stopped changing is known dead after its ttl to every process of the controller, not
  only to the one that watched it.
- read_node(): one fresh `GET /v1/nodes/<id>?fields=...`.
- write(): one JSON-patch PATCH of `/extra/ironwave_slot` (add or remove) within a retry deadline
  (slot_timing). A write that still lands late (a stalled connection) is caught by the caller's
  continuity check, not trusted.
"""
from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import quote

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_proc
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import classify_exception
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import (
    Fetched, LockedJsonFile, SharedListing, cache_key)
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_acquire import (
    ABSENT, IN_TRANSITION, WriteRefused)
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming

MARKER_PATH = f"/extra/{sl.MARKER_KEY}"
FIELDS = ",".join(sl.NODE_FIELDS)


class IronicSlotStore:
    """`request(method, path, deadline=..., json=...)` is the client's raw call
    (lifecycle_ops.Ops.request: JSON body back, SDK exceptions raised); `ident` names the cloud
    for the shared cache files; `timing` bounds every request (slot_timing.SlotTiming)."""

    def __init__(self, request: Callable[..., Any], ident: str, poll_interval: float, timing: SlotTiming,
                 directory: str | None = None, gone: Callable[[sl.Proc], bool] = slot_proc.gone,
                 source: Callable[[float | None, float | None], Fetched] | None = None) -> None:
        self.request = request
        self.timing = timing
        self.gone = gone
        # `source(newer_than, max_age)`: the caller's own shared node listing (with the slot fields,
        # newer than a time.monotonic() value) instead of one of our own - node_deploy's busy_board cloud
        # then polls one stream per controller, not two.
        self.source = source
        key = cache_key(ident, "slots-v2:" + FIELDS)
        # With a source the listing is the caller's: no cache file of our own is read or written.
        self.shared = None if source else SharedListing(key, ttl=poll_interval, directory=directory,
                                                        clock=time.monotonic)
        self.board = LockedJsonFile(key, "slot-seen", directory=directory, clock=time.monotonic)

    def _fetch(self) -> dict:
        """Runs under the shared listing's lock: one request, then the board is brought up to date."""
        sent = time.monotonic()
        rows = self.list_nodes()
        return {"rows": rows, "sent": sent, "board": self._observe(rows, time.monotonic())}

    def _observe(self, rows: list[dict], received: float) -> dict:
        """Bring the controller's observation board up to date with a listing read at `received`."""
        def merge(entries: dict, _now: float) -> dict:
            seen = sl.observe(rows, entries, received)
            entries.clear()
            entries.update(seen)
            return seen
        return self.board.update(merge)

    def list_nodes(self) -> list[dict]:
        rows: list[dict] = []
        url: str | None = f"/nodes?fields={FIELDS}"
        while url:
            body = self.request("GET", url, deadline=self.timing.read_deadline)
            rows.extend(body.get("nodes", []))
            nxt = body.get("next")
            url = nxt.split("/v1", 1)[-1] if nxt else None
        return rows

    def listing(self, newer_than: float | None, max_age: float | None = None) -> list[sl.SlotNode]:
        """A copy made after `newer_than` (time.monotonic()), no older than `max_age` (default:
        the poll interval)."""
        if self.shared is None:
            return self._from_source(newer_than, max_age)
        data = self.shared.get(self._fetch, max_age=max_age, newer_than=newer_than).data
        return sl.parse_nodes(data["rows"], data["board"], data["sent"], self.gone)

    def _from_source(self, newer_than: float | None, max_age: float | None = None) -> list[sl.SlotNode]:
        """Each reader records the copy on the observation board, stamped with the moment it
        read it (no earlier than the copy arrived), and judges it as of the copy's sending - both
        on the safe side, as in _fetch. A copy older than the board's can only reset a marker's
        first sighting to a later moment: no marker ever looks older than it is."""
        got = self.source(newer_than, max_age)
        now = time.monotonic()
        return sl.parse_nodes(got.data, self._observe(got.data, now), now - got.age, self.gone)

    def read_node(self, ident: str) -> sl.SlotNode | None:
        try:
            row = self.request("GET", f"/nodes/{quote(ident, safe='')}?fields={FIELDS}",
                               deadline=self.timing.read_deadline)
        except Exception as exc:  # noqa: BLE001 - not found is an answer, the rest is raised
            if _classified(exc).kind == ironic_errors.NOT_FOUND:
                return None
            raise
        return sl.SlotNode.from_mapping(row, 0.0, self.gone)

    def write(self, uuid: str, lease: sl.Lease | None, deadline: float, ops: tuple = ()) -> Any:
        """`ops`: more JSON-patch operations sent in the same request (node_deploy's reservation
        at admission: instance_uuid and instance_info with the claim) - all or nothing in Ironic.
        Returns the node as Ironic answered."""
        op = {"op": "add", "path": MARKER_PATH, "value": lease.to_extra()} if lease else \
             {"op": "remove", "path": MARKER_PATH}
        try:
            return self.request("PATCH", f"/nodes/{uuid}", json=[*ops, op], deadline=deadline)
        except Exception as exc:  # noqa: BLE001 - two answers are not failures, the rest is typed
            err = _classified(exc)
            if lease is None and err.status == 400 and "non-existent" in err.message:
                raise WriteRefused(err.message, ABSENT) from exc
            if sl.IN_TRANSITION_RE.search(err.message) or err.kind == ironic_errors.NODE_LOCKED:
                raise WriteRefused(err.message, IN_TRANSITION) from exc
            if isinstance(exc, errors.IronwaveError):
                raise
            raise errors.from_ironic(err, f"writing the slot marker of node {uuid}", node=uuid) from exc


def _classified(exc: BaseException) -> ironic_errors.IronicError:
    """The classified failure: carried by the client's typed error, else read from the exception."""
    err = getattr(exc, "error", None)
    return err if isinstance(err, ironic_errors.IronicError) else classify_exception(exc)
