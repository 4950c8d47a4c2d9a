# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The deploy role end to end on the real local Ironic: playbooks/deploy.yml (wave strategy) and
playbooks/deploy_builtin.yml (host_pinned + cloud-counted limit). Asserts on Ironic's state."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml

from ironwave_testlib import ironic_log
from ironwave_testlib.nodes import REFUSED_DEPLOY_STEPS
from ironwave_testlib.paths import PLAYBOOKS
from ironwave_testlib.playbook import run_playbook

REPO = PLAYBOOKS.parent


def _enroll(ironic, prefix: str, count: int, octet: int) -> None:
    result = ironic.run_playbook(REPO / "playbooks" / "enroll.yml", {
        "enroll_cloud": ironic.cloud,
        "enroll_generate": {"count": count, "name_prefix": prefix, "mac_prefix": f"52:55:{octet:02x}"}})
    assert result.rc == 0, result.output


def _inventory(tmp_path: Path, ironic, prefix: str, hosts: list[str]) -> Path:
    inv = {"baremetal": {"hosts": {h: {} for h in hosts}, "vars": {
        "deploy_cloud": ironic.cloud, "deploy_resource_class": "baremetal",
        "deploy_candidate_expression": f"starts_with(name, '{prefix}')",
        "deploy_poll_interval": 0.5}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def _placements(conn, prefix: str) -> dict[str, str]:
    """instance (allocation) name -> node name, for nodes of this prefix."""
    nodes = {n.id: n for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix)}
    out = {}
    for alloc in conn.baremetal.allocations():
        if alloc.node_id in nodes:
            node = nodes[alloc.node_id]
            assert node.instance_id == alloc.id, (node.name, node.instance_id, alloc.id)
            out[alloc.name] = node.name
    return out


@pytest.mark.parametrize("playbook,extra", [
    ("deploy.yml", {"deploy_limit": 3}),
    # The variable of the previous release still works, with a deprecation warning.
    ("deploy_builtin.yml", {"ironwave_global_limit": 2}),
])
def test_deploy_role_places_every_instance_once_and_reruns_idempotently(local_ironic, tmp_path, playbook, extra):
    prefix = "dr-w-" if playbook == "deploy.yml" else "dr-b-"
    _enroll(local_ironic, prefix, 5, 0x10 if playbook == "deploy.yml" else 0x11)
    hosts = [f"{prefix}inst-{i}" for i in range(4)]  # 4 instances, 5 nodes: one stays free
    inv = _inventory(tmp_path, local_ironic, prefix, hosts)
    first = local_ironic.run_playbook(REPO / "playbooks" / playbook, extra, "-i", str(inv), "--forks", "6")
    assert first.rc == 0, first.output
    if "ironwave_global_limit" in extra:
        assert re.search(r"DEPRECATION WARNING\]: The deploy role variable ironwave_global_limit \(set to 2\) is "
                         r"deprecated: use deploy_limit with deploy_limit_scope: cloud", first.output), first.output
    else:
        assert "DEPRECATION WARNING]: The deploy role variable" not in first.output
    conn = local_ironic.conn
    placements = _placements(conn, prefix)
    assert sorted(placements) == sorted(hosts)
    assert len(set(placements.values())) == 4  # one node per instance
    states = {n.name: n.provision_state for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix)}
    assert sorted(states.values()) == ["active"] * 4 + ["available"]

    second = local_ironic.run_playbook(REPO / "playbooks" / playbook, extra, "-i", str(inv), "--forks", "6")
    assert second.rc == 0, second.output
    assert all(r["changed"] == 0 for h, r in second.recap.items() if h in hosts), second.output
    assert _placements(conn, prefix) == placements


