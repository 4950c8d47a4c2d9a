# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Fake-hardware nodes for tests and benchmarks, made available the way an operator would."""
from __future__ import annotations

from typing import Any, Callable


# Deploy steps node_deploy refuses before writing anything (no "step"): makes one host's deploy fail.
REFUSED_DEPLOY_STEPS = [{"interface": "deploy", "args": {}, "priority": 50}]


def make_available(conn, names: list[str], timeout: float = 120, power_off: bool = True,
                   node_fields: Callable[[int], dict[str, Any]] = lambda i: {}) -> list:
    """Create `names` as fake-hardware nodes and bring them to `available` (manage → provide);
    powered off by default, since allocations skip nodes without a power state. Returns the
    openstacksdk node objects as created (re-read them for current fields)."""
    nodes = [conn.baremetal.create_node(driver="fake-hardware", name=name, **node_fields(i))
             for i, name in enumerate(names)]
    for n in nodes:
        conn.baremetal.set_node_provision_state(n, "manage")
    conn.baremetal.wait_for_nodes_provision_state(nodes, "manageable", timeout=timeout)
    for n in nodes:
        conn.baremetal.set_node_provision_state(n, "provide")
    conn.baremetal.wait_for_nodes_provision_state(nodes, "available", timeout=timeout)
    if power_off:
        for n in nodes:
            conn.baremetal.set_node_power_state(n, "power off")
    return nodes
