# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A limit shared across runs, counted on Ironic (ironwave.baremetal.wave_slot), against a real Ironic.

Three `ansible-playbook` runs start at once under the builtin `host_pinned` strategy, each with its
own disjoint nodes, its own forks and its own poll cache (as on three controllers), and the default
run id (derived from each ansible-playbook process). Per host: node_reserve -> wave_slot acquire ->
node_deploy (wait) -> wave_slot release. A sampler thread reads Ironic at ~10 Hz (one bulk GET per
sample) and counts busy nodes plus nodes whose marker says "held"; its maximum over the whole run
must be <= LIMIT and must reach LIMIT. The negative control runs the same playbook without
wave_slot on fresh nodes: busy nodes then exceed LIMIT, so the sampler can see a violation.
"""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ironwave_testlib.slot_sampler import Sampler, make_pool

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
LIMIT = 3
RUNS = 3
PER_RUN = 3
MARKER = "ironwave_slot"

PLAYBOOK = """
- name: Deploy disjoint nodes, sharing a limit with the other runs
  hosts: all
  gather_facts: false
  strategy: host_pinned
  tasks:
    - name: Reserve this host's node
      ironwave.baremetal.node_reserve:
        instance_name: "{{ inventory_hostname }}"
        node: "{{ node }}"
      register: reservation

    - name: Take a slot
      ironwave.baremetal.wave_slot:
        node: "{{ node }}"
        limit: "{{ slot_limit }}"
        poll_interval: 0.5
        max_poll_interval: 2
        timeout: 240
      when: use_slot | bool
      register: slot

    - name: Deploy, then give the slot back
      block:
        - name: Deploy and wait for active
          ironwave.baremetal.node_deploy:
            node: "{{ node }}"
            instance_uuid: "{{ reservation.instance_uuid }}"
            wait: true
            timeout: 240
            poll_interval: 1
      always:
        - name: Give the slot back
          ironwave.baremetal.wave_slot:
            node: "{{ node }}"
            state: released
          when: use_slot | bool

    - name: Record the slot result for the test
      ansible.builtin.copy:
        content: "{{ slot | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      when: use_slot | bool
