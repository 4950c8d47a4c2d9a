# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Real ``ansible-playbook`` runs of the ironwave.baremetal.wave strategy and wave_report callback.

Local hosts (ansible_connection local); tasks write start/end timestamps per host, so the window is
checked from what actually ran, not from the strategy's own bookkeeping. Runs against this venv's
ansible-core and against any extra ``ansible-playbook`` listed in IRONWAVE_EXTRA_ANSIBLE_PLAYBOOK
(os.pathsep separated), e.g. an ansible-core 2.16 venv.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ironwave_testlib.intervals import peak_overlap
from ironwave_testlib.playbook import artifact_data

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
DURATIONS = [1.0, 2.0, 1.5, 0.6, 2.4, 0.8, 1.2, 1.9, 0.7, 1.4]
POLL = 0.05
# Slot frees (handler wrote its end stamp) -> next host's first task wrote its start stamp:
# one poll interval + result processing + forking a worker for the first task.
START_TOLERANCE = 1.5


def _playbook_bins() -> list[str]:
    bins = [str(Path(sys.executable).parent / "ansible-playbook")]
    bins += [b for b in os.environ.get("IRONWAVE_EXTRA_ANSIBLE_PLAYBOOK", "").split(os.pathsep) if b]
    return bins


@pytest.fixture(params=_playbook_bins(), ids=lambda b: Path(b).parent.parent.name)
def playbook_bin(request):
    if not os.access(request.param, os.X_OK):
        pytest.skip("%s not executable" % request.param)
    if not (COLLECTIONS / "ansible_collections" / "ironwave" / "baremetal").exists():
        pytest.skip("run `make link` first")
    return request.param


# The play and its first task, shared by the playbooks below (str.format: {{ }} are literal).
PLAY_HEAD = """
- name: Wave rollout
  hosts: fleet
  gather_facts: false
  strategy: ironwave.baremetal.wave
  vars:
    out: "{out}"
{vars}
  tasks:
    - name: Record start
      ansible.builtin.raw: "date +%s.%N > {{{{ out }}}}/{{{{ inventory_hostname }}}}.start"
"""

PLAYBOOK = PLAY_HEAD + """    - name: Signal backpressure
      ansible.builtin.set_fact:
        ironwave_backpressure: true
      when: backpressure_me | default(false)
    - name: Work
      ansible.builtin.raw: "sleep {{{{ dur }}}}"
      changed_when: true
      notify: Record end
    - name: Fail when asked
      ansible.builtin.raw: "date +%s.%N > {{{{ out }}}}/{{{{ inventory_hostname }}}}.end; exit 1"
      when: fail_me | default(false)
  handlers:
    - name: Record end
      ansible.builtin.raw: "sleep 0.3; date +%s.%N > {{{{ out }}}}/{{{{ inventory_hostname }}}}.end"
"""


class Run:
    def __init__(self, tmp: Path, proc: subprocess.CompletedProcess, hosts: list[str]):
        self.tmp = tmp
        self.proc = proc
        self.hosts = hosts
        self.out = tmp / "out"
        self.output = proc.stdout + proc.stderr

    def stamp(self, host: str, kind: str) -> float | None:
        p = self.out / ("%s.%s" % (host, kind))
        return float(p.read_text().strip()) if p.exists() else None

    def started(self) -> list[str]:
        return [h for h in self.hosts if self.stamp(h, "start") is not None]

    def intervals(self) -> dict[str, tuple[float, float]]:
        return {h: (self.stamp(h, "start"), self.stamp(h, "end")) for h in self.started()}

    def report(self) -> dict:
        return json.loads((self.tmp / "report.json").read_text())["plays"][0]


