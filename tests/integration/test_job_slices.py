# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""AWX job slicing, driven by ansible-runner the way AWX drives it (issue 12 §2): one job template
of playbooks/deploy.yml split into S = 3 jobs over hosts[k-1::S], started together, sharing nothing
but the cloud - each with its own private data dir, /tmp, poll cache and run control files, a
clouds.yaml with one cloud named `devstack` in OS_CLIENT_CONFIG_FILE and no OS_CLOUD, one slice's
clock 40 s ahead (libfaketime on its whole ansible-playbook), all with `deploy_limit: L` and
`deploy_limit_scope: cloud`.

Asserted from Ironic itself (a sampler reads it at >= 5 Hz): busy + held never above L (and L
reached) - with the cloud gate, whose markers are claims (phase `choosing`, withdrawn on a
collision) and never `held`, that is Ironic's busy count itself; every node of the healthy slices active, no node with two instances, every allocation on
its node. Slice 2's canary fails (a deploy step node_deploy refuses): its failure budget (0) trips
and halts slice 2 only - its other hosts never start and their nodes stay free - while slices 1 and
3 finish. Read back from each job's artifacts: rc, the job events, and the `ironwave_wave` artifact
data (set_stats) the next workflow node would consume."""
from __future__ import annotations

import glob
import os
import uuid

import pytest
import yaml

from ironwave_testlib.nodes import REFUSED_DEPLOY_STEPS
from ironwave_testlib.paths import BIN, COLLECTIONS, REPO
from ironwave_testlib.playbook import artifact_data, failed_events
from ironwave_testlib.slot_sampler import MARKER, Sampler, make_pool

SLICES = 3
LIMIT = 3
HOSTS = 12
LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("slices", fake_deploy_delay="2,4")


def _job(tmp_path, k: int, hosts: list[str], host_vars: dict, prefix: str, clouds: str, clock_ahead: int,
         protocol: str = "slot"):
    """Start slice k (1-based) the way AWX does: private data dir with inventory and env, the
    project's playbook, extra vars of the job template; returns (thread, runner)."""
    import ansible_runner  # noqa: PLC0415 - skipped above when missing
    private = tmp_path / f"job-{k}"
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"baremetal": {
        "hosts": {h: host_vars.get(h, {}) for h in hosts},
        "vars": {"deploy_cloud": "devstack", "deploy_resource_class": prefix, "deploy_poll_interval": 0.5,
                 "deploy_image_source": "http://127.0.0.1/slice.img"}}}, sort_keys=False))
    own_tmp = tmp_path / f"tmp-{k}"
    own_tmp.mkdir()
    envvars = {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
               "OS_CLIENT_CONFIG_FILE": clouds, "TMPDIR": str(own_tmp),
               "IRONWAVE_POLL_CACHE_DIR": str(own_tmp / "poll-cache")}
    if clock_ahead:
        envvars.update(LD_PRELOAD=LIBFAKETIME, FAKETIME=f"+{clock_ahead}s")
    extravars = {"deploy_limit": LIMIT, "deploy_limit_scope": "cloud", "deploy_reserve_mode": "instance_uuid",
                 "ironwave_wave_schedule": [1, "100%"], "ironwave_wave_max_failures": 0,
                 "deploy_cloud_limit_mode": "lease" if protocol == "slot" else "gate"}
    if protocol == "gate-admission":   # the AWX recipe (docs/awx.md): reserve when admitted, no prefetch
        extravars.update(deploy_reserve_at="admission", ironwave_wave_prefetch=0)
    return ansible_runner.run_async(private_data_dir=str(private), project_dir=str(REPO),
                                    playbook="playbooks/deploy.yml", envvars=envvars, extravars=extravars,
                                    quiet=True, ident=f"slice{k}")


