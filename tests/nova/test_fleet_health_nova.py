# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Issue 11 on the real local Nova stack (two nova-compute services, hash ring).

- nova-compute is SIGKILLed while its server's node deploys; Ironic finishes the deploy (node
  active for that server), nova-compute's start-up marks the BUILDING server ERROR. The audit names
  it `server_error_node_active`; fleet_recover marks it ACTIVE without touching the node (Ironic's
  log: nothing mutating on it); a second audit no longer names it; the cross-check holds.
- Shards: the audit finds every node managed by exactly one compute (hash ring); playbooks/shards.yml
  turns the ring's split into shards (no node refused), writes `[ironic] shard` into each compute's
  site file and restarts them: each compute then lists its own shard only (Ironic's log) and manages
  exactly the nodes of its shard. A stopped compute's nodes show as `node_unmanaged`. The computes
  go back to the hash ring at the end.
"""
from __future__ import annotations

import os
import signal
import time
from collections import defaultdict

import pytest
import yaml

from ironwave_testlib.local_nova import NOVA_VENV
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nova_fleet import NovaFleet
from ironwave_testlib.paths import PLAYBOOKS
from ironwave_testlib.playbook import run_playbook
from ironwave_testlib.processes import pid_alive
from ironwave_testlib.waiting import wait_for

HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
HOST = "OS-EXT-SRV-ATTR:host"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
OWNERSHIP = ("node_unmanaged", "node_managed_twice")


@pytest.fixture(scope="module")
def nova(local_nova) -> NovaFleet:
    return NovaFleet(local_nova)


@pytest.fixture(scope="module")
def run(local_nova, tmp_path_factory):
    return ModuleRunner(local_nova.cloud, module_env(local_nova.clouds_yaml), tmp_path_factory.mktemp("fleet-nova"))


def _server(nova, server_id: str) -> dict:
    return nova.compute("GET", f"/servers/{server_id}")["server"]


def _node_of(nova, server_id: str):
    return next((n for n in nova.stack.conn.baremetal.nodes(details=True) if n.instance_id == server_id), None)


def test_interrupted_build_on_an_active_node_is_marked_active(nova, run):
    prefix = "fhn-"
    nova.delete_servers(prefix)
    nova.ensure_free_nodes(1)
    # Every usable node on a compute before the build. (The role maps the computes into the cell
    # by service: by compute node, a compute whose only node the hash ring handed over from the
    # other compute stayed unmapped on a fresh stack - "No host-to-cell mapping found", ERROR.)
    wait_for(lambda: _settled(nova), 180, "every usable node on a compute")
    body = {"server": {"name": f"{prefix}0", "flavorRef": nova.flavor_id, "imageRef": nova.image_id,
                       "networks": "none"}}
    server_id = nova.compute("POST", "/servers", body)["server"]["id"]
    try:
        # Kill its nova-compute while Ironic deploys the node (before Nova sees it active).
        def deploying():
            found = _node_of(nova, server_id)
            return found if found and found.provision_state in ("deploying", "wait call-back") else None
        node = wait_for(deploying, 180, "the node deploying for the server", interval=0.1)
        host = _server(nova, server_id)[HOST]
        service = f"nova-compute-{host}"
        pid = nova.stack.pids()[service]
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.1)
        assert _server(nova, server_id)["status"] == "BUILD"
        wait_for(lambda: nova.stack.conn.baremetal.get_node(node.id).provision_state == "active", 120, "node active")
        nova.stack.start()                         # restarts exactly the dead compute
        wait_for(lambda: _server(nova, server_id)["status"] == "ERROR", 180, "Nova's start-up to mark it ERROR")

        audit = run("fleet_audit", nova="always")
        assert not audit.get("failed"), audit
        mine = [f for f in audit["findings"] if f["server_id"] == server_id]
        assert [(f["kind"], f["node_uuid"], f["action"]) for f in mine
                if f["kind"] == "server_error_node_active"] == [("server_error_node_active", node.id,
                                                                 "mark_server_active")], audit["table"]

        cursor = nova.ironic.log_cursor()
        done = run("fleet_recover", nova="always", kinds=["server_error_node_active"])
        assert not done.get("failed"), done
        plan = [p for p in done["plans"] if p["server_id"] == server_id and p["kind"] == "server_error_node_active"]
        assert [p["outcome"] for p in plan] == ["done"], done["plans"]
        server = _server(nova, server_id)
        assert (server["status"], server["OS-EXT-STS:task_state"], server[HYPERVISOR]) == ("ACTIVE", None, node.id)
        after = nova.stack.conn.baremetal.get_node(node.id)
        assert (after.provision_state, after.instance_id) == ("active", server_id), "the good node was kept"
        assert not [r for r in cursor.requests() if r.method in MUTATING and node.id in r.path]

        again = run("fleet_audit", nova="always")
        assert not [f for f in again["findings"] if f["server_id"] == server_id
                    and f["kind"] in ("server_error_node_active", "server_node_mismatch")], again["table"]
        check = nova.crosscheck()
        assert not [v for v in check["violations"] if server_id in v or f"{prefix}0" in v], check
    finally:
        nova.delete_servers(prefix)


def _hypervisors(nova) -> dict[str, str]:
    """node uuid -> the compute host that reports it."""
    listing = nova.compute("GET", "/os-hypervisors/detail")["hypervisors"]
    return {h["hypervisor_hostname"]: h["service"]["host"] for h in listing}


def _usable_nodes(nova) -> dict[str, dict]:
    return {n.id: n for n in nova.stack.conn.baremetal.nodes(details=True) if not n.is_maintenance}


def _settled(nova) -> bool:
    hyp = _hypervisors(nova)
    return all(uuid in hyp for uuid in _usable_nodes(nova))


def _site_file(stack, host: str):
    return stack.state_dir / "etc" / f"nova-compute-{host}-site.conf"


def _service_state(nova, host: str) -> str:
    services = nova.compute("GET", "/os-services?binary=nova-compute")["services"]
    return next(s["state"] for s in services if s["host"] == host)


def test_hash_ring_split_becomes_shards_and_a_stopped_compute_leaves_its_nodes_unmanaged(nova, run, tmp_path):
    stack = nova.stack
    computes = list(stack.computes)
    nova.ensure_free_nodes(4)
    wait_for(lambda: _settled(nova), 180, "every usable node on a compute")
    before = run("fleet_audit", nova="always")
    assert not [f for f in before["findings"] if f["kind"] in OWNERSHIP], before["table"]
    ring = _hypervisors(nova)
    assert set(ring.values()) <= set(computes)

    inventory = {"nova_compute_ironic": {"hosts": {h: {"shards_config_path": str(_site_file(stack, h))}
                                                   for h in computes},
                                         "vars": {"ansible_connection": "local",
                                                  "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                                                  "shards_manager": "local_nova",
                                                  "shards_registry_python": str(NOVA_VENV / "bin" / "python")}}}
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory))
    extra = {**stack.vars(), "ironwave_cloud": stack.cloud, "shards_nova": "always",
             # playbooks/local_nova.yml derives it from the port; the role itself takes the endpoint.
             "local_nova_ironic_endpoint": f"http://127.0.0.1:{stack.ports['ironic']}"}
    ironic_cursor = stack.ironic.log_cursor()
    try:
        result = run_playbook(PLAYBOOKS / "shards.yml", extra, stack.env, "-i", str(inv))
        assert result.rc == 0, result.output
        nodes = _usable_nodes(nova)
        shard_of = {u: stack.conn.baremetal.get(f"/nodes/{u}", microversion="1.82").json()["shard"] for u in nodes}
        assert all(shard_of.values()), shard_of           # nothing refused: the ring's split is kept
        served = {}
        for host in computes:
            text = _site_file(stack, host).read_text()
            served[host] = next(line.split("=", 1)[1].strip() for line in text.splitlines()
                                if line.strip().startswith("shard"))
        # Each compute now lists its own shard only ...
        for shard in served.values():
            wait_for(lambda: any(f"shard={shard}" in r.path for r in ironic_cursor.requests(settle=0.5)), 120,
                     f"a compute listing shard {shard} from Ironic")
        # ... and manages exactly the nodes of its shard.
        wait_for(lambda: _settled(nova), 180, "every node on a compute after the restart")
        owner = _hypervisors(nova)
        by_compute = defaultdict(set)
        for uuid in nodes:
            by_compute[owner[uuid]].add(uuid)
        for host, shard in served.items():
            assert by_compute[host] == {u for u, s in shard_of.items() if s == shard}, (host, shard)
        after = run("fleet_audit", nova="always",
                    compute_shards=dict(served))
        assert not [f for f in after["findings"] if f["kind"] in OWNERSHIP + ("shard_without_compute",)], \
            after["table"]

        # A compute stops: once Nova sees it down, its nodes are unmanaged - and only those.
        victim = max(computes, key=lambda h: (len(by_compute[h]), h))   # a compute that has nodes
        assert by_compute[victim], by_compute
        pid = stack.pids()[f"nova-compute-{victim}"]
        os.kill(pid, signal.SIGTERM)
        while pid_alive(pid):
            time.sleep(0.2)
        wait_for(lambda: _service_state(nova, victim) == "down", 150, f"{victim} reported down")
        down = run("fleet_audit", nova="always")
        unmanaged = {f["node_uuid"] for f in down["findings"] if f["kind"] == "node_unmanaged"}
        assert unmanaged == by_compute[victim], down["table"]
    finally:
        for host in computes:
            _site_file(stack, host).write_text("")     # back to the hash ring
        stack.start()
