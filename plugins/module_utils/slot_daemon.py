# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Run a held slot's refresher (slot_refresh) in a detached process, and stop it (OS plumbing).

wave_slot returns as soon as it holds the slot, but the marker must be rewritten until the node
turns busy or the slot is released. The refresher is forked from the module (everything is
imported already; the parent's connection is not reused), detached from the task's stdio (so
Ansible, reading the module's output, never waits for it) and from its session. Its PID file
(<poll cache dir>/slot-refresh-<key>.pid: pid and start time) lets the release of the same run
stop it before removing the marker, so that the two can never race.
"""
from __future__ import annotations

import json
import os
import signal
import time
from typing import Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import (
    cache_key, default_dir, write_json_atomic)
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import process_start


def pidfile_path(run_id: str, node_uuid: str, directory: str | None = None) -> str:
    base = directory or default_dir()
    os.makedirs(base, mode=0o700, exist_ok=True)
    return os.path.join(base, f"slot-refresh-{cache_key(run_id, node_uuid)}.pid")


def _read_pidfile(path: str) -> tuple[int, str] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return int(data["pid"]), str(data["start"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(path: str) -> int | None:
    """The PID of the refresher named in `path` while it runs."""
    hit = _read_pidfile(path)
    if hit and process_start(hit[0]) == hit[1]:
        return hit[0]
    return None


def stop(path: str, wait: float, sleep: Callable[[float], None] = time.sleep) -> bool:
    """SIGTERM the refresher named in `path` and wait until it has exited (it finishes a write in
    flight first). True when none runs any more."""
    hit = _read_pidfile(path)
    if not hit or process_start(hit[0]) != hit[1]:
        return True
    try:
        os.kill(hit[0], signal.SIGTERM)
    except ProcessLookupError:
        return True
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if process_start(hit[0]) != hit[1]:
            return True
        sleep(0.05)
    return process_start(hit[0]) != hit[1]


def _detach_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)


def spawn(path: str, target: Callable[[Callable[[], bool]], str], log: str | None = None) -> int | None:
    """Run target(stopped) in a detached grandchild; record its PID in `path` before returning."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            os.setsid()
            grandchild = os.fork()
            if grandchild:
                os.write(write_end, str(grandchild).encode())
                os._exit(0)
            os.close(write_end)
            _detach_stdio()
            flag = {"stop": False}
            signal.signal(signal.SIGTERM, lambda *_a: flag.__setitem__("stop", True))
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            reason = "error"
            try:
                reason = target(lambda: flag["stop"])
            except BaseException as exc:  # noqa: BLE001 - a daemon has nobody to raise to
                reason = f"error: {exc!r}"
            finally:
                if running(path) == os.getpid():
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
                if log:
                    try:
                        with open(log, "a", encoding="utf-8") as fh:
                            fh.write(f"{time.time():.3f} {os.getpid()} {reason}\n")
                    except OSError:
                        pass
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        data = os.read(read_end, 32)
    finally:
        os.close(read_end)
        os.waitpid(child, 0)
    if not data:
        return None
    pid = int(data)
    write_json_atomic(os.path.dirname(path), path, {"pid": pid, "start": process_start(pid)})
    return pid
