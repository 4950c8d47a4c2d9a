# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What the cloud-counted limit (ironwave.baremetal.wave_slot) promises, on a real local Ironic,
with real `ansible-playbook` runs and a sampler reading Ironic at ~10 Hz (busy + held markers):

- a run whose clock is 40 s ahead (libfaketime on the whole ansible-playbook) never lets the runs
  exceed the limit (issue 9, defect 1);
- a held slot stays held while its run waits before the deploy for longer than the marker's
  lifetime (a busy gate, cleaning started by someone else): nobody else gets it (defect 3);
- a queued marker stays live however long the poll interval (defect 2);
- `kill -9` of ansible-playbook (the parent only, or its whole process group) while it holds a
  slot and queues for others: an immediate rerun acquires at once, the orphaned workers stop
  without writing, and nothing of the dead run touches Ironic once its processes are gone (defect 4).

The deploy itself is two `uri` tasks (PUT provision target active, poll until active) so that these
tests depend on wave_slot only.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.paths import REPO
from ironwave_testlib.slot_sampler import MARKER, Sampler, make_pool

BIN = REPO / ".venv" / "bin"

PLAYBOOK = """
- name: Take a slot, hold it a while, maybe deploy, give it back
  hosts: all
  gather_facts: false
  strategy: host_pinned
  tasks:
    - name: Take a slot
      ironwave.baremetal.wave_slot:
        node: "{{ node }}"
        limit: "{{ slot_limit }}"
        lease_ttl: "{{ lease_ttl }}"
        poll_interval: 0.5
        max_poll_interval: 2
        timeout: "{{ slot_timeout }}"
      register: slot

    - name: Record the slot result for the test
      ansible.builtin.copy:
        content: "{{ slot | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"

    - name: Hold the slot before the deploy (as at a busy gate)
      ansible.builtin.command: "sleep {{ hold }}"
      changed_when: false
      when: hold | int > 0

    - name: Deploy
      ansible.builtin.uri:
        url: "{{ endpoint }}/v1/nodes/{{ node }}/states/provision"
        method: PUT
        headers: {X-OpenStack-Ironic-API-Version: "1.52"}
        body_format: json
        body: {target: active}
        status_code: 202
      when: deploy | bool

    - name: Wait for active
      ansible.builtin.uri:
        url: "{{ endpoint }}/v1/nodes/{{ node }}?fields=provision_state"
        headers: {X-OpenStack-Ironic-API-Version: "1.52"}
      register: state
      until: state.json.provision_state == 'active'
      retries: 240
      delay: 1
      when: deploy | bool

    - name: Give the slot back
      ironwave.baremetal.wave_slot:
        node: "{{ node }}"
        state: released
"""


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    return local_ironic_factory("slotguard", fake_deploy_delay="2,4")


