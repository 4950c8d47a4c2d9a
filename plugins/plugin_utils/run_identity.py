# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The run id of this ansible-playbook run, as the controller knows it (action plugins only):
the same for every host of one run, different between runs (slot_lease.derive_run_id gives the
order of sources)."""
from __future__ import annotations

import os
import socket
from typing import Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import process_start
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_lease import derive_run_id


def controller_run_id(task_vars: Mapping) -> tuple[str, str]:
    """(run id, its source). Workers are forked from the ansible-playbook process: its PID and
    start time name this run when nothing else does."""
    ppid = os.getppid()
    return derive_run_id(os.environ, task_vars, socket.gethostname().split(".")[0], ppid, process_start(ppid))
