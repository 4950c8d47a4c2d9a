# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""slot_daemon and slot_proc on this machine's real processes: a detached refresher is found by its
PID file and stopped before a release; a marker's process identity says "gone" only when it can
see the process."""
from __future__ import annotations

import os
import time

from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_daemon, slot_proc
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import RunControl, process_start
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_lease import Proc


def _until_stopped(stopped) -> str:
    while not stopped():
        time.sleep(0.02)
    return "released"


def test_spawned_refresher_is_detached_found_and_stopped(tmp_path):
    path = slot_daemon.pidfile_path("run-1", "node-a", str(tmp_path))
    log = str(tmp_path / "refresh.log")
    pid = slot_daemon.spawn(path, _until_stopped, log=log)
    assert pid and slot_daemon.running(path) == pid
    assert os.getsid(pid) != os.getsid(0)                     # its own session, like Ansible's workers
    assert os.readlink(f"/proc/{pid}/fd/1") == os.devnull      # never holds the task's output open
    assert slot_daemon.stop(path, wait=5.0)
    assert slot_daemon.running(path) is None and not os.path.exists(path)
    assert open(log, encoding="utf-8").read().split()[-1] == "released"
    assert slot_daemon.stop(path, wait=1.0)                    # nothing to stop: fine


def test_run_proc_and_gone():
    me = RunControl(pid=os.getpid(), start=process_start(os.getpid()))
    proc = slot_proc.run_proc(me)
    assert proc is not None and proc.pid == os.getpid() and not slot_proc.gone(proc)
    dead = Proc(proc.boot, proc.pidns, proc.pid, "1")          # same PID, another start: reused PID
    assert slot_proc.gone(dead)
    elsewhere = Proc("another-boot", proc.pidns, 1, "1")       # cannot see it: never "gone"
    assert not slot_proc.gone(elsewhere)
    assert slot_proc.run_proc(RunControl()) is None


def test_a_process_hidden_from_proc_is_not_taken_for_gone(monkeypatch):
    proc = slot_proc.run_proc(RunControl(pid=os.getpid(), start=process_start(os.getpid())))
    monkeypatch.setattr(slot_proc, "process_start", lambda pid: "")       # hidepid: /proc entry unreadable
    assert not slot_proc.gone(Proc(proc.boot, proc.pidns, os.getpid(), "1"))
    assert slot_proc.gone(Proc(proc.boot, proc.pidns, 2 ** 22 + 12345, "1"))   # no such PID at all
