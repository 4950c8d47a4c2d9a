# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Issue 11, a conductor stopped while holding locks, on a real Ironic of this module alone.

The local Ironic (API + conductor in one process, conductor host `dc-conductor-a`) is SIGKILLed
while two nodes deploy: their reservation still names `dc-conductor-a`. It is started again as
another conductor, `dc-conductor-b`, so nothing clears that lock at start-up.
Ironic on SQLite never refreshes heartbeats: after `heartbeat_timeout` (10 s here) it lists every
conductor as not alive, and it counts a conductor offline (frees its locks) only once it
deregistered - never after a SIGKILL. So:
- fleet_audit takes the conductor registered last as the live one (audit_rules.live_conductors)
  and names exactly the two nodes `node_locked_dead_conductor`, with the dead conductor as evidence
  and the plan `wait_takeover`; a node the live conductor holds is not named.
- fleet_recover waits (sending nothing) while `dc-conductor-a` is started again, which frees its
  own locks and fails the nodes to `deploy failed`; then it deploys ours again on its own
  allocation and leaves the other one (not ours: undeploy is destructive) alone, with no mutating
  request. A second audit names no locked node.
"""
from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ironwave_testlib import waiting
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nodes import make_available

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
DEAD, LIVE = "dc-conductor-a", "dc-conductor-b"
SPARES = 8   # candidates for the live conductor's node: P(all hash to the dead one) = 1/256
TIMING = {"conductor": {"heartbeat_interval": 2, "heartbeat_timeout": 10}}


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("deadconductor", host=DEAD, fake_deploy_delay="30,40", extra_config=TIMING)


@pytest.fixture(scope="module")
def run(ironic, tmp_path_factory):
    return ModuleRunner(ironic.cloud, module_env(ironic.clouds_yaml), tmp_path_factory.mktemp("dead-conductor"))


def wait_for(predicate, timeout: float, what: str, interval: float = 0.3):
    return waiting.wait_for(predicate, timeout, what, interval, tolerate_errors=True)   # the API may be restarting


def _nodes(conn, ids) -> dict[str, dict]:
    listing = conn.baremetal.get("/nodes?fields=uuid,provision_state,reservation", microversion="1.46").json()
    return {n["uuid"]: n for n in listing["nodes"] if n["uuid"] in ids}


def _patch(ironic, node: str, patch: list) -> int:
    """One PATCH straight to Ironic (openstacksdk would retry a 503); its status code."""
    req = urllib.request.Request(f"{ironic.endpoint}/v1/nodes/{node}", data=json.dumps(patch).encode(), method="PATCH",
                                 headers={"Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": "1.46"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _alive(conn) -> dict[str, bool]:
    listing = conn.baremetal.get("/conductors?fields=hostname,alive", microversion="1.49").json()
    return {c["hostname"]: c["alive"] for c in listing["conductors"]}


def test_locks_of_a_dead_conductor_are_named_then_recovered_after_takeover(ironic, run):
    conn = ironic.conn
    rc = f"dc-{uuid.uuid4().hex[:6]}"
    nodes = make_available(conn, [f"{rc}-{i}" for i in range(2 + SPARES)], node_fields=lambda i: {"resource_class": rc})
    ours, foreign, spares = nodes[0].id, nodes[1].id, [n.id for n in nodes[2:]]
    wait_for(lambda: all(n.power_state == "power off" for n in conn.baremetal.nodes(details=True)
                         if n.id in [ours, foreign, *spares]), 60, "the nodes powered off")
    alloc = conn.baremetal.create_allocation(name=f"{rc}-inst", resource_class=rc, candidate_nodes=[ours])
    alloc_id = conn.baremetal.wait_for_allocation(alloc, timeout=60).id
    conn.baremetal.update_node(foreign, instance_id=str(uuid.uuid4()))
    for node in (ours, foreign):
        conn.baremetal.update_node(node, instance_info={"image_source": "http://127.0.0.1/dc.img"})
        conn.baremetal.set_node_provision_state(node, "active")
    wait_for(lambda: {n["provision_state"] for n in _nodes(conn, (ours, foreign)).values()} == {"deploying"}
             and all(n["reservation"] == DEAD for n in _nodes(conn, (ours, foreign)).values()),
             60, "both deploying under the lock of the first conductor")

    group = os.getpgid(ironic.pid)
    assert group != os.getpgid(0), "Ironic must run in a process group of its own"
    os.killpg(group, signal.SIGKILL)
    wait_for(lambda: not ironic.api_answers(), 30, "the API to go away")
    ironic.start(local_ironic_host=LIVE)
    conn = ironic.conn
    # A node the live conductor holds (its fake deploy keeps the lock for 30-40 s). While the dead
    # conductor stays registered, SQLite's static hash ring still gives it some nodes: the API
    # refuses changes to those (503 "Cannot use 'none' RPC to connect to remote conductor").
    live = next((u for u in spares if _patch(ironic, u, [
        {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        {"op": "add", "path": "/instance_info", "value": {"image_source": "http://127.0.0.1/dc.img"}}]) == 200),
        None)
    assert live, f"every one of {SPARES} nodes hashed to the dead conductor"
    conn.baremetal.set_node_provision_state(live, "active")
    wait_for(lambda: _alive(conn).get(DEAD) is False and _alive(conn).get(LIVE) is False, 40,
             "every conductor listed as not alive (SQLite: no heartbeats)")
    assert _nodes(conn, (live,))[live]["reservation"] == LIVE
    locked = _nodes(conn, (ours, foreign))
    assert {n["provision_state"] for n in locked.values()} == {"deploying"}, locked
    assert {n["reservation"] for n in locked.values()} == {DEAD}, "the orphan check has not run yet"

    audit = run("fleet_audit", nova="never", thresholds={"dead_conductor_lock": 1})
    assert not audit.get("failed"), audit.get("msg")
    found = {f["node_uuid"]: f for f in audit["findings"] if f["kind"] == "node_locked_dead_conductor"}
    assert sorted(found) == sorted((ours, foreign)), audit["table"]
    assert {f["evidence"]["reservation"] for f in found.values()} == {DEAD}
    assert {f["action"] for f in found.values()} == {"wait_takeover"}, found
    wait_for(lambda: _nodes(conn, (live,))[live]["provision_state"] == "active", 90, "the live node deployed")

    # Recovery waits for a live conductor to free the locks; the dead one comes back meanwhile.
    cursor = ironic.log_cursor()
    with ThreadPoolExecutor(1) as pool:
        recovery = pool.submit(run, "fleet_recover", nova="never", kinds=["node_locked_dead_conductor"],
                               thresholds={"dead_conductor_lock": 1})
        wait_for(lambda: len([r for r in cursor.requests() if r.method == "GET" and ours in r.path]) >= 2, 120,
                 "recovery waiting on the node")
        ironic.start(local_ironic_host=DEAD, local_ironic_fake_deploy_delay="2,3")
        done = recovery.result(timeout=600)
    assert not done.get("failed"), (done.get("msg"), done.get("plans"))
    plans = {p["node_uuid"]: p for p in done["plans"] if p.get("node_uuid") in (ours, foreign)}
    assert plans[ours]["outcome"] == "done", plans
    assert plans[ours]["action"] == "wait_takeover" and "redeploy" in plans[ours]["why"], plans
    assert "allow_destructive" in plans[foreign]["reason"], plans
    after = _nodes(conn, (ours, foreign))
    assert after[ours]["provision_state"] == "active", after
    assert after[foreign]["provision_state"] == "deploy failed", after     # Ironic's doing, nothing of ours
    assert not any(n["reservation"] for n in after.values()), after
    assert conn.baremetal.get_node(ours).allocation_id == alloc_id
    touched = [(r.method, r.path) for r in cursor.requests() if r.method in MUTATING]
    assert touched == [("PUT", f"/v1/nodes/{ours}/states/provision")], touched

    again = run("fleet_audit", nova="never", thresholds={"dead_conductor_lock": 1})
    assert not [f for f in again["findings"] if f["kind"] == "node_locked_dead_conductor"
                and f["node_uuid"] in (ours, foreign)], again["table"]
