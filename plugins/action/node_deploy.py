# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Controller side of ironwave.baremetal.node_deploy: runs the module inside the Ansible worker when the
task runs on the controller's own Python (see plugins/plugin_utils/in_worker.py), else as usual. With
`busy_board: cloud` it fills in `run_id` (the same for every host of one run, see wave_slot's)."""
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.in_worker import InWorkerModuleAction, execute
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.run_identity import controller_run_id


class ActionModule(InWorkerModuleAction):
    module = "node_deploy"

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        args = dict(self._task.args)
        if args.get("busy_board") != "cloud" or args.get("run_id"):
            return super().run(tmp, task_vars)
        result = super(InWorkerModuleAction, self).run(tmp, task_vars)   # ActionBase.run
        args["run_id"], _source = controller_run_id(task_vars)
        result.update(execute(self, self.module, args, task_vars))
        return result
