# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Deployment benchmark: bounded waves vs the builtin ways, on a real local Ironic.

Starts a dedicated Ironic (playbooks/local_ironic.yml, port 6440, cloud `ironwave-bench`, fake
deploy delay 2-4 s), enrolls N nodes, then for every scenario: resets the pool (all nodes
`available`, no allocations), runs one ansible-playbook with N inventory hosts at concurrency C and
reads Ironic's own log from where the run started:

* API requests: the `ironic.api` access lines (`127.0.0.1 - METHOD /path - status`), per node
  that went `deploying` -> `active` in this run;
* per-node Ironic busy time: `Node X moved to provision state "deploying"` -> `... "active"`
  (ironic/conductor/task_manager.py); ideal = list-scheduling bound = sum(busy) / C;
* makespan twice: `wall` = the ansible-playbook process (everything, reserve included) and
  `span` = Ironic side, first deploy request -> last node active;
* peak busy = most deploying..active intervals open at once (proves each scenario kept to C).

* floor = the observed busy times list-scheduled on C slots with zero gaps: even a perfect
  non-clairvoyant scheduler has a tail (slots running out of work one by one), so floor/ideal is
  the lowest span/ideal these very nodes allow.

Scenarios: ours = playbooks/deploy.yml as shipped (reserve + deploy in the wave window, C hosts
prefetched, busy gate = C) with one wave, with one wave and reserve by one PATCH
(deploy_reserve_mode=instance_uuid), with poll 0.5 s, and with a canary [1, C]; ours with the limit
counted on Ironic (deploy_limit_scope cloud), one run and 3 concurrent runs over hosts[k-1::3] (AWX
job slicing: own /tmp and poll cache each, one shared limit C); ours under builtin
host_pinned (forks C; and forks 2C with the cloud-counted wave_slot limit C);
openstack.cloud.baremetal_node_action (deploy, wait) under `serial: C`, `free` + `throttle: C` and
`host_pinned` forks C (run from a separate venv with the `ansible` package; rows are
"skipped: <reason>" if it cannot be installed). Targets for ours: makespan/ideal <= 1.05 and <= 4
API requests per node. Prints numbers and writes reports/benchmark-deploy.json; asserts nothing.

    .venv/bin/python tests/benchmarks/deploy_waves.py [--case small|large|all] [--only 'ours wave|oc serial']
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from ironwave_testlib import ironic_log  # noqa: E402 - after the path it lives on
from ironwave_testlib.intervals import peak_overlap  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
STATE = ROOT / ".state" / "bench"
IRONIC_STATE = STATE / "ironic"
CLOUDS_YAML = STATE / "clouds.yaml"
IRONIC_VENV = ROOT / ".state" / "ironic-venv"
BENCH_VENV = ROOT / ".state" / "bench-venv"
REPORT = ROOT / "reports" / "benchmark-deploy.json"
PORT = 6440
CLOUD = "ironwave-bench"
PREFIX = "bench-"
IMAGE = "http://127.0.0.1/bench.img"  # fake deploy never fetches it; baremetal_node_action requires instance_info
CASES = {"small": (60, 6), "large": (200, 20)}
# The `ansible` package that bundles openstack.cloud 2.5, with the project's core and SDK.
BASELINE_PINS = ["ansible==12.3.0", "ansible-core==2.19.14", "openstacksdk==4.22.0"]


# -- log analysis (pure; the lines are read by the shared test helpers) ----------------------------
@dataclass
class LogWindow:
    requests: list[dict]
    busy: dict[str, tuple[float, float]]   # node uuid -> (deploying at, active at)
    failed: list[str]                      # nodes that ended in deploy failed / error

    @property
    def deployed(self) -> int:
        return len(self.busy)


def parse_log(text: str) -> LogWindow:
    requests = [dict(method=r.method, path=r.path, status=str(r.status), ms=r.ms or 0.0, t=r.ts)
                for r in ironic_log.requests(text) if r.ts is not None]
    start: dict[str, float] = {}
    busy: dict[str, tuple[float, float]] = {}
    failed = []
    for m in ironic_log.moves(text):
        t, node, state, prev = m.ts, m.node, m.state, m.prev
        if state == "deploying" and prev == "available":
            start.setdefault(node, t)
        elif state == "active" and node in start:
            busy[node] = (start[node], t)
        elif state in ("deploy failed", "error") and node in start:
            failed.append(node)
    return LogWindow(requests, busy, failed)


