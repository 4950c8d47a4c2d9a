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


ADMISSION_DIR_ENV = "IRONWAVE_BUSY_GATE_DIR"
# One directory per host for every user and $TMPDIR (see busy_gate.py for the guarantee it gives).
DEFAULT_ADMISSION_DIR = "/tmp/ironwave-busy-gate"


def admission_dir() -> str:
    """The busy gate's board directory: $IRONWAVE_BUSY_GATE_DIR, else a fixed path that does not
    depend on the user or $TMPDIR, so every run on this host that reaches the same Ironic shares
    one board (AWX jobs with a private /tmp share it only when it is exposed to them)."""
    return os.environ.get(ADMISSION_DIR_ENV) or DEFAULT_ADMISSION_DIR


def endpoint_identity(endpoint: str) -> str:
    """The bare metal endpoint as reached, normalised: scheme and host lower case, default ports
    and trailing slashes dropped, ending in /v1. Two spellings of one cloud (a name, OS_CLOUD, an
    inline dict) reach the same endpoint and so share one board."""
    from urllib.parse import urlsplit
    parts = urlsplit(endpoint.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{scheme}://{netloc}{path}"


def _ensure_shared_dir(directory: str) -> None:
    """Create the directory writable by every user (sticky, like /tmp) when it is missing."""
    if os.path.isdir(directory):
        return
    try:
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o1777)
    except PermissionError:
        pass  # made by another user meanwhile (or not ours to chmod): use it as it is


def _open_shared(path: str):
    """Open (create) a file read-write for every user; the caller owns the descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        os.fchmod(fd, 0o666)
    except PermissionError:
        pass  # another user's file: it was made 0666 by them
    return fd


def process_alive(pid: int, start: str) -> bool:
    """Whether the process (pid, start time) still runs on this host."""
    from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import process_start
    now = process_start(pid)
    if not now:
        return not os.path.isdir("/proc/self")  # no /proc: cannot tell, keep counting until `until`
    return not start or now == start


class AdmissionBoard(LockedJsonFile):
    """The busy gate's record of deploy requests let through (see busy_gate.py), shared by every
    process on this host that reaches the same bare metal endpoint.

    File <dir>/<key>.admissions.json: {node_uuid: Admission.as_dict()}; change it with update().
    Other users' processes share it, so files are 0666 and rewritten in place under the lock (in a
    sticky directory a rename over another user's file is refused).
    """

    def __init__(self, key: str, directory: str | None = None, clock: Callable[[], float] = time.time) -> None:
        directory = directory or admission_dir()
        _ensure_shared_dir(directory)
        super().__init__(key, "admissions", directory, clock)

    @classmethod
    def for_endpoint(cls, endpoint: str, directory: str | None = None,
                     clock: Callable[[], float] = time.time) -> "AdmissionBoard":
        return cls(cache_key("admissions", endpoint_identity(endpoint)), directory, clock)

    def _read_fd(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        try:
            data = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def update(self, change: Callable[[dict, float], Any]) -> Any:
        """Run change(entries, now) under the lock; `entries` (changed in place) is written back."""
        lock = _open_shared(self.lock_path)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = _open_shared(self.path)
            try:
                entries = self._read_fd(fd)
                result = change(entries, self.clock())
                data = json.dumps(entries).encode()
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                while data:
                    data = data[os.write(fd, data):]
                return result
            finally:
                os.close(fd)
        finally:
            os.close(lock)  # closing releases the flock
