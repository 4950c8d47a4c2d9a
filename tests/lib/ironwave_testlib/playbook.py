# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Run ansible-playbook from the repo's venv and read its recap."""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ironwave_testlib.paths import BIN, REPO

RECAP = re.compile(r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
                   r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.M)


@dataclass
class PlaybookResult:
    rc: int
    stdout: str
    stderr: str
    args: list[str]

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP per host: {'localhost': {'ok': 21, 'changed': 0, ...}}."""
        return {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
                for m in RECAP.finditer(self.stdout)}

    @property
    def changed(self) -> int:
        return sum(host["changed"] for host in self.recap.values())

    @property
    def output(self) -> str:
        return f"$ {' '.join(self.args)}\n{self.stdout}\n{self.stderr}"


def base_env(clouds_yaml: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               OS_CLIENT_CONFIG_FILE=str(clouds_yaml), PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # The wave report of test runs goes next to the test's clouds.yaml, not into the checkout's reports/.
    env.setdefault("IRONWAVE_WAVE_REPORT_PATH", str(clouds_yaml.parent / "wave-report.json"))
    env.setdefault("IRONWAVE_WAVE_SVG_PATH", str(clouds_yaml.parent / "wave-timeline.svg"))
    env.setdefault("IRONWAVE_WAVE_HTML_PATH", str(clouds_yaml.parent / "wave-report.html"))
    return env


def playbook_command(playbook: str | Path, extra_vars: dict[str, Any], *args: str,
                     binary: str | Path | None = None) -> list[str]:
    return [str(binary or BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(extra_vars), *args]


def run_playbook(playbook: str | Path, extra_vars: dict[str, Any], env: dict[str, str],
                 *args: str, timeout: int = 900) -> PlaybookResult:
    """ansible-playbook from the repo's venv, extra vars as JSON (types kept)."""
    cmd = playbook_command(playbook, extra_vars, *args)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, cmd)


class RunningPlaybook:
    """ansible-playbook started in the background (several runs at once, or one to kill mid-way).
    Output goes to `log` when given (a file survives the test for reading), else to a pipe."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path | None = None,
                 new_session: bool = False) -> None:
        self.cmd, self.log = cmd, log
        self._out = open(log, "w", encoding="utf-8") if log else subprocess.PIPE  # noqa: SIM115 - closed in finish
        # new_session: its own process group, as started from a shell (a test may kill the group).
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=new_session)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def finish(self, timeout: float = 900) -> PlaybookResult:
        if self.log:
            self.proc.wait(timeout=timeout)
            self._out.close()
            out = Path(self.log).read_text(encoding="utf-8", errors="replace")
        else:
            out = self.proc.communicate(timeout=timeout)[0]
        return PlaybookResult(self.proc.returncode, out, "", self.cmd)


def start_playbook(playbook: str | Path, extra_vars: dict[str, Any], env: dict[str, str], *args: str,
                   prefix: tuple[str, ...] = (), log: Path | None = None,
                   new_session: bool = False) -> RunningPlaybook:
    """Start ansible-playbook from the repo's venv without waiting; `prefix` wraps the command
    (e.g. ("faketime", "-f", "+40s") for a controller whose clock runs ahead)."""
    return RunningPlaybook([*prefix, *playbook_command(playbook, extra_vars, *args)], env, log, new_session)


def artifact_data(runner) -> dict:
    """What an ansible-runner job handed over with set_stats (AWX's job artifacts): the
    artifact_data of its last playbook_on_stats event."""
    stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    assert stats, "no playbook_on_stats event in the job's events"
    return (stats[-1].get("event_data") or {}).get("artifact_data") or {}


def failed_events(runner) -> list[str]:
    """One line per failed or unreachable task of an ansible-runner job: host, task and message -
    what an assertion on the job's rc should show (the stdout's tail is cut by pytest)."""
    lines = []
    for event in runner.events:
        if event.get("event") not in ("runner_on_failed", "runner_on_unreachable"):
            continue
        data = event.get("event_data") or {}
        if data.get("ignore_errors"):
            continue
        res = data.get("res") or {}
        lines.append(f"{data.get('host')} [{data.get('task')}] {res.get('error_kind', '')}: "
                     f"{str(res.get('msg', ''))[:600]}")
    return lines