def zero_gap_makespan(intervals: list[tuple[float, float]], concurrency: int) -> float:
    """Makespan of list scheduling the observed busy times (in their start order) on `concurrency`
    slots with no gap at all: the best a scheduler that cannot know durations in advance gets with
    these very nodes. Ideal (sum / C) ignores the tail where slots run out of work one by one."""
    slots = [0.0] * max(concurrency, 1)
    for a, b in sorted(intervals):
        i = min(range(len(slots)), key=slots.__getitem__)
        slots[i] += b - a
    return max(slots) if intervals else 0.0


def request_kind(req: dict) -> str:
    path = re.sub(r"/(nodes|allocations)/[^/?]+", r"/\1/<id>", req["path"].split("?")[0])
    return f"{req['method']} {path}" + (" (listing)" if req["method"] == "GET" and path.endswith(("/nodes", "/allocations")) else "")


def analyse(win: LogWindow, concurrency: int) -> dict[str, Any]:
    intervals = list(win.busy.values())
    total_busy = sum(b - a for a, b in intervals)
    ideal = total_busy / concurrency if intervals else 0.0
    deploy_reqs = [r for r in win.requests if r["method"] == "PUT" and r["path"].endswith("/states/provision")]
    first = min([r["t"] - float(r["ms"]) / 1000.0 for r in deploy_reqs] + [a for a, _ignored in intervals], default=0.0)
    span = max((b for _ignored, b in intervals), default=first) - first
    kinds = collections.Counter(request_kind(r) for r in win.requests)
    return {
        "deployed": win.deployed,
        "failed_nodes": len(win.failed),
        "busy_mean_s": round(total_busy / len(intervals), 2) if intervals else None,
        "ideal_s": round(ideal, 2),
        "floor_s": round(zero_gap_makespan(intervals, concurrency), 2),
        "span_s": round(span, 2),
        "requests": len(win.requests),
        "requests_per_node": round(len(win.requests) / win.deployed, 2) if win.deployed else None,
        "http_503": sum(1 for r in win.requests if r["status"] == "503"),
        "peak_busy": peak_overlap(intervals),
        "request_kinds": dict(kinds.most_common()),
    }