def test_busy_gate_with_prefetch_bounds_ironic_busy_nodes(local_ironic, tmp_path):
    """deploy.yml as shipped, window 2 + prefetch 4 (6 hosts in flight), busy gate 2, reserve by
    one PATCH: at most 2 nodes deploying in Ironic's log (and 2 reached), every node active with
    the image set by the reserving PATCH, one PATCH and one deploy request per node."""
    prefix = "dr-g-"
    _enroll(local_ironic, prefix, 8, 0x12)
    hosts = [f"{prefix}inst-{i}" for i in range(8)]
    inv = _inventory(tmp_path, local_ironic, prefix, hosts)
    conn = local_ironic.conn
    uuids = {n.id for n in conn.baremetal.nodes() if n.name.startswith(prefix)}
    report = tmp_path / "report.json"
    env = {**local_ironic.env, "IRONWAVE_WAVE_REPORT_PATH": str(report)}
    cursor = local_ironic.log_cursor()
    extra = {"ironwave_wave_schedule": ["100%"], "ironwave_wave_size": 2, "ironwave_wave_prefetch": 4,
             "deploy_limit": 2, "deploy_reserve_mode": "instance_uuid",
             "deploy_image_source": "http://127.0.0.1/gate.img"}
    result = run_playbook(REPO / "playbooks" / "deploy.yml", extra, env, "-i", str(inv), "--forks", "10")
    assert result.rc == 0, result.output
    text = cursor.text()  # waits a second: access lines are written after the response

    nodes = [n for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix)]
    assert sorted(n.provision_state for n in nodes) == ["active"] * 8
    assert all(n.instance_info.get("image_source") == "http://127.0.0.1/gate.img" for n in nodes)
    assert len({n.instance_id for n in nodes}) == 8
    assert ironic_log.peak_busy(text, uuids) == 2, "the busy gate must hold Ironic at 2 deploying nodes and reach 2"
    requests = ironic_log.requests(text)
    patches = [r for r in requests if r.method == "PATCH" and r.node in uuids]
    deploys = [r for r in requests if r.is_deploy]
    assert len(patches) == 8 and len(deploys) == 8, [f"{r.method} {r.path}" for r in requests]
    play = json.loads(report.read_text())["plays"][-1]
    assert play["peak_in_flight"] == 6, "window 2 + prefetch 4 hosts in flight"


@pytest.mark.parametrize("scope", ["run", "cloud"])
def test_deploy_limit_bounds_busy_nodes_under_host_pinned(local_ironic, tmp_path, scope):
    """playbooks/deploy_builtin.yml gives deploy_limit the same guarantee as deploy.yml: forks 8,
    deploy_limit 2 -> at most 2 nodes deploying in Ironic's log (and 2 reached), every node active;
    scope cloud takes a wave_slot lease per node (its marker PATCHes show in the log), run does not."""
    prefix = f"dr-{scope[0]}l-"
    _enroll(local_ironic, prefix, 6, 0x15 if scope == "run" else 0x16)
    hosts = [f"{prefix}inst-{i}" for i in range(6)]
    inv = _inventory(tmp_path, local_ironic, prefix, hosts)
    conn = local_ironic.conn
    uuids = {n.id for n in conn.baremetal.nodes() if n.name.startswith(prefix)}
    cursor = local_ironic.log_cursor()
    result = local_ironic.run_playbook(REPO / "playbooks" / "deploy_builtin.yml",
                                       {"deploy_limit": 2, "deploy_limit_scope": scope}, "-i", str(inv), "--forks", "8")
    assert result.rc == 0, result.output
    assert "DEPRECATION WARNING]: The deploy role variable" not in result.output
    text = cursor.text()
    assert sorted(n.provision_state for n in conn.baremetal.nodes(details=True)
                  if n.name.startswith(prefix)) == ["active"] * 6
    assert ironic_log.peak_busy(text, uuids) == 2, "deploy_limit 2 must hold Ironic at 2 deploying nodes and reach 2"
    slot_tasks = "Take a slot of the cloud-counted deploy limit" in result.output
    assert slot_tasks is (scope == "cloud"), result.output


def _bound_at(changes: list[dict], at: float, cap: int, slack: float = 1.0) -> int:
    """The busy limit the strategy had published at `at` (None = the configured `cap`), the
    highest one in force during the `slack` seconds before: a gate decision precedes its request."""
    def at_time(t: float) -> int:
        bound = cap
        for change in changes:
            if change["at"] <= t:
                bound = change["busy_limit"] or cap
        return bound
    # Every bound published inside the interval counts, not only those at its two ends: the
    # limit may rise and fall again within it (CI: 2 -> 3 -> cap -> 2 in under a second).
    inside = [change["busy_limit"] or cap for change in changes if at - slack < change["at"] <= at]
    return max([at_time(at - slack), *inside])


