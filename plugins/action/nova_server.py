# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Controller side of ironwave.baremetal.nova_server: runs the module inside the Ansible worker when the
task runs on the controller's own Python (see plugins/plugin_utils/in_worker.py), else as usual."""
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.in_worker import InWorkerModuleAction


class ActionModule(InWorkerModuleAction):
    module = "nova_server"
