# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The Nova path on the real local stack (roles/local_nova): servers built in waves through Nova,
each pinned to a node of its own, cross-checked; capacity refused before any build; a race lost to
another operator rebuilt elsewhere. Outcomes are read from Nova, Ironic, Placement and nova-api's
own request log."""
from __future__ import annotations

import re
import time

import pytest
import yaml

from ironwave_testlib.nova_fleet import NovaFleet
from ironwave_testlib.paths import REPO
from ironwave_testlib.playbook import run_playbook
from ironwave_testlib.proxy import FaultProxy

PLAYBOOK = REPO / "playbooks" / "nova_deploy.yml"
HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
REQUEST = re.compile(r'"(?P<method>GET|POST|PUT|DELETE|PATCH) (?P<path>/v2\.1[^ "]*)" status: (?P<status>\d+)')


@pytest.fixture(scope="module")
def nova(local_nova) -> NovaFleet:
    return NovaFleet(local_nova)


def _inventory(tmp_path, nova, names, **host_vars):
    data = {"servers": {"hosts": {n: {} for n in names},
                        "vars": {"nova_deploy_cloud": nova.cloud, "nova_deploy_flavor": nova.flavor,
                                 "nova_deploy_image": nova.image, **host_vars}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _api_requests(text: str) -> list[tuple[str, str, int]]:
    return [(m["method"], m["path"], int(m["status"])) for m in REQUEST.finditer(text)]


def _servers(nova, prefix):
    return [s for s in nova.compute("GET", "/servers/detail")["servers"] if s["name"].startswith(prefix)]


def test_waves_build_each_server_on_its_own_node_and_a_rerun_changes_nothing(nova, tmp_path):
    prefix = "wv-"
    names = [f"{prefix}{i:02d}" for i in range(6)]
    nova.delete_servers(prefix)             # a clean start when the stack is kept between sessions
    nova.ensure_free_nodes(6)
    inv = _inventory(tmp_path, nova, names)
    cursor = nova.api_log_cursor()
    result = run_playbook(PLAYBOOK, {"deploy_limit": 3}, nova.env, "-i", str(inv), "--forks", "10")
    assert result.rc == 0, result.output
    servers = _servers(nova, prefix)
    assert sorted(s["name"] for s in servers) == names
    assert {s["status"] for s in servers} == {"ACTIVE"}
    landed = [s[HYPERVISOR] for s in servers]
    assert len(set(landed)) == 6, landed
    for s in servers:
        node = nova.stack.conn.baremetal.get_node(s[HYPERVISOR])
        assert node.instance_id == s["id"] and node.provision_state == "active"
        allocs = nova.placement("GET", f"/allocations/{s['id']}")["allocations"]
        assert list(allocs) == [s[HYPERVISOR]]
    requests = _api_requests(cursor.text())
    creates = [r for r in requests if r[0] == "POST" and r[1] == "/v2.1/servers"]
    assert len(creates) == 6
    # Waiting reads one shared listing per tick for every host, not one GET per server per tick.
    per_server = [r for r in requests if r[0] == "GET" and re.fullmatch(r"/v2\.1/servers/[0-9a-f-]{36}", r[1])]
    listings = [r for r in requests if r[0] == "GET" and r[1].startswith("/v2.1/servers/detail")]
    assert len(per_server) <= 2 * 6, per_server
    assert listings, "the wait must use the shared listing"

    cursor = nova.api_log_cursor()
    again = run_playbook(PLAYBOOK, {"deploy_limit": 3}, nova.env, "-i", str(inv))
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output
    assert not [r for r in _api_requests(cursor.text()) if r[0] in ("POST", "DELETE", "PUT")]
    assert sorted(s["id"] for s in _servers(nova, prefix)) == sorted(s["id"] for s in servers)


def test_a_request_larger_than_the_capacity_fails_before_any_build(nova, tmp_path):
    free = nova.free_nodes()
    names = [f"cap-{i:02d}" for i in range(free + 2)]
    inv = _inventory(tmp_path, nova, names)
    cursor = nova.api_log_cursor()
    result = run_playbook(PLAYBOOK, {"deploy_limit": 3}, nova.env, "-i", str(inv))
    assert result.rc != 0
    assert f"{free + 2}" in result.stdout and "usable" in result.stdout, result.output
    assert not [r for r in _api_requests(cursor.text()) if r[0] == "POST" and r[1] == "/v2.1/servers"]
    assert not _servers(nova, "cap-")


def test_a_node_taken_by_another_operator_before_our_build_is_rebuilt_elsewhere(nova, tmp_path):
    """Another operator builds a server pinned to the very node our run picked, between our pick
    and our create request (a proxy in front of nova-api holds our POST /servers until the other
    build holds the node's Placement allocation). Our pinned build then gets No valid host; it is
    classified, a fresh capacity check still shows a free node, so our server is deleted and built
    again on another node, and the cross-check holds for both servers."""
    nova.ensure_free_nodes(2)
    stolen: dict = {}

    def thief(method, path, n):
        if method == "POST" and path.split("?")[0].endswith("/servers") and n == 0:
            # The node our run marked for "victim" - not any node with a pick marker: on a kept stack
            # a marker of an earlier test's killed run may still sit on another node (it dies with
            # its ttl), and the thief then took that node instead of ours.
            node = next(x for x in nova.stack.conn.baremetal.nodes(details=True)
                        if any(k.startswith("ironwave_pick_") and isinstance(v, dict) and v.get("host") == "victim"
                               for k, v in (x.extra or {}).items()))
            stolen["node"] = node.id
            stolen["server"] = nova.compute("POST", "/servers", json={"server": {
                "name": "thief", "flavorRef": nova.flavor_id, "imageRef": nova.image_id,
                "networks": "none", "hypervisor_hostname": node.id}})["server"]["id"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not nova.placement(
                    "GET", f"/resource_providers/{node.id}/allocations")["allocations"]:
                time.sleep(0.2)
            stolen["allocated"] = time.monotonic() < deadline
            if not stolen["allocated"]:   # say why, rather than let our build win the race unnoticed
                thief_server = nova.compute("GET", f"/servers/{stolen['server']}")["server"]
                stolen["thief"] = {k: thief_server.get(k) for k in ("status", "fault", "OS-EXT-STS:task_state")}
        return None

    with FaultProxy(nova.compute_endpoint, thief) as proxy:
        env = nova.env_with(tmp_path, compute_endpoint_override=proxy.url)
        inv = _inventory(tmp_path, nova, ["victim"])
        result = run_playbook(PLAYBOOK, {"deploy_limit": 1}, env, "-i", str(inv), "-v")
    assert stolen, "the other operator must have taken the node"
    assert stolen["allocated"], f"the other operator's build got no Placement allocation in 60 s: {stolen}"
    assert result.rc == 0, result.output
    victim = _servers(nova, "victim")[0]
    assert victim["status"] == "ACTIVE" and victim[HYPERVISOR] != stolen["node"]
    assert re.search(r"rebuilds: 1\b", result.stdout) and "kind: no_valid_host" in result.stdout, result.output
    nova.wait_server_active(stolen["server"])
    check = nova.crosscheck()
    assert not check["violations"], check


def test_scheduler_chosen_mode_builds_and_cross_checks_without_pinning_or_markers(nova, tmp_path):
    """nova_deploy_pin: false (where pinning is not allowed): the scheduler chooses each node; no
    pick marker is written, and the cross-check still holds after every build."""
    prefix = "sc-"
    names = [f"{prefix}{i}" for i in range(3)]
    nova.delete_servers(prefix)
    nova.ensure_free_nodes(3)
    inv = _inventory(tmp_path, nova, names, nova_deploy_pin=False)
    result = run_playbook(PLAYBOOK, {"deploy_limit": 3}, nova.env, "-i", str(inv), "-v")
    assert result.rc == 0, result.output
    assert "picked: []" in result.stdout, result.output          # nova_server marked no node
    servers = _servers(nova, prefix)
    assert sorted(s["name"] for s in servers) == names and {s["status"] for s in servers} == {"ACTIVE"}
    assert len({s[HYPERVISOR] for s in servers}) == 3
    check = nova.crosscheck()
    assert not [v for v in check["violations"] if prefix in v], check
    nova.delete_servers(prefix)
