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
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"fetched_at": fetched_at, "data": data}, fh)
        os.replace(tmp, self.path)  # atomic: readers never see half a file

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
