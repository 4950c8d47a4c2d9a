# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""node_deploy against a real local Ironic (issue 9, defects 5, 9, 10, 11, 12): what Ironic stored
(its API, its sqlite database) and what it logged, never "it ran".

The module runs as a plain process (ironwave_testlib.module_runner), as Ansible ships it."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
from ironwave_testlib import ironic_log
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.nodes import make_available
from ironwave_testlib.proxy import FaultProxy

STEP = {"interface": "deploy", "step": "install_bootloader", "args": {}, "priority": 80}


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("deploy", fake_deploy_delay="2,3")


@pytest.fixture
def gate_dir(tmp_path) -> Path:
    """The busy gate's board directory of this test (the per-host default, isolated per test)."""
    return tmp_path / "busy-gate"


def runner(ironic, tmp_path, gate_dir, name="run", cloud="__default__", **env) -> ModuleRunner:
    base = module_env(ironic.clouds_yaml, tmp_path / f"poll-{name}")
    base["IRONWAVE_BUSY_GATE_DIR"] = str(gate_dir)
    base.update(env)
    (tmp_path / name).mkdir(exist_ok=True)
    return ModuleRunner(ironic.cloud if cloud == "__default__" else cloud, base, tmp_path / name)


@pytest.fixture
def run(ironic, tmp_path, gate_dir) -> ModuleRunner:
    return runner(ironic, tmp_path, gate_dir)


def retry_locked(call, *args, **kwargs):
    """Ironic on sqlite answers "database is locked" now and then under concurrent writes."""
    for attempt in range(10):
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - only the sqlite lock is retried
            if "database is locked" not in str(exc) or attempt == 9:
                raise
            time.sleep(0.5)


def make_nodes(conn, count: int, traits=()) -> list[tuple[str, str]]:
    """`count` available nodes, each associated with an instance of its own (Nova-style
    instance_uuid): [(node uuid, instance uuid)]."""
    tag = uuid.uuid4().hex[:8]
    nodes = make_available(conn, [f"dep-{tag}-{i}" for i in range(count)], power_off=False)
    out = []
    for n in nodes:
        inst = str(uuid.uuid4())
        retry_locked(conn.baremetal.patch_node, n, [{"op": "add", "path": "/instance_uuid", "value": inst}])
        if traits:
            retry_locked(conn.baremetal.set_node_traits, n, list(traits))
        out.append((n.id, inst))
    return out


def stored(ironic, node: str) -> dict:
    """The node row as Ironic stored it (the API masks instance_info.configdrive)."""
    db = sqlite3.connect(f"file:{ironic.state_dir / 'ironic.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        info, internal, traits_rows = db.execute(
            "select instance_info, driver_internal_info, id from nodes where uuid=?", (node,)).fetchone()
        traits = [r[0] for r in db.execute("select trait from node_traits where node_id=?", (traits_rows,))]
    finally:
        db.close()
    return {"instance_info": json.loads(info or "{}"), "driver_internal_info": json.loads(internal or "{}"),
            "traits": sorted(traits)}


def deploy_requests(text: str, node: str) -> list[ironic_log.Request]:
    return [r for r in ironic_log.requests(text) if r.is_deploy and r.node == node]


# -- defect 12: microversions -------------------------------------------------------------------------
def test_config_drive_dict_is_deployed_and_stored_and_not_logged(ironic, run):
    node, inst = make_nodes(ironic.conn, 1)[0]
    secret = f"#cloud-config\npassword: s3cret-{uuid.uuid4().hex}\n"
    drive = {"meta_data": {"hostname": "web-config-drive", "public_keys": {"k": "ssh-ed25519 AAAA test"}},
             "user_data": secret, "network_data": {"links": [], "networks": [], "services": []}}
    proc, t0 = run.start("node_deploy", node=node, instance_uuid=inst, config_drive=drive, wait=True,
                         timeout=120, poll_interval=0.5)
    out, err = proc.communicate(timeout=180)
    result = json.loads(out.strip().splitlines()[-1])
    assert not result.get("failed"), result
    assert result["changed"] and result["provision_state"] == "active"
    assert ironic.conn.baremetal.get_node(node).provision_state == "active"
    assert stored(ironic, node)["instance_info"]["configdrive"] == drive
    # config_drive is no_log: the user data (secrets) is not echoed back in the result.
    assert "s3cret-" not in out + err


