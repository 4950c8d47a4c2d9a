# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Limits on the real local Nova, read from Nova's own records (instance actions and launch times):
- deploy_limit_scope cloud: two runs at once share one limit on builds in flight;
- tune_services pushes max_concurrent_builds into the local nova-compute services and restarts
  exactly them; afterwards no compute service runs more than that many builds at once;
- the wave window is capped by the capacity check's build_window (per compute min(usable nodes,
  max_concurrent_builds))."""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import yaml

from ironwave_testlib.intervals import peak_overlap
from ironwave_testlib.local_nova import NOVA_VENV
from ironwave_testlib.nova_fleet import NovaFleet
from ironwave_testlib.paths import REPO
from ironwave_testlib.playbook import run_playbook, start_playbook

PLAYBOOK = REPO / "playbooks" / "nova_deploy.yml"
BUILD_EVENT = "compute__do_build_and_run_instance"


@pytest.fixture(scope="module")
def nova(local_nova) -> NovaFleet:
    return NovaFleet(local_nova)


def _inventory(path, nova, names, **extra):
    data = {"servers": {"hosts": {n: {} for n in names},
                        "vars": {"nova_deploy_cloud": nova.cloud, "nova_deploy_flavor": nova.flavor,
                                 "nova_deploy_image": nova.image, **extra}}}
    path.write_text(yaml.safe_dump(data))
    return path


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _servers(nova, prefix):
    return [s for s in nova.compute("GET", "/servers/detail")["servers"] if s["name"].startswith(prefix)]


def _create_to_active(nova, server) -> tuple[float, float]:
    actions = nova.compute("GET", f"/servers/{server['id']}/os-instance-actions")["instanceActions"]
    start = min(_ts(a["start_time"]) for a in actions if a["action"] == "create")
    return start, _ts(server["OS-SRV-USG:launched_at"])


def _build_events(nova, server) -> list[tuple[float, float]]:
    out = []
    for action in nova.compute("GET", f"/servers/{server['id']}/os-instance-actions")["instanceActions"]:
        detail = nova.compute("GET", f"/servers/{server['id']}/os-instance-actions/{action['request_id']}")
        for event in detail["instanceAction"].get("events", []):
            if event["event"] == BUILD_EVENT and event.get("finish_time"):
                out.append((_ts(event["start_time"]), _ts(event["finish_time"])))
    return out


def test_two_runs_share_the_cloud_counted_limit_on_builds_in_flight(nova, tmp_path):
    nova.delete_servers("cla-")
    nova.delete_servers("clb-")
    nova.ensure_free_nodes(6)
    runs = []
    for run in ("a", "b"):
        inv = _inventory(tmp_path / f"{run}.yml", nova, [f"cl{run}-{i}" for i in range(3)])
        runs.append(start_playbook(PLAYBOOK, {"deploy_limit": 2, "deploy_limit_scope": "cloud",
                                              "ironwave_wave_schedule": [3]},
                                   nova.env, "-i", str(inv), log=tmp_path / f"{run}.log"))
    results = [r.finish(timeout=900) for r in runs]
    for result in results:
        assert result.rc == 0, result.output
    servers = _servers(nova, "cla-") + _servers(nova, "clb-")
    assert len(servers) == 6 and {s["status"] for s in servers} == {"ACTIVE"}
    assert len({s["OS-EXT-SRV-ATTR:hypervisor_hostname"] for s in servers}) == 6
    # From Nova's records: create request -> launched, at most 2 at once across both runs.
    assert peak_overlap([_create_to_active(nova, s) for s in servers]) <= 2
    nova.delete_servers("cla-")
    nova.delete_servers("clb-")


def test_tuned_max_concurrent_builds_bounds_builds_per_compute(nova, tmp_path):
    """tune_services (manager local_nova) writes max_concurrent_builds 2 (and, as limits_plan plans
    for 2026.1+, max_concurrent_snapshots alike: nova 34 sizes one executor for both - builds 2
    alone still ran 5 at once here) into the computes' tuning file and restarts exactly the
    nova-compute services; six servers at once then never have more than two builds
    (do_build_and_run_instance events) at once on one compute service."""
    stack = nova.stack
    stack.start()   # running, whatever ran before
    pids_before = stack.pids()
    tuning = stack.state_dir / "etc" / "nova-compute-tuning.conf"
    try:
        _tune_and_build(nova, stack, tuning, pids_before, tmp_path)
    finally:
        tuning.write_text("")   # Nova's defaults again for whoever uses the stack next
        stack.start()


def _tune_and_build(nova, stack, tuning, pids_before, tmp_path):
    tune = run_playbook(REPO / "playbooks" / "tune.yml", {
        "tune_services_release": "2026.2", "tune_services_fleet_size": 6, "tune_services_manager": "local_nova",
        "tune_services_push_options": ["max_concurrent_builds", "max_concurrent_snapshots"],
        "tune_services_overrides": {"DEFAULT": {"max_concurrent_builds": 2, "max_concurrent_snapshots": 2}},
        "tune_services_registry_python": str(NOVA_VENV / "bin" / "python"), **stack.vars(),
        # playbooks/local_nova.yml derives it from the port; the role itself takes the endpoint.
        "local_nova_ironic_endpoint": f"http://127.0.0.1:{stack.ports['ironic']}"},
        nova.env, "-i", str(_tune_inventory(tmp_path)))
    assert tune.rc == 0, tune.output
    pids_after = stack.pids()
    restarted = {name for name in pids_before if pids_before[name] != pids_after.get(name)}
    assert restarted == {f"nova-compute-{host}" for host in stack.computes}, (pids_before, pids_after)
    assert "max_concurrent_builds = 2" in tuning.read_text()

    nova.delete_servers("tb-")            # a clean start when the stack is kept between sessions
    nova.ensure_free_nodes(6)
    inv = _inventory(tmp_path / "t.yml", nova, [f"tb-{i}" for i in range(6)])
    result = run_playbook(PLAYBOOK, {"deploy_limit": 6, "ironwave_wave_schedule": [6]}, nova.env, "-i", str(inv))
    assert result.rc == 0, result.output
    by_compute: dict[str, list] = {}
    for server in _servers(nova, "tb-"):
        by_compute.setdefault(server["OS-EXT-SRV-ATTR:host"], []).extend(_build_events(nova, server))
    assert sum(len(v) for v in by_compute.values()) == 6
    assert max(peak_overlap(v) for v in by_compute.values()) <= 2, by_compute
    nova.delete_servers("tb-")


def _tune_inventory(tmp_path):
    path = tmp_path / "tune-inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"nova_compute_ironic": {"hosts": {
        "localhost": {"ansible_connection": "local",
                      "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}}}))
    return path


def test_the_wave_window_is_capped_by_what_the_computes_can_build_at_once(nova, tmp_path):
    """With nova_deploy_max_concurrent_builds 1 the capacity check's build_window is one per compute
    service with usable nodes, and playbooks/nova_deploy.yml (deploy_limit 6) never has more builds
    in flight than that, from Nova's own records (create request -> launched)."""
    prefix = "cw-"
    nova.delete_servers(prefix)
    nova.ensure_free_nodes(4)
    inv = _inventory(tmp_path / "cw.yml", nova, [f"{prefix}{i}" for i in range(4)],
                     nova_deploy_max_concurrent_builds=1)
    env = {**nova.env, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}   # the capacity result on one line
    result = run_playbook(PLAYBOOK, {"deploy_limit": 6}, env, "-i", str(inv), "-v")
    assert result.rc == 0, result.output
    found = re.search(r'"per_compute_window": (\{[^}]*\})', result.output)
    assert found, result.output
    per_compute = json.loads(found[1])
    window = sum(per_compute.values())
    assert set(per_compute.values()) <= {0, 1} and 1 <= window <= len(nova.stack.computes), per_compute
    servers = _servers(nova, prefix)
    assert len(servers) == 4 and {s["status"] for s in servers} == {"ACTIVE"}
    assert peak_overlap([_create_to_active(nova, s) for s in servers]) <= window
    nova.delete_servers(prefix)
