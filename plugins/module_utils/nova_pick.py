# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Which node a pinned build goes to (pure, stdlib only).

Concurrent inventory hosts of one run, and concurrent runs, each pick a node for their server.
Rendezvous hashing makes hosts of a run mostly pick different nodes without talking to each
other (and the same host pick the same node on a rerun); a marker in the node's `extra`
(written, then re-read) settles the remaining collisions. A marker's age is measured on Ironic's
clock only, so controllers with skewed clocks agree on which markers are stale: its `at` (the
Date header Ironic sent just before the marker was written) or, for a marker without one, the
node's updated_at, against the Date header of the listing being judged. Prefer `at`: updated_at
moves with ANY write to the node (another host's marker, Nova's instance_uuid), so a stale
marker would look fresh again every time someone touches the node."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Mapping

MARKER_KEY = "ironwave_pick"
MARKER_VERSION = 1
_FIELDS = ("run", "host", "server")


def _weight(host: str, node: str) -> int:
    digest = hashlib.sha256(f"{host}\0{node}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def rank(host: str, candidates: Iterable[str]) -> list[str]:
    """Candidates in highest-random-weight order for `host` (stable across processes and runs;
    removing a candidate does not reorder the others)."""
    unique = {str(c) for c in candidates}
    return sorted(unique, key=lambda node: (-_weight(host, node), node))


def choose(host: str, usable: Iterable[str], taken: Iterable[str]) -> str | None:
    """The first node of rank(host, usable) that nobody has taken, or None."""
    busy = set(taken or ())
    return next((node for node in rank(host, usable) if node not in busy), None)


def make_marker(run_id: str, host: str, server: str, at: str | None = None) -> dict:
    """The value of extra/ironwave_pick for a node picked by `host` of run `run_id`; `at` is the
    Date header of the Ironic response read just before writing it (Ironic's clock)."""
    marker = {"v": MARKER_VERSION, "run": run_id, "host": host, "server": server}
    if at:
        marker["at"] = at
    return marker


def parse_marker(extra: Any) -> dict | None:
    """The marker in a node's extra, or None when absent or malformed (anyone may write extra)."""
    if not isinstance(extra, Mapping):
        return None
    raw = extra.get(MARKER_KEY)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, Mapping) or raw.get("v") != MARKER_VERSION or isinstance(raw.get("v"), bool):
        return None
    if not all(isinstance(raw.get(k), str) and raw.get(k) for k in _FIELDS):
        return None
    out = {"v": MARKER_VERSION, **{k: raw[k] for k in _FIELDS}}
    if isinstance(raw.get("at"), str) and raw["at"]:
        out["at"] = raw["at"]
    return out


def _when(text: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 time (Ironic's updated_at) or an HTTP date (Date header)."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    # Ironic stores UTC; a naive time (no offset) is UTC.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def marker_live(marker: Mapping | None, node_updated_at: str | None, server_now: str | None, ttl: float,
                my_run: str) -> bool:
    """Does the marker still hold the node? My own run's markers always do; another run's until
    it is older than `ttl` seconds on Ironic's clock (from its `at`, else from `node_updated_at`).
    When either time cannot be read the marker is live: keeping a node out is safe, stealing it
    is not."""
    if not marker:
        return False
    if marker.get("run") == my_run:
        return True
    updated, now = _when(marker.get("at") or node_updated_at), _when(server_now)
    if updated is None or now is None:
        return True
    return (now - updated).total_seconds() <= ttl


def verify_pick(extra_after: Any, run: str, host: str) -> bool:
    """After writing our marker and reading the node again: is it still ours (nobody overwrote it)?"""
    marker = parse_marker(extra_after)
    return bool(marker) and marker["run"] == run and marker["host"] == host