def test_deploy_steps_reach_ironic(ironic, run):
    node, inst = make_nodes(ironic.conn, 1)[0]
    seen: list[dict] = []
    stop = threading.Event()

    def sample():  # user_deploy_steps live in driver_internal_info while the node deploys
        while not stop.is_set():
            row = stored(ironic, node)["driver_internal_info"]
            if row.get("user_deploy_steps"):
                seen.append(row["user_deploy_steps"])
            time.sleep(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run("node_deploy", node=node, instance_uuid=inst, deploy_steps=[STEP], wait=True, timeout=120,
                     poll_interval=0.5)
    finally:
        stop.set()
        sampler.join()
    assert not result.get("failed"), result
    assert result["provision_state"] == "active" and ironic.conn.baremetal.get_node(node).provision_state == "active"
    assert seen and seen[0] == [STEP]


# -- defect 10: validate first, write last or roll back -----------------------------------------------
def test_deploy_steps_ironic_refuses_leave_traits_and_instance_info_unchanged(ironic, run):
    node, inst = make_nodes(ironic.conn, 1, traits=["CUSTOM_OLD"])[0]
    before = stored(ironic, node)
    bad = [{"interface": "foo", "step": "x", "args": {}, "priority": 10}]   # Ironic's schema refuses it
    result = run("node_deploy", node=node, instance_uuid=inst, traits=["CUSTOM_X"],
                 instance_info={"image_source": "http://example.invalid/img"}, deploy_steps=bad)
    after = stored(ironic, node)
    assert after["traits"] == ["CUSTOM_OLD"] and after["instance_info"] == before["instance_info"]
    assert result.get("failed") and result["error_kind"] == "bad_request", result
    assert "deploy_steps" in result["msg"]
    assert ironic.conn.baremetal.get_node(node).provision_state == "available"


def test_malformed_deploy_steps_are_refused_before_any_write(ironic, run):
    node, inst = make_nodes(ironic.conn, 1, traits=["CUSTOM_OLD"])[0]
    cursor = ironic_log.LogCursor(ironic.log_file)
    result = run("node_deploy", node=node, instance_uuid=inst, traits=["CUSTOM_X"],
                 deploy_steps=[{"interface": "deploy", "step": "x", "args": {}}])
    assert cursor.mutating() == []
    assert result.get("failed") and result["error_kind"] == "bad_request", result
    assert "deploy_steps[0]" in result["msg"] and "priority" in result["msg"]
    assert stored(ironic, node)["traits"] == ["CUSTOM_OLD"]


def test_busy_gate_timeout_leaves_traits_unchanged(ironic, run):
    (busy, _busy_inst), (node, inst) = make_nodes(ironic.conn, 2, traits=["CUSTOM_OLD"])
    # The other node stays busy for as long as the test needs (a real deploy of 2-3 s could end
    # before this module's gate looks on a loaded machine, and the node would be admitted).
    hold_busy(ironic, busy, "cleaning")
    try:
        cursor = ironic_log.LogCursor(ironic.log_file)
        result = run("node_deploy", node=node, instance_uuid=inst, traits=["CUSTOM_X"], busy_limit=1, timeout=1,
                     poll_interval=0.5)
        assert result.get("failed") and result["error_kind"] == "timeout", result
        assert stored(ironic, node)["traits"] == ["CUSTOM_OLD"]
        assert [r for r in ironic_log.mutating(cursor.text()) if r.node == node] == []
    finally:
        hold_busy(ironic, busy, "available")


# -- defect 9: a deploy request that took effect behind a 504 --------------------------------------------
def test_deploy_answered_504_after_it_took_effect_is_success(ironic, run):
    node, inst = make_nodes(ironic.conn, 1)[0]

    def fault(method, path, n):   # forward the first deploy request, then answer 504
        return "after" if method == "PUT" and path.endswith("/states/provision") and n == 0 else None
    cursor = ironic_log.LogCursor(ironic.log_file)
    with FaultProxy(ironic.endpoint, fault) as proxy:
        result = run("node_deploy", node=node, instance_uuid=inst, baremetal_endpoint_override=proxy.url,
                     wait=True, timeout=120, poll_interval=0.5)
    assert (("PUT", f"/v1/nodes/{node}/states/provision", 504) in proxy.seen), proxy.seen
    assert not result.get("failed"), result
    assert result["changed"] and result["provision_state"] == "active"
    assert ironic.conn.baremetal.get_node(node).provision_state == "active"
    # Ironic accepted exactly one deploy request for the node (no failed resend).
    assert [r.status for r in deploy_requests(cursor.text(), node)] == [202]


# -- defect 11: ours in `deploy failed` -----------------------------------------------------------------------
def test_rerun_deploys_ours_in_deploy_failed_again(ironic, run):
    node, inst = make_nodes(ironic.conn, 1)[0]
    # A deploy that fails in Ironic (priority 0 disables the only deploy step of fake-hardware),
    # as Ironic's own `deploying` nodes do when it starts after a crash.
    ironic.conn.baremetal.set_node_provision_state(
        node, "active", deploy_steps=[{"interface": "deploy", "step": "deploy", "args": {}, "priority": 0}])
    deadline = time.monotonic() + 60
    while ironic.conn.baremetal.get_node(node).provision_state != "deploy failed":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    result = run("node_deploy", node=node, instance_uuid=inst, busy_limit=2, wait=True, timeout=120,
                 poll_interval=0.5)
    assert not result.get("failed"), result
    assert result["changed"] and result["provision_state"] == "active"
    got = ironic.conn.baremetal.get_node(node)
    assert got.provision_state == "active" and got.instance_id == inst


# -- defect 5: the busy gate is shared by every run on the host that reaches the same Ironic -------------
def test_busy_gate_counts_runs_with_other_tmpdir_and_cloud_spelling_together(ironic, tmp_path, gate_dir):
    nodes = make_nodes(ironic.conn, 4)
    # Run A names the cloud; run B relies on OS_CLOUD. Each has its own $TMPDIR and poll cache
    # (as AWX jobs or two users would); both run on this host and reach the same endpoint.
    (tmp_path / "tmp-a").mkdir()
    (tmp_path / "tmp-b").mkdir()
    run_a = runner(ironic, tmp_path, gate_dir, "a", TMPDIR=str(tmp_path / "tmp-a"))
    run_b = runner(ironic, tmp_path, gate_dir, "b", cloud=None, OS_CLOUD=ironic.cloud, TMPDIR=str(tmp_path / "tmp-b"))
    cursor = ironic_log.LogCursor(ironic.log_file)
    started = [r.start("node_deploy", node=n, instance_uuid=i, busy_limit=2, wait=True, timeout=300,
                       poll_interval=0.5)
               for r, (n, i) in zip((run_a, run_b, run_a, run_b), nodes)]
    results = [ModuleRunner.finish(p, timeout=400) for p in started]
    assert not [r for r in results if r.get("failed")], results
    assert {ironic.conn.baremetal.get_node(n).provision_state for n, _i in nodes} == {"active"}
    peak = ironic_log.peak_busy(cursor.text(), [n for n, _i in nodes])
    assert peak <= 2, peak


# -- defects 4 and 6 (deploy side): a gone or halted run stops hosts waiting at the busy gate ------------
def hold_busy(ironic, node: str, state: str) -> None:
    """Set a node's provision state in Ironic's database: a node stuck in `cleaning` (as after a
    conductor died) holds a busy slot for exactly as long as the test wants."""
    db = sqlite3.connect(str(ironic.state_dir / "ironic.sqlite"), timeout=30)
    try:
        with db:
            db.execute("update nodes set provision_state=? where uuid=?", (state, node))
    finally:
        db.close()


@pytest.mark.parametrize("how", ["killed", "halted", "limit_lowered"])
def test_hosts_waiting_at_the_gate_follow_their_run(ironic, run, tmp_path, how):
    import subprocess
    from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import process_start

    (busy, _busy_inst), (node, inst) = make_nodes(ironic.conn, 2, traits=["CUSTOM_OLD"])
    playbook = subprocess.Popen(["sleep", "300"])          # stands in for ansible-playbook
    control = tmp_path / "run-control.json"
    guard = {"pid": playbook.pid, "start": process_start(playbook.pid), "control": str(control)}
    if how == "limit_lowered":   # after backpressure the strategy published busy limit 1 (configured 2)
        control.write_text(json.dumps({"busy_limit": 1}))
    hold_busy(ironic, busy, "cleaning")
    try:
        cursor = ironic_log.LogCursor(ironic.log_file)
        waiting = run.start("node_deploy", node=node, instance_uuid=inst, traits=["CUSTOM_X"], run_guard=guard,
                            busy_limit=1 if how != "limit_lowered" else 2, timeout=60, poll_interval=0.5)
        time.sleep(3)     # it waits at the gate behind the node in `cleaning`
        if how == "killed":
            playbook.kill()
            playbook.wait()
        elif how == "halted":
            control.write_text(json.dumps({"halted": "failure budget of wave 2 exceeded"}))
        time.sleep(1.5)
        released = time.time()
        hold_busy(ironic, busy, "available")                # the slot frees
        result = run.finish(waiting, timeout=120)
        text = cursor.text()
        sent = [r for r in ironic_log.requests(text) if r.is_deploy and r.node == node]
        if how == "limit_lowered":
            # Admitted only once the slot freed: the lowered limit held while the node was busy.
            assert not result.get("failed"), result
            assert sent and all(r.ts >= released - 0.5 for r in sent), (released, sent)
            return
        # The waiting host sent nothing, although the slot freed meanwhile.
        assert result.get("failed") and result["error_kind"] == ("run_gone" if how == "killed" else "halted"), result
        assert [r for r in ironic_log.mutating(text) if r.node == node] == []
        assert stored(ironic, node)["traits"] == ["CUSTOM_OLD"]
        assert ironic.conn.baremetal.get_node(node).provision_state == "available"
    finally:
        hold_busy(ironic, busy, "available")
        if playbook.poll() is None:
            playbook.kill()
            playbook.wait()


# -- reserve at admission: two runs (own gate board and cache each, as two controllers) share a pool ------
def test_reserve_at_admission_two_runs_share_one_pool_and_one_limit(ironic, tmp_path):
    """node_deploy `reserve` with busy_board cloud: no node is named; each host reserves one when
    the gate admits it, in the PATCH that carries its claim. Asserted from Ironic: each instance on
    one node of the pool (derived instance UUID, display_name, instance_info), every one active,
    one node left free, at most 2 deploying at once (its own log), one reserving PATCH per node
    (plus one refused per lost race) and no other write before the deploy request."""
    from ansible_collections.ironwave.baremetal.plugins.module_utils.reservation import derived_uuid
    tag = f"rsv-{uuid.uuid4().hex[:6]}"
    pool = make_available(ironic.conn, [f"{tag}-{i}" for i in range(5)], node_fields=lambda i: {"resource_class": tag})
    runs = {}
    for name in ("a", "b"):   # two controllers: own gate board, own listing cache, own run id
        (tmp_path / f"gate-{name}").mkdir()
        runs[name] = runner(ironic, tmp_path, tmp_path / f"gate-{name}", name)
    cursor = ironic_log.LogCursor(ironic.log_file)
    names = [f"{tag}-inst-{i}" for i in range(4)]
    started = [runs["ab"[i % 2]].start(
        "node_deploy", instance_name=n, reserve={"resource_class": tag}, instance_info={"image_source": "http://img/x"},
        busy_limit=2, busy_board="cloud", run_id=f"run-{'ab'[i % 2]}", wait=True, timeout=300, poll_interval=0.5)
        for i, n in enumerate(names)]
    results = [ModuleRunner.finish(p, timeout=400) for p in started]
    assert not [r for r in results if r.get("failed")], results
    nodes = {n.id: n for n in ironic.conn.baremetal.nodes(details=True, resource_class=tag)}
    by_instance = {n.instance_id: n for n in nodes.values() if n.instance_id}
    assert sorted(by_instance) == sorted(derived_uuid(n) for n in names)
    for name, result in zip(names, results):
        node = by_instance[derived_uuid(name)]
        assert result["node"] == node.id and result["instance_uuid"] == node.instance_id
        assert node.provision_state == "active"
        assert node.instance_info.get("display_name") == name and node.instance_info.get("image_source") == "http://img/x"
    free = [n for n in nodes.values() if not n.instance_id]
    assert len(free) == 1 and free[0].provision_state == "available"
    text = cursor.text()
    assert ironic_log.peak_busy(text, list(nodes)) <= 2
    writes = [r for r in ironic_log.mutating(text) if r.node in nodes]
    patches = [r for r in writes if r.method == "PATCH"]
    refused = [r for r in patches if r.status == 409]
    lost = sum(1 for r in results for a in r["reservation"] if a["outcome"] != "reserved")
    assert len(refused) == lost
    # Per node: the reserving PATCH (with the claim); a host that collided at verify adds a claim
    # removal and a new claim. Nothing else is written before the deploy request.
    retried = len(patches) - len(refused) - len(names)
    assert retried % 2 == 0 and retried <= 8, [(r.method, r.node, r.status) for r in writes]
    assert sorted(r.node for r in writes if r.is_deploy) == sorted(by_instance[derived_uuid(n)].id for n in names)
    assert len(nodes) == len(pool)
