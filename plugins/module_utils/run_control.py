# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Is the run that started this task still there, and what did its strategy decide? (read side)

Ansible's workers call setsid(), so they survive a `kill -9` (or OOM kill) of ansible-playbook and
would go on waiting at a gate and then deploy. Our action plugins therefore hand every cloud module
a `run_guard`: the PID and start time of the ansible-playbook process and the path of the file
where its wave strategy publishes decisions the workers must honour at once (a busy limit lowered
after backpressure, a halt after the failure budget tripped). A waiting loop calls `check()` every
tick and right before it sends a mutating request.

No network; reads /proc and one small local JSON file. The writer is
plugins/plugin_utils/run_control_file.py (controller side)."""
from __future__ import annotations

import json
import os
import tempfile
from urllib.parse import quote
from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors

RUN_GUARD_OPTION = "run_guard"
CONTROL_DIR_ENV = "IRONWAVE_RUN_CONTROL_DIR"


def process_start(pid: int) -> str:
    """A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), "" if gone,
    dead or unknown. With the PID it names one process even after the PID is reused.

    A killed process keeps its /proc entry, start time included, until its parent reaps it (a
    zombie, state Z; X while being reaped): that is "gone" too - a parent that is slow to reap
    (or never does) must not keep a killed run's orphans deploying."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            # The command name (field 2) may contain spaces: split after its closing ')'.
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return ""
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return ""
    return fields[19]


def control_path(pid: int, start: str, directory: str | None = None) -> str:
    """Where the run (pid, start) publishes its decisions."""
    base = directory or os.environ.get(CONTROL_DIR_ENV) or tempfile.gettempdir()
    return os.path.join(base, f"ironwave-run-{pid}-{start or 'x'}.json")


def backpressure_signal_path(control: str, host: str) -> str:
    """Where a task of inventory host `host` signals that the cloud pushed back (HTTP 503 limit):
    next to the run's control file, one empty file per host, read by the strategy every poll."""
    return f"{control}.backpressure.{quote(host, safe='')}"


def guard_for_controller(pid: int, host: str | None = None) -> dict[str, Any]:
    """The run_guard value for tasks of the ansible-playbook process `pid` (the action plugin
    passes os.getppid(): workers are forked from it) on inventory host `host`."""
    start = process_start(pid)
    guard: dict[str, Any] = {"pid": pid, "start": start, "control": control_path(pid, start)}
    if host:
        guard["host"] = host
    return guard


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


@dataclass(frozen=True)
class RunControl:
    """The guard of one task. An empty guard (module run outside our action plugins) never stops."""

    pid: int | None = None
    start: str = ""
    control: str | None = None
    host: str = ""
    start_of: Callable[[int], str] = process_start

    @classmethod
    def from_params(cls, value: dict | None) -> "RunControl":
        if not value:
            return cls()
        try:
            pid = int(value.get("pid")) if value.get("pid") is not None else None
        except (TypeError, ValueError) as exc:
            raise errors.BadInput(f"run_guard.pid: not a PID ({value.get('pid')!r}); leave run_guard "
                                  "to the action plugin") from exc
        return cls(pid=pid, start=str(value.get("start") or ""), control=value.get("control") or None,
                   host=str(value.get("host") or ""))

    def alive(self) -> bool:
        """False once the ansible-playbook process is gone (or its PID belongs to another process)."""
        if self.pid is None:
            return True
        now = self.start_of(self.pid)
        if not now:
            # /proc has no entry: gone (on systems without /proc fall back to a signal probe).
            if os.path.isdir("/proc/self"):
                return False
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return not self.start or now == self.start

    def state(self) -> dict:
        """What the strategy published: {"busy_limit": int, "halted": reason, ...} (may be empty)."""
        return _read_json(self.control) if self.control else {}

    def halted(self) -> str | None:
        reason = self.state().get("halted")
        return str(reason) if reason else None

    def busy_limit(self, configured: int) -> int:
        """The busy limit to apply now: the configured one, lowered by what the strategy published
        (after backpressure), never below 1 and never above the configured value."""
        published = self.state().get("busy_limit")
        if isinstance(published, int) and not isinstance(published, bool) and published > 0 and configured > 0:
            return max(1, min(configured, published))
        return configured

    def report_backpressure(self) -> bool:
        """Tell the strategy now, not when the task ends, that the cloud pushed back on this host's
        request: it lowers the window and the busy limit at its next poll, before the prefetched
        hosts waiting at the busy gate are admitted at the old limit. Best effort (False when there
        is no run to tell or the file cannot be written: the result fact still reports it)."""
        if not self.control or not self.host:
            return False
        try:
            with open(backpressure_signal_path(self.control, self.host), "a", encoding="utf-8"):
                pass
        except OSError:
            return False
        return True

    def check(self, what: str) -> None:
        """Raise errors.RunGone when the run is gone or halted; `what` names the step not taken."""
        if not self.alive():
            raise errors.RunGone(
                f"the ansible-playbook run (PID {self.pid}) that started this task is gone; not {what} "
                "(nothing was sent). Rerun the playbook", kind="run_gone")
        reason = self.halted()
        if reason:
            raise errors.RunGone(f"the run was halted ({reason}); not {what} (nothing was sent)",
                                 kind="halted")
