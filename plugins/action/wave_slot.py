# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Controller side of ironwave.baremetal.wave_slot: fills in `run_id` and `holder`, then runs the
module. The run id must be the same for every host of one ansible-playbook run and differ between
runs; only the controller knows that (see slot_lease.derive_run_id for the order of sources)."""
from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.ironwave.baremetal.plugins.plugin_utils import in_worker
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.run_identity import controller_run_id


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        source = None
        if not args.get("run_id"):
            args["run_id"], source = controller_run_id(task_vars)
        if not args.get("holder"):
            args["holder"] = str(task_vars.get("inventory_hostname", ""))
        result.update(in_worker.execute(self, "wave_slot", args, task_vars))
        if source:
            result["run_id_source"] = source
        return result
