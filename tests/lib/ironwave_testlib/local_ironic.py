# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A real local Ironic started and stopped through playbooks/local_ironic.yml (the role).

- `LocalIronic`: one instance (port, cloud name, state dir, clouds.yaml, log, pid, openstacksdk conn).
- `IronicFactory`: starts instances on free ports; `stop_all()` stops each by its recorded PID.
The Ironic venv is shared between runs (and with molecule): $IRONWAVE_IRONIC_VENV, default
<repo>/.state/ironic-venv, installed once under a file lock.
"""
from __future__ import annotations

import fcntl
import os
import socket
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ironwave_testlib.ironic_log import LogCursor
from ironwave_testlib.paths import PLAYBOOKS, REPO
from ironwave_testlib.playbook import PlaybookResult, base_env, run_playbook

PLAYBOOK = PLAYBOOKS / "local_ironic.yml"
IRONIC_VENV = Path(os.environ.get("IRONWAVE_IRONIC_VENV") or REPO / ".state" / "ironic-venv")


@dataclass
class LocalIronic:
    """One local Ironic started through the role."""

    name: str
    port: int
    cloud: str
    state_dir: Path  # the role's local_ironic_state_dir
    clouds_yaml: Path
    role_vars: dict[str, Any] = field(default_factory=dict)
    _conn: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "ironic.pid"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "ironic.conf"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "ironic.log"

    @property
    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses (ansible-playbook, openstack CLI) aimed at this Ironic."""
        env = base_env(self.clouds_yaml)
        env["OS_CLOUD"] = self.cloud
        return env

    def vars(self, **overrides: Any) -> dict[str, Any]:
        """The role variables of this instance, with overrides."""
        base = dict(local_ironic_port=self.port, local_ironic_cloud_name=self.cloud,
                    local_ironic_state_dir=str(self.state_dir), local_ironic_venv=str(IRONIC_VENV),
                    local_ironic_clouds_yaml=str(self.clouds_yaml))
        base.update(self.role_vars)
        base.update(overrides)
        return base

    def playbook(self, state: str = "started", **overrides: Any) -> PlaybookResult:
        """Run playbooks/local_ironic.yml for this instance (no assertion on the outcome)."""
        return run_playbook(PLAYBOOK, self.vars(local_ironic_state=state, **overrides), self.env)

    def run_playbook(self, playbook: str | Path, extra_vars: dict[str, Any] | None = None,
                     *args: str) -> PlaybookResult:
        """Run any playbook with this instance's environment (OS_CLOUD, OS_CLIENT_CONFIG_FILE)."""
        return run_playbook(playbook, dict(extra_vars or {}), self.env, *args)

    def start(self, **overrides: Any) -> PlaybookResult:
        with _install_lock():
            result = self.playbook("started", **overrides)
        assert result.rc == 0, result.output
        return result

    def stop(self) -> PlaybookResult:
        return self.playbook("stopped")

    def log_cursor(self) -> LogCursor:
        """Mark Ironic's log now; read what it logged since (requests, state changes)."""
        return LogCursor(self.log_file)

    def api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/v1", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    @property
    def conn(self):
        """An openstacksdk connection to this cloud (no SDK-side retries of 409/503)."""
        if self._conn is None:
            import openstack

            # openstacksdk reads OS_CLIENT_CONFIG_FILE (set for the session by the factory).
            assert os.environ.get("OS_CLIENT_CONFIG_FILE") == str(self.clouds_yaml)
            self._conn = openstack.connect(cloud=self.cloud, baremetal_status_code_retries=0)
        return self._conn


class _install_lock:
    """Serialise first runs so that concurrent sessions install the shared venv once."""

    def __enter__(self):
        IRONIC_VENV.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(f"{IRONIC_VENV}.lock", "w", encoding="utf-8")  # noqa: SIM115
        fcntl.flock(self._fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


class IronicFactory:
    def __init__(self, root: Path, base_port: int) -> None:
        self.root = root
        self.clouds_yaml = root / "clouds.yaml"
        self.instances: list[LocalIronic] = []
        self._next_port = base_port + 2

    def __call__(self, name: str, port: int | None = None, cloud: str | None = None,
                 start: bool = True, **role_vars: Any) -> LocalIronic:
        """A new instance; role_vars are role variables without the `local_ironic_` prefix,
        e.g. `max_concurrent_deploy=2`, `fake_deploy_delay="1,2"`."""
        if port is None:
            port = self._free_port()
        inst = LocalIronic(name=name, port=port, cloud=cloud or f"ironwave-test-{name}",
                           state_dir=self.root / name / "ironic", clouds_yaml=self.clouds_yaml,
                           role_vars={f"local_ironic_{k}": v for k, v in role_vars.items()})
        self.instances.append(inst)
        if start:
            inst.start()
        return inst

    def _free_port(self) -> int:
        """The next port from base+2 up that nothing listens on (other engineers' instances and
        molecule scenarios share 127.0.0.1)."""
        while True:
            port, self._next_port = self._next_port, self._next_port + 1
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return port

    def stop_all(self) -> list[str]:
        problems = []
        for inst in self.instances:
            if inst.pid is None:
                continue
            result = inst.stop()
            if result.rc != 0:
                problems.append(result.output)
        return problems
