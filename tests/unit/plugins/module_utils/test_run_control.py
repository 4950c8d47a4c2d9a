# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import (
    RunControl, backpressure_signal_path, control_path, guard_for_controller, process_start)
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.run_control_file import RunControlFile


def test_empty_guard_never_stops():
    guard = RunControl.from_params(None)
    assert guard.alive()
    guard.check("deploying")
    assert guard.busy_limit(6) == 6


def test_guard_of_this_process_is_alive(tmp_path):
    guard = RunControl.from_params({**guard_for_controller(os.getpid()), "control": str(tmp_path / "c.json")})
    assert guard.alive()
    guard.check("deploying")


def test_guard_of_a_dead_process_stops_without_sending():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    value = guard_for_controller(proc.pid)
    proc.wait()
    guard = RunControl.from_params(value)
    assert not guard.alive()
    with pytest.raises(errors.RunGone) as info:
        guard.check("sending the deploy request")
    assert info.value.kind == "run_gone"
    assert f"PID {proc.pid}" in info.value.msg and "nothing was sent" in info.value.msg


def test_a_killed_run_not_yet_reaped_is_gone():
    """kill -9 of ansible-playbook leaves a zombie (same PID, same start time in /proc) until its
    parent reaps it; its orphans must stop then, not when (or if) the parent gets round to it."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        value = guard_for_controller(proc.pid)
        assert value["start"]
        proc.kill()
        for _attempt in range(500):        # wait for the zombie without reaping it
            with open(f"/proc/{proc.pid}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        else:
            pytest.fail("the child never became a zombie")
        assert process_start(proc.pid) == ""
        guard = RunControl.from_params(value)
        assert not guard.alive()
        with pytest.raises(errors.RunGone):
            guard.check("sending the deploy request")
    finally:
        proc.kill()
        proc.wait()


def test_a_reused_pid_is_not_our_run():
    """Same PID, other start time: the run we belong to is gone."""
    guard = RunControl(pid=os.getpid(), start="1", start_of=lambda pid: "2")
    assert not guard.alive()


def test_halt_published_by_the_strategy_stops_waiting_tasks(tmp_path):
    writer = RunControlFile(str(tmp_path / "run.json"))
    guard = RunControl(pid=os.getpid(), start=process_start(os.getpid()), control=writer.path)
    guard.check("deploying")
    writer.publish(halted="failure budget of wave 2 exceeded")
    with pytest.raises(errors.RunGone) as info:
        guard.check("deploying node x")
    assert info.value.kind == "halted" and "failure budget of wave 2" in info.value.msg


def test_busy_limit_only_lowers_and_never_below_one(tmp_path):
    writer = RunControlFile(str(tmp_path / "run.json"))
    guard = RunControl(control=writer.path)
    assert guard.busy_limit(6) == 6
    writer.publish(busy_limit=2)
    assert guard.busy_limit(6) == 2
    writer.publish(busy_limit=10)
    assert guard.busy_limit(6) == 6
    writer.publish(busy_limit=0)
    assert guard.busy_limit(6) == 6
    writer.publish(busy_limit=None)
    assert guard.busy_limit(6) == 6 and writer.publish() == {}


def test_writer_path_matches_what_workers_are_given(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONWAVE_RUN_CONTROL_DIR", str(tmp_path))
    assert RunControlFile.for_this_process().path == guard_for_controller(os.getpid())["control"]
    assert control_path(1, "5", str(tmp_path)).endswith("ironwave-run-1-5.json")


def test_bad_pid_is_bad_input():
    with pytest.raises(errors.BadInput, match="run_guard.pid"):
        RunControl.from_params({"pid": "abc"})


def test_backpressure_signal_names_the_host_and_needs_a_run(tmp_path):
    writer = RunControlFile(str(tmp_path / "run.json"))
    assert not RunControl(control=writer.path).report_backpressure()          # no host: nothing to name
    assert not RunControl(host="a").report_backpressure()                     # no run to tell
    guard = RunControl.from_params({"pid": os.getpid(), "control": writer.path, "host": "rack1/node 7"})
    assert guard.report_backpressure() and guard.report_backpressure()
    assert writer.backpressure_signalled("rack1/node 7") and not writer.backpressure_signalled("rack1")
    assert os.path.dirname(backpressure_signal_path(writer.path, "rack1/node 7")) == str(tmp_path)
    writer.clear_backpressure("rack1/node 7")
    assert not writer.backpressure_signalled("rack1/node 7")
    assert guard_for_controller(os.getpid(), "web-1")["host"] == "web-1"
    assert "host" not in guard_for_controller(os.getpid())
