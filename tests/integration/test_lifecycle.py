# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Association-safe node lifecycle against a real local Ironic; assertions read Ironic's state.

The Ironic used: with IRONWAVE_LIFECYCLE_CLOUD set (plus OS_CLIENT_CONFIG_FILE and
IRONWAVE_LIFECYCLE_LOG, the Ironic log with its access lines), that running Ironic - it must have
`[conductor] max_concurrent_deploy = 2`; otherwise one started through the `local_ironic_factory`
fixture with max_concurrent_deploy=2 and fake deploy delay 1,2.

Modules run as plain processes (`python plugins/modules/X.py args.json`, as Ansible's worker would
run them), so timings measure the module, not ansible-playbook start-up, and several can run at
once like Ansible forks. One test runs the whole flow through ansible-playbook.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from ironwave_testlib import ironic_log
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nodes import make_available
from ironwave_testlib.paths import BIN, REPO
from ironwave_testlib.playbook import playbook_command


@dataclass
class Cloud:
    name: str
    clouds_yaml: Path
    log_file: Path

    def env(self, cache_dir: Path) -> dict[str, str]:
        return module_env(self.clouds_yaml, cache_dir)

    def access_lines(self) -> list[ironic_log.Request]:
        return ironic_log.requests(self.log_file.read_text(encoding="utf-8", errors="replace"))


@pytest.fixture(scope="module")
def cloud(request) -> Cloud:
    if os.environ.get("IRONWAVE_LIFECYCLE_CLOUD"):
        return Cloud(os.environ["IRONWAVE_LIFECYCLE_CLOUD"], Path(os.environ["OS_CLIENT_CONFIG_FILE"]),
                     Path(os.environ["IRONWAVE_LIFECYCLE_LOG"]))
    factory = request.getfixturevalue("local_ironic_factory")
    inst = factory("lifecycle", max_concurrent_deploy=2, fake_deploy_delay="1,2")
    return Cloud(inst.cloud, inst.clouds_yaml, inst.log_file)


@pytest.fixture(scope="module")
def conn(cloud):
    import openstack
    old = os.environ.get("OS_CLIENT_CONFIG_FILE")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
    try:
        yield openstack.connect(cloud=cloud.name, baremetal_status_code_retries=0)
    finally:
        if old is None:
            os.environ.pop("OS_CLIENT_CONFIG_FILE", None)
        else:
            os.environ["OS_CLIENT_CONFIG_FILE"] = old


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "poll-cache"


@pytest.fixture
def run(cloud, cache_dir, tmp_path) -> ModuleRunner:
    return ModuleRunner(cloud.name, cloud.env(cache_dir), tmp_path)


def make_nodes(conn, count: int, memory=lambda i: 65536) -> tuple[str, list]:
    """`count` available nodes with a resource class of their own, so tests never share a pool."""
    rc = f"lc-{uuid.uuid4().hex[:8]}"
    nodes = make_available(conn, [f"{rc}-{i}" for i in range(count)],
                           node_fields=lambda i: {"resource_class": rc, "properties": {"memory_mb": memory(i)}})
    return rc, [conn.baremetal.get_node(n.id) for n in nodes]


def allocation(conn, ident: str):
    import openstack.exceptions
    try:
        return conn.baremetal.get_allocation(ident)
    except openstack.exceptions.NotFoundException:
        return None


SNAPSHOT_FIELDS = ("provision_state", "target_provision_state", "instance_id", "allocation_id",
                   "instance_info", "is_maintenance", "traits", "updated_at", "power_state")


def snapshot(conn, nodes) -> dict:
    return {n.id: {f: getattr(conn.baremetal.get_node(n.id), f) for f in SNAPSHOT_FIELDS} for n in nodes}


