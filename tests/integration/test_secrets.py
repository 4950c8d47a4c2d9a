# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Secrets never show (issue 9, defect 8), against the real local Ironic.

A fleet with one bad MAC and BMC passwords is enrolled at -vvv through the default callback (YAML
and JSON result format) and through ansible-runner (JSON job events, what AWX stores); a cloud
given inline as a dict carries `auth.password`. Nothing may print a password: stdout, stderr, job
events, artifacts, the wave report. Ansible masks strings, not keys, so the cloud *name* and the
other fields must stay readable.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ironwave_testlib.paths import BIN, REPO
from ironwave_testlib.playbook import base_env, run_playbook

ENROLL = REPO / "playbooks" / "enroll.yml"
BMC_PASSWORD = "Bmc-Pa55-9f3c1e"
SNMP_COMMUNITY = "snmp-c0mmunity-77a"
CLOUD_PASSWORD = "Cl0ud-Pa55-4d2b8a"
SECRETS = (BMC_PASSWORD, SNMP_COMMUNITY, CLOUD_PASSWORD)


def _bad_fleet() -> list[dict]:
    """Three nodes with BMC credentials, one with a malformed MAC: validation must fail."""
    nodes = []
    for i in range(3):
        nodes.append({"name": f"sec-{i}", "driver": "fake-hardware",
                      "driver_info": {"redfish_address": f"https://10.9.0.{i}", "redfish_username": "admin",
                                      "redfish_password": BMC_PASSWORD, "snmp_community": SNMP_COMMUNITY},
                      "macs": [f"52:54:0e:00:00:{i:02x}"]})
    nodes[1]["macs"] = ["52:54:0e:00:00:zz"]
    return nodes


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _files_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture
def fleet_file(tmp_path) -> Path:
    path = tmp_path / "fleet.yml"
    path.write_text(yaml.safe_dump({"nodes": _bad_fleet()}))
    return path


@pytest.mark.parametrize("result_format", ["yaml", "json"])
def test_bad_mac_prints_no_bmc_password_at_vvv(local_ironic, tmp_path, fleet_file, result_format):
    env = {**local_ironic.env, "ANSIBLE_CALLBACK_RESULT_FORMAT": result_format,
           "IRONWAVE_WAVE_REPORT_PATH": str(tmp_path / "report" / "wave.json"),
           "IRONWAVE_WAVE_SVG_PATH": str(tmp_path / "report" / "wave.svg")}
    result = run_playbook(ENROLL, {"enroll_fleet_file": str(fleet_file), "enroll_cloud": local_ironic.cloud},
                          env, "-vvv")
    assert result.rc == 2, result.output
    assert "is not a MAC address" in result.stdout, result.output   # validation did fail, visibly
    assert "52:54:0e:00:00:zz" in result.stdout, "the bad MAC itself is not a secret"
    assert not _leaks(result.stdout + result.stderr), result.output
    assert "********" in result.stdout, "the passwords are shown masked"
    if (tmp_path / "report").exists():
        assert not _leaks(_files_text(tmp_path / "report"))
    assert not [n for n in local_ironic.conn.baremetal.nodes() if n.name and n.name.startswith("sec-")]


def test_bad_mac_leaks_nothing_through_ansible_runner(local_ironic, tmp_path, fleet_file, monkeypatch):
    """ansible-runner (AWX's runner): job events, stdout and every artifact file."""
    import ansible_runner

    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")  # runner finds ansible-playbook on PATH
    private = tmp_path / "runner"
    private.mkdir()
    env = {**base_env(local_ironic.clouds_yaml), "OS_CLOUD": local_ironic.cloud,
           "IRONWAVE_WAVE_REPORT_PATH": str(private / "report" / "wave.json"),
           "IRONWAVE_WAVE_SVG_PATH": str(private / "report" / "wave.svg")}
    run = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO), playbook=str(ENROLL),
                             envvars=env, verbosity=3, quiet=True,
                             extravars={"enroll_fleet_file": str(fleet_file), "enroll_cloud": local_ironic.cloud})
    assert run.rc == 2, run.stdout.read()
    events = list(run.events)
    failed = [e for e in events if e["event"] == "runner_on_failed"]
    assert failed and "is not a MAC address" in json.dumps(failed[0]["event_data"]["res"])
    assert not _leaks(json.dumps(events))
    assert not _leaks(_files_text(private)), "an artifact (stdout, job_events, report) holds a password"


