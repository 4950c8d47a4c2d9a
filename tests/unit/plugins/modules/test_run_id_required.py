# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Modules that mark nodes with the run id fail on a missing or bad one before any request,
with one message naming the field and the fix (slot_lease.module_run_id)."""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ironwave.baremetal.plugins.modules import node_deploy, wave_slot

CLOUD = {"auth_type": "none", "auth": {"endpoint": "http://127.0.0.1:9/baremetal"}}


def failure(capsys, module, args, monkeypatch):
    monkeypatch.delenv("IRONWAVE_RUN_ID", raising=False)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])


@pytest.mark.parametrize("run_id, expect", [(None, "run_id: not set; pass run_id, or set IRONWAVE_RUN_ID"),
                                            ("two words", "run_id: must be 1-128 characters")])
def test_node_deploy_with_the_cloud_board_needs_a_valid_run_id(capsys, monkeypatch, run_id, expect):
    args = {"cloud": CLOUD, "node": "n1", "instance_uuid": "6f1b2d8e-0000-4000-8000-000000000001",
            "busy_limit": 2, "busy_board": "cloud", **({"run_id": run_id} if run_id else {})}
    result = failure(capsys, node_deploy, args, monkeypatch)
    assert result["failed"] and expect in result["msg"] and "busy_board cloud" in result["msg"]


@pytest.mark.parametrize("run_id, expect", [(None, "run_id: not set; pass run_id, or set IRONWAVE_RUN_ID"),
                                            ("two words", "run_id: must be 1-128 characters")])
def test_wave_slot_needs_a_valid_run_id(capsys, monkeypatch, run_id, expect):
    args = {"cloud": CLOUD, "node": "n1", "state": "acquired", "limit": 2, **({"run_id": run_id} if run_id else {})}
    result = failure(capsys, wave_slot, args, monkeypatch)
    assert result["failed"] and expect in result["msg"]
