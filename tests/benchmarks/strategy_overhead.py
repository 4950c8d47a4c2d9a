# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Strategy overhead: ironwave.baremetal.wave vs ansible.builtin.host_pinned / free.

Runs one play with a no-op task over a large local inventory (default 5,000 hosts) once per strategy
and prints wall time, time per host, the wave strategy's extra time per admission (vs host_pinned)
and the controller's peak RSS. Targets: < 5 ms per admission, < 1 GiB. Prints numbers; asserts
nothing about time (not a test).

    .venv/bin/python tests/benchmarks/strategy_overhead.py [--hosts 5000] [--window 25] [--task noop|debug]

``--task noop`` (``meta: noop``) runs inside the controller and measures the strategy alone;
``--task debug`` forks a worker per host (slow: minutes for 5,000 hosts).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"

TASKS = {
    "noop": "    - name: No-op\n      ansible.builtin.meta: noop\n",
    "debug": "    - name: Debug\n      ansible.builtin.debug:\n        msg: hi\n",
}


def write_inputs(tmp: Path, hosts: int, strategy: str, window: int, task: str) -> Path:
    inv = tmp / "inv.json"
    if not inv.exists():
        inv.write_text(json.dumps({"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "hosts": {"n%05d" % i: None for i in range(hosts)}}}))
    pb = tmp / ("pb-%s.yml" % strategy.replace(".", "_"))
    pb.write_text(
        "- name: Overhead\n  hosts: all\n  gather_facts: false\n  strategy: %s\n"
        "  vars:\n    ironwave_wave_size: %d\n    ironwave_wave_max_failures: 0\n  tasks:\n%s"
        % (strategy, window, TASKS[task]))
    return pb


def run_once(tmp: Path, pb: Path, forks: int, callback: bool) -> tuple[float, int, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_DISPLAY_OK_HOSTS": "0",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "0",
        "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"),
    })
    if callback:
        env.update({
            "ANSIBLE_CALLBACKS_ENABLED": "ironwave.baremetal.wave_report",
            "IRONWAVE_WAVE_REPORT_PATH": str(tmp / "report.json"),
            "IRONWAVE_WAVE_SVG_PATH": str(tmp / "timeline.svg"),
            "IRONWAVE_WAVE_PROGRESS_INTERVAL": "5",
        })
    (tmp / "ansible.cfg").write_text("[defaults]\n")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inv.json"), str(pb)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)
    status, usage = os.wait4(proc.pid, 0)[1:]
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        sys.stderr.write(err[-2000:])
    # ru_maxrss is KiB on Linux: the controller (largest of the process and its waited-for children).
    return elapsed, usage.ru_maxrss * 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--hosts", type=int, default=5000)
    ap.add_argument("--window", type=int, default=25, help="wave window and forks")
    ap.add_argument("--task", choices=sorted(TASKS), default="noop")
    args = ap.parse_args()
    if not (COLLECTIONS / "ansible_collections" / "ironwave" / "baremetal").exists():
        print("run `make link` first", file=sys.stderr)
        return 2
    rows = []
    overhead = None
    with tempfile.TemporaryDirectory(prefix="wave-bench-") as d:
        tmp = Path(d)
        for label, strategy, callback in (
                ("free", "ansible.builtin.free", False),
                ("host_pinned", "ansible.builtin.host_pinned", False),
                ("wave", "ironwave.baremetal.wave", False),
                ("wave+wave_report", "ironwave.baremetal.wave", True)):
            pb = write_inputs(tmp, args.hosts, strategy, args.window, args.task)
            elapsed, rss, rc = run_once(tmp, pb, args.window, callback)
            rows.append((label, elapsed, rss, rc))
            if callback and (tmp / "report.json").exists():
                overhead = json.loads((tmp / "report.json").read_text())["plays"][0]["strategy_overhead"]
    print("%d hosts, task=%s, forks=window=%d" % (args.hosts, args.task, args.window))
    print("%-18s %9s %11s %12s %3s" % ("strategy", "wall s", "ms/host", "peak RSS MiB", "rc"))
    for label, elapsed, rss, rc in rows:
        print("%-18s %9.2f %11.3f %12.1f %3d" % (label, elapsed, elapsed * 1000.0 / args.hosts, rss / 1048576.0, rc))
    if overhead and overhead["admissions"]:
        n = overhead["admissions"]
        print("wave admission code (measured inside the strategy, excludes report subscribers): "
              "%.3f s total, %.4f ms per admission over %d admissions" % (
                  overhead["admission_seconds"], overhead["admission_seconds"] * 1000.0 / n, n))
        print("wave_report subscriber: %.3f s total, %.4f ms per admitted host" % (
            overhead["subscriber_seconds"], overhead["subscriber_seconds"] * 1000.0 / n))
    print("targets: < 5 ms per admission, peak RSS < 1024 MiB. Wall times include ansible-core's own per-task")
    print("cost and machine noise; compare them side by side, they are not asserted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
