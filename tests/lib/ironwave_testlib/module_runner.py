# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Run one module file as a process with ANSIBLE_MODULE_ARGS, as Ansible ships it (no
ansible-playbook start-up, so several can run at once like forks and timings measure the module)."""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from ironwave_testlib.paths import COLLECTIONS, MODULES, PYTHON, REPO


def module_env(clouds_yaml: Path, cache_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OS_CLIENT_CONFIG_FILE=str(clouds_yaml), PYTHONPATH=str(COLLECTIONS),
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PYTHONDONTWRITEBYTECODE="1")
    if cache_dir is not None:
        env["IRONWAVE_POLL_CACHE_DIR"] = str(cache_dir)
    return env


class ModuleRunner:
    def __init__(self, cloud: str, env: dict[str, str], tmp: Path) -> None:
        self.cloud, self.env, self.tmp = cloud, env, tmp

    def start(self, module: str, check: bool = False, **args: Any) -> tuple[subprocess.Popen, float]:
        args = {"cloud": self.cloud, **args}
        if check:
            args["_ansible_check_mode"] = True
        path = self.tmp / f"{module}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        proc = subprocess.Popen([str(PYTHON), str(MODULES / f"{module}.py"), str(path)], cwd=REPO,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return proc, time.monotonic()

    @staticmethod
    def finish(started: tuple[subprocess.Popen, float], timeout: float = 300) -> dict:
        proc, t0 = started
        out, err = proc.communicate(timeout=timeout)
        elapsed = time.monotonic() - t0
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError(f"module printed no JSON: {out}\n{err}") from None
        result["_elapsed"] = elapsed
        return result

    def __call__(self, module: str, check: bool = False, **args: Any) -> dict:
        return self.finish(self.start(module, check, **args))
