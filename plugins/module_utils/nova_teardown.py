# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Delete a server by name and wait until Nova no longer lists it (nova_server state=absent)."""
from __future__ import annotations

import time
from typing import Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors

HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"


def delete_server(io, name: str, check_mode: bool, timeout: float = 1800.0, poll_interval: float = 2.0,
                  clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict:
    servers = io.nova.server_named(name)
    nodes = [s.get(HYPERVISOR) for s in servers]
    result = {"changed": bool(servers), "deleted": [s["id"] for s in servers], "nodes": nodes,
              "diff": {"before": {"servers": [s["id"] for s in servers]}, "after": {"servers": []}}}
    if check_mode or not servers:
        return result
    for server in servers:
        io.nova.delete_server(server["id"])
    deadline = clock() + timeout
    while any(io.nova.get_server(s["id"]) is not None for s in servers):
        if clock() >= deadline:
            raise errors.DeploymentFailed(f"server {name} was still listed {timeout:.0f} s after its deletion; "
                                          "look at nova-compute's log", kind="nova_delete_timeout", **result)
        sleep(poll_interval)
    return result
