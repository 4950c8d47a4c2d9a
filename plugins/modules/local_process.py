# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: local_process
short_description: Run a local daemon detached, tracked by a pidfile (used for the embedded Ironic)
version_added: 0.1.0
description:
  - Starts a command on the controller in its own session (C(setsid)), detached from Ansible so it
    keeps running after C(ansible-playbook) exits; stdout and stderr go to O(log_file) and its PID
    to O(pidfile).
  - Stops exactly the PID in O(pidfile), and only after checking that C(/proc/PID/cmdline) still
    carries every string of O(match); a PID reused by another program is never signalled.
    C(SIGTERM) first, C(SIGKILL) to the daemon's own process group after O(stop_timeout).
  - A stale pidfile (process gone, a zombie, or PID reused) is detected and replaced or removed.
  - With O(fingerprint), a running daemon started with a different fingerprint (for example an
    old configuration) is restarted; with the same one nothing changes.
  - With O(wait_url), waits until that URL answers; if the daemon exits or the timeout passes,
    fails with the tail of O(log_file).
  - The M(ironwave.baremetal.local_process) module is what the P(ironwave.baremetal.local_ironic#role)
    role uses; it is not a general service manager (use systemd for production services).
author:
  - ironwave.baremetal developers (@ironwave)
options:
  state:
    description:
      - C(started) starts the daemon unless it already runs with the same O(fingerprint).
      - C(restarted) always stops and starts it.
      - C(stopped) stops it and removes O(pidfile).
    type: str
    choices: [started, stopped, restarted]
    default: started
  command:
    description:
      - The command and its arguments (no shell). Required unless O(state=stopped).
      - Use absolute paths, so that the cmdline check is unambiguous.
    type: list
    elements: str
  pidfile:
    description: Where the PID is recorded. A C(.fingerprint) file is kept next to it.
    type: path
    required: true
  match:
    description:
      - Strings that must each be a whole token of C(/proc/PID/cmdline) for the PID to count as
        ours. Defaults to every element of O(command).
      - Required with O(state=stopped) when O(command) is not given.
    type: list
    elements: str
  log_file:
    description: File that receives the daemon's stdout and stderr (appended). Required to start.
    type: path
  chdir:
    description: Working directory of the daemon.
    type: path
  environment:
    description: Extra environment variables for the daemon.
    type: dict
    default: {}
  fingerprint:
    description:
      - Opaque string describing what the daemon was started with (for example the checksum of
        its configuration file and its version). A running daemon with a different recorded
        fingerprint is restarted.
    type: str
  listen_port:
    description:
      - TCP port on 127.0.0.1 the daemon will listen on. Before starting, the module fails if
        something else already listens there (so that O(wait_url) cannot be answered by another
        process).
    type: int
  wait_url:
    description: URL that must answer (any HTTP status below 500) before the module returns.
    type: str
  wait_timeout:
    description: Seconds to wait for O(wait_url).
    type: int
    default: 90
  stop_timeout:
    description: Seconds to wait after C(SIGTERM) before sending C(SIGKILL).
    type: int
    default: 30
  log_lines:
    description: How many lines of O(log_file) to show when starting fails.
    type: int
    default: 40
notes:
  - Supports check mode and diff mode.
  - Linux only (reads C(/proc)).
attributes:
  check_mode:
    description: Reports what would be started, stopped or restarted, without doing it.
    support: full
  diff_mode:
    description: Shows the running state and PID before and after.
    support: full
"""

EXAMPLES = r"""
- name: Run the embedded Ironic
  ironwave.baremetal.local_process:
    command: [/srv/ironic/venv/bin/ironic, --config-file, /srv/ironic/ironic.conf]
    pidfile: /srv/ironic/ironic.pid
    log_file: /srv/ironic/ironic.log
    fingerprint: "{{ ironic_conf.checksum }}"
    listen_port: 6385
    wait_url: http://127.0.0.1:6385/v1

- name: Stop it (only if that PID really is this Ironic)
  ironwave.baremetal.local_process:
    state: stopped
    pidfile: /srv/ironic/ironic.pid
    match: [/srv/ironic/ironic.conf]
"""

RETURN = r"""
pid:
  description: PID of the running daemon (null when stopped).
  returned: always
  type: int
  sample: 41234
previous_pid:
  description: PID found in the pidfile before the module ran (null when none).
  returned: always
  type: int
  sample: 40011
action:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [none, start, stop, restart]
reason:
  description: Why that action was chosen.
  returned: always
  type: str
  sample: configuration changed since it was started
log_file:
  description: The daemon's log file.
  returned: when given
  type: str
"""

import os
import signal
import socket
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

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


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default=lp.STARTED, choices=list(lp.STATES)),
            command=dict(type="list", elements="str"),
            pidfile=dict(type="path", required=True),
            match=dict(type="list", elements="str"),
            log_file=dict(type="path"),
            chdir=dict(type="path"),
            environment=dict(type="dict", default={}),
            fingerprint=dict(type="str"),
            listen_port=dict(type="int"),
            wait_url=dict(type="str"),
            wait_timeout=dict(type="int", default=90),
            stop_timeout=dict(type="int", default=30),
            log_lines=dict(type="int", default=40),
        ),
        required_if=[
            ("state", lp.STARTED, ("command", "log_file")),
            ("state", lp.RESTARTED, ("command", "log_file")),
        ],
        required_one_of=[("command", "match")],
        supports_check_mode=True,
    )
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

    def fail(msg: str) -> None:
        tail = lp.log_tail(_read(log_file) or "", p["log_lines"]) if log_file else ""
        module.fail_json(msg=f"{msg}\n--- last lines of {log_file} ---\n{tail}" if tail else msg,
                         **{k: v for k, v in result.items() if k != "changed"})

    if module.check_mode:
        after = dict(before)
        if decision.action in (lp.START, lp.RESTART):
            after = {"running": True, "pid": "(new)", "fingerprint": p["fingerprint"]}
        elif decision.action == lp.STOP:
            after = {"running": False, "pid": None, "fingerprint": None}
        module.exit_json(diff=dict(before=before, after=after), **result)

    if decision.action in (lp.STOP, lp.RESTART):
        stop(observed.pid, match, p["stop_timeout"])
    if decision.drop_pidfile or decision.action in (lp.STOP, lp.RESTART):
        _unlink(pidfile)
        _unlink(fp_file)

    if decision.action in (lp.START, lp.RESTART):
        if p["listen_port"] and port_in_use(p["listen_port"]):
            fail(f"127.0.0.1:{p['listen_port']} is already in use by another process; choose "
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
            if decision.action in (lp.START, lp.RESTART) and proc.poll() is not None:
                _unlink(pidfile)
                _unlink(fp_file)
                fail(f"the daemon (PID {pid}) exited with code {proc.returncode} before "
                     f"{p['wait_url']} answered")
            if _gone(pid, match):
                fail(f"the daemon (PID {pid}) is not running any more")
            if time.monotonic() >= deadline:
                fail(f"{p['wait_url']} did not answer within {p['wait_timeout']} s "
                     f"(PID {pid} is still running; see {log_file})")
            time.sleep(0.5)

    after = {"running": result["pid"] is not None, "pid": result["pid"],
             "fingerprint": p["fingerprint"] if result["pid"] is not None else None}
    module.exit_json(diff=dict(before=before, after=after), **result)


if __name__ == "__main__":
    main()
