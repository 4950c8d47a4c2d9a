# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""node_deploy's `phases` (issue 12, the report's timeline) against a real local Ironic: two nodes
deployed through one busy slot; the phases must follow each other, lie within the run, and name
the states Ironic logged moving the node to, at the times it logged them.

The module runs as a plain process (ironwave_testlib.module_runner), as Ansible ships it."""
from __future__ import annotations

import time
import uuid

import pytest
from ironwave_testlib import ironic_log
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nodes import make_available

GATE = ("reserved", "waiting", "admitted")
SLACK = 1.0   # Ironic stamps the row and logs the move in the same save, milliseconds apart


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("phases", fake_deploy_delay="2,3")


def reserve(conn, count: int) -> list[tuple[str, str]]:
    """`count` available nodes, each associated with an instance of its own: [(node, instance)]."""
    nodes = make_available(conn, [f"ph-{uuid.uuid4().hex[:8]}-{i}" for i in range(count)], power_off=False)
    out = []
    for n in nodes:
        inst = str(uuid.uuid4())
        conn.baremetal.patch_node(n, [{"op": "add", "path": "/instance_uuid", "value": inst}])
        out.append((n.id, inst))
    return out


def test_two_nodes_through_one_slot_report_ironics_phases(ironic, tmp_path):
    run = ModuleRunner(ironic.cloud, {**module_env(ironic.clouds_yaml, tmp_path / "poll"),
                                      "IRONWAVE_BUSY_GATE_DIR": str(tmp_path / "gate")}, tmp_path)
    before_reserve = time.time()
    (a, inst_a), (b, inst_b) = reserve(ironic.conn, 2)
    cursor = ironic_log.LogCursor(ironic.log_file)
    started = time.time()
    # a is checked from a direct read (its reservation time is Ironic's), b from the shared listing.
    procs = [run.start("node_deploy", node=a, instance_uuid=inst_a, busy_limit=1, wait=True, timeout=180,
                       poll_interval=0.5, precheck_max_age=0),
             run.start("node_deploy", node=b, instance_uuid=inst_b, busy_limit=1, wait=True, timeout=180,
                       poll_interval=0.5)]
    results = dict(zip((a, b), (ModuleRunner.finish(p, timeout=240) for p in procs)))
    ended = time.time()
    assert not [r for r in results.values() if r.get("failed")], results
    moves = ironic_log.moves(cursor.text())

    for node, result in results.items():
        phases = result["phases"]
        names = [p["phase"] for p in phases]
        times = [p["at"] for p in phases]
        assert names[0] == "reserved" and names[-1] == "active" and "deploying" in names, phases
        assert times == sorted(times) and all(isinstance(t, float) for t in times), phases
        assert before_reserve - SLACK <= times[0] <= ended and started - SLACK <= times[1] <= ended, phases
        assert set(p["source"] for p in phases if p["phase"] not in GATE) == {"ironic"}, phases
        # The states are those Ironic logged moving this node to, in its order, at its times.
        logged = [m for m in moves if m.node == node]
        states = [p for p in phases if p["phase"] not in GATE]
        i = 0
        for p in states:
            while i < len(logged) and logged[i].state != p["phase"]:
                i += 1
            assert i < len(logged), (p, [(m.state, m.ts) for m in logged])
            assert abs(logged[i].ts - p["at"]) <= SLACK, (p, logged[i])
            i += 1
        assert ironic.conn.baremetal.get_node(node).provision_state == "active"

    # a's reservation time is Ironic's (updated_at of the direct read), b's the module's clock.
    assert results[a]["phases"][0]["source"] == "ironic" and results[b]["phases"][0]["source"] == "module"
    assert results[a]["phases"][0]["at"] <= started
    # One slot: exactly one node waited, and was admitted only after the other became active.
    waited = [n for n, r in results.items() if "waiting" in [p["phase"] for p in r["phases"]]]
    assert len(waited) == 1, results
    other = b if waited == [a] else a
    at = {p["phase"]: p["at"] for p in results[waited[0]]["phases"]}
    other_active = results[other]["phases"][-1]["at"]
    assert at["waiting"] <= other_active <= at["admitted"] <= at["deploying"], (results[a], results[b])