# -- harness -----------------------------------------------------------------------------------
@dataclass
class Row:
    scenario: str
    n: int
    c: int
    forks: int | None = None
    rc: int | None = None
    wall_s: float | None = None
    span_s: float | None = None
    ideal_s: float | None = None
    floor_s: float | None = None
    wall_ratio: float | None = None
    span_ratio: float | None = None
    requests_per_node: float | None = None
    peak_busy: int | None = None
    deployed: int | None = None
    http_503: int | None = None
    busy_mean_s: float | None = None
    ansible_cpu_s: float | None = None     # CPU of ansible-playbook and everything below it
    ironic_cpu_s: float | None = None
    load_avg: list[float] = field(default_factory=list)
    skipped: str | None = None
    request_kinds: dict[str, int] = field(default_factory=dict)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "OS_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_RETRY_FILES_ENABLED="0",
               OS_CLIENT_CONFIG_FILE=str(CLOUDS_YAML), OS_CLOUD=CLOUD, PYTHONDONTWRITEBYTECODE="1",
               IRONWAVE_WAVE_REPORT_PATH=str(STATE / "wave-report.json"),
               IRONWAVE_WAVE_SVG_PATH=str(STATE / "wave-timeline.svg"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def children_cpu() -> float:
    """CPU seconds (user + sys) of all waited-for child processes so far (ansible-playbook and
    every worker and module process below it)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def ironic_cpu() -> float | None:
    """CPU seconds our Ironic (its master process and the workers it forked) has used, from /proc."""
    try:
        pid = int((IRONIC_STATE / "ironic.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1] = ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run(cmd: list[str], env: dict[str, str], log: Path, timeout: int = 3600) -> tuple[int, float]:
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                              check=False)
    return proc.returncode, time.monotonic() - t0


def ironic_vars(state: str) -> dict[str, Any]:
    return dict(local_ironic_state=state, local_ironic_port=PORT, local_ironic_cloud_name=CLOUD,
                local_ironic_state_dir=str(IRONIC_STATE), local_ironic_clouds_yaml=str(CLOUDS_YAML),
                local_ironic_venv=str(IRONIC_VENV), local_ironic_fake_deploy_delay="2,4")


def ironic(state: str) -> None:
    IRONIC_VENV.parent.mkdir(parents=True, exist_ok=True)
    # Same lock as tests/integration/conftest.py: the venv is shared and installed once.
    with open(f"{IRONIC_VENV}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rc, _ignored = run([str(BIN / "ansible-playbook"), "playbooks/local_ironic.yml", "-e",
                            json.dumps(ironic_vars(state))],
                           base_env(), STATE / "logs" / f"ironic-{state}.log", timeout=900)
    if rc != 0:
        raise RuntimeError(f"local_ironic state={state} failed, see {STATE / 'logs' / f'ironic-{state}.log'}")


def stop_ironic() -> None:
    """Stop exactly our Ironic: through the role (PID-checked), else SIGTERM the recorded PID."""
    pidfile = IRONIC_STATE / "ironic.pid"
    try:
        ironic("stopped")
    except Exception as exc:  # noqa: BLE001
        print(f"stopping through the role failed ({exc}); falling back to the pidfile", file=sys.stderr)
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if str(IRONIC_STATE) in cmdline:
                os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass


def connect():
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(CLOUDS_YAML)
    return openstack.connect(cloud=CLOUD, baremetal_status_code_retries=0)


def enroll(count: int) -> None:
    rc, _ignored = run([str(BIN / "ansible-playbook"), "playbooks/enroll.yml", "-e", json.dumps(
        {"enroll_cloud": CLOUD, "enroll_generate": {"count": count, "name_prefix": PREFIX},
         "enroll_show_summary": False})], base_env(), STATE / "logs" / "enroll.log", timeout=1800)
    if rc != 0:
        raise RuntimeError(f"enroll failed, see {STATE / 'logs' / 'enroll.log'}")


TRANSIENT = ("deleting", "cleaning", "clean wait", "deploying", "wait call-back", "verifying")


def reset_pool(conn, timeout: float = 900, batch: int = 10, stuck_after: float = 120):
    """Every bench node available, unassociated, no slot marker; no allocations (harness code).

    Undeploys at most `batch` nodes at a time: dozens at once make Ironic-on-sqlite hit "database is
    locked" and leave nodes in `deleting` for good. A node stuck in a transient state longer than
    `stuck_after` s is recovered by restarting this (our own) Ironic, which fails such states.
    Returns the connection to use (a new one after a restart)."""
    deadline = time.monotonic() + timeout
    last_error = ""
    seen: dict[tuple[str, str], float] = {}
    restarts = 0
    while True:
        for alloc in list(conn.baremetal.allocations()):
            try:
                conn.baremetal.delete_allocation(alloc.id, ignore_missing=True)
            except Exception:  # noqa: BLE001 - retried next round (node busy/locked)
                pass
        nodes = [n for n in conn.baremetal.nodes(details=True) if (n.name or "").startswith(PREFIX)]
        in_flight = sum(1 for n in nodes if n.provision_state in TRANSIENT)
        now = time.monotonic()
        stuck = [n.name for n in nodes if n.provision_state in TRANSIENT
                 and now - seen.setdefault((n.id, n.provision_state), now) > stuck_after]
        if stuck and restarts < 2:
            print(f"    reset: {len(stuck)} node(s) stuck in a transient state (e.g. {stuck[0]}); restarting our Ironic",
                  flush=True)
            ironic("stopped")
            ironic("started")
            conn, seen, restarts = connect(), {}, restarts + 1
            continue
        pending = 0
        for node in nodes:
            state, target = node.provision_state, node.target_provision_state
            try:
                if target or state in TRANSIENT:
                    pending += 1
                elif state in ("active", "deploy failed", "error"):
                    pending += 1
                    if in_flight < batch:
                        conn.baremetal.set_node_provision_state(node.id, "deleted")
                        in_flight += 1
                elif state == "manageable":
                    conn.baremetal.set_node_provision_state(node.id, "provide")
                    pending += 1
                elif state == "clean failed":
                    conn.baremetal.set_node_provision_state(node.id, "manage")
                    pending += 1
                elif state == "available":
                    patch = []
                    if node.instance_id:
                        patch.append({"op": "remove", "path": "/instance_uuid"})
                    if node.instance_info:
                        patch.append({"op": "replace", "path": "/instance_info", "value": {}})
                    if "ironwave_slot" in (node.extra or {}):
                        patch.append({"op": "remove", "path": "/extra/ironwave_slot"})
                    if node.power_state not in ("power off", "power on"):
                        conn.baremetal.set_node_power_state(node.id, "power off")
                        pending += 1
                    if patch:
                        conn.baremetal.patch_node(node.id, patch)
                        pending += 1
                else:
                    pending += 1
            except Exception as exc:  # noqa: BLE001 - 503 ConcurrentActionLimit / NodeLocked: next round
                pending += 1
                last_error = f"{node.name}: {exc}"[:300]
        if not pending and not list(conn.baremetal.allocations()):
            return conn
        if time.monotonic() > deadline:
            raise RuntimeError(f"pool did not settle in {timeout} s ({pending} node(s) pending; last error: {last_error})")
        time.sleep(2)


def inventory(path: Path, n: int, python: str, part: tuple[int, int] = (1, 1)) -> None:
    """part (k, S): slice k of S, hosts[k-1::S] as AWX splits a sliced job's inventory."""
    k, slices = part
    hosts = {f"bench-h{i:03d}": {"bench_node": f"{PREFIX}{i:03d}"} for i in range(1, n + 1)}
    hosts = {name: hosts[name] for name in list(hosts)[k - 1::slices]}
    path.write_text(json.dumps({"baremetal": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": python,
        "deploy_image_source": IMAGE, "deploy_resource_class": "baremetal"}}}))


