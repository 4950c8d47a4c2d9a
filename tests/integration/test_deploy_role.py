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

from conftest import run_playbook

REPO = Path(__file__).resolve().parents[2]


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
    ("deploy.yml", {"ironwave_wave_schedule": [1, 3], "ironwave_wave_size": 3}),
    ("deploy_builtin.yml", {"ironwave_global_limit": 2}),
])
def test_deploy_role_places_every_instance_once_and_reruns_idempotently(local_ironic, tmp_path, playbook, extra):
    prefix = "dr-w-" if playbook == "deploy.yml" else "dr-b-"
    _enroll(local_ironic, prefix, 5, 0x10 if playbook == "deploy.yml" else 0x11)
    hosts = [f"{prefix}inst-{i}" for i in range(4)]  # 4 instances, 5 nodes: one stays free
    inv = _inventory(tmp_path, local_ironic, prefix, hosts)
    first = local_ironic.run_playbook(REPO / "playbooks" / playbook, extra, "-i", str(inv), "--forks", "6")
    assert first.rc == 0, first.output
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


MOVED = re.compile(r"Node (?P<node>[0-9a-f-]{36}) moved to provision state \"(?P<state>[^\"]+)\"")
ACCESS = re.compile(r"ironic\.api \[[^\]]*\] \S+ - (?P<method>[A-Z]+) (?P<path>\S+) - (?P<status>\d{3})")


def _peak_busy(log_text: str, uuids: set[str]) -> int:
    """Most of `uuids` deploying at once, replayed from Ironic's own state-change log lines."""
    busy: set[str] = set()
    peak = 0
    for m in MOVED.finditer(log_text):
        if m["node"] not in uuids:
            continue
        if m["state"] in ("deploying", "wait call-back"):
            busy.add(m["node"])
        else:
            busy.discard(m["node"])
        peak = max(peak, len(busy))
    return peak


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
    offset = local_ironic.log_file.stat().st_size
    extra = {"ironwave_wave_schedule": ["100%"], "ironwave_wave_size": 2, "ironwave_wave_prefetch": 4,
             "deploy_busy_limit": 2, "deploy_reserve_mode": "instance_uuid",
             "deploy_image_source": "http://127.0.0.1/gate.img"}
    result = run_playbook(REPO / "playbooks" / "deploy.yml", extra, env, "-i", str(inv), "--forks", "10")
    assert result.rc == 0, result.output
    time.sleep(1.0)  # access lines are written after the response
    with open(local_ironic.log_file, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")

    nodes = [n for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix)]
    assert sorted(n.provision_state for n in nodes) == ["active"] * 8
    assert all(n.instance_info.get("image_source") == "http://127.0.0.1/gate.img" for n in nodes)
    assert len({n.instance_id for n in nodes}) == 8
    assert _peak_busy(text, uuids) == 2, "the busy gate must hold Ironic at 2 deploying nodes and reach 2"
    requests = [m.groupdict() for m in ACCESS.finditer(text)]
    patches = [r for r in requests if r["method"] == "PATCH" and r["path"].split("/")[3] in uuids]
    deploys = [r for r in requests if r["method"] == "PUT" and r["path"].endswith("/states/provision")]
    assert len(patches) == 8 and len(deploys) == 8, [f"{r['method']} {r['path']}" for r in requests]
    play = json.loads(report.read_text())["plays"][-1]
    assert play["peak_in_flight"] == 6, "window 2 + prefetch 4 hosts in flight"


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
