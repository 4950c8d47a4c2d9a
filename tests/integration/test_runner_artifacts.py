# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A wave play run by ansible-runner the way AWX runs a job (private data dir, project directory,
ANSIBLE_FORCE_COLOR as AWX sets it): the wave report and timeline land in the job's artifacts
directory (JSON, SVG and HTML) - which AWX keeps - and not in the project directory, which AWX throws away; a report
path set in the environment is kept as given; the progress lines in the job's events carry no
terminal control codes. No cloud is involved (debug tasks on local hosts)."""
from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ironwave_testlib.paths import BIN, REPO

PLAY = [{"name": "Wave of local hosts", "hosts": "fleet", "gather_facts": False,
         "strategy": "ironwave.baremetal.wave",
         "vars": {"ironwave_wave_schedule": [1, 2], "ironwave_wave_size": 2},
         "tasks": [{"name": "Work", "ansible.builtin.debug": {"msg": "{{ inventory_hostname }}"}}]}]
# Escape sequences, bells, carriage returns that overwrite a line (runner's pty ends lines with \r\n).
CONTROL = re.compile(r"\x1b|\x07|\r(?!\n)")


def _run(tmp_path, monkeypatch, **env):
    ansible_runner = pytest.importorskip("ansible_runner")
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")   # runner finds ansible-playbook on PATH
    private, project = tmp_path / "job", tmp_path / "project"
    (private / "inventory").mkdir(parents=True)
    project.mkdir()
    (project / "wave.yml").write_text(yaml.safe_dump(PLAY))
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"fleet": {"hosts": {
        f"h{i}": {"ansible_connection": "local"} for i in range(5)}}}))
    envvars = {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "True",
               "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"), **env}
    for name in ("IRONWAVE_WAVE_REPORT_PATH", "IRONWAVE_WAVE_SVG_PATH", "IRONWAVE_WAVE_HTML_PATH"):
        monkeypatch.delenv(name, raising=False)
    run = ansible_runner.run(private_data_dir=str(private), project_dir=str(project), playbook="wave.yml",
                             envvars=envvars, quiet=True, ident="job1")
    assert run.rc == 0, run.stdout.read()
    return run, private, project


def test_default_report_paths_land_in_the_jobs_artifacts(tmp_path, monkeypatch):
    run, private, project = _run(tmp_path, monkeypatch)
    artifacts = private / "artifacts" / "job1" / "ironwave"
    report = json.loads((artifacts / "wave-report.json").read_text())
    play = report["plays"][0]
    assert sorted((h["name"], h["state"]) for h in play["hosts"]) == [(f"h{i}", "ok") for i in range(5)]
    assert (play["peak_in_flight"], play["halted"]) == (2, False)
    assert "<svg" in (artifacts / "wave-timeline.svg").read_text()
    html = (artifacts / "wave-report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and ">h4<" in html
    assert not (project / "reports").exists()
    lines = [e["stdout"] for e in run.events if "WAVE" in e.get("stdout", "")]
    assert lines, "progress lines in the job events"
    assert not [line for line in lines if CONTROL.search(line)], lines


def test_a_report_path_set_in_the_environment_is_kept(tmp_path, monkeypatch):
    chosen = tmp_path / "mine" / "wave.json"
    _run(tmp_path, monkeypatch, IRONWAVE_WAVE_REPORT_PATH=str(chosen))
    assert json.loads(chosen.read_text())["plays"]
    artifacts = tmp_path / "job" / "artifacts" / "job1" / "ironwave"
    assert not (artifacts / "wave-report.json").exists()
    assert (artifacts / "wave-timeline.svg").exists()     # the other one was left at its default
