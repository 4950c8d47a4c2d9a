# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Ironic outages cost no host (issue 9, defect 11), on a real local Ironic of this test's own.

- The API restarts mid-wave (graceful stop, start again on the same port and state dir, ~10-20 s
  without an API): playbooks/deploy.yml still ends rc 0 with every instance on one active node.
- Through a proxy that drops a connection without an answer (a keep-alive race) or answers 504:
  node_reserve's shared listing GET is simply sent again; its allocation POST whose answer was lost
  after Ironic created the allocation is answered by reading the allocation back by name - one
  allocation, one POST in Ironic's log.
- Ironic's whole process group is SIGKILLed while nodes are `deploying`; started again, Ironic
  moves them to `deploy failed` itself. A rerun brings every instance to active on exactly one
  node, creates no second allocation for any instance, and sends nothing to the node of another
  instance (Ironic's own log).
Assertions read Ironic's state and log, never timings.
"""
from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
import yaml

from ironwave_testlib import ironic_log
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nodes import make_available
from ironwave_testlib.paths import PLAYBOOKS
from ironwave_testlib.playbook import RunningPlaybook
from ironwave_testlib.playbook import start_playbook as start_in_background

PLAYBOOK = PLAYBOOKS / "deploy.yml"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    """An Ironic of this module alone: it gets restarted and killed."""
    return local_ironic_factory("outage", fake_deploy_delay="3,5")


def make_nodes(conn, count: int) -> tuple[str, list[str]]:
    """`count` available nodes with a resource class of their own."""
    rc = f"ou-{uuid.uuid4().hex[:6]}"
    nodes = make_available(conn, [f"{rc}-{i}" for i in range(count)], node_fields=lambda i: {"resource_class": rc})
    return rc, [n.id for n in nodes]


def inventory(tmp_path: Path, ironic, rc: str, hosts: list[str]) -> Path:
    inv = {"baremetal": {"hosts": {h: {} for h in hosts}, "vars": {
        "deploy_cloud": ironic.cloud, "deploy_resource_class": rc, "deploy_poll_interval": 0.5}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def start_playbook(ironic, inv: Path, extra: dict, tmp_path: Path, tag: str) -> RunningPlaybook:
    env = {**ironic.env, "IRONWAVE_POLL_CACHE_DIR": str(tmp_path / "poll-cache"),
           "IRONWAVE_WAVE_REPORT_PATH": str(tmp_path / f"report-{tag}.json")}
    return start_in_background(PLAYBOOK, extra, env, "-i", str(inv), "--forks", "12", log=tmp_path / f"playbook-{tag}.log")


def finish(run: RunningPlaybook, tmp_path: Path, tag: str, timeout: float = 900) -> tuple[int, str]:
    result = run.finish(timeout)
    return result.rc, result.stdout


def states(conn, ids: list[str]) -> dict[str, str]:
    return {n.id: n.provision_state for n in conn.baremetal.nodes(details=True) if n.id in ids}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.3):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - the API may be away for a moment
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def placements(conn, ids: list[str]) -> dict[str, list[str]]:
    """instance (allocation) name -> nodes holding an allocation of that name."""
    out: dict[str, list[str]] = {}
    for alloc in conn.baremetal.allocations():
        if alloc.node_id in ids:
            out.setdefault(alloc.name, []).append(alloc.node_id)
    return out


def log_requests(ironic, offset: int = 0) -> list[ironic_log.Request]:
    cursor = ironic_log.LogCursor(ironic.log_file)
    cursor.offset = offset
    return cursor.requests()   # waits a second: access lines are written after the response


def run_module(ironic, module: str, args: dict, tmp_path: Path) -> dict:
    """One module as Ansible ships it (a process reading ANSIBLE_MODULE_ARGS)."""
    env = module_env(ironic.clouds_yaml, tmp_path / "poll-cache")
    env.pop("OS_CLOUD", None)
    args = dict(args)
    return ModuleRunner(args.pop("cloud", None), env, tmp_path)(module, **args)


@pytest.mark.parametrize("listing_fault", ["drop", "before"])
def test_dropped_connection_and_proxy_504_cost_no_reservation(ironic, tmp_path, listing_fault):
    from ironwave_testlib.proxy import FaultProxy

    conn = ironic.conn
    rc, ids = make_nodes(conn, 2)
    name = f"{rc}-inst"

    def fault(method, path, n):
        if method == "GET" and path.startswith("/v1/nodes?") and n == 0:
            return listing_fault               # the shared listing meets a dropped connection / a 504
        if method == "POST" and path == "/v1/allocations" and n == 0:
            return "drop-after"                # Ironic created it, the answer is lost
        return None
    mark = ironic.log_file.stat().st_size
    with FaultProxy(ironic.endpoint, fault) as proxy:
        result = run_module(ironic, "node_reserve", {
            "cloud": {"auth_type": "none", "baremetal_endpoint_override": proxy.url},
            "instance_name": name, "resource_class": rc, "spacing": 0}, tmp_path)
        seen = list(proxy.seen)
    assert not result.get("failed"), result
    # Both faults were met: the GET was sent again, the POST answered by reading the allocation back.
    assert result["node"] in ids and sum(result["error_kinds_seen"].values()) == 2, result
    assert ("GET", seen[0][1], 0 if listing_fault == "drop" else 504) == seen[0]
    allocations = [a for a in conn.baremetal.allocations() if a.name == name]
    assert len(allocations) == 1 and allocations[0].node_id == result["node"], allocations
    posts = [r for r in log_requests(ironic, mark) if r.method == "POST" and r.path == "/v1/allocations"]
    assert len(posts) == 1, posts


def test_outage_longer_than_the_budget_fails_naming_the_endpoint(tmp_path):
    """Nothing listens on the endpoint: after `outage_budget` seconds of retries the task fails
    with one line naming the endpoint and the option to raise (no traceback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]     # closed again: connections are refused
    endpoint = f"http://127.0.0.1:{port}"
    env = module_env(Path(os.environ.get("OS_CLIENT_CONFIG_FILE", "/nonexistent")), tmp_path / "pc")
    env.pop("OS_CLOUD", None)
    result = ModuleRunner({"auth_type": "none", "baremetal_endpoint_override": endpoint}, env, tmp_path)(
        "node_reserve", instance_name="nowhere-1", resource_class="rc", outage_budget=3)
    assert result["failed"] and result["error_kind"] == "endpoint", result
    assert f"{endpoint}/v1" in result["msg"] and "outage_budget 3" in result["msg"], result["msg"]
    assert result["error_kinds_seen"]["connection"] >= 2, result


def test_ironic_restart_mid_wave_costs_no_host(ironic, tmp_path):
    conn = ironic.conn
    rc, ids = make_nodes(conn, 10)
    hosts = [f"{rc}-inst-{i}" for i in range(10)]
    inv = inventory(tmp_path, ironic, rc, hosts)
    proc = start_playbook(ironic, inv, {"ironwave_wave_schedule": [1, 4], "ironwave_wave_size": 4,
                                        "ironwave_wave_max_failures": [0, 0]}, tmp_path, "restart")
    try:
        # Mid-wave: the canary is done and nodes of the next wave are deploying.
        def mid_wave() -> bool:
            now = set(states(conn, ids).values())
            return "active" in now and "deploying" in now
        wait_for(mid_wave, 600, "the canary active and the first wave deploying")
        assert ironic.stop().rc == 0
        assert not ironic.api_answers()
        time.sleep(5)
        ironic.start()
    finally:
        rc_, output = finish(proc, tmp_path, "restart")
    assert rc_ == 0, output
    conn = ironic.conn
    final = states(conn, ids)
    assert sorted(final.values()) == ["active"] * 10, final
    placed = placements(conn, ids)
    assert sorted(placed) == sorted(hosts) and all(len(v) == 1 for v in placed.values()), placed


def test_sigkill_of_ironic_while_deploying_then_rerun_converges(ironic, tmp_path):
    conn = ironic.conn
    rc, ids = make_nodes(conn, 8)
    foreign_node, ours = ids[0], ids[1:]
    # Another instance's node, deploying when Ironic dies: nothing of ours may touch it. Claimed the
    # way Nova claims (instance_uuid), which is synchronous: an allocation is processed by a conductor
    # worker and once (CI, right after the previous test's restart) stayed `allocating` for 60 s.
    foreign_instance = str(uuid.uuid4())
    conn.baremetal.patch_node(foreign_node, [{"op": "add", "path": "/instance_uuid", "value": foreign_instance}])
    hosts = [f"{rc}-inst-{i}" for i in range(6)]
    inv = inventory(tmp_path, ironic, rc, hosts)
    extra = {"ironwave_wave_schedule": [1, 5], "ironwave_wave_size": 5, "ironwave_wave_max_failures": [0, 4]}
    start = ironic.log_file.stat().st_size
    proc = start_playbook(ironic, inv, extra, tmp_path, "first")
    try:
        wait_for(lambda: "active" in states(conn, ours).values(), 600, "the canary active")
        conn.baremetal.set_node_provision_state(foreign_node, "active")
        wait_for(lambda: list(states(conn, ours).values()).count("deploying") >= 2
                 and states(conn, [foreign_node])[foreign_node] == "deploying", 300, "two of ours deploying")
        group = os.getpgid(ironic.pid)
        assert group != os.getpgid(0), "Ironic must run in a process group of its own"
        os.killpg(group, signal.SIGKILL)
        wait_for(lambda: not ironic.api_answers(), 30, "the API to go away")
        ironic.start()
    finally:
        rc_first, first_output = finish(proc, tmp_path, "first")
    conn = ironic.conn
    crashed = states(conn, ids)
    assert crashed[foreign_node] == "deploy failed", crashed
    foreign_before = conn.baremetal.get_node(foreign_node)

    mark = ironic.log_file.stat().st_size
    proc = start_playbook(ironic, inv, extra, tmp_path, "rerun")
    rc_rerun, output = finish(proc, tmp_path, "rerun")
    assert rc_rerun == 0, f"first run rc {rc_first}\n{first_output}\n---- rerun\n{output}"
    final = states(conn, ids)
    placed = placements(conn, ids)
    assert sorted(placed) == sorted(hosts), placed
    assert all(len(v) == 1 for v in placed.values()), placed
    assert all(final[placed[h][0]] == "active" for h in hosts), (final, placed)
    assert len({placed[h][0] for h in hosts}) == len(hosts)
    assert foreign_node not in {placed[h][0] for h in hosts}, placed
    foreign_after = conn.baremetal.get_node(foreign_node)
    assert (foreign_after.provision_state, foreign_after.instance_id) == ("deploy failed", foreign_instance)
    assert foreign_before.instance_id == foreign_instance
    touched = [(r.method, r.path) for r in log_requests(ironic, start)
               if r.method in MUTATING and foreign_node in r.path]
    # Only this test's own deploy request, before the crash.
    assert touched == [("PUT", f"/v1/nodes/{foreign_node}/states/provision")], touched
    assert mark > start
