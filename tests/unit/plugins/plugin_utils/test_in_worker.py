# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from ansible_collections.ironwave.baremetal.plugins.plugin_utils import in_worker


class Templar:
    def template(self, value):
        return {"{{ ansible_playbook_python }}": sys.executable, "{{ off }}": "no"}.get(value, value)


def action(transport="local", become=False, async_val=0, environment=None):
    return SimpleNamespace(_templar=Templar(), _connection=SimpleNamespace(transport=transport),
                           _play_context=SimpleNamespace(become=become),
                           _task=SimpleNamespace(async_val=async_val, environment=environment or [{}]))


GOOD_VARS = {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}


def test_controller_python_on_local_connection_runs_in_the_worker(monkeypatch):
    monkeypatch.delenv(in_worker.ENV_SWITCH, raising=False)
    assert in_worker.refusal(action(), GOOD_VARS) is None


@pytest.mark.parametrize("act, task_vars, why", [
    (action(transport="ssh"), GOOD_VARS, "connection is not local"),
    (action(become=True), GOOD_VARS, "become"),
    (action(async_val=30), GOOD_VARS, "async"),
    (action(environment=[{}, {"OS_CLOUD": "x"}]), GOOD_VARS, "environment"),
    (action(), {}, "interpreter"),
    (action(), {"ansible_python_interpreter": "/usr/bin/python3-other"}, "interpreter"),
    (action(), {**GOOD_VARS, "ironwave_in_worker": "{{ off }}"}, "ironwave_in_worker"),
])
def test_anything_unusual_falls_back_to_a_module_process(monkeypatch, act, task_vars, why):
    monkeypatch.delenv(in_worker.ENV_SWITCH, raising=False)
    assert why in in_worker.refusal(act, task_vars)


def test_environment_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(in_worker.ENV_SWITCH, "0")
    assert in_worker.refusal(action(), GOOD_VARS) == "IRONWAVE_IN_WORKER=0"