def test_sdk_409_is_not_retried(conn, run):
    """baremetal_status_code_retries=0 really switches off the SDK's 5 retries (they cost ~15 s)."""
    nodes = make_nodes(conn, 1)[1]
    conn.baremetal.patch_node(nodes[0], [{"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())}])
    result = run("node_reserve", instance_name=f"x-{uuid.uuid4().hex[:6]}", mode="instance_uuid",
                 node=nodes[0].id, max_attempts=1)
    assert result.get("failed") and result["error_kind"] == "node_associated"
    assert result["elapsed"] < 2 and result["_elapsed"] < 10  # the SDK's own retries alone take ~15 s


def test_race_for_one_node_exactly_one_wins_fast(conn, run):
    rc, nodes = make_nodes(conn, 1)
    names = [f"race-{uuid.uuid4().hex[:6]}" for _i in range(2)]
    procs = [run.start("node_reserve", instance_name=n, resource_class=rc) for n in names]
    results = [run.finish(p) for p in procs]
    winners = [r for r in results if not r.get("failed")]
    losers = [r for r in results if r.get("failed")]
    assert len(winners) == 1 and len(losers) == 1, results
    node = conn.baremetal.get_node(nodes[0].id)
    assert node.instance_id == winners[0]["instance_uuid"] and node.allocation_id
    assert conn.baremetal.get_allocation(node.allocation_id).name in names
    loser = losers[0]
    assert loser["error_kind"] == "node_associated", loser["msg"]
    assert nodes[0].id in loser["msg"] and rc in loser["msg"]
    # Decided in under 2 s inside the module (SDK retries alone would take ~15 s); the whole
    # process, Python and openstacksdk imports included, well under those retries too.
    assert loser["elapsed"] < 2.0, {k: loser.get(k) for k in ("elapsed", "attempts", "retries", "error_kinds_seen")}
    assert loser["_elapsed"] < 6.0, loser["_elapsed"]
    # The loser left no allocation behind.
    loser_name = next(n for n in names if n != conn.baremetal.get_allocation(node.allocation_id).name)
    assert allocation(conn, loser_name) is None


def test_race_loser_repicks_from_pool(conn, run):
    rc, nodes = make_nodes(conn, 2)
    first = nodes[0].id
    names = [f"pick-{uuid.uuid4().hex[:6]}" for _i in range(2)]
    # Both prefer the same node first, one node per attempt: one must lose it and re-pick.
    procs = [run.start("node_reserve", instance_name=n, candidate_nodes=[first, nodes[1].id], batch=1)
             for n in names]
    results = [run.finish(p) for p in procs]
    assert not any(r.get("failed") for r in results), results
    assert {r["node"] for r in results} == {n.id for n in nodes}
    for r in results:
        assert conn.baremetal.get_node(r["node"]).instance_id == r["instance_uuid"]
    # Idempotent: the same instance name gets the same node back, no change.
    again = run("node_reserve", instance_name=names[0], candidate_nodes=[first, nodes[1].id])
    assert not again.get("changed") and again.get("node") == results[0]["node"], again


def test_pool_exhausted_names_filter(conn, run):
    rc = make_nodes(conn, 1, memory=lambda i: 1024)[0]
    result = run("node_reserve", instance_name="big-1", resource_class=rc,
                 expression="properties.memory_mb >= `262144`")
    assert result["failed"] and "expression=properties.memory_mb >= `262144`" in result["msg"]
    assert "1 expression is false" in result["msg"]
    bad = run("node_reserve", instance_name="big-1", resource_class=rc, expression="properties.memory_mb >=")
    assert bad["failed"] and "invalid JMESPath in 'expression'" in bad["msg"]


def test_rerun_releases_our_node_in_maintenance_and_reserves_another(conn, cloud, run):
    """A node of the instance that cannot be deployed again without an operator is released
    (its allocation deleted) and another node reserved; no other allocation is touched."""
    rc, nodes = make_nodes(conn, 2)
    name = f"mnt-{uuid.uuid4().hex[:6]}"
    first = run("node_reserve", instance_name=name, resource_class=rc)
    assert not first.get("failed"), first
    conn.baremetal.set_node_maintenance(first["node"], reason="disk failed")
    again = run("node_reserve", instance_name=name, resource_class=rc)
    assert not again.get("failed") and again["changed"] and again["node"] != first["node"], again
    assert conn.baremetal.get_node(first["node"]).instance_id is None
    assert conn.baremetal.get_node(again["node"]).instance_id == again["instance_uuid"]
    mine = [a for a in conn.baremetal.allocations() if a.name == name]
    assert [a.node_id for a in mine] == [again["node"]]
    # And a third run hands that node back unchanged.
    third = run("node_reserve", instance_name=name, resource_class=rc)
    assert (third["changed"], third["node"]) == (False, again["node"]), third


def test_deploy_refuses_foreign_instance_and_leaves_node_alone(conn, run):
    nodes = make_nodes(conn, 1)[1]
    foreign = str(uuid.uuid4())
    conn.baremetal.patch_node(nodes[0], [{"op": "add", "path": "/instance_uuid", "value": foreign}])
    before = snapshot(conn, nodes)
    mine = str(uuid.uuid4())
    result = run("node_deploy", node=nodes[0].id, instance_uuid=mine, instance_info={"image_source": "x"})
    assert result["failed"] and result["error_kind"] == "associated_elsewhere"
    assert nodes[0].id in result["msg"] and foreign in result["msg"] and mine in result["msg"]
    assert snapshot(conn, nodes) == before


def test_flow_undeploy_wrong_instance_refused_and_check_mode(conn, run):
    rc, nodes = make_nodes(conn, 1)
    name = f"web-{uuid.uuid4().hex[:6]}"
    # Check mode changes nothing anywhere in the flow.
    before = snapshot(conn, nodes)
    pick = run("node_reserve", check=True, instance_name=name, resource_class=rc)
    assert pick["changed"] and pick["node"] == nodes[0].id
    assert allocation(conn, name) is None and snapshot(conn, nodes) == before

    res = run("node_reserve", instance_name=name, resource_class=rc)
    assert res["changed"] and res["node"] == nodes[0].id
    before = snapshot(conn, nodes)
    chk = run("node_deploy", check=True, node=res["node"], instance_name=name,
              instance_info={"image_source": "http://example.invalid/img"}, traits=["CUSTOM_X"])
    assert chk["changed"] and snapshot(conn, nodes) == before

    dep = run("node_deploy", node=res["node"], instance_name=name, wait=True, timeout=120, poll_interval=1,
              instance_info={"image_source": "http://example.invalid/img"})
    assert dep["changed"] and dep["provision_state"] == "active" and dep["association_after"] == "ours", dep
    node = conn.baremetal.get_node(res["node"])
    assert node.provision_state == "active" and node.instance_id == res["instance_uuid"]
    assert node.instance_info.get("image_source") == "http://example.invalid/img"

    again = run("node_deploy", node=res["node"], instance_name=name, wait=True,
                instance_info={"image_source": "http://example.invalid/img"})
    assert not again["changed"]

    before = snapshot(conn, nodes)
    wrong = run("node_undeploy", node=res["node"], instance_name="someone-else")
    assert wrong["failed"] and wrong["error_kind"] == "associated_elsewhere"
    assert "force: true overrides" in wrong["msg"]
    chk = run("node_undeploy", check=True, node=res["node"], instance_name=name)
    assert chk["changed"]
    rel = run("node_release", node=res["node"], instance_name=name)
    assert rel["failed"] and rel["error_kind"] == "invalid_state"
    assert snapshot(conn, nodes) == before

    undo = run("node_undeploy", node=res["node"], instance_name=name, wait=True, timeout=120, poll_interval=1)
    assert undo["changed"] and undo["provision_state"] == "available", undo
    node = conn.baremetal.get_node(res["node"])
    assert node.provision_state == "available" and node.instance_id is None and node.allocation_id is None
    assert allocation(conn, name) is None  # Ironic removed it during teardown


def test_release_only_for_expected_instance(conn, run):
    rc, nodes = make_nodes(conn, 1)
    name = f"rel-{uuid.uuid4().hex[:6]}"
    res = run("node_reserve", instance_name=name, resource_class=rc, mode="instance_uuid")
    assert res["changed"] and conn.baremetal.get_node(nodes[0].id).instance_id == res["instance_uuid"]
    wrong = run("node_release", node=nodes[0].id, instance_name="other")
    assert wrong["failed"] and conn.baremetal.get_node(nodes[0].id).instance_id == res["instance_uuid"]
    check = run("node_release", check=True, node=nodes[0].id, instance_name=name)
    assert check["changed"] and conn.baremetal.get_node(nodes[0].id).instance_id == res["instance_uuid"]
    ok = run("node_release", node=nodes[0].id, instance_name=name)
    assert ok["changed"] and conn.baremetal.get_node(nodes[0].id).instance_id is None
    assert not run("node_release", node=nodes[0].id, instance_name=name)["changed"]


def test_eight_at_once_with_deploy_limit_two_reports_backpressure(conn, cloud, run):
    """Ironic has max_concurrent_deploy = 2: the excess of 8 simultaneous deploy requests gets
    HTTP 503, which the modules retry with backoff and report as backpressure; all end active."""
    rc, nodes = make_nodes(conn, 8)
    names = [f"bp-{i}-{uuid.uuid4().hex[:4]}" for i in range(8)]
    reserved = [run.finish(p) for p in [run.start("node_reserve", instance_name=n, resource_class=rc)
                                        for n in names]]
    assert not [r for r in reserved if r.get("failed")], reserved
    mark = len(cloud.access_lines())
    started = []
    for i, (n, r) in enumerate(zip(names, reserved)):
        if i == 2:  # once the first two are deploying, the next six exceed the limit of 2
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not all(
                    conn.baremetal.get_node(x["node"]).provision_state in ("deploying", "wait call-back")
                    for x in reserved[:2]):
                time.sleep(0.1)
        started.append(run.start("node_deploy", node=r["node"], instance_name=n,
                                 instance_uuid=r["instance_uuid"], wait=True, timeout=300, poll_interval=1))
    deploys = [run.finish(p, timeout=400) for p in started]
    assert not [d for d in deploys if d.get("failed")], deploys
    assert {conn.baremetal.get_node(n.id).provision_state for n in nodes} == {"active"}
    seen_503 = sum(d["backpressure_503_count"] for d in deploys)
    assert seen_503 > 0 and any(d["backpressure"] for d in deploys)
    assert all(d["error_kinds_seen"].keys() <= {"concurrent_action_limit", "node_locked"} for d in deploys)
    # Ironic's own access log agrees: it answered 503 at least as often as the modules reported.
    served_503 = sum(1 for line in cloud.access_lines()[mark:] if line.status == 503)
    assert served_503 >= seen_503


PLAYBOOK = """
- name: Reserve, deploy and verify every host's node
  hosts: fleet
  gather_facts: false
  connection: local
  tasks:
    - name: Reserve a node for this host
      ironwave.baremetal.node_reserve:
        cloud: "{{ cloud }}"
        instance_name: "{{ inventory_hostname }}"
        resource_class: "{{ rc }}"
      register: reservation

    - name: Deploy it, only if it is still ours
      ironwave.baremetal.node_deploy:
        cloud: "{{ cloud }}"
        node: "{{ reservation.node }}"
        instance_name: "{{ inventory_hostname }}"
        instance_uuid: "{{ reservation.instance_uuid }}"
        wait: true
        timeout: 300
        poll_interval: 1

    - name: Wait and verify the association
      ironwave.baremetal.node_wait:
        cloud: "{{ cloud }}"
        nodes: ["{{ reservation.node }}"]
        instance_uuid: "{{ reservation.instance_uuid }}"
        timeout: 300
        poll_interval: 1
"""

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def test_full_flow_rerun_is_a_no_op(conn, cloud, cache_dir, tmp_path):
    rc, nodes = make_nodes(conn, 3)
    hosts = {f"flow-{i}-{rc}": {} for i in range(3)}
    (tmp_path / "inv.yml").write_text(json.dumps({"fleet": {"hosts": hosts, "vars": {
        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
    (tmp_path / "flow.yml").write_text(PLAYBOOK)
    cmd = playbook_command(tmp_path / "flow.yml", {"cloud": cloud.name, "rc": rc}, "-i", str(tmp_path / "inv.yml"),
                           "-f", "3", binary=BIN / "ansible-playbook")

    def play():
        proc = subprocess.run(cmd, cwd=REPO, env=cloud.env(cache_dir), capture_output=True, text=True,
                              timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    first = play()
    assert all(conn.baremetal.get_node(n.id).provision_state == "active" for n in nodes)
    assert re.search(r"changed=2 ", first)
    before = snapshot(conn, nodes)
    mark = len(cloud.access_lines())
    second = play()
    assert all(re.search(rf"{h}\s*: ok=3\s+changed=0", second) for h in hosts), second
    writes = [line for line in cloud.access_lines()[mark:] if line.method in STATE_CHANGING]
    assert writes == []
    assert snapshot(conn, nodes) == before