def start_run(ironic, tmp: Path, name: str, nodes: list, clock_ahead: int = 0, **extra) -> subprocess.Popen:
    """One ansible-playbook run over `nodes` (one host each), as on a controller of its own (own
    poll cache, default run id). `clock_ahead`: seconds its clock runs ahead (libfaketime)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "deploy.yml").write_text(PLAYBOOK)
    inventory = {"all": {
        "hosts": {f"{name}-{n.name}": {"node": n.id} for n in nodes},
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}}}
    (tmp / f"inventory-{name}.json").write_text(json.dumps(inventory))
    out = tmp / f"out-{name}"
    out.mkdir(exist_ok=True)
    env = ironic.env
    env["IRONWAVE_POLL_CACHE_DIR"] = str(tmp / f"poll-cache-{name}")
    env["IRONWAVE_TEST_RUN_TAG"] = f"{name}-{uuid.uuid4().hex}"
    env.pop("IRONWAVE_RUN_ID", None)
    evars = {"slot_limit": 1, "lease_ttl": 30, "slot_timeout": 300, "hold": 0, "deploy": True,
             "endpoint": ironic.endpoint, "out_dir": str(out), **extra}
    cmd = [str(BIN / "ansible-playbook"), "-i", str(tmp / f"inventory-{name}.json"), str(tmp / "deploy.yml"),
           "-f", str(len(nodes)), "-e", json.dumps(evars)]
    if clock_ahead:
        cmd = [shutil.which("faketime"), "-f", f"+{clock_ahead}s", *cmd]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)   # its own process group, as from a shell
    proc.tag = env["IRONWAVE_TEST_RUN_TAG"]
    proc.out_dir = out
    return proc


def finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str]:
    out = proc.communicate(timeout=timeout)[0]
    return proc.returncode, out


def results(proc) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in proc.out_dir.glob("*.json")}


def wait_for(predicate, timeout: float, what: str, period: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"timed out waiting for {what}")


def markers(ironic, nodes) -> dict[str, dict]:
    out = {}
    for n in nodes:
        m = (ironic.conn.baremetal.get_node(n.id).extra or {}).get(MARKER)
        if m:
            out[n.id] = m
    return out


# -- defect 1: clock skew ----------------------------------------------------------------------
@pytest.mark.skipif(not shutil.which("faketime"), reason="needs libfaketime (apt-get install faketime)")
def test_run_with_clock_40s_ahead_never_exceeds_the_limit(ironic, tmp_path):
    pool = make_pool(ironic.conn, f"sk-{uuid.uuid4().hex[:6]}", 6)
    sampler = Sampler(ironic.endpoint, {n.id for n in pool})
    sampler.start()
    try:
        # hold 6 s per slot: queued markers age while the other run holds (what a skewed reader misjudged)
        normal = start_run(ironic, tmp_path, "normal", pool[:3], hold=6)
        ahead = start_run(ironic, tmp_path, "ahead", pool[3:], clock_ahead=40, hold=6)
        done = [finish(normal), finish(ahead)]
    finally:
        sampler.stop()
    for rc, out in done:
        assert rc == 0, out[-5000:]
    assert not sampler.errors, sampler.errors[:3]
    assert sampler.rate >= 5.0
    assert sampler.max_of(3) <= 1, f"busy+held exceeded the limit 1: {sampler.over(1)[:5]}"
    assert sampler.max_of(3) == 1
    for n in pool:
        node = ironic.conn.baremetal.get_node(n.id)
        assert node.provision_state == "active" and MARKER not in (node.extra or {}), (n.name, node.extra)
    assert len(sampler.run_ids) == 2
    # libfaketime took effect: the skewed run stamped its markers ~40 s ahead of this clock.
    skews = [(m.get("written_at") or m.get("announced_at") or 0) - t for t, _n, m in sampler.changes if m]
    assert max(skews) > 30 and min(skews) < 10, skews


# -- defect 3: a held slot lives as long as its run needs it -----------------------------------
def test_held_slot_outlives_its_lease_while_the_run_waits(ironic, tmp_path):
    """Run A holds its slot for 3 x lease_ttl before it deploys; run B (limit 1) must wait for A."""
    a_node, b_node = make_pool(ironic.conn, f"hl-{uuid.uuid4().hex[:6]}", 2)
    sampler = Sampler(ironic.endpoint, {a_node.id, b_node.id})
    sampler.start()
    try:
        a = start_run(ironic, tmp_path, "a", [a_node], lease_ttl=20, hold=60)
        wait_for(lambda: markers(ironic, [a_node]).get(a_node.id, {}).get("phase") == "held", 60, "A to hold")
        b = start_run(ironic, tmp_path, "b", [b_node], lease_ttl=20)
        done = [finish(a), finish(b)]
    finally:
        sampler.stop()
    for rc, out in done:
        assert rc == 0, out[-5000:]
    assert not sampler.errors, sampler.errors[:3]
    assert sampler.max_of(3) <= 1, f"B got a slot while A still held its own: {sampler.over(1)[:5]}"
    # A's marker was rewritten while A waited (at least once per lease_ttl of 20 s over 60 s).
    a_changes = [c for c in sampler.changes if c[1] == a_node.id and c[2] and c[2].get("phase") == "held"]
    assert len(a_changes) >= 3, a_changes
    (slot_b,) = results(b).values()
    assert slot_b["changed"] and slot_b["attempts"] > 1, slot_b
    for n in (a_node, b_node):
        node = ironic.conn.baremetal.get_node(n.id)
        assert node.provision_state == "active" and MARKER not in (node.extra or {})


# -- defect 4: kill -9 of ansible-playbook --------------------------------------------------------
@pytest.mark.parametrize("kill", ["parent", "group"])
def test_sigkill_then_rerun_at_once(ironic, tmp_path, kill):
    pool = make_pool(ironic.conn, f"kl-{kill[0]}-{uuid.uuid4().hex[:6]}", 3)
    cursor = ironic.log_cursor()
    # The first run holds one slot (limit 1) for 5 minutes; its other two hosts queue.
    dead = start_run(ironic, tmp_path / "dead", "dead", pool, hold=300, deploy=False, lease_ttl=30)
    wait_for(lambda: sorted(m["phase"] for m in markers(ironic, pool).values()) == ["held", "waiting", "waiting"],
             90, "one held and two queued markers")
    time.sleep(3)
    (os.killpg if kill == "group" else os.kill)(dead.pid, signal.SIGKILL)
    killed_at = time.time()
    dead.communicate(timeout=30)
    # The dead run's refresher (of the held slot) notices at once and stops, logging why.
    cache = tmp_path / "dead" / "poll-cache-dead"
    wait_for(lambda: "run_gone" in "".join(p.read_text() for p in cache.glob("slot-refresh-*.log")), 10,
             "the dead run's refresher to stop")
    assert not list(cache.glob("slot-refresh-*.pid"))
    # Rerun at once, on the same nodes (a new run id: a new ansible-playbook process).
    rerun = start_run(ironic, tmp_path / "rerun", "rerun", pool, deploy=False, slot_timeout=120, lease_ttl=30)
    rc, out = finish(rerun, timeout=300)
    assert rc == 0, out[-6000:]
    slots = results(rerun)
    assert len(slots) == 3 and all(s["changed"] for s in slots.values()), slots
    # The dead run's held marker never counted against the rerun: nothing held by others at admission.
    assert all(s["holders"]["held"] == 0 for s in slots.values()), slots
    rerun_done = time.time()
    # Up to a minute after the kill, the dead run's orphans (queued workers, refreshers) send
    # nothing once the rerun is done: no marker comes back, no request but this test's own reads.
    time.sleep(max(5.0, killed_at + 60 - time.time()))
    assert markers(ironic, pool) == {}
    late = [r for r in cursor.requests() if r.ts and r.ts > rerun_done + 1.5
            and not (r.method == "GET" and r.node in {n.id for n in pool})]
    assert late == [], late


# -- defect 2: queued markers outlive long polls ---------------------------------------------------
class Holder(threading.Thread):
    """Plays another run that holds the one slot: rewrites its held marker every 5 s (the marker
    carries both the v2 fields and a far absolute expiry, so any version of the module counts it)."""

    def __init__(self, conn, node_id: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.node_id = conn, node_id
        self.stop_event = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(exc))

    def _run(self) -> None:
        node = self.conn.baremetal.get_node(self.node_id)
        beat = 0
        while not self.stop_event.is_set():
            now = time.time()
            marker = {"v": 2, "run_id": "holder-run", "holder": "other", "phase": "held", "ticket": 1,
                      "beat": beat, "ttl": 60, "from_state": node.provision_state,
                      "since": None, "proc": None, "written_at": now,
                      "announced_at": now, "expires_at": now + 900}
            self.conn.baremetal.patch_node(self.node_id, [{"op": "add", "path": f"/extra/{MARKER}",
                                                          "value": marker}])
            beat += 1
            self.stop_event.wait(5)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)


def test_queued_marker_never_lapses_with_long_polls(ironic, tmp_path):
    """poll_interval 50 s (max 60 s), lease_ttl 60 s, the one slot held by another run for the whole
    wait: the queued marker is rewritten often enough that it never stood unchanged for 3/4 of its
    ttl, and the wait ends with `timeout`, never `expired`."""
    blocker, waiter = make_pool(ironic.conn, f"lp-{uuid.uuid4().hex[:6]}", 2)
    holder = Holder(ironic.conn, blocker.id)
    holder.start()
    wait_for(lambda: markers(ironic, [blocker]), 30, "the other run's held marker")
    sampler = Sampler(ironic.endpoint, {waiter.id}, period=0.5)
    sampler.start()
    try:
        env = module_env(ironic.clouds_yaml, tmp_path / "poll-cache")
        run = ModuleRunner(ironic.cloud, env, tmp_path)
        out = run("wave_slot", node=waiter.id, run_id="long-poller", limit=1, lease_ttl=60, timeout=130,
                  poll_interval=50, max_poll_interval=60)
    finally:
        sampler.stop()
        holder.stop()
    assert not holder.errors, holder.errors
    assert out.get("failed") and out["error_kind"] == "timeout", out
    writes = [t for t, node, m in sampler.changes if m is not None]
    assert len(writes) >= 3
    gaps = [b - a for a, b in zip(writes, writes[1:])]
    assert max(gaps) < 45, f"the queued marker stood unchanged for {max(gaps):.0f} s: {gaps}"
    assert (ironic.conn.baremetal.get_node(waiter.id).extra or {}).get(MARKER) is None
