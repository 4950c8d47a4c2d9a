# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Strategy overhead: ironwave.baremetal.wave vs ansible.builtin.linear / host_pinned / free.

Runs one play with a no-op task over a large local inventory (default 5,000 hosts), `--repeat`
times per strategy, round robin: linear and wave each without and with the
ironwave.baremetal.wave_report callback (enabled as ansible.cfg, and so playbooks/deploy.yml, run
it), host_pinned and free. Prints the median wall time, time per host, the extra time per host over
plain linear, the wave strategy's time per admission (measured inside it) and the controller's peak
RSS. Targets: < 5 ms per admission, < 1 GiB. Prints numbers (and with --json writes them); asserts
nothing about time (not a test).

    .venv/bin/python tests/benchmarks/strategy_overhead.py [--hosts 5000] [--window 25] [--task noop|debug] \
        [--repeat 3] [--json reports/benchmark-strategy.json]

``--task noop`` (``meta: noop``) runs inside the controller and measures the strategy alone;
``--task debug`` forks a worker per host (slow: minutes for 5,000 hosts).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"

CONFIGS = (  # label, strategy, wave_report callback enabled
    ("linear", "ansible.builtin.linear", False),
    ("linear+wave_report", "ansible.builtin.linear", True),
    ("free", "ansible.builtin.free", False),
    ("host_pinned", "ansible.builtin.host_pinned", False),
    ("wave", "ironwave.baremetal.wave", False),
    ("wave+wave_report", "ironwave.baremetal.wave", True),
)
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
    ap.add_argument("--repeat", type=int, default=1, help="runs per strategy (median wall time)")
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    args = ap.parse_args()
    if not (COLLECTIONS / "ansible_collections" / "ironwave" / "baremetal").exists():
        print("run `make link` first", file=sys.stderr)
        return 2
    runs: dict[str, list[tuple[float, int, int]]] = {label: [] for label, _s, _c in CONFIGS}
    overhead = None
    with tempfile.TemporaryDirectory(prefix="wave-bench-") as d:
        tmp = Path(d)
        # Round robin over the configurations: load that drifts during the run hits all of them.
        for _round in range(args.repeat):
            for label, strategy, callback in CONFIGS:
                pb = write_inputs(tmp, args.hosts, strategy, args.window, args.task)
                (tmp / "report.json").unlink(missing_ok=True)
                runs[label].append(run_once(tmp, pb, args.window, callback))
                if callback and strategy == "ironwave.baremetal.wave" and (tmp / "report.json").exists():
                    # Only the wave strategy publishes its own admission timings into the report.
                    overhead = json.loads((tmp / "report.json").read_text())["plays"][0].get("strategy_overhead")
    # Median wall time, highest peak RSS, worst exit code of each configuration.
    rows = [(label, statistics.median(r[0] for r in runs[label]), max(r[1] for r in runs[label]),
             max((r[2] for r in runs[label]), key=abs)) for label, _s, _c in CONFIGS]
    print("%d hosts, task=%s, forks=window=%d, median wall of %d run(s)" % (
        args.hosts, args.task, args.window, args.repeat))
    linear = rows[0][1]
    print("%-18s %9s %9s %17s %12s %3s" % ("strategy", "wall s", "ms/host", "vs linear ms/host", "peak RSS MiB", "rc"))
    for label, elapsed, rss, rc in rows:
        cells = (label, elapsed, elapsed * 1000.0 / args.hosts, (elapsed - linear) * 1000.0 / args.hosts,
                 rss / 1048576.0, rc)
        print("%-18s %9.2f %9.3f %+17.3f %12.1f %3d" % cells)
    if overhead and overhead["admissions"]:
        n = overhead["admissions"]
        print("wave admission code (measured inside the strategy, excludes report subscribers): "
              "%.3f s total, %.4f ms per admission over %d admissions" % (
                  overhead["admission_seconds"], overhead["admission_seconds"] * 1000.0 / n, n))
        print("wave_report subscriber: %.3f s total, %.4f ms per admitted host" % (
            overhead["subscriber_seconds"], overhead["subscriber_seconds"] * 1000.0 / n))
    print("targets: < 5 ms per admission, peak RSS < 1024 MiB. Wall times include ansible-core's own per-task")
    print("cost and machine noise; compare them side by side, they are not asserted.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "hosts": args.hosts, "task": args.task, "window": args.window, "repeat": args.repeat,
            "wall_s_runs": {label: [round(r[0], 2) for r in runs[label]] for label in runs},
            "rows": [{"strategy": label, "wall_s": round(elapsed, 2), "ms_per_host": round(elapsed * 1000.0 / args.hosts, 3),
                      "vs_linear_ms_per_host": round((elapsed - linear) * 1000.0 / args.hosts, 3),
                      "peak_rss_mib": round(rss / 1048576.0, 1), "rc": rc} for label, elapsed, rss, rc in rows],
            "wave_admission": overhead}, indent=2) + "\n")
    return 0 if all(rc == 0 for *_ignored, rc in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