INLINE_CLOUD_PLAY = """
- name: A cloud given inline, with a password
  hosts: localhost
  gather_facts: false
  tasks:
    - name: List the fleet through an inline cloud dict
      ironwave.baremetal.fleet_info:
        cloud:
          auth_type: "{{ auth_type }}"
          auth: "{{ auth }}"
          region_name: RegionSec
          baremetal_endpoint_override: "{{ endpoint }}"
        name_prefix: nothing-
"""


KEYSTONE_PASSWORD_AUTH = {"auth_url": "http://127.0.0.1:9/identity/v3", "username": "operator",
                          "password": CLOUD_PASSWORD, "project_name": "fleet", "user_domain_name": "Default",
                          "project_domain_name": "Default"}


@pytest.mark.parametrize("auth_type,rc", [("admin_token", 0), ("password", 2)])
def test_inline_cloud_dict_password_is_masked(local_ironic, tmp_path, auth_type, rc):
    """Success (a token, accepted by the noauth Ironic) and failure (keystone unreachable) of a
    module given `cloud` as a dict: the secret is masked in the invocation shown at -vvv, the rest
    of the dict stays readable."""
    auth = ({"endpoint": local_ironic.endpoint, "token": CLOUD_PASSWORD} if auth_type == "admin_token"
            else KEYSTONE_PASSWORD_AUTH)
    play = tmp_path / "inline.yml"
    play.write_text(INLINE_CLOUD_PLAY)
    env = {**base_env(local_ironic.clouds_yaml), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    result = run_playbook(play, {"auth_type": auth_type, "auth": auth, "endpoint": local_ironic.endpoint},
                          env, "-vvv")
    assert result.rc == rc, result.output
    assert not _leaks(result.stdout + result.stderr), result.output
    assert "RegionSec" in result.stdout and auth_type in result.stdout, "only the secret is masked"
    assert "********" in result.stdout


def test_ironic_error_echoing_a_secret_is_masked(local_ironic, tmp_path):
    """Ironic echoes a refused value in its error (here a BMC password pasted into a port's
    local_link_connection by mistake); the task's failure shows Ironic's error, masked."""
    fleet = [{"name": "sec-echo", "driver": "fake-hardware", "driver_info": {"ipmi_password": BMC_PASSWORD},
              "ports": [{"address": "52:54:0e:00:01:01", "local_link_connection": {
                  "switch_id": BMC_PASSWORD, "port_id": "Ethernet1/1"}}]}]
    fleet_file = tmp_path / "echo.yml"
    fleet_file.write_text(yaml.safe_dump({"nodes": fleet}))
    result = run_playbook(ENROLL, {"enroll_fleet_file": str(fleet_file), "enroll_cloud": local_ironic.cloud},
                          local_ironic.env, "-vvv")
    assert result.rc == 2, result.output
    assert "creating port 52:54:0e:00:01:01 on node sec-echo failed: HTTP 400" in result.stdout, result.output
    assert not _leaks(result.stdout + result.stderr), result.output
    # Proof that Ironic does echo it (else this test would prove nothing): the same request again.
    node = local_ironic.conn.baremetal.get_node("sec-echo")
    answer = local_ironic.conn.session.post(
        f"{local_ironic.endpoint}/v1/ports", raise_exc=False, headers={"X-OpenStack-Ironic-API-Version": "1.52"},
        json={"address": "52:54:0e:00:01:01", "node_uuid": node.id, **fleet[0]["ports"][0]})
    assert answer.status_code == 400 and BMC_PASSWORD in answer.text, answer.text