def test_backpressure_lowers_the_busy_limit_of_prefetched_hosts(local_ironic_factory, tmp_path):
    """Defect 6: Ironic takes 2 deploys at once (max_concurrent_deploy 2), the run allows 4
    (deploy_limit 4: window 4 + prefetch 4). The surplus requests get HTTP 503 and node_deploy
    signals backpressure at once; the strategy must then lower the busy limit that node_deploy's
    gate applies - shrinking the window alone leaves prefetched hosts at the gate admitting 4. From
    Ironic's log: a node is 'pushed' from its first deploy request (503s included) until active;
    the limit dropped after the first 503 and before that node went active, more than the lowered
    limit were pushed before it, and every node admitted after it was admitted with at most the
    lowered limit pushed."""
    ironic = local_ironic_factory("busy2", max_concurrent_deploy=2)
    prefix = "bp-"
    # Enough hosts that some are admitted after the first backpressure: node_deploy reports it
    # as its host leaves, i.e. after its node went active.
    _enroll(ironic, prefix, 20, 0x17)
    hosts = [f"{prefix}inst-{i:02d}" for i in range(20)]
    inv = _inventory(tmp_path, ironic, prefix, hosts)
    uuids = {n.id for n in ironic.conn.baremetal.nodes() if n.name.startswith(prefix)}
    report = tmp_path / "report.json"
    env = {**ironic.env, "IRONWAVE_WAVE_REPORT_PATH": str(report)}
    cursor = ironic.log_cursor()
    result = run_playbook(REPO / "playbooks" / "deploy.yml",
                          {"deploy_limit": 4, "ironwave_wave_schedule": [1, 19], "ironwave_wave_max_failures": [0, 2],
                           "deploy_reserve_mode": "instance_uuid"},
                          env, "-i", str(inv), "--forks", "10")
    assert result.rc == 0, result.output
    text = cursor.text()
    assert sorted(n.provision_state for n in ironic.conn.baremetal.nodes(details=True)
                  if n.name.startswith(prefix)) == ["active"] * 20

    # Pushed intervals per node: first deploy request (any status) -> active.
    first_put: dict[str, float] = {}
    first_refused: dict[str, float] = {}
    for req in ironic_log.requests(text):
        if req.is_deploy and req.node in uuids:
            first_put.setdefault(req.node, req.ts)
            if req.status == 503:
                first_refused.setdefault(req.node, req.ts)
    refused = len(first_refused)
    active = {m.node: m.ts for m in ironic_log.moves(text) if m.node in uuids and m.state == "active"}
    assert refused > 0, "Ironic must have pushed back for this test to mean anything"

    def pushed_at(t: float) -> int:
        return sum(1 for n, start in first_put.items() if start <= t < active.get(n, float("inf")))

    play = json.loads(report.read_text())["plays"][-1]
    changes = play["busy_bound_changes"]
    assert changes and changes[0]["busy_limit"] < 4, (
        "backpressure must lower the busy limit published to node_deploy's gate: %s" % changes)
    lowered_at = changes[0]["at"]
    # The refused task signals at once (run control file), so the limit drops while it still
    # retries - not when its host leaves, by which time every host may have been admitted at 4.
    first = min(first_refused, key=first_refused.get)
    assert first_refused[first] < lowered_at < active[first], (first_refused[first], lowered_at, active[first])
    assert max(pushed_at(t) for t in first_put.values() if t < lowered_at) > changes[0]["busy_limit"]
    late = sorted(t for t in first_put.values() if t > lowered_at)
    assert late, "some nodes must have been admitted after the limit was lowered"
    for t in late:
        assert pushed_at(t) <= _bound_at(changes, t, 4), (t, pushed_at(t), changes)
    assert any(pushed_at(t) < 4 for t in late)


