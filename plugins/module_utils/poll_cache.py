# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A short-lived listing cache shared by all Ansible worker processes on the controller.

Why: Ansible runs each host's task in its own worker process. Twenty hosts waiting for their
nodes would each GET their node every tick (20 requests per tick). Instead every process asks
this cache; the first one whose copy is older than `ttl` takes an exclusive file lock, makes
ONE bulk listing request (`GET /v1/nodes?fields=...`) and writes it atomically; the others
wait on the lock (milliseconds) and read that copy. So one request per tick, whatever the
number of hosts.

Layout: <dir>/<key>.json (payload + fetched_at) and <dir>/<key>.lock, where key hashes the
cloud identity and the query, so different clouds and field sets never share entries.
Stdlib only (fcntl: the controller is POSIX, as Ansible requires).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

ENV_DIR = "IRONWAVE_POLL_CACHE_DIR"


def default_dir() -> str:
    return os.environ.get(ENV_DIR) or os.path.join(tempfile.gettempdir(), f"ironwave-poll-{os.getuid()}")


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def write_json_atomic(directory: str, path: str, data: Any) -> None:
    """Write JSON to a temp file in `directory`, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


@dataclass
class Fetched:
    data: Any
    age: float            # seconds since the listing was made
    fetched_here: bool    # this process made the request


class SharedListing:
    """get(fetch) returns a copy no older than ttl, fetching at most once per ttl across processes."""

    def __init__(self, key: str, ttl: float = 2.0, directory: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.dir = directory or default_dir()
        self.ttl = ttl
        self.clock = clock
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(self.dir, f"{key}.json")
        self.lock_path = os.path.join(self.dir, f"{key}.lock")

    def _read(self) -> tuple[Any, float] | None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                blob = json.load(fh)
            return blob["data"], float(blob["fetched_at"])
        except (OSError, ValueError, KeyError):
            return None

    def _write(self, data: Any, fetched_at: float) -> None:
        write_json_atomic(self.dir, self.path, {"fetched_at": fetched_at, "data": data})

    def get(self, fetch: Callable[[], Any], max_age: float | None = None,
            newer_than: float | None = None) -> Fetched:
        """A copy younger than `max_age` (default ttl) and, with `newer_than` (a clock() value),
        made after that moment - e.g. after our own write, so it can show its effect."""
        limit = self.ttl if max_age is None else max_age

        def fresh(hit):
            return hit and self.clock() - hit[1] < limit and (newer_than is None or hit[1] >= newer_than)

        hit = self._read()
        if fresh(hit):
            return Fetched(hit[0], self.clock() - hit[1], False)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                hit = self._read()  # someone may have fetched while we waited for the lock
                if fresh(hit):
                    return Fetched(hit[0], self.clock() - hit[1], False)
                started = self.clock()
                data = fetch()
                # Stamp with the request start: the data is at least that old.
                self._write(data, started)
                return Fetched(data, self.clock() - started, True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def invalidate(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def next_tick_in(self) -> float:
        """Seconds until the current copy expires (0 when none): sleep this long to join the next tick."""
        hit = self._read()
        if not hit:
            return 0.0
        return max(0.0, self.ttl - (self.clock() - hit[1]))


class LockedJsonFile:
    """A JSON object in <dir>/<key>.<suffix>.json, read and rewritten only under an exclusive flock
    of <dir>/<key>.<suffix>.lock, held for microseconds (never while sleeping)."""

    def __init__(self, key: str, suffix: str, directory: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.dir = directory or default_dir()
        self.clock = clock
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(self.dir, f"{key}.{suffix}.json")
        self.lock_path = os.path.join(self.dir, f"{key}.{suffix}.lock")

    def _read(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def update(self, change: Callable[[dict, float], Any]) -> Any:
        """Run change(entries, now) under the lock; `entries` (changed in place) is written back."""
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = self._read()
                result = change(entries, self.clock())
                write_json_atomic(self.dir, self.path, entries)
                return result
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class ClaimBoard(LockedJsonFile):
    """Controller-wide claims on nodes, so concurrent reservations from this controller offer
    Ironic different nodes instead of racing for the same ones (each lost race costs a failed
    allocation, its DELETE and a new POST). Only a hint: Ironic's allocation stays the authority,
    claims expire after `ttl`, and a process that finds nothing unclaimed races as before.

    File <dir>/<key>.claims.json: {node_uuid: {"owner": instance name, "until": clock()}}.
    """

    def __init__(self, key: str, ttl: float = 120.0, directory: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(key, "claims", directory, clock)
        self.ttl = ttl

    def claim(self, owner: str, choose: Callable[[dict], str | None]) -> str | None:
        """Under the lock: drop expired claims, let `choose({node: owner})` pick a node (or None),
        record the pick for `owner` and return it."""
        def change(claims: dict, now: float) -> str | None:
            live = {n: c for n, c in claims.items() if isinstance(c, dict) and float(c.get("until", 0)) > now}
            claims.clear()
            claims.update(live)
            picked = choose({n: c.get("owner") for n, c in live.items()})
            if picked:
                claims[picked] = {"owner": owner, "until": now + self.ttl}
            return picked
        return self.update(change)


def next_slot(now: float, booked_until: float, spacing: float) -> tuple[float, float]:
    """(when this caller may send, the new booked_until): slots at least `spacing` apart."""
    slot = max(now, booked_until)
    return slot, slot + spacing


class Pacer:
    """Spaces one kind of request across all worker processes on the controller.

    Why: Ironic on sqlite fails allocations ("database is locked") when many are processed at
    once; each failure costs a DELETE and a new POST. Booking send times `spacing` apart under a
    flock (held for microseconds, never while sleeping) spreads a burst of N hosts over
    N * spacing seconds instead.
    """

    def __init__(self, key: str, spacing: float, directory: str | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.dir = directory or default_dir()
        self.spacing = spacing
        self.clock = clock
        self.sleep = sleep
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(self.dir, f"{key}.pace")

    def wait_turn(self) -> float:
        """Book the next free slot, sleep until it; returns the seconds slept."""
        if self.spacing <= 0:
            return 0.0
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                try:
                    booked = float(fh.read().strip() or 0)
                except ValueError:
                    booked = 0.0
                now = self.clock()
                slot, booked = next_slot(now, booked, self.spacing)
                fh.seek(0)
                fh.truncate()
                fh.write(repr(booked))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        delay = max(0.0, slot - now)
        if delay:
            self.sleep(delay)
        return delay


class AdmissionBoard(LockedJsonFile):
    """The busy gate's controller-wide record of deploy requests let through (see busy_gate.py).

    File <dir>/<key>.admissions.json: {node_uuid: Admission.as_dict()}; change it with update().
    """

    def __init__(self, key: str, directory: str | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(key, "admissions", directory, clock)
