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
extends_documentation_fragment:
  - ironwave.baremetal.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be started, stopped or restarted, without doing it.
  diff_mode:
    support: full
    details: Shows the running state and PID before and after.
  action_group:
    support: none
    membership: []
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

from ansible_collections.ironwave.baremetal.plugins.module_utils import local_process as lp
from ansible_collections.ironwave.baremetal.plugins.module_utils.local_process_run import manage
from ansible_collections.ironwave.baremetal.plugins.module_utils.module_base import ModuleBase


class LocalProcess(ModuleBase):
    argument_spec = dict(
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
    )
    module_kwargs = dict(
        required_if=[
            ("state", lp.STARTED, ("command", "log_file")),
            ("state", lp.RESTARTED, ("command", "log_file")),
        ],
        required_one_of=[("command", "match")],
    )

    def run(self) -> dict:
        return manage(self.ansible)


def main() -> None:
    LocalProcess()()


if __name__ == "__main__":
    main()
