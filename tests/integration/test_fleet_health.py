# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Issue 11, Ironic standalone: audit and recovery after a real outage, on an Ironic of this
module alone.

Ironic's process group is SIGKILLed while five nodes are `deploying`; started again, Ironic moves
them to `deploy failed` itself. Three were deployed through an Ironic allocation (how this
collection and metalsmith deploy: "ours"), two by someone else (instance_uuid set directly).
- fleet_audit names exactly those five (kind node_failed, evidence, age on Ironic's clock, action
  redeploy for ours, undeploy for the others) from bulk listings only (Ironic's own access log);
  playbooks/audit.yml writes them to the report file with the fields the docs promise.
- fleet_recover in check mode sends nothing; for real it deploys ours again (all active, each
  allocation unchanged) and leaves the others alone (undeploy is destructive: opt-in), sending no
  mutating request to them (Ironic's log). A second audit names only the others.
- fail_on with an unknown kind changes nothing and names the field.
"""
from __future__ import annotations

import json
import os
import signal
import uuid

import pytest

from ironwave_testlib import waiting
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nodes import make_available
from ironwave_testlib.paths import PLAYBOOKS

MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("fleethealth", fake_deploy_delay="4,6")


@pytest.fixture(scope="module")
def run(ironic, tmp_path_factory):
    return ModuleRunner(ironic.cloud, module_env(ironic.clouds_yaml), tmp_path_factory.mktemp("fleet-modules"))


def wait_for(predicate, timeout: float, what: str, interval: float = 0.3):
    return waiting.wait_for(predicate, timeout, what, interval, tolerate_errors=True)   # the API may be restarting


def states(conn, ids) -> dict[str, str]:
    return {n.id: n.provision_state for n in conn.baremetal.nodes(fields=["uuid", "provision_state"])
            if n.id in ids}


@pytest.fixture(scope="module")
def crashed(ironic):
    """Five nodes left in `deploy failed` by a SIGKILL of Ironic mid-deploy; returns
    (rc, ours uuids, foreign uuids, {uuid: allocation uuid})."""
    conn = ironic.conn
    rc = f"fh-{uuid.uuid4().hex[:6]}"
    nodes = make_available(conn, [f"{rc}-{i}" for i in range(6)], node_fields=lambda i: {"resource_class": rc})
    ids = [n.id for n in nodes]
    ours, foreign, idle = ids[:3], ids[3:5], ids[5]
    # Allocations skip nodes without a power state; the fake power-off is asynchronous.
    wait_for(lambda: all(n.power_state == "power off" for n in conn.baremetal.nodes(details=True)
                         if n.id in ids), 60, "the nodes powered off")
    allocations = {}
    for i, node in enumerate(ours):
        alloc = conn.baremetal.create_allocation(name=f"{rc}-inst-{i}", resource_class=rc, candidate_nodes=[node])
        allocations[node] = conn.baremetal.wait_for_allocation(alloc, timeout=60).id
    for node in foreign:
        conn.baremetal.update_node(node, instance_id=str(uuid.uuid4()))
    for node in ours + foreign:
        conn.baremetal.update_node(node, instance_info={"image_source": "http://127.0.0.1/fh.img"})
        conn.baremetal.set_node_provision_state(node, "active")
    wait_for(lambda: list(states(conn, ours + foreign).values()).count("deploying") == 5, 60, "five deploying")
    group = os.getpgid(ironic.pid)
    assert group != os.getpgid(0), "Ironic must run in a process group of its own"
    os.killpg(group, signal.SIGKILL)
    wait_for(lambda: not ironic.api_answers(), 30, "the API to go away")
    ironic.start()
    conn = ironic.conn
    wait_for(lambda: set(states(conn, ours + foreign).values()) == {"deploy failed"}, 120, "deploy failed")
    assert states(conn, [idle]) == {idle: "available"}
    return rc, ours, foreign, allocations


def _failed_findings(result: dict, rc: str) -> dict[str, dict]:
    return {f["node_uuid"]: f for f in result["findings"] if f["kind"] == "node_failed"
            and (f.get("node") or "").startswith(rc)}


def test_audit_names_every_failed_node_from_bulk_reads(ironic, run, crashed):
    rc, ours, foreign, _allocs = crashed
    cursor = ironic.log_cursor()
    result = run("fleet_audit", nova="never")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["nova"] is False
    found = _failed_findings(result, rc)
    assert sorted(found) == sorted(ours + foreign), result["table"]
    for node in ours:
        assert found[node]["action"] == "redeploy", found[node]
    for node in foreign:
        assert found[node]["action"] == "undeploy", found[node]
    for finding in found.values():
        assert finding["evidence"]["provision_state"] == "deploy failed"
        assert finding["age_s"] is not None and 0 <= finding["age_s"] < 600
    assert result["by_kind"]["node_failed"] >= 5
    assert any("node_failed" in line for line in result["table"])
    # Bulk reads only: one node listing (one page here), conductors, allocations; no per-node GET.
    reqs = cursor.requests()
    assert not [r for r in reqs if r.method in MUTATING], reqs
    node_gets = [r.path for r in reqs if r.method == "GET" and r.path.startswith("/v1/nodes")]
    assert len(node_gets) == 1 and "fields=" in node_gets[0], node_gets


def test_audit_playbook_writes_the_report(ironic, crashed, tmp_path):
    rc, ours, foreign, _allocs = crashed
    report = tmp_path / "audit.json"
    result = ironic.run_playbook(PLAYBOOKS / "audit.yml", {"audit_report_path": str(report), "audit_nova": "never"})
    assert result.rc == 0, result.output
    rows = json.loads(report.read_text())
    mine = {r["node_uuid"]: r for r in rows if (r.get("node") or "").startswith(rc)}
    assert sorted(mine) == sorted(ours + foreign)
    for row in mine.values():
        assert {"kind", "node", "server", "age_s", "evidence", "action"} <= set(row), row
    assert "node_failed" in result.output


def test_unknown_fail_on_kind_names_the_field(run, crashed):
    result = run("fleet_audit", nova="never", fail_on=["node_on_fire"])
    assert result.get("failed") and "fail_on" in result["msg"] and "node_on_fire" in result["msg"], result


def test_fail_on_fails_after_reporting(run, crashed):
    result = run("fleet_audit", nova="never", fail_on=["node_failed"])
    assert result.get("failed"), result
    assert "node_failed" in result["msg"] and result["findings"], result


def test_recover_check_mode_sends_nothing_then_recovers_ours_only(ironic, run, crashed):
    rc, ours, foreign, allocs = crashed
    conn = ironic.conn
    cursor = ironic.log_cursor()
    shown = ironic.run_playbook(PLAYBOOKS / "recover.yml", {"audit_nova": "never"}, "--check", "--diff")
    assert shown.rc == 0, shown.output
    assert "planned: redeploy node_failed" in shown.output and "needs allow_destructive" in shown.output
    planned = run("fleet_recover", check=True, nova="never")
    assert not planned.get("failed"), planned
    assert not [r for r in cursor.requests() if r.method in MUTATING]
    by_node = {p["node_uuid"]: p for p in planned["plans"] if p.get("node_uuid") in ours + foreign}
    assert {by_node[n]["outcome"] for n in ours} == {"planned"}, by_node
    assert {by_node[n]["outcome"] for n in foreign} == {"skipped"}, by_node
    assert states(conn, ours + foreign) == {n: "deploy failed" for n in ours + foreign}

    cursor = ironic.log_cursor()
    done = run("fleet_recover", nova="never")
    assert not done.get("failed"), done
    assert done["changed"] is True
    by_node = {p["node_uuid"]: p for p in done["plans"] if p.get("node_uuid") in ours + foreign}
    assert {by_node[n]["outcome"] for n in ours} == {"done"}, by_node
    assert all("allow_destructive" in by_node[n]["reason"] for n in foreign), by_node
    after = states(conn, ours + foreign)
    assert {after[n] for n in ours} == {"active"}, after
    assert {after[n] for n in foreign} == {"deploy failed"}, after
    for node in ours:   # the same allocation, not a new one
        assert conn.baremetal.get_node(node).allocation_id == allocs[node]
    touched = [(r.method, r.path) for r in cursor.requests() if r.method in MUTATING]
    assert not [t for t in touched if any(f in t[1] for f in foreign)], touched
    assert sorted(t[1] for t in touched) == sorted(f"/v1/nodes/{n}/states/provision" for n in ours), touched

    again = run("fleet_audit", nova="never")
    assert sorted(_failed_findings(again, rc)) == sorted(foreign), again["table"]


def _shards(conn, ids) -> dict[str, str | None]:
    nodes = conn.baremetal.get("/nodes?fields=uuid,shard", microversion="1.82").json()["nodes"]
    return {n["uuid"]: n["shard"] for n in nodes if n["uuid"] in ids}


def test_shards_planned_in_check_mode_then_set_stably(ironic, run):
    conn = ironic.conn
    rc = f"sh-{uuid.uuid4().hex[:6]}"
    ids = [n.id for n in make_available(conn, [f"{rc}-{i}" for i in range(5)],
                                        node_fields=lambda i: {"resource_class": rc})]
    args = dict(nova="never", max_size=3, computes=["cmp-a", "cmp-b"], resource_classes=[rc])
    cursor = ironic.log_cursor()
    planned = run("fleet_shards", check=True, **args)
    assert not planned.get("failed"), planned
    assert planned["changed"] is True and len(planned["plan"]["changes"]) == 5
    assert not [r for r in cursor.requests() if r.method in MUTATING]
    assert set(_shards(conn, ids).values()) == {None}

    cursor = ironic.log_cursor()
    done = run("fleet_shards", **args)
    assert not done.get("failed"), done
    shards = _shards(conn, ids)
    sizes = sorted(list(shards.values()).count(s) for s in set(shards.values()))
    assert sizes == [2, 3], shards
    assert {c["ironic"]["shard"] for c in done["computes"].values()} == set(shards.values())
    assert sorted(done["computes"]) == ["cmp-a", "cmp-b"]
    patches = [r.path for r in cursor.requests() if r.method in MUTATING]
    assert sorted(patches) == sorted(f"/v1/nodes/{u}" for u in ids), patches

    again = run("fleet_shards", **args)
    assert again["changed"] is False and again["plan"]["changes"] == []

    # Two more nodes: the five keep their shards, the new ones get one.
    more = [n.id for n in make_available(conn, [f"{rc}-{i}" for i in range(5, 7)],
                                         node_fields=lambda i: {"resource_class": rc})]
    existing = {c["ironic"]["shard"]: h for h, c in done["computes"].items()}
    grown = run("fleet_shards", **{**args, "existing": existing})
    assert not grown.get("failed"), grown
    after = _shards(conn, ids + more)
    assert {u: after[u] for u in ids} == shards
    assert all(after[u] for u in more), after
    assert sorted(c[0] for c in grown["plan"]["changes"]) == sorted(more)


def test_shards_bad_max_size_names_the_field(run):
    result = run("fleet_shards", nova="never", max_size=0)
    assert result.get("failed") and "max_size" in result["msg"], result