def run_play(tmp: Path, playbook_bin: str, play_vars: dict, n: int = 10, host_vars: dict | None = None,
             env: dict | None = None, serial: str | None = None, playbook: str = PLAYBOOK) -> Run:
    out = tmp / "out"
    out.mkdir()
    hosts = ["h%02d" % i for i in range(n)]
    inv = {"all": {"vars": {"ansible_connection": "local",
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                   "children": {"fleet": {"hosts": {
                       h: dict({"dur": DURATIONS[i % len(DURATIONS)]}, **(host_vars or {}).get(h, {}))
                       for i, h in enumerate(hosts)}}}}}
    (tmp / "inv.yml").write_text(json.dumps(inv))
    var_lines = "\n".join("    %s: %s" % (k, json.dumps(v)) for k, v in play_vars.items())
    text = playbook.format(out=out, vars=var_lines)
    if serial:
        text = text.replace("  gather_facts: false\n", "  gather_facts: false\n  serial: %s\n" % serial)
    (tmp / "pb.yml").write_text(text)
    (tmp / "ansible.cfg").write_text("[defaults]\nforks = 20\n")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    full_env.pop("ANSIBLE_FORCE_COLOR", None)
    full_env.update({
        "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CALLBACKS_ENABLED": "ironwave.baremetal.wave_report",
        "ANSIBLE_RETRY_FILES_ENABLED": "1",
        "ANSIBLE_RETRY_FILES_SAVE_PATH": str(tmp),
        "IRONWAVE_WAVE_REPORT_PATH": str(tmp / "report.json"),
        "IRONWAVE_WAVE_SVG_PATH": str(tmp / "timeline.svg"),
        "IRONWAVE_WAVE_PROGRESS_INTERVAL": "0",
    })
    full_env.update(env or {})
    proc = subprocess.run([playbook_bin, "-i", str(tmp / "inv.yml"), str(tmp / "pb.yml")], cwd=tmp,
                          env=full_env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          check=False)
    return Run(tmp, proc, hosts)


def test_window_slides_with_canary_first(tmp_path, playbook_bin):
    run = run_play(tmp_path, playbook_bin, {
        "ironwave_wave_size": 3, "ironwave_wave_schedule": [1, 3], "ironwave_wave_poll_interval": POLL})
    assert run.proc.returncode == 0, run.output
    iv = run.intervals()
    assert sorted(iv) == run.hosts and all(stamps[1] is not None for stamps in iv.values()), run.output

    # Peak hosts in flight, measured from the tasks themselves, is exactly the window.
    assert peak_overlap(iv.values()) == 3

    # Canary first: no other host starts before the canary's handler finished.
    canary_end = iv["h00"][1]
    assert all(stamps[0] > canary_end for h, stamps in iv.items() if h != "h00")

    # Sliding, no batches: every later host starts shortly after some host ended (its freed slot),
    # not after the slowest one of a batch.
    ends = sorted(stamps[1] for stamps in iv.values())
    for h, stamps in iv.items():
        start = stamps[0]
        if h in ("h00", "h01", "h02", "h03"):
            continue  # canary and the hosts that entered when the canary's wave opened
        freed = max(e for e in ends if e <= start)
        assert start - freed <= POLL + START_TOLERANCE, (h, start - freed)

    rep = run.report()
    # Strategy side: admission follows a departure within one poll interval.
    lefts = sorted(x["left_at"] for x in rep["hosts"])
    for host in rep["hosts"][1:]:
        prior = [t for t in lefts if t <= host["admitted_at"] + 1e-6]
        assert prior and host["admitted_at"] - max(prior) <= POLL + 0.05
    # Handlers run inside the host's window: the handler's stamp precedes the host's departure.
    for host in rep["hosts"]:
        assert iv[host["name"]][1] <= host["left_at"] + 0.01

    assert rep["peak_in_flight"] == 3
    assert [(w["hosts"], w["ok"], w["failed"], w["not_started"]) for w in rep["waves"]] == [
        (1, 1, 0, 0), (3, 3, 0, 0), (3, 3, 0, 0), (3, 3, 0, 0)]
    assert rep["not_started_hosts"] == [] and rep["halted"] is False

    # Callback outputs: progress lines without control codes, summary table, SVG bar per host.
    assert "\x1b" not in run.output
    progress = [ln for ln in run.proc.stdout.splitlines() if ln.startswith("WAVE Wave rollout |")]
    assert any("wave 1/4" in ln and "waiting for slot 9" in ln for ln in progress), progress
    assert any("admit h09" in ln for ln in progress)
    assert re.search(r"^total\s+10\s+10\s+0\s+0\s", run.proc.stdout, re.M), run.proc.stdout
    root = ET.fromstring((tmp_path / "timeline.svg").read_text().split("\n", 1)[1])
    bars = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "host"]
    assert sorted(g.get("data-host") for g in bars) == run.hosts