def test_a_tripped_budget_stops_prefetched_hosts_before_their_deploy_request(local_ironic_factory, tmp_path):
    """Defect 6: waves [1, 2, 2], budget 0, deploy_limit 2 (window 2 + prefetch 2). The canary is
    already active; two nodes outside the run keep Ironic's busy count at the limit, so wave 2's
    and wave 3's hosts reserve and wait at the busy gate. One wave-2 deploy fails: the budget trips
    and no node reserved by a wave-3 host (nor the other wave-2 host, also still waiting) may
    receive a deploy request - in Ironic's log - even after the outside nodes are done."""
    ironic = local_ironic_factory("halt", max_concurrent_deploy=2, fake_deploy_delay="6,8")
    prefix = "ht-"
    _enroll(ironic, prefix, 5, 0x18)
    _enroll(ironic, "blk-", 2, 0x19)
    hosts = [f"{prefix}inst-{i}" for i in range(5)]  # canary 0; wave 2: 1, 2; wave 3: 3, 4
    inv = _inventory(tmp_path, ironic, prefix, hosts)
    inv_data = yaml.safe_load(inv.read_text())
    inv_data["baremetal"]["hosts"][hosts[2]] = {"deploy_steps": REFUSED_DEPLOY_STEPS}
    inv.write_text(yaml.safe_dump(inv_data))
    extra = {"deploy_limit": 2, "ironwave_wave_schedule": [1, 2], "ironwave_wave_max_failures": 0,
             "deploy_reserve_mode": "instance_uuid"}
    canary = run_playbook(REPO / "playbooks" / "deploy.yml", extra, ironic.env, "-i", str(inv), "--limit", hosts[0])
    assert canary.rc == 0, canary.output

    conn = ironic.conn
    for node in conn.baremetal.nodes():
        if node.name.startswith("blk-"):
            conn.baremetal.set_node_provision_state(node, "active")
    cursor = ironic.log_cursor()
    report = tmp_path / "report.json"
    result = run_playbook(REPO / "playbooks" / "deploy.yml", extra,
                          {**ironic.env, "IRONWAVE_WAVE_REPORT_PATH": str(report)}, "-i", str(inv), "--forks", "10")
    assert result.rc != 0, result.output
    play = json.loads(report.read_text())["plays"][-1]
    assert play["halted"] and "wave 2/" in play["halt_reason"], play["halt_reason"]
    # Wait until the outside nodes are done: a waiting host would deploy right then.
    deadline = time.time() + 120
    while any(n.provision_state != "active" for n in conn.baremetal.nodes(details=True) if n.name.startswith("blk-")):
        assert time.time() < deadline
        time.sleep(1.0)
    time.sleep(3.0)
    text = cursor.text()

    nodes = {n.id: n for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix)}
    by_instance = {n.instance_info.get("display_name"): n.id for n in nodes.values() if n.instance_id}
    wave3 = {by_instance[h] for h in hosts[3:] if h in by_instance}
    deployed = {r.node for r in ironic_log.requests(text) if r.is_deploy}
    assert not deployed & wave3, "wave-3 nodes received a deploy request after the budget tripped"
    assert not deployed & set(nodes), "no node of the run may receive a deploy request in this run"
    assert all(n.provision_state in ("available", "active") for n in nodes.values())
    assert "the run was halted" in result.output, result.output


# The head of the small controller-side plays below (str.format templates: {{ }} are literal).
LOCAL_PLAY_HEAD = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
"""

IN_WORKER_PLAY = LOCAL_PLAY_HEAD + """    - name: Reserve, check mode
      ironwave.baremetal.node_reserve:
        cloud: {cloud}
        instance_name: dr-i-inst
        expression: "starts_with(name, 'dr-i-')"
      check_mode: true
      register: checked
    - name: Reserve a missing node (fails cleanly)
      ironwave.baremetal.node_deploy:
        cloud: {cloud}
        node: dr-i-missing
        instance_name: dr-i-inst
      register: missing
      ignore_errors: true
    - name: Record
      ansible.builtin.copy:
        content: "{{{{ {{'checked': checked, 'missing': missing}} | to_json }}}}"
        dest: {out}
"""


@pytest.mark.parametrize("in_worker", ["1", "0"])
def test_modules_give_the_same_results_in_the_worker_and_as_a_process(local_ironic, tmp_path, in_worker):
    _enroll(local_ironic, "dr-i-", 1, 0x13)
    out = tmp_path / "out.json"
    play = tmp_path / "play.yml"
    play.write_text(IN_WORKER_PLAY.format(cloud=local_ironic.cloud, out=out))
    env = {**local_ironic.env, "IRONWAVE_IN_WORKER": in_worker}
    result = run_playbook(play, {}, env)
    assert result.rc == 0, result.output
    got = json.loads(out.read_text())
    checked, missing = got["checked"], got["missing"]
    assert checked["changed"] is True and checked["node_name"] == "dr-i-001", checked
    assert checked.get("in_worker", False) is (in_worker == "1")
    assert missing["failed"] is True and missing["error_kind"] == "not_found", missing
    assert "not found" in missing["msg"]
    node = next(n for n in local_ironic.conn.baremetal.nodes(details=True) if n.name == "dr-i-001")
    assert node.instance_id is None and node.provision_state == "available"  # check mode changed nothing


UUID_RESERVE_PLAY = LOCAL_PLAY_HEAD + """    - name: Reserve by one PATCH, with the image
      ironwave.baremetal.node_reserve:
        cloud: {cloud}
        instance_name: dr-u-inst
        mode: instance_uuid
        expression: "starts_with(name, 'dr-u-')"
        instance_info: {{image_source: "{{{{ image }}}}"}}
      register: reserved
    - name: Record
      ansible.builtin.copy:
        content: "{{{{ reserved | to_json }}}}"
        dest: {out}
