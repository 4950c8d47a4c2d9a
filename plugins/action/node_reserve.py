# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Controller side of ironwave.baremetal.node_reserve: runs the module inside the Ansible worker when the
task runs on the controller's own Python (see plugins/plugin_utils/in_worker.py), else as usual."""
from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.ironwave.baremetal.plugins.plugin_utils import in_worker


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(in_worker.execute(self, "node_reserve", dict(self._task.args), task_vars))
        return result