BASELINE_PLAY = """- name: Deploy with openstack.cloud ({label})
  hosts: baremetal
  gather_facts: false
{play_extra}  tasks:
    - name: Deploy and wait
      openstack.cloud.baremetal_node_action:
        cloud: {cloud}
        name: "{{{{ bench_node }}}}"
        instance_info:
          image_source: {image}
        wait: true
        timeout: 1800
{task_extra}"""


def baseline_playbook(path: Path, label: str, c: int) -> None:
    play_extra = {"serial": f"  serial: {c}\n", "free_throttle": "  strategy: ansible.builtin.free\n",
                  "host_pinned": "  strategy: ansible.builtin.host_pinned\n"}[label]
    task_extra = f"      throttle: {c}\n" if label == "free_throttle" else ""
    path.write_text(BASELINE_PLAY.format(label=label, play_extra=play_extra, cloud=CLOUD, image=IMAGE,
                                         task_extra=task_extra))


def baseline_venv() -> str | None:
    """Install the `ansible` package venv once; None when ready, else the reason it is not."""
    py = BENCH_VENV / "bin" / "python"
    marker = BENCH_VENV / ".bench-installed"
    if marker.exists() and marker.read_text() == " ".join(BASELINE_PINS):
        return None
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True, capture_output=True)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *BASELINE_PINS],
                              capture_output=True, text=True, timeout=1200, check=False)
        if proc.returncode != 0:
            return "pip install failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:160]
    except (OSError, subprocess.SubprocessError) as exc:
        return f"venv install failed: {exc}"
    marker.write_text(" ".join(BASELINE_PINS))
    return None


def baseline_env(forks: int) -> dict[str, str]:
    """openstack.cloud 2.5 with openstacksdk 4.22 needs `import openstack.version` first: a
    sitecustomize on PYTHONPATH for these runs only (module processes inherit the environment)."""
    site = STATE / "sitecustomize"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "# Generated by tests/benchmarks/deploy_waves.py for the openstack.cloud baseline runs only.\n"
        "try:\n    import openstack.version  # noqa: F401\nexcept ImportError:\n    pass\n")
    cfg = STATE / "ansible-baseline.cfg"
    cfg.write_text("[defaults]\nretry_files_enabled = false\ninterpreter_python = auto_silent\n"
                   "stdout_callback = ansible.builtin.default\n"
                   "internal_poll_interval = 0.01\n")   # as the checkout's ansible.cfg: same controller loop
    env = base_env()
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_FORKS=str(forks), PYTHONPATH=str(site))
    env["PATH"] = f"{BENCH_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


@dataclass
class Scenario:
    name: str
    kind: str                 # ours | builtin | baseline
    forks: int
    extra: dict[str, Any] = field(default_factory=dict)
    label: str = ""           # baseline play variant
    slices: int = 1           # AWX job slicing: S concurrent runs over hosts[k-1::S] (ours only)