@pytest.mark.skipif(not LIBFAKETIME, reason="needs libfaketime (apt-get install faketime; tests/run-all.sh does)")
@pytest.mark.parametrize("protocol", ["slot", "gate", "gate-admission"])
def test_three_slices_share_one_cloud_limit_and_a_tripped_budget_halts_its_slice_only(
        ironic, tmp_path, monkeypatch, protocol):
    pytest.importorskip("ansible_runner")
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")   # runner finds ansible-playbook on PATH
    monkeypatch.delenv("OS_CLOUD", raising=False)
    for name in ("IRONWAVE_WAVE_REPORT_PATH", "IRONWAVE_WAVE_SVG_PATH", "IRONWAVE_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    conn = ironic.conn
    prefix = f"sl-{uuid.uuid4().hex[:6]}"
    pool = make_pool(conn, prefix, HOSTS)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"devstack": {
        "auth_type": "none", "baremetal_endpoint_override": ironic.endpoint}}}))
    hosts = [f"{prefix}-inst-{i:02d}" for i in range(HOSTS)]
    slices = [hosts[k - 1::SLICES] for k in range(1, SLICES + 1)]   # AWX's split
    canary_2 = slices[1][0]
    sampler = Sampler(ironic.endpoint, {n.id for n in pool}, period=0.1)
    sampler.start()
    try:
        jobs = [_job(tmp_path, k, slices[k - 1], {canary_2: {"deploy_steps": REFUSED_DEPLOY_STEPS}} if k == 2 else {},
                     prefix, str(clouds), 40 if k == 3 else 0, protocol) for k in range(1, SLICES + 1)]
        for thread, _runner in jobs:
            thread.join(timeout=600)
    finally:
        sampler.stop()
    runners = [runner for _thread, runner in jobs]

    assert not sampler.errors, sampler.errors[:3]
    assert sampler.rate >= 5.0, sampler.rate
    assert sampler.max_of(3) <= LIMIT, f"busy + held above {LIMIT}: {sampler.over(LIMIT)[:5]}"
    assert sampler.max_of(3) == LIMIT, "the slices together must reach the limit"

    assert (runners[0].rc, runners[2].rc) == (0, 0), [failed_events(r) for r in runners]
    assert runners[1].rc != 0
    waves = [artifact_data(r).get("ironwave_wave") or {} for r in runners]
    assert waves[0]["halted"] is False and waves[2]["halted"] is False, waves
    assert waves[1]["halted"] is True and "wave 1/" in waves[1]["halt_reason"], waves[1]
    assert (waves[0]["ok"], waves[2]["ok"]) == (len(slices[0]), len(slices[2])), waves
    assert sorted(waves[1]["not_started_hosts"]) == sorted(slices[1][1:]), waves[1]

    nodes = list(conn.baremetal.nodes(details=True, resource_class=prefix))
    by_instance = {n.instance_info.get("display_name"): n for n in nodes if n.instance_id}
    deployed = slices[0] + slices[2]
    # The failed canary may keep its reservation (a rerun after the fix deploys that node); nothing else.
    assert sorted(set(by_instance) - {canary_2}) == sorted(deployed), "only the healthy slices' instances hold nodes"
    assert all(by_instance[h].provision_state == "active" for h in deployed)
    assert canary_2 not in by_instance or by_instance[canary_2].provision_state == "available"
    held = [n.instance_id for n in nodes if n.instance_id]
    assert len(set(held)) == len(held), "no instance on two nodes"
    assert len([n for n in nodes if n.provision_state == "available"]) == len(slices[1])
    left = {n.name: (n.provision_state, n.extra[MARKER]) for n in nodes if MARKER in (n.extra or {})}
    if protocol != "slot":
        # The gate leaves its claim on a deployed node: written in `available`, it stopped
        # counting when the node moved (slot_lease.lease_counts). None on a node still available.
        assert all(state == "active" and m.get("from_state") == "available" and m.get("phase") == "choosing"
                   for state, m in left.values()), left
        assert max(n for _t, n in sampler.claims) >= 1, "the sampler saw the gate's claims"
    else:
        assert left == {}, "no slot marker left behind"
    # The skewed slice really ran 40 s ahead: it stamped its markers ~40 s after this clock.
    skews = [(m.get("written_at") or m.get("announced_at") or 0) - t for t, _n, m in sampler.changes if m]
    assert max(skews) > 30 and min(skews) < 10, skews
    assert len(sampler.run_ids) >= 2
