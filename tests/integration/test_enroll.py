# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Fleet enrollment against the real local Ironic: states, fields, idempotency, validation."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "enroll.yml"
SECRET = "Sup3r-Secret-BMC"


def _fleet(prefix: str, count: int = 4, octet: int = 1) -> list[dict]:
    nodes = []
    for i in range(count):
        nodes.append({
            "name": f"{prefix}{i}", "driver": "fake-hardware", "resource_class": "baremetal",
            "driver_info": {"fake_password": SECRET}, "properties": {"cpus": 8, "memory_mb": 1024 * (i + 1)},
            "traits": ["CUSTOM_RACK1"], "conductor_group": "",
            "ports": [{"address": f"52:54:{octet:02x}:{i:02x}:00:01"}], "macs": [f"52:54:{octet:02x}:{i:02x}:00:02"],
        })
    return nodes


def _nodes(conn, prefix: str) -> dict[str, object]:
    return {n.name: n for n in conn.baremetal.nodes(details=True) if n.name.startswith(prefix)}


def _enroll(ironic, tmp_path: Path, nodes, *args):
    fleet_file = tmp_path / "fleet.yml"
    fleet_file.write_text(yaml.safe_dump({"nodes": nodes}))
    return ironic.run_playbook(PLAYBOOK, {"enroll_fleet_file": str(fleet_file), "enroll_cloud": ironic.cloud}, *args)


def test_enroll_brings_fleet_to_available_idempotently(local_ironic, tmp_path):
    fleet = _fleet("enr-a-")
    first = _enroll(local_ironic, tmp_path, fleet)
    assert first.rc == 0, first.output
    assert SECRET not in first.stdout + first.stderr
    nodes = _nodes(local_ironic.conn, "enr-a-")
    assert sorted(nodes) == [f"enr-a-{i}" for i in range(4)]
    for i, (name, node) in enumerate(sorted(nodes.items())):
        assert node.provision_state == "available", (name, node.last_error)
        assert node.resource_class == "baremetal"
        assert node.properties["memory_mb"] == 1024 * (i + 1)
        assert node.traits == ["CUSTOM_RACK1"]
        assert node.power_state == "power off"
        macs = sorted(p.address for p in local_ironic.conn.baremetal.ports(node_id=node.id))
        assert macs == [f"52:54:01:{i:02x}:00:01", f"52:54:01:{i:02x}:00:02"]

    second = _enroll(local_ironic, tmp_path, fleet)
    assert second.rc == 0, second.output
    assert second.changed == 0, second.output
    assert len(_nodes(local_ironic.conn, "enr-a-")) == 4

    # An update changes only what was asked, on that node, and never duplicates it.
    fleet[1]["resource_class"] = "baremetal-large"
    fleet[1]["traits"] = ["CUSTOM_RACK1", "CUSTOM_GPU"]
    third = _enroll(local_ironic, tmp_path, fleet)
    assert third.rc == 0 and third.changed == 1, third.output
    nodes = _nodes(local_ironic.conn, "enr-a-")
    assert len(nodes) == 4
    assert nodes["enr-a-1"].resource_class == "baremetal-large"
    assert sorted(nodes["enr-a-1"].traits) == ["CUSTOM_GPU", "CUSTOM_RACK1"]
    assert nodes["enr-a-0"].resource_class == "baremetal"


@pytest.mark.parametrize("mutate,needles", [
    (lambda f: f[2].update(name="enr-b-0"), ["duplicate name"]),
    (lambda f: f[3].update(macs=["52:54:02:00:00:01"]), ["duplicate MAC 52:54:02:00:00:01"]),
    (lambda f: (f[0].update(colour="red"), f[1].pop("driver"), f[2].update(resource_class="bad class!")),
     ["unknown field(s) colour", "driver is required", "resource_class 'bad class!'"]),
])
def test_bad_fleet_is_rejected_and_nothing_is_created(local_ironic, tmp_path, mutate, needles):
    fleet = _fleet("enr-b-")
    for node in fleet:  # distinct MACs from the other tests
        node["ports"] = [{"address": p["address"].replace("52:54:01", "52:54:02")} for p in node["ports"]]
        node["macs"] = [m.replace("52:54:01", "52:54:02") for m in node["macs"]]
    mutate(fleet)
    before = len(list(local_ironic.conn.baremetal.nodes()))
    result = _enroll(local_ironic, tmp_path, fleet)
    assert result.rc == 2, result.output
    for needle in needles:
        assert needle in result.stdout, (needle, result.output)
    assert "nothing was changed" in result.stdout
    assert len(list(local_ironic.conn.baremetal.nodes())) == before
    assert not _nodes(local_ironic.conn, "enr-b-")


def test_failing_node_is_reported_and_others_proceed(local_ironic, tmp_path):
    fleet = _fleet("enr-c-", 3)
    for node in fleet:
        node["macs"] = [m.replace("52:54:01", "52:54:03") for m in node["macs"]]
        node["ports"] = []
    fleet[1]["driver"] = "no-such-driver"
    result = _enroll(local_ironic, tmp_path, fleet)
    assert result.rc == 2, result.output
    assert "1 of 3 node(s) did not reach available" in result.stdout
    assert "enr-c-1" in result.stdout and "no-such-driver" in result.stdout
    nodes = _nodes(local_ironic.conn, "enr-c-")
    assert {n: v.provision_state for n, v in nodes.items()} == {"enr-c-0": "available", "enr-c-2": "available"}


def test_check_mode_changes_nothing(local_ironic, tmp_path):
    result = _enroll(local_ironic, tmp_path, _fleet("enr-d-", 2, octet=4), "--check", "--diff")
    assert result.rc == 0, result.output
    assert result.changed == 1
    assert not _nodes(local_ironic.conn, "enr-d-")