def scenarios(n: int, c: int, only: set[str] | None) -> list[Scenario]:
    # Ours: playbooks/deploy.yml as shipped with deploy_limit C (window C, C more hosts prefetched,
    # busy gate C), only the schedule varied. forks 25 (the collection's default) is above 2C; the
    # busy gate, not forks, bounds Ironic-busy nodes (peak shows it).
    gate = {"deploy_limit": c}
    uuid = {"deploy_reserve_mode": "instance_uuid"}
    out = [
        Scenario("ours wave, 1 wave, uuid", "ours", max(2 * c, 25), {"ironwave_wave_schedule": ["100%"], **gate, **uuid}),
        # Poll 3/C s: about as many shared listings per node as at poll 1 s with C=3 (~2 per node
        # here), so refill latency shrinks as C grows; real deploys take minutes, 1 s is plenty there.
        Scenario("ours wave, 1 wave, uuid, poll 3/C", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], "deploy_poll_interval": round(3.0 / c, 2), **gate, **uuid}),
        Scenario("ours wave, 1 wave, allocation", "ours", max(2 * c, 25), {"ironwave_wave_schedule": ["100%"], **gate}),
        Scenario("ours wave [1, C] canary, uuid", "ours", max(2 * c, 25), {"ironwave_wave_schedule": [1, c], **gate, **uuid}),
        # AWX job slicing: the same play as the first row, the limit counted on Ironic (wave_slot
        # leases); one run, then 3 slices started together sharing the one limit C.
        Scenario("ours wave, 1 run, cloud limit C", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], **gate, **uuid, "deploy_limit_scope": "cloud"}),
        Scenario("ours wave, 3 slices, cloud limit C", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], **gate, **uuid, "deploy_limit_scope": "cloud"}, slices=3),
        Scenario("ours wave, 1 run, cloud gate C", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], **gate, **uuid, "deploy_limit_scope": "cloud",
                  "deploy_cloud_limit_mode": "gate"}),
        # Each slice sees the others' markers and polls every 3 x 1 s at its own phase (tick_plan):
        # together they list the nodes about as often as one run does.
        Scenario("ours wave, 3 slices, cloud gate C", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], **gate, **uuid, "deploy_limit_scope": "cloud",
                  "deploy_cloud_limit_mode": "gate"}, slices=3),
        # The same without prefetch: each slice's window (C) already holds more hosts waiting at the
        # gate than its share of the C slots, so prefetching only adds 3 x C reservations at the start.
        Scenario("ours wave, 3 slices, cloud gate C, no prefetch", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], **gate, **uuid, "deploy_limit_scope": "cloud",
                  "deploy_cloud_limit_mode": "gate", "ironwave_wave_prefetch": 0}, slices=3),
        # ... and each node reserved when the gate admits its host, in the PATCH of its claim.
        Scenario("ours wave, 3 slices, cloud gate C, reserve at admission", "ours", max(2 * c, 25),
                 {"ironwave_wave_schedule": ["100%"], **gate, **uuid, "deploy_limit_scope": "cloud",
                  "deploy_cloud_limit_mode": "gate", "ironwave_wave_prefetch": 0, "deploy_reserve_at": "admission"},
                 slices=3),
        # deploy_builtin.yml runs a canary batch first by default; one batch, as the other one-wave rows.
        Scenario("ours host_pinned forks C", "builtin", c, {"deploy_limit": 0, "ironwave_builtin_serial": ["100%"]}),
        Scenario("ours host_pinned 2C, limit C", "builtin", 2 * c,
                 {"deploy_limit": c, "deploy_limit_scope": "cloud", "ironwave_builtin_serial": ["100%"]}),
        Scenario("oc serial: C", "baseline", c, label="serial"),
        Scenario("oc free + throttle: C", "baseline", c, label="free_throttle"),
        Scenario("oc host_pinned forks C", "baseline", c, label="host_pinned"),
    ]
    if only:
        out = [s for s in out if any(key in s.name for key in only)]
    return out


