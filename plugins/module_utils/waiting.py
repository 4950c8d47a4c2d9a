# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Wait for nodes to reach a provision state (the flow behind node_wait), from the node listing
every waiting host shares; returns the task result or raises a typed error (errors.*)."""
from __future__ import annotations

import time
from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, input_checks
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import (
    association_error, expectation, wait_for_states)

REPORT_KEYS = ("name", "provision_state", "target_provision_state", "last_error")


def wait_nodes(ops, p: dict[str, Any], clock=time.monotonic) -> dict:
    expected = expectation(p)
    input_checks.require(
        "nodes: instance_name/instance_uuid check one node; give exactly one node in 'nodes' or drop "
        "instance_name/instance_uuid" if expected.given and len(p["nodes"]) != 1 else None,
        input_checks.more_than_zero("poll_interval", p["poll_interval"]),
        input_checks.more_than_zero("timeout", p["timeout"]),
        input_checks.poll_fits("poll_interval", p["poll_interval"], "timeout", p["timeout"]))
    start = clock()
    by_ident = {}
    for n in ops.shared_nodes(ttl=p["poll_interval"]):
        by_ident[n["uuid"]] = n["uuid"]
        if n.get("name"):
            by_ident[n["name"]] = n["uuid"]
    missing = [i for i in p["nodes"] if i not in by_ident]
    if missing:
        raise errors.NotFound(f"nodes: not found: {', '.join(missing)}; check the names/UUIDs and the cloud")
    uuids = [by_ident[i] for i in p["nodes"]]
    nodes, timed_out = wait_for_states(ops, uuids, {p["target"]}, p["timeout"], p["poll_interval"],
                                       frozenset(p["failure_states"]))
    report = {u: {k: (n or {}).get(k) for k in REPORT_KEYS} for u, n in nodes.items()}
    reached = [u for u, n in report.items() if n["provision_state"] == p["target"] and not n["target_provision_state"]]
    failed = [u for u, n in report.items() if n["provision_state"] in p["failure_states"]]
    result = dict(changed=False, nodes=report, reached=reached, failed=failed, timed_out=timed_out,
                  elapsed=round(clock() - start, 1))
    if failed or timed_out:
        parts = [f"{report[u]['name'] or u}: {report[u]['provision_state']} ({report[u]['last_error']})" for u in failed]
        if timed_out:
            parts.append(f"timed out after {p['timeout']} s with "
                         f"{len(uuids) - len(reached) - len(failed)} node(s) still pending")
        raise errors.IronwaveError("; ".join(parts), "timeout" if timed_out and not failed else "failed_state",
                                   **result)
    if expected.given:
        verdict = ops.classify(nodes[uuids[0]], expected)
        result["association"] = verdict.verdict
        if verdict.owner != assoc.OWNER_OURS:
            raise errors.AssociationRefused(association_error(verdict, "accept the wait result"), verdict.verdict,
                                            **result)
    return result