def test_budget_exceeded_stops_admission(tmp_path, playbook_bin):
    # Waves: [h00] [h01 h02] [h03 h04] ...; h02 fails -> wave 2 over its budget of 0.
    run = run_play(tmp_path, playbook_bin, {
        "ironwave_wave_size": 2, "ironwave_wave_schedule": [1, 2], "ironwave_wave_max_failures": 0,
        "ironwave_wave_poll_interval": POLL}, n=8, host_vars={"h02": {"fail_me": True, "dur": 0.5}})
    assert run.proc.returncode != 0
    rep = run.report()
    assert rep["halted"] is True and "wave 2/" in rep["halt_reason"]
    started = run.started()
    not_started = [h for h in run.hosts if h not in started]
    assert not_started, "some hosts must never have started"
    assert rep["not_started_hosts"] == not_started
    assert rep["failed_hosts"] == ["h02"]
    # In-flight hosts were allowed to finish (they all have an end stamp).
    assert all(run.stamp(h, "end") is not None for h in started)
    # Not-started hosts never ran anything, are in the retry file and in the summary paragraph.
    retry = (tmp_path / "pb.retry").read_text().split()
    assert sorted(retry) == sorted(["h02"] + not_started)
    assert "never started (%s" % not_started[0] in run.output
    assert "exceeded its failure budget" in run.proc.stderr or "exceeded its failure budget" in run.output
    totals = rep["totals"]
    assert totals["failed"] == 1 and totals["not_started"] == len(not_started)
    assert totals["ok"] == len(started) - 1


def test_budget_not_below_the_canary_size_is_refused(tmp_path, playbook_bin):
    """A 1-host canary that may fail once is no canary: refused before any host starts."""
    run = run_play(tmp_path, playbook_bin, {
        "ironwave_wave_size": 3, "ironwave_wave_schedule": [1, 3], "ironwave_wave_max_failures": 1,
        "ironwave_wave_poll_interval": POLL}, n=4, host_vars={"h00": {"fail_me": True, "dur": 0.2}})
    assert run.proc.returncode != 0
    assert "invalid setting" in run.output and "ironwave_wave_max_failures[0]" in run.output, run.output
    assert "use at most 0" in run.output, run.output
    assert run.started() == []


def test_a_fully_failed_canary_halts_the_rollout(tmp_path, playbook_bin):
    """The canary is 1 host because "10%" of 6 resolves to 1, and its budget of 1 is accepted with a
    warning; the canary fails completely, so the gate stays closed and nothing else starts."""
    run = run_play(tmp_path, playbook_bin, {
        "ironwave_wave_size": 2, "ironwave_wave_schedule": ["10%", 2], "ironwave_wave_max_failures": 1,
        "ironwave_wave_poll_interval": POLL}, n=6, host_vars={"h00": {"fail_me": True, "dur": 0.2}})
    assert run.proc.returncode != 0
    # Warnings are wrapped at the terminal width (differently by ansible-core release).
    assert "wave 1 has 1 host(s) and allows 1 failed host(s)" in " ".join(run.output.split()), run.output
    rep = run.report()
    assert rep["halted"] is True and "wave 1/" in rep["halt_reason"], rep["halt_reason"]
    assert run.started() == ["h00"]
    assert rep["not_started_hosts"] == ["h01", "h02", "h03", "h04", "h05"]


# The deploy role's shape with deploy_limit_scope cloud: the deploy inside a block whose `always`
# gives the slot back. The host is failed once the always section is done.
BLOCK_PLAYBOOK = PLAY_HEAD + """    - name: Work holding a slot
      block:
        - name: Fail when asked
          ansible.builtin.raw: "exit 1"
          when: fail_me | default(false)
        - name: Work
          ansible.builtin.raw: "sleep {{{{ dur }}}}"
      always:
        - name: Give the slot back
          ansible.builtin.raw: "date +%s.%N > {{{{ out }}}}/{{{{ inventory_hostname }}}}.end"
"""


def test_a_failure_inside_a_block_with_always_counts_against_the_budget(tmp_path, playbook_bin):
    """A host that failed in a block and then ran the block's `always` tasks is failed (Ansible's
    recap says so). Before: the strategy looked at the host's state before it left the always
    section, counted it ok, and a failed canary let the next wave start (found by AWX job slices of
    deploy.yml with deploy_limit_scope cloud, whose deploy sits in such a block)."""
    run = run_play(tmp_path, playbook_bin, {
        "ironwave_wave_size": 2, "ironwave_wave_schedule": [1, 2], "ironwave_wave_max_failures": 0,
        "ironwave_wave_poll_interval": POLL}, n=5, host_vars={"h00": {"fail_me": True, "dur": 0.2}},
        playbook=BLOCK_PLAYBOOK)
    assert run.proc.returncode != 0
    assert run.stamp("h00", "end") is not None, "the always section ran"
    rep = run.report()
    assert rep["halted"] is True and "wave 1/" in rep["halt_reason"], rep
    assert rep["failed_hosts"] == ["h00"]
    assert run.started() == ["h00"]
    assert rep["not_started_hosts"] == ["h01", "h02", "h03", "h04"]