def run_scenario(conn, sc: Scenario, n: int, c: int, baseline_problem: str | None) -> tuple[Row, Any]:
    row = Row(scenario=sc.name, n=n, c=c, forks=sc.forks)
    if sc.kind == "baseline" and baseline_problem:
        row.skipped = baseline_problem
        return row, conn
    slug = re.sub(r"[^a-z0-9]+", "-", sc.name.lower()).strip("-") + f"-n{n}"
    work = STATE / "runs" / slug
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    conn = reset_pool(conn)
    if sc.kind == "baseline":
        env = baseline_env(sc.forks)
        python = str(BENCH_VENV / "bin" / "python")
        pb = work / "play.yml"
        baseline_playbook(pb, sc.label, c)
        cmd = [str(BENCH_VENV / "bin" / "ansible-playbook"), "-i", str(work / "inv.json"), str(pb)]
    else:
        env = base_env()
        env.update(ANSIBLE_FORKS=str(sc.forks), IRONWAVE_POLL_CACHE_DIR=str(work / "poll-cache"),
                   IRONWAVE_WAVE_REPORT_PATH=str(work / "wave-report.json"),
                   IRONWAVE_WAVE_SVG_PATH=str(work / "wave-timeline.svg"))
        python = str(BIN / "python")
        pb = ROOT / "playbooks" / ("deploy.yml" if sc.kind == "ours" else "deploy_builtin.yml")
        cmd = [str(BIN / "ansible-playbook"), "-i", str(work / "inv.json"), str(pb), "-e",
               json.dumps({"ironwave_cloud": CLOUD, **sc.extra})]
    inventory(work / "inv.json", n, python)
    log = IRONIC_STATE / "ironic.log"
    time.sleep(1.0)  # let the reset's last log lines land before the mark
    offset = log.stat().st_size
    cpu0, icpu0 = children_cpu(), ironic_cpu()
    if sc.slices > 1:
        row.rc, wall = run_slices(cmd, env, work, n, python, sc.slices)
    else:
        row.rc, wall = run(cmd, env, work / "ansible.log")
    row.ansible_cpu_s = round(children_cpu() - cpu0, 1)
    icpu1 = ironic_cpu()
    row.ironic_cpu_s = round(icpu1 - icpu0, 1) if icpu0 is not None and icpu1 is not None else None
    time.sleep(1.5)  # the last access lines are written after the response
    with open(log, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")
    res = analyse(parse_log(text), c)
    row.wall_s = round(wall, 2)
    row.load_avg = [round(x, 2) for x in os.getloadavg()]
    for key in ("span_s", "ideal_s", "floor_s", "requests_per_node", "peak_busy", "deployed", "http_503", "busy_mean_s",
                "request_kinds"):
        setattr(row, key, res[key])
    if res["ideal_s"]:
        row.wall_ratio = round(wall / res["ideal_s"], 3)
        row.span_ratio = round(res["span_s"] / res["ideal_s"], 3)
    return row, conn


def run_slices(cmd: list[str], env: dict[str, str], work: Path, n: int, python: str, slices: int) -> tuple[int, float]:
    """Start S runs of `cmd` together, each on its slice of the inventory and with its own /tmp and
    poll cache (separate execution nodes share nothing but the cloud); wall = first start to last end.
    The run id comes from each process (controller, PID, start time): S distinct runs, as AWX's slices."""
    procs = []
    t0 = time.monotonic()
    for k in range(1, slices + 1):
        inv = work / f"inv-{k}.json"
        inventory(inv, n, python, (k, slices))
        tmp = work / f"tmp-{k}"
        tmp.mkdir()
        slice_env = {**env, "TMPDIR": str(tmp), "IRONWAVE_POLL_CACHE_DIR": str(work / f"poll-cache-{k}"),
                     "IRONWAVE_WAVE_REPORT_PATH": str(work / f"wave-report-{k}.json"),
                     "IRONWAVE_WAVE_SVG_PATH": str(work / f"wave-timeline-{k}.svg")}
        slice_cmd = [str(inv) if part == str(work / "inv.json") else part for part in cmd]
        out = open(work / f"ansible-{k}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        out.write("$ " + " ".join(slice_cmd) + "\n")
        out.flush()
        procs.append((subprocess.Popen(slice_cmd, cwd=ROOT, env=slice_env, stdout=out, stderr=subprocess.STDOUT), out))
    rcs = []
    for proc, out in procs:
        rcs.append(proc.wait(timeout=3600))
        out.close()
    return max(rcs), time.monotonic() - t0


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[Row]) -> None:
    head = ("%-34s %4s %3s %5s %3s %7s %7s %7s %9s %9s %10s %8s %5s %5s %s"
            % ("scenario", "N", "C", "forks", "rc", "wall s", "span s", "ideal s", "wall/ideal", "span/ideal",
               "floor/ideal", "req/node", "peak", "done", "cpu ansible/ironic s"))
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.skipped:
            print("%-34s %4d %3d  skipped: %s" % (r.scenario, r.n, r.c, r.skipped))
            continue
        floor = round(r.floor_s / r.ideal_s, 3) if r.floor_s and r.ideal_s else None
        print("%-34s %4d %3d %5s %3s %7s %7s %7s %9s %9s %10s %8s %5s %5s %s" % (
            r.scenario, r.n, r.c, r.forks, r.rc, fmt(r.wall_s, ".1f"), fmt(r.span_s, ".1f"), fmt(r.ideal_s, ".1f"),
            fmt(r.wall_ratio, ".2f"), fmt(r.span_ratio, ".2f"), fmt(floor, ".2f"), fmt(r.requests_per_node, ".2f"),
            fmt(r.peak_busy, "d"), fmt(r.deployed, "d"), f"{fmt(r.ansible_cpu_s, '.0f')}/{fmt(r.ironic_cpu_s, '.0f')}"))
    print("wall = ansible-playbook process time (reserve phase, module start-up, everything); span = Ironic side,")
    print("first deploy request -> last node active (from ironic.log). ideal = sum of per-node deploying->active")
    print("times (Ironic's log) / C. floor = those same busy times list-scheduled on C slots with zero gaps (the")
    print("tail no non-clairvoyant scheduler avoids). peak = most nodes deploying at once in Ironic's log (<= C).")
    print("Targets (ours): makespan/ideal <= 1.05, req/node <= 4. oc = openstack.cloud.baremetal_node_action (wait).")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--case", choices=["small", "large", "all"], default="small")
    ap.add_argument("--only", default="", help="'|'-separated substrings of scenario names (default: all)")
    ap.add_argument("--keep-ironic", action="store_true", help="leave the bench Ironic running (debugging)")
    args = ap.parse_args()
    if not (ROOT / ".build" / "collections" / "ansible_collections" / "ironwave" / "baremetal").exists():
        print("run `make link` first", file=sys.stderr)
        return 2
    cases = ["small", "large"] if args.case == "all" else [args.case]
    only = {s.strip() for s in args.only.split("|") if s.strip()} or None
    STATE.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}  cpus: {os.cpu_count()}", flush=True)
    rows: list[Row] = []
    baseline_problem = None
    if any(s.kind == "baseline" for case in cases for s in scenarios(*CASES[case], only)):
        print("baseline venv (ansible 12.x with openstack.cloud 2.5)...", flush=True)
        baseline_problem = baseline_venv()
    started = time.time()
    try:
        ironic("started")
        conn = connect()
        # A pool left by an earlier run: settle it first (enroll waits for every node to be available).
        if any((n.name or "").startswith(PREFIX) for n in conn.baremetal.nodes()):
            conn = reset_pool(conn)
        enroll(max(CASES[c][0] for c in cases))
        for case in cases:
            n, c = CASES[case]
            for sc in scenarios(n, c, only):
                print(f"[{time.time() - started:6.0f}s] {case}: {sc.name} (N={n}, C={c}, forks={sc.forks})", flush=True)
                try:
                    row, conn = run_scenario(conn, sc, n, c, baseline_problem)
                except Exception as exc:  # noqa: BLE001 - one broken row must not lose the others
                    row = Row(scenario=sc.name, n=n, c=c, forks=sc.forks, skipped=f"error: {exc}")
                rows.append(row)
                if not row.skipped:
                    print(f"    rc={row.rc} wall={row.wall_s}s span={row.span_s}s ideal={row.ideal_s}s "
                          f"req/node={row.requests_per_node} peak={row.peak_busy} deployed={row.deployed} "
                          f"cpu ansible={row.ansible_cpu_s}s ironic={row.ironic_cpu_s}s load={row.load_avg}", flush=True)
    finally:
        if not args.keep_ironic:
            stop_ironic()
    print()
    print_table(rows)
    print(f"load average at end: {os.getloadavg()}  (2-core machine shared with other test runs: wall times are noisy)")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"generated": dt.datetime.now().isoformat(timespec="seconds"),
                                  "cpus": os.cpu_count(), "rows": [asdict(r) for r in rows]}, indent=2))
    print(f"JSON: {REPORT.relative_to(ROOT)}; per-run logs under {STATE.relative_to(ROOT)}/runs/")
    for r in rows:
        if r.request_kinds:
            top = ", ".join(f"{v} {k}" for k, v in list(r.request_kinds.items())[:6])
            print(f"  requests {r.scenario}: {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
