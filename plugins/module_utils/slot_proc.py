# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Which ansible-playbook process a slot marker belongs to, and whether it is provably gone (reads
/proc, nothing else).

A marker names its run's process by boot id + PID namespace + PID + start time. A reader that
shares the boot id and the PID namespace (the same controller, the same container) can see that
process: if it is gone, the marker is dead at once, so a rerun right after a `kill -9` is not held
up. Any other reader cannot tell and relies on the marker no longer changing (slot_lease)."""
from __future__ import annotations

import functools
import os

from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import RunControl, process_start
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_lease import Proc


@functools.lru_cache(maxsize=1)
def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


@functools.lru_cache(maxsize=1)
def pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def run_proc(guard: RunControl) -> Proc | None:
    """The Proc of the guard's ansible-playbook when this process can see it (None when the module
    runs elsewhere, e.g. delegated to another host, or without a guard)."""
    if guard.pid is None or not guard.start or not boot_id() or not pid_namespace():
        return None
    if process_start(guard.pid) != guard.start:
        return None
    return Proc(boot_id(), pid_namespace(), guard.pid, guard.start)


def gone(proc: Proc) -> bool:
    """True only when `proc` is visible from here (same boot, same PID namespace) and not running."""
    if not proc.boot or proc.boot != boot_id() or proc.pidns != pid_namespace():
        return False
    start = process_start(proc.pid)
    if start:
        return start != proc.start
    # No readable /proc entry: gone only if no such PID exists (another user's process may be
    # hidden by hidepid; kill(pid, 0) still tells it exists).
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
