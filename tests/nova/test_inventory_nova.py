# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The `ironwave.baremetal.ironic` inventory plugin with `compute_hosts: true` against the real local
Nova stack (two nova-compute services): every node a compute owns is in that compute's
`ironic_compute_<host>` group with `ironic_compute_host` set, exactly as Nova's hypervisors say, and
a playbook limited to one compute's group runs on exactly its nodes."""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
import yaml

from ironwave_testlib.nova_fleet import NovaFleet
from ironwave_testlib.paths import BIN, REPO
from ironwave_testlib.playbook import run_playbook


@pytest.fixture(scope="module")
def nova(local_nova) -> NovaFleet:
    return NovaFleet(local_nova)


def _group(host: str) -> str:
    # inventory_rules.sanitize: lower case, every run of other characters one "_"
    return "ironic_compute_" + re.sub(r"[^a-z0-9_]+", "_", host.lower()).strip("_")


def _owners(nova) -> dict[str, str]:
    """Node UUID -> owning compute host, from Nova's hypervisors."""
    hyps = nova.compute("GET", "/os-hypervisors/detail")["hypervisors"]
    return {h["hypervisor_hostname"]: h["service"]["host"] for h in hyps}


def _settled(nova) -> dict[str, str] | None:
    owners = _owners(nova)
    usable = [n.id for n in nova.stack.conn.baremetal.nodes(details=True) if not n.is_maintenance]
    return owners if all(u in owners for u in usable) else None


def test_compute_host_groups_follow_novas_hypervisors(nova, tmp_path):
    stack = nova.stack
    nova.ensure_free_nodes(4)
    deadline = time.monotonic() + 180
    while not (owners := _settled(nova)):
        assert time.monotonic() < deadline, "every usable node on a compute"
        time.sleep(1)
    names = {n.id: n.name or n.id for n in stack.conn.baremetal.nodes(details=True)}
    source = tmp_path / "nodes.ironic.yml"
    source.write_text(yaml.safe_dump({"plugin": "ironwave.baremetal.ironic", "cloud": stack.cloud,
                                      "compute_hosts": True, "group_by": ["provision_state"]}))
    listed = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"], cwd=REPO,
                            env=stack.env, capture_output=True, text=True, check=False, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert "Nova is not reachable" not in listed.stderr, listed.stderr
    inventory = json.loads(listed.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    for host in stack.computes:
        expected = {names[u] for u, owner in owners.items() if owner == host and u in names}
        assert set(inventory.get(_group(host), {}).get("hosts", [])) == expected, (host, owners)
    for uuid, owner in owners.items():
        if uuid in names:
            value = hostvars[names[uuid]]["ironic_compute_host"]
            assert (value.get("__ansible_unsafe") if isinstance(value, dict) else value) == owner

    # A play on one compute's group runs on exactly that compute's nodes.
    busiest = max(stack.computes, key=lambda h: sum(1 for o in owners.values() if o == h))
    playbook = tmp_path / "ping.yml"
    playbook.write_text(yaml.safe_dump([{"name": "One compute's nodes", "hosts": _group(busiest),
                                         "gather_facts": False, "connection": "local",
                                         "tasks": [{"name": "Say which node",
                                                    "ansible.builtin.debug": {"msg": "{{ ironic_uuid }}"}}]}]))
    result = run_playbook(playbook, {}, stack.env, "-i", str(source))
    assert result.rc == 0, result.output
    ran = set(re.findall(r"ok: \[([^\]]+)\]", result.output))
    assert ran == {names[u] for u, o in owners.items() if o == busiest and u in names}, result.output
