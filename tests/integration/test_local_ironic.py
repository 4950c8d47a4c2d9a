# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The local_ironic role against a real Ironic: start, idempotence, restart on change, clouds.yaml
merge, stop by exact PID, stale pidfiles, input validation."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ironwave_testlib.processes import pid_alive


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.fixture(scope="module")
def life(local_ironic_factory):
    """A private instance this module may restart and stop (the session one stays untouched)."""
    return local_ironic_factory("lifecycle", max_concurrent_deploy=7)


@pytest.fixture
def decoys():
    """Unrelated processes that a stop must leave alone; killed by the test afterwards."""
    procs: list[subprocess.Popen] = []

    def spawn(*argv: str, argv0: str | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), executable=argv0)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        proc.kill()
        proc.wait()


def test_session_ironic_answers_and_serves_fake_hardware(local_ironic):
    assert local_ironic.api_answers()
    pid = local_ironic.pid
    assert pid_alive(pid), f"PID {pid} from {local_ironic.pidfile} is not running"
    assert str(local_ironic.config_file) in cmdline(pid)
    # The playbook has exited; the process lives on as the leader of its own session (setsid).
    state, _ppid, pgrp, session = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:4]
    assert (pgrp, session) == (str(pid), str(pid))
    conn = local_ironic.conn
    assert "fake-hardware" in [d.name for d in conn.baremetal.drivers()]
    node = conn.baremetal.create_node(name="local-ironic-smoke", driver="fake-hardware")
    try:
        assert (node.deploy_interface, node.power_interface, node.network_interface) == ("fake", "fake", "noop")
    finally:
        conn.baremetal.delete_node(node.id)


def test_config_values_are_rendered(life):
    conf = life.config_file.read_text()
    assert "max_concurrent_deploy = 7" in conf
    assert f"connection = sqlite:///{life.state_dir}/ironic.sqlite" in conf
    assert "auth_strategy = noauth" in conf and "rpc_transport = none" in conf
    assert f"port = {life.port}" in conf and "host_ip = 127.0.0.1" in conf


def test_second_start_changes_nothing(life):
    life.start()  # whatever the previous test left, bring it to the default config
    pid = life.pid
    again = life.start()
    assert again.changed == 0, again.output
    assert again.recap["localhost"]["failed"] == 0
    assert life.pid == pid and pid_alive(pid)


def test_config_change_restarts_with_new_pid(life):
    life.start()
    old = life.pid
    result = life.start(local_ironic_fake_deploy_delay="1,2")
    assert result.changed > 0
    new = life.pid
    assert new != old and pid_alive(new) and not pid_alive(old)
    assert "deploy_delay = 1,2" in life.config_file.read_text()
    assert life.api_answers()
    assert life.start(local_ironic_fake_deploy_delay="1,2").changed == 0
    life.start()  # back to the default config (restarts again)
    assert "deploy_delay = 2,4" in life.config_file.read_text()


def test_clouds_yaml_entry_merged_and_others_preserved(life, tmp_path):
    entry = yaml.safe_load(life.clouds_yaml.read_text())["clouds"][life.cloud]
    assert entry == {"auth_type": "none", "baremetal_endpoint_override": life.endpoint,
                     "baremetal_api_version": "1.95"}

    other = {"auth": {"auth_url": "https://keystone.example.invalid/v3", "username": "u"},
             "region_name": "RegionOne"}
    mine = tmp_path / "clouds.yaml"
    mine.write_text(yaml.safe_dump({"clouds": {"other": other, life.cloud: {"auth_type": "stale"}},
                                    "cache": {"expiration_time": 5}}))
    pid = life.pid
    first = life.playbook(local_ironic_clouds_yaml=str(mine))
    assert first.rc == 0, first.output
    data = yaml.safe_load(mine.read_text())
    assert data["clouds"]["other"] == other
    assert data["cache"] == {"expiration_time": 5}
    assert data["clouds"][life.cloud] == entry  # replaced, not merged with the stale entry
    assert life.pid == pid  # clouds.yaml is not part of Ironic's config: no restart
    second = life.playbook(local_ironic_clouds_yaml=str(mine))
    assert second.rc == 0 and second.changed == 0, second.output


def test_stop_kills_exactly_that_pid(life, decoys):
    life.start()
    pid = life.pid
    # A process literally named "ironic", and one naming another ironic.conf: both must survive.
    named_ironic = decoys("ironic", "300", argv0="/bin/sleep")
    named_ironic_argv = decoys(sys.executable, "-c", "import time; time.sleep(300)", "ironic",
                               "--config-file", str(life.config_file) + ".other")
    result = life.stop()
    assert result.rc == 0 and result.changed > 0, result.output
    assert not pid_alive(pid)
    assert not life.pidfile.exists()
    assert not life.api_answers()
    assert named_ironic.poll() is None and named_ironic_argv.poll() is None
    again = life.stop()
    assert again.rc == 0 and again.changed == 0, again.output


def test_stale_and_reused_pidfile(life, decoys):
    life.stop()
    # PID reused by an unrelated program: the pidfile is dropped, the program is not signalled.
    stranger = decoys("sleep", "300")
    life.pidfile.write_text(f"{stranger.pid}\n")
    result = life.stop()
    assert result.rc == 0, result.output
    assert stranger.poll() is None
    assert not life.pidfile.exists()
    # Process gone: a start replaces the stale pidfile.
    gone = subprocess.Popen(["true"])
    gone.wait()
    life.pidfile.write_text(f"{gone.pid}\n")
    life.start()
    assert life.pid != gone.pid and pid_alive(life.pid) and life.api_answers()


@pytest.mark.parametrize("bad", ["2:4", "0.5", "4,1", "fast"])
def test_bad_deploy_delay_fails_clearly_and_starts_nothing(local_ironic_factory, bad):
    inst = local_ironic_factory(f"bad-{len(bad)}-{bad.replace(':', '_').replace(',', '_')}",
                                start=False)
    result = inst.playbook(local_ironic_fake_deploy_delay=bad)
    assert result.rc != 0
    assert "Bad fake-hardware delay: [fake] deploy_delay" in result.stdout
    assert f'"{bad}"' in result.stdout and "Nothing was changed" in result.stdout
    assert not inst.state_dir.exists()
    assert inst.pid is None and not inst.api_answers()
