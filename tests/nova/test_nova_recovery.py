# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova-compute killed mid-build on the real local stack, started again, the playbook rerun: the
run converges - every server ACTIVE on its own node, the cross-check holds, nothing duplicated."""
from __future__ import annotations

import os
import signal
import time

import pytest
import yaml

from ironwave_testlib.nova_fleet import NovaFleet
from ironwave_testlib.paths import REPO
from ironwave_testlib.playbook import run_playbook, start_playbook
from ironwave_testlib.processes import pid_alive

PLAYBOOK = REPO / "playbooks" / "nova_deploy.yml"
HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"


@pytest.fixture(scope="module")
def nova(local_nova) -> NovaFleet:
    return NovaFleet(local_nova)


def _inventory(tmp_path, nova, names):
    data = {"servers": {"hosts": {n: {} for n in names},
                        "vars": {"nova_deploy_cloud": nova.cloud, "nova_deploy_flavor": nova.flavor,
                                 "nova_deploy_image": nova.image, "nova_deploy_timeout": 180}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ours(nova, prefix):
    return [s for s in nova.compute("GET", "/servers/detail")["servers"] if s["name"].startswith(prefix)]


def test_nova_compute_killed_mid_build_then_restarted_and_the_rerun_converges(nova, tmp_path):
    prefix = "kl-"
    names = [f"{prefix}{i}" for i in range(4)]
    nova.delete_servers(prefix)             # a clean start when the stack is kept between sessions
    nova.ensure_free_nodes(4)
    inv = _inventory(tmp_path, nova, names)
    run = start_playbook(PLAYBOOK, {"deploy_limit": 4, "ironwave_wave_schedule": [4]}, nova.env, "-i", str(inv),
                         log=tmp_path / "first.log")
    # Kill the compute service of the first server that reached a node, while it builds.
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        for s in _ours(nova, prefix):
            if s["status"] == "BUILD" and s.get(HYPERVISOR) and s.get("OS-EXT-SRV-ATTR:host"):
                victim = s
                break
        time.sleep(0.2)
    assert victim, "no server reached its compute service"
    service = f"nova-compute-{victim['OS-EXT-SRV-ATTR:host']}"
    pid = nova.stack.pids()[service]
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):
        time.sleep(0.1)
    nova.stack.start()                      # the role starts exactly the dead compute again
    assert pid_alive(nova.stack.pids()[service])
    first = run.finish(timeout=600)         # its BUILDING instance went ERROR at the compute's start

    again = run_playbook(PLAYBOOK, {"deploy_limit": 4}, nova.env, "-i", str(inv), "-v")
    assert again.rc == 0, first.output + again.output
    servers = _ours(nova, prefix)
    assert sorted(s["name"] for s in servers) == names, "nothing duplicated, nothing missing"
    assert {s["status"] for s in servers} == {"ACTIVE"}
    assert len({s[HYPERVISOR] for s in servers}) == 4
    check = nova.crosscheck()
    assert not [v for v in check["violations"] if prefix in v], check
    holders = [n for n in nova.stack.conn.baremetal.nodes(details=True)
               if n.instance_id in {s["id"] for s in servers}]
    assert len(holders) == 4