"""


def test_uuid_reserve_sets_and_refreshes_instance_info(local_ironic, tmp_path):
    """mode=instance_uuid: the reserving PATCH carries instance_info; a rerun with another image
    patches it (changed), a rerun with the same image changes nothing; the node stays ours."""
    _enroll(local_ironic, "dr-u-", 2, 0x14)
    out = tmp_path / "out.json"
    play = tmp_path / "play.yml"
    play.write_text(UUID_RESERVE_PLAY.format(cloud=local_ironic.cloud, out=out))
    seen = []
    for image in ("http://127.0.0.1/a.img", "http://127.0.0.1/b.img", "http://127.0.0.1/b.img"):
        result = local_ironic.run_playbook(play, {"image": image})
        assert result.rc == 0, result.output
        got = json.loads(out.read_text())
        node = local_ironic.conn.baremetal.get_node(got["node"])
        assert node.instance_id == got["instance_uuid"] and node.instance_info["image_source"] == image
        assert node.instance_info["display_name"] == "dr-u-inst"
        seen.append((got["node"], got["changed"]))
    assert [c for _n, c in seen] == [True, True, False]
    assert len({n for n, _c in seen}) == 1


def test_builtin_path_deploys_the_canary_first_and_a_failed_canary_stops_the_play(local_ironic, tmp_path):
    """playbooks/deploy_builtin.yml (ansible.builtin.host_pinned, serial [1, "100%"]): a canary whose
    deploy fails stops the play - no other host starts, no other node of the run gets a write or a
    deploy request (Ironic's log); once the canary is fixed, its node is active in Ironic before
    any other node of the run receives its deploy request."""
    prefix = "dr-cb-"
    _enroll(local_ironic, prefix, 5, 0x1c)
    hosts = [f"{prefix}inst-{i}" for i in range(4)]
    conn = local_ironic.conn
    uuids = {n.id for n in conn.baremetal.nodes() if n.name.startswith(prefix)}
    inv = _inventory(tmp_path, local_ironic, prefix, hosts)
    broken = yaml.safe_load(inv.read_text())
    broken["baremetal"]["hosts"][hosts[0]] = {"deploy_steps": REFUSED_DEPLOY_STEPS}
    broken_inv = tmp_path / "inventory-broken.yml"
    broken_inv.write_text(yaml.safe_dump(broken))
    extra = {"deploy_limit": 2}

    cursor = local_ironic.log_cursor()
    failed = local_ironic.run_playbook(REPO / "playbooks" / "deploy_builtin.yml", extra, "-i", str(broken_inv),
                                       "--forks", "6")
    assert failed.rc != 0, failed.output
    assert failed.recap[hosts[0]]["failed"] == 1, failed.output
    assert not set(failed.recap) & set(hosts[1:]), "no host after the failed canary may start"
    text = cursor.text()
    writes = [r for r in ironic_log.requests(text) if r.node in uuids and r.method in ("PATCH", "PUT", "POST")]
    assert not [r for r in writes if r.is_deploy], "the failed canary's run sent a deploy request"
    held = [n.name for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix) and n.instance_id]
    assert len(held) <= 1, f"only the canary's node may be reserved: {held}"

    cursor = local_ironic.log_cursor()
    fixed = local_ironic.run_playbook(REPO / "playbooks" / "deploy_builtin.yml", extra, "-i", str(inv),
                                      "--forks", "6")
    assert fixed.rc == 0, fixed.output
    text = cursor.text()
    placements = _placements(conn, prefix)
    assert sorted(placements) == sorted(hosts)
    by_name = {n.name: n.id for n in conn.baremetal.nodes() if n.name.startswith(prefix)}
    canary_node = by_name[placements[hosts[0]]]
    canary_active = min(m.ts for m in ironic_log.moves(text) if m.node == canary_node and m.state == "active")
    others_first_deploy = min(r.ts for r in ironic_log.requests(text) if r.is_deploy and r.node in uuids
                              and r.node != canary_node)
    assert canary_active < others_first_deploy, (canary_active, others_first_deploy)
    assert sorted(n.provision_state for n in conn.baremetal.nodes(details=True)
                  if n.name.startswith(prefix)) == ["active"] * 4 + ["available"]