@pytest.mark.parametrize("bad, field", [
    ({"ironwave_wave_size": 0}, "ironwave_wave_size"),
    ({"ironwave_wave_size": -2}, "ironwave_wave_size"),
    ({"ironwave_wave_size": "lots"}, "ironwave_wave_size"),
    ({"ironwave_wave_schedule": [1, "120%"]}, "ironwave_wave_schedule[1]"),
    ({"ironwave_wave_size": 2, "ironwave_wave_max_fail_percentage": 101}, "ironwave_wave_max_fail_percentage"),
    ({"ironwave_wave_size": 2, "ironwave_wave_max_fail_percentage": 100}, "ironwave_wave_max_fail_percentage[0]"),
])
def test_bad_settings_fail_before_any_host(tmp_path, playbook_bin, bad, field):
    run = run_play(tmp_path, playbook_bin, bad, n=3)
    assert run.proc.returncode != 0
    assert field in run.output and "invalid setting" in run.output, run.output
    assert run.started() == []


def test_serial_is_refused(tmp_path, playbook_bin):
    run = run_play(tmp_path, playbook_bin, {"ironwave_wave_size": 2}, n=3, serial="2")
    assert run.proc.returncode != 0
    assert "serial" in run.output and "ironwave_wave_schedule" in run.output
    assert run.started() == []


def test_forks_below_window_warns(tmp_path, playbook_bin):
    run = run_play(tmp_path, playbook_bin, {"ironwave_wave_size": 4, "ironwave_wave_poll_interval": POLL},
                   n=4, env={"ANSIBLE_FORKS": "2"}, host_vars={h: {"dur": 0.2} for h in ["h00", "h01", "h02", "h03"]})
    assert run.proc.returncode == 0, run.output
    assert "forks=2 is lower than the window (4 hosts)" in run.output


def test_backpressure_fact_shrinks_window(tmp_path, playbook_bin):
    run = run_play(tmp_path, playbook_bin, {"ironwave_wave_size": 4, "ironwave_wave_poll_interval": POLL},
                   n=8, host_vars={"h00": {"backpressure_me": True, "dur": 2.0}})
    assert run.proc.returncode == 0, run.output
    rep = run.report()
    assert rep["backpressure_decreases"] == 1
    assert [h["backpressure"] for h in rep["hosts"]][:2] == [1, 0]
    assert re.search(r"window 2/4 .*backpressure h00: window now 2", run.proc.stdout), run.proc.stdout


def test_ansible_runner_artifact_data(tmp_path, playbook_bin):
    if Path(playbook_bin).parent != Path(sys.executable).parent:
        pytest.skip("ansible-runner is only installed in the project venv")
    ansible_runner = pytest.importorskip("ansible_runner")
    pdd = tmp_path / "pdd"
    (pdd / "project").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    seed = run_play(tmp_path, playbook_bin, {
        "ironwave_wave_size": 2, "ironwave_wave_schedule": [1, 2], "ironwave_wave_poll_interval": POLL},
        n=5, host_vars={"h00": {"fail_me": True, "dur": 0.2}})
    assert seed.proc.returncode != 0
    for f in (tmp_path / "out").iterdir():
        f.unlink()
    (pdd / "project" / "pb.yml").write_text((tmp_path / "pb.yml").read_text())
    (pdd / "inventory" / "hosts.yml").write_text((tmp_path / "inv.yml").read_text())
    env = {"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
           "ANSIBLE_CALLBACKS_ENABLED": "ironwave.baremetal.wave_report",
           "IRONWAVE_WAVE_REPORT_PATH": str(tmp_path / "runner-report.json"),
           "IRONWAVE_WAVE_SVG_PATH": ""}
    old_path = os.environ["PATH"]
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + old_path
    try:
        r = ansible_runner.run(private_data_dir=str(pdd), playbook="pb.yml", envvars=env, quiet=True)
    finally:
        os.environ["PATH"] = old_path
    assert r.rc != 0
    data = artifact_data(r)
    art = data["ironwave_wave"]
    assert art["halted"] is True
    assert art["failed_hosts"] == ["h00"]
    assert art["not_started_hosts"] == ["h01", "h02", "h03", "h04"]
    assert art["waves"][0] == {"wave": 1, "hosts": 1, "ok": 0, "failed": 1, "not_started": 0}
    assert data["ironwave_wave_plays"]["Wave rollout"]["not_started"] == 4
