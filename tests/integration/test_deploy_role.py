# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The deploy role end to end on the real local Ironic: playbooks/deploy.yml (wave strategy) and
playbooks/deploy_builtin.yml (host_pinned + cloud-counted limit). Asserts on Ironic's state."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
