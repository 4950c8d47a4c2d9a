# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Carry out local_process's decision (module_utils/local_process.py decides): read the pidfile,
stop exactly the recorded process, start a detached one, wait for its URL. I/O, used by the
local_process module."""
from __future__ import annotations

import os
import signal
import socket
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import local_process as lp


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _gone(pid: int, match: list[str]) -> bool:
    return not lp.observe(pid, match, None).running


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def stop(pid: int, match: list[str], timeout: int) -> str:
    """SIGTERM our verified PID; SIGKILL its own process group (we made it the leader with setsid)
    if it has not exited after `timeout`. Returns how it ended."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "already gone"
    ended = "terminated"
    if not _wait(lambda: _gone(pid, match), timeout):
        ended = "killed"
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _wait(lambda: _gone(pid, match), 10)
    # Workers it forked share its process group; none may outlive it (they would hold the port).
    if _group_alive(pid) and not _wait(lambda: not _group_alive(pid), 5):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return ended


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def url_answers(url: str) -> bool:
    try:
        response = open_url(url, timeout=2, validate_certs=False, use_proxy=False)
        return response.status < 500
    except HTTPError as exc:
        return exc.code < 500
    except (URLError, OSError):
        return False


def manage(module) -> dict:
    """Observe the recorded process, decide (module_utils/local_process.py), act, wait for it."""
    p = module.params
    pidfile: str = p["pidfile"]
    fp_file = f"{pidfile}.fingerprint"
    match: list[str] = p["match"] or p["command"]
    log_file = p["log_file"]

    observed = lp.observe(lp.parse_pidfile(_read(pidfile)), match, _read(fp_file))
    decision = lp.plan(p["state"], observed, p["fingerprint"])
    before = {"running": observed.running, "pid": observed.pid if observed.running else None,
              "fingerprint": observed.fingerprint if observed.running else None}
    changed = decision.action != lp.NONE or decision.drop_pidfile
    if observed.foreign:
        module.warn(decision.reason)
    result = dict(changed=changed, action=decision.action, reason=decision.reason,
                  previous_pid=observed.pid, pid=before["pid"], log_file=log_file)

    def failure(msg: str) -> errors.IronwaveError:
        tail = lp.log_tail(_read(log_file) or "", p["log_lines"]) if log_file else ""
        return errors.IronwaveError(f"{msg}\n--- last lines of {log_file} ---\n{tail}" if tail else msg,
                                    "daemon_failed", **{k: v for k, v in result.items() if k != "changed"})

    if module.check_mode:
        after = dict(before)
        if decision.action in (lp.START, lp.RESTART):
            after = {"running": True, "pid": "(new)", "fingerprint": p["fingerprint"]}
        elif decision.action == lp.STOP:
            after = {"running": False, "pid": None, "fingerprint": None}
        return dict(diff=dict(before=before, after=after), **result)

    if decision.action in (lp.STOP, lp.RESTART):
        stop(observed.pid, match, p["stop_timeout"])
    if decision.drop_pidfile or decision.action in (lp.STOP, lp.RESTART):
        _unlink(pidfile)
        _unlink(fp_file)

    proc = None
    if decision.action in (lp.START, lp.RESTART):
        if p["listen_port"] and port_in_use(p["listen_port"]):
            raise failure(f"127.0.0.1:{p['listen_port']} is already in use by another process; choose "
                          "another port (or stop that process) - nothing was started")
        log_dir = os.path.dirname(log_file)
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        env = dict(os.environ)
        env.update({k: str(v) for k, v in p["environment"].items()})
        proc = lp.spawn_detached(p["command"], log_file, p["chdir"], env)
        _write(pidfile, f"{proc.pid}\n")
        if p["fingerprint"] is not None:
            _write(fp_file, p["fingerprint"])
        result["pid"] = proc.pid
    elif decision.action == lp.STOP:
        result["pid"] = None

    if p["state"] != lp.STOPPED and p["wait_url"]:
        pid = result["pid"]
        deadline = time.monotonic() + p["wait_timeout"]
        while not url_answers(p["wait_url"]):
            if proc is not None and proc.poll() is not None:
                _unlink(pidfile)
                _unlink(fp_file)
                raise failure(f"the daemon (PID {pid}) exited with code {proc.returncode} before "
                              f"{p['wait_url']} answered")
            if _gone(pid, match):
                raise failure(f"the daemon (PID {pid}) is not running any more")
            if time.monotonic() >= deadline:
                raise failure(f"{p['wait_url']} did not answer within {p['wait_timeout']} s "
                              f"(PID {pid} is still running; see {log_file})")
            time.sleep(0.5)

    after = {"running": result["pid"] is not None, "pid": result["pid"],
             "fingerprint": p["fingerprint"] if result["pid"] is not None else None}
    return dict(diff=dict(before=before, after=after), **result)
