# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""controller_run_id: one id for every host of one run (node_deploy's and wave_slot's action plugins)."""
from __future__ import annotations

import os

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.run_identity import controller_run_id


def test_one_run_one_id_and_the_sources_in_order(monkeypatch):
    monkeypatch.delenv("IRONWAVE_RUN_ID", raising=False)
    first, source = controller_run_id({"inventory_hostname": "a"})
    assert first == controller_run_id({"inventory_hostname": "b"})[0] and f"-{os.getppid()}-" in first
    assert source
    assert controller_run_id({"awx_job_id": 7})[0] == "awx-job-7"
    monkeypatch.setenv("IRONWAVE_RUN_ID", "env-run")
    assert controller_run_id({"awx_job_id": 7})[0] == "env-run"