"""


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("waveslot", fake_deploy_delay="2,4")


def run_concurrently(ironic, tmp_path: Path, nodes: list, use_slot: bool) -> list[subprocess.CompletedProcess]:
    playbook = tmp_path / "deploy.yml"
    playbook.write_text(PLAYBOOK)
    procs = []
    for r in range(RUNS):
        share = nodes[r * PER_RUN:(r + 1) * PER_RUN]
        inventory = {"all": {
            "hosts": {f"host-{n.name}": {"node": n.id} for n in share},
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}}}
        inv = tmp_path / f"inventory-{r}.json"
        inv.write_text(json.dumps(inventory))
        env = ironic.env
        env["IRONWAVE_POLL_CACHE_DIR"] = str(tmp_path / f"poll-cache-{r}")   # as on 3 controllers
        env.pop("IRONWAVE_RUN_ID", None)
        cmd = [str(BIN / "ansible-playbook"), "-i", str(inv), str(playbook), "-f", str(PER_RUN),
               "-e", json.dumps({"slot_limit": LIMIT, "use_slot": use_slot, "out_dir": str(tmp_path)})]
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    results = []
    for proc in procs:
        out = proc.communicate(timeout=300)[0]
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))
    return results


def deploy_pool_and_sample(ironic, tmp_path: Path, use_slot: bool) -> tuple[Sampler, list, list]:
    conn = ironic.conn
    # The cloud for the modules: OS_CLOUD from ironic.env, no per-task cloud option needed.
    nodes = make_pool(conn, f"ws-{uuid.uuid4().hex[:6]}", RUNS * PER_RUN)
    sampler = Sampler(ironic.endpoint, {n.id for n in nodes})
    sampler.start()
    try:
        results = run_concurrently(ironic, tmp_path, nodes, use_slot)
    finally:
        sampler.stop()
    return sampler, nodes, results


def test_three_runs_share_one_limit(ironic, tmp_path):
    t0 = time.monotonic()
    sampler, nodes, results = deploy_pool_and_sample(ironic, tmp_path, use_slot=True)
    busy_at = [s[0] for s in sampler.samples if s[3]]
    window = busy_at[-1] - busy_at[0] if busy_at else 0.0
    for res in results:
        assert res.returncode == 0, res.stdout[-6000:]
    assert not sampler.errors, sampler.errors[:3]
    assert sampler.rate >= 5.0, f"sampler ran at {sampler.rate:.1f} Hz"
    peak = sampler.max_of(3)
    assert peak <= LIMIT, f"busy+held reached {peak} > {LIMIT}: " \
        f"{[s for s in sampler.samples if s[3] > LIMIT][:5]}"
    assert peak == LIMIT, f"the limit was never reached (peak {peak}); the test could not fail"
    assert sampler.max_of(1) <= LIMIT
    # Every node ended active, and released its marker.
    for n in nodes:
        node = ironic.conn.baremetal.get_node(n.id)
        assert node.provision_state == "active", (n.name, node.provision_state, node.last_error)
        assert MARKER not in (node.extra or {}), (n.name, node.extra)
    # Three runs, three distinct default run ids (one per ansible-playbook process).
    assert len({r for r in sampler.run_ids if r}) == RUNS, sampler.run_ids
    # What the module reported: admitted with fewer than LIMIT slots occupied, some hosts queued.
    slots = [json.loads(p.read_text()) for p in tmp_path.glob("host-*.json")]
    assert len(slots) == len(nodes)
    assert all(s["changed"] and s["holders"]["occupied"] < LIMIT for s in slots), slots
    assert sum(1 for s in slots if s["attempts"] > 1) >= len(nodes) - 2 * LIMIT, slots
    assert {s["run_id_source"] for s in slots} == {"ansible-playbook process"}
    assert len({s["run_id"] for s in slots}) == RUNS
    assert max(s["ticket"] for s in slots) >= 2     # later arrivals queued behind earlier ones
    print(f"\nwave_slot: {len(nodes)} nodes, 3 runs, limit {LIMIT}: peak busy+held {peak}, "
          f"{len(sampler.samples)} samples at {sampler.rate:.1f} Hz, {window:.0f} s with slots in use, "
          f"{time.monotonic() - t0:.0f} s in all")


def test_negative_control_without_slots_exceeds_the_limit(ironic, tmp_path):
    sampler, nodes, results = deploy_pool_and_sample(ironic, tmp_path, use_slot=False)
    for res in results:
        assert res.returncode == 0, res.stdout[-6000:]
    assert sampler.max_of(1) > LIMIT, f"without wave_slot busy peaked at {sampler.max_of(1)}"
    for n in nodes:
        assert ironic.conn.baremetal.get_node(n.id).provision_state == "active"


# -- the module's other paths, run as a plain process (as Ansible's worker would) -----------------
def module(ironic, tmp_path: Path, check: bool = False, **args) -> dict:
    args = {"cloud": ironic.cloud, **args}
    if check:
        args["_ansible_check_mode"] = True
    path = tmp_path / f"args-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = ironic.env
    env.update(PYTHONPATH=str(REPO / ".build" / "collections"),
               IRONWAVE_POLL_CACHE_DIR=str(tmp_path / "poll-cache"))
    proc = subprocess.run([str(BIN / "python"), str(REPO / "plugins" / "modules" / "wave_slot.py"), str(path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError(f"module printed no JSON: {proc.stdout}\n{proc.stderr}") from None


def marker(ironic, node_id: str):
    return (ironic.conn.baremetal.get_node(node_id).extra or {}).get(MARKER)


def test_module_paths(ironic, tmp_path):
    a, b, c = make_pool(ironic.conn, f"wm-{uuid.uuid4().hex[:6]}", 3)
    scope = {"limit": 1, "lease_ttl": 60, "poll_interval": 0.2, "max_poll_interval": 0.5}

    # Bad input: named field, nothing written.
    bad = module(ironic, tmp_path, node=a.id, run_id="run-a", limit=0)
    assert bad["failed"] and bad["msg"].startswith("limit:") and marker(ironic, a.id) is None
    bad = module(ironic, tmp_path, node=a.id, run_id="has space", limit=1)
    assert bad["failed"] and bad["msg"].startswith("run_id:")

    # Check mode: reports, writes nothing.
    dry = module(ironic, tmp_path, check=True, node=a.name, run_id="run-a", **scope)
    assert dry["changed"] and dry["would_wait"] is False and marker(ironic, a.id) is None

    # Acquire: a held marker of run-a; acquiring again is idempotent.
    got = module(ironic, tmp_path, node=a.name, run_id="run-a", holder="web-a", **scope)
    assert got["changed"] and got["holders"]["occupied"] == 0, got
    held = marker(ironic, a.id)
    assert held["phase"] == "held" and held["run_id"] == "run-a" and held["holder"] == "web-a"
    again = module(ironic, tmp_path, node=a.id, run_id="run-a", **scope)
    assert not again.get("failed") and not again["changed"] and marker(ironic, a.id) == held

    # Another run on the same node is refused; its marker is untouched.
    clash = module(ironic, tmp_path, node=a.id, run_id="run-b", **scope)
    assert clash["failed"] and clash["error_kind"] == "conflict" and "run-a" in clash["msg"]
    assert marker(ironic, a.id) == held

    # limit 1 is taken by a's held slot: b queues, times out, withdraws its marker.
    dry_b = module(ironic, tmp_path, check=True, node=b.id, run_id="run-b", **scope)
    assert dry_b["would_wait"] is True and dry_b["holders"]["held"] == 1
    t0 = time.monotonic()
    late = module(ironic, tmp_path, node=b.id, run_id="run-b", **{**scope, "timeout": 2})
    assert late["failed"] and late["error_kind"] == "timeout", late
    assert late["holders"]["held"] == 1 and late["attempts"] >= 2
    assert time.monotonic() - t0 < 15
    assert marker(ironic, b.id) is None

    # Release by another run leaves it; release by the owner removes it; then b gets the slot.
    foreign = module(ironic, tmp_path, node=a.id, run_id="run-b", state="released")
    assert not foreign["changed"] and foreign["release"] == "foreign" and marker(ironic, a.id) == held
    gone = module(ironic, tmp_path, node=a.id, run_id="run-a", state="released")
    assert gone["changed"] and gone["release"] == "remove" and marker(ironic, a.id) is None
    assert module(ironic, tmp_path, node=a.id, run_id="run-a", state="released")["release"] == "absent"
    got_b = module(ironic, tmp_path, node=b.id, run_id="run-b", **scope)
    assert got_b["changed"] and marker(ironic, b.id)["phase"] == "held"

    # Deploying node b: it counts as busy; Ironic refuses updates, so release leaves the marker.
    ironic.conn.baremetal.set_node_provision_state(b.id, "active")
    busy = module(ironic, tmp_path, check=True, node=c.id, run_id="run-c", **scope)
    assert busy["would_wait"] is True and busy["holders"]["busy"] + busy["holders"]["held"] == 1, busy
    early = module(ironic, tmp_path, node=b.id, run_id="run-b", state="released")
    assert not early["changed"] and early["release"] == "in_transition", early
    ironic.conn.baremetal.wait_for_nodes_provision_state([b.id], "active", timeout=120)
    # Active with a stale marker: no longer counts, so c is admitted at once.
    assert marker(ironic, b.id)["phase"] == "held"
    got_c = module(ironic, tmp_path, node=c.id, run_id="run-c", **scope)
    assert got_c["changed"] and got_c["holders"]["occupied"] == 0 and got_c["attempts"] == 1, got_c
    assert module(ironic, tmp_path, node=b.id, run_id="run-b", state="released")["release"] == "remove"
    assert module(ironic, tmp_path, node=c.id, run_id="run-c", state="released")["changed"]
