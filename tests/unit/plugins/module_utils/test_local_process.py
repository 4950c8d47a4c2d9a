# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import os

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import local_process as lp

CONF = "/x/ironic.conf"
IRONIC_TITLE = b"ironic: master process [/x/venv/bin/ironic --config-file /x/ironic.conf]"


@pytest.mark.parametrize("text, pid", [
    ("1234\n", 1234), ("  99  ", 99), ("", None), (None, None), ("abc", None), ("1", None),
    ("0", None), ("-5", None), ("77\nextra\n", 77), ("\n\n", None),
])
def test_parse_pidfile(text, pid):
    assert lp.parse_pidfile(text) == pid


def test_cmdline_tokens_setproctitle_and_argv():
    assert lp.cmdline_tokens(IRONIC_TITLE) == (
        "ironic:", "master", "process", "/x/venv/bin/ironic", "--config-file", "/x/ironic.conf")
    assert lp.cmdline_tokens(b"/bin/sleep\x00100\x00") == ("/bin/sleep", "100")


def test_matches_whole_tokens_only():
    tokens = lp.cmdline_tokens(b"ironic [--config-file /x/ironic.conf.bak]")
    assert not lp.matches(tokens, [CONF])
    assert lp.matches(lp.cmdline_tokens(IRONIC_TITLE), [CONF])
    assert lp.matches(lp.cmdline_tokens(IRONIC_TITLE), ["/x/venv/bin/ironic", CONF])
    assert not lp.matches(lp.cmdline_tokens(IRONIC_TITLE), [])


def test_proc_state_with_odd_command_names():
    assert lp.proc_state("123 (ironic: master) S 1 123 123 0") == "S"
    assert lp.proc_state("123 (a) b) (c)) Z 1 2") == "Z"


def _fake_proc(root, pid, state, cmdline: bytes):
    d = root / str(pid)
    d.mkdir()
    (d / "stat").write_text(f"{pid} (ironic) {state} 1 {pid} {pid}")
    (d / "cmdline").write_bytes(cmdline)


def test_observe(tmp_path):
    _fake_proc(tmp_path, 10, "S", IRONIC_TITLE)
    _fake_proc(tmp_path, 11, "S", b"/usr/bin/vim\x00notes\x00")
    _fake_proc(tmp_path, 12, "Z", b"")
    root = str(tmp_path)
    assert lp.observe(10, [CONF], "f", root) == lp.Observed(10, True, False, "f")
    assert lp.observe(11, [CONF], None, root) == lp.Observed(11, False, True, None)
    assert lp.observe(12, [CONF], None, root) == lp.Observed(12, False, False, None)  # zombie: gone
    assert lp.observe(13, [CONF], None, root) == lp.Observed(13, False, False, None)  # no such PID
    assert lp.observe(None, [CONF], None, root) == lp.Observed()


def test_observe_real_proc_sees_this_process():
    me = lp.observe(os.getpid(), ["--never-in-a-cmdline--"], None)
    assert me.foreign and not me.running


RUNNING = lp.Observed(pid=10, running=True, fingerprint="a")
GONE = lp.Observed(pid=10)
REUSED = lp.Observed(pid=10, foreign=True)


@pytest.mark.parametrize("wanted, observed, fingerprint, action, drop", [
    ("started", lp.Observed(), "a", lp.START, False),
    ("started", RUNNING, "a", lp.NONE, False),
    ("started", RUNNING, None, lp.NONE, False),
    ("started", RUNNING, "b", lp.RESTART, False),
    ("started", GONE, "a", lp.START, True),
    ("started", REUSED, "a", lp.START, True),
    ("restarted", RUNNING, "a", lp.RESTART, False),
    ("restarted", GONE, "a", lp.START, True),
    ("stopped", RUNNING, None, lp.STOP, True),
    ("stopped", GONE, None, lp.NONE, True),
    ("stopped", REUSED, None, lp.NONE, True),  # never signal a PID that is not ours
    ("stopped", lp.Observed(), None, lp.NONE, False),
])
def test_plan(wanted, observed, fingerprint, action, drop):
    decision = lp.plan(wanted, observed, fingerprint)
    assert (decision.action, decision.drop_pidfile) == (action, drop)


def test_plan_reasons_and_bad_state():
    assert "another program" in lp.plan("stopped", REUSED).reason
    assert "configuration changed" in lp.plan("started", RUNNING, "b").reason
    with pytest.raises(ValueError, match="state must be one of"):
        lp.plan("running", RUNNING)


def test_log_tail():
    assert lp.log_tail("a\nb\nc\n", 2) == "b\nc"
    assert lp.log_tail("", 5) == ""


def test_spawn_detached_own_session_and_log(tmp_path):
    log = tmp_path / "d.log"
    proc = lp.spawn_detached(["/bin/sh", "-c", "echo out; echo err >&2"], str(log), cwd=str(tmp_path))
    assert proc.wait(10) == 0
    assert log.read_text().split() == ["out", "err"]
    sleeper = lp.spawn_detached(["sleep", "30"], str(log))
    try:
        assert os.getsid(sleeper.pid) == sleeper.pid and os.getpgid(sleeper.pid) == sleeper.pid
        assert lp.observe(sleeper.pid, ["sleep", "30"], None).running
    finally:
        sleeper.kill()
        sleeper.wait()
