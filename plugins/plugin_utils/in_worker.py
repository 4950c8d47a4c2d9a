# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Run an ironwave cloud module inside the Ansible worker process instead of shipping it.

Why: every cloud module talks to an API from the controller (connection `local`), yet Ansible
starts a new Python for each task of each host, unpacks the module and imports openstacksdk again
(about 0.5 s of CPU per task here). With dozens of hosts in a wave that CPU is what delays the next
deploy on a small controller. Workers are forked from ansible-playbook, so when the strategy has
imported openstacksdk once (`warm_imports`), a module run in the worker starts in milliseconds.

This is the direct execution that ansible.netcommon does for network modules, on ansible-core's
hook for it (`AnsibleModule._record_module_result`): params are handed over in memory instead of
stdin, the result dict is recorded instead of printed. The module code is the same file; only where
it runs changes. Anything unusual falls back to normal module execution: another connection or
interpreter than the controller's own Python, become, async, a task `environment`, or
`IRONWAVE_IN_WORKER=0` / the variable `ironwave_in_worker: false`.
"""
from __future__ import annotations

import copy
import importlib
import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

from ansible_collections.ironwave.baremetal.plugins.module_utils.run_control import (
    RUN_GUARD_OPTION, guard_for_controller)

display = Display()

ENV_SWITCH = "IRONWAVE_IN_WORKER"
VAR_SWITCH = "ironwave_in_worker"
MODULE_PACKAGE = "ansible_collections.ironwave.baremetal.plugins.modules"
# The modules worth warming: the per-host hot path of a wave.
HOT_MODULES = ("node_reserve", "node_deploy", "wave_slot", "nova_server")


def warm_imports() -> None:
    """Import openstacksdk and the hot modules in the controller process, before workers fork."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return
    try:
        importlib.import_module("openstack")
        for name in HOT_MODULES:
            importlib.import_module(f"{MODULE_PACKAGE}.{name}")
    except Exception as exc:  # noqa: BLE001 - only an optimisation; modules report a missing SDK themselves
        display.vvv(f"ironwave: not pre-importing openstacksdk ({exc})")


def refusal(action, task_vars: dict) -> str | None:
    """Why this task must run as a normal module (None: it may run in the worker)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return f"{ENV_SWITCH}=0"
    switch = task_vars.get(VAR_SWITCH, True)
    if not boolean(action._templar.template(switch) if isinstance(switch, str) else switch, strict=False):
        return f"{VAR_SWITCH} is false"
    if getattr(action._connection, "transport", None) != "local":
        return "connection is not local"
    if action._play_context.become:
        return "become is set"
    if action._task.async_val:
        return "async task"
    envs = action._task.environment
    if any(e for e in (envs if isinstance(envs, list) else [envs])):
        return "task has an environment"
    interpreter = task_vars.get("ansible_python_interpreter")
    if isinstance(interpreter, str):
        interpreter = action._templar.template(interpreter)
    if not interpreter or os.path.abspath(str(interpreter)) != os.path.abspath(sys.executable):
        return "ansible_python_interpreter is not the controller's Python"
    return None


def execute(action, module: str, module_args: dict, task_vars: dict) -> dict[str, Any]:
    """Run `ironwave.baremetal.<module>` with `module_args`: in the worker when allowed, else as
    a normal module. Returns the module result like ActionBase._execute_module.
    Fills `run_guard` (see module_utils/run_control.py): workers are forked from ansible-playbook,
    so the parent PID names the run whose death or halt must stop this task."""
    module_args = dict(module_args)
    if not module_args.get(RUN_GUARD_OPTION):
        module_args[RUN_GUARD_OPTION] = guard_for_controller(os.getppid(), task_vars.get("inventory_hostname"))
    why_not = refusal(action, task_vars)
    if why_not:
        display.vvv(f"ironwave: {module} runs as a module process ({why_not})")
        wrap_async = bool(action._task.async_val and not action._connection.has_native_async)
        result = action._execute_module(module_name=f"ironwave.baremetal.{module}", module_args=module_args,
                                        task_vars=task_vars, wrap_async=wrap_async)
        if not wrap_async:
            action._remove_tmp_path(action._connection._shell.tmpdir)
        return result
    return run_in_worker(action, module, module_args, task_vars)


def run_in_worker(action, module: str, module_args: dict, task_vars: dict) -> dict[str, Any]:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.ironwave.baremetal.plugins.module_utils import openstack_cloud

    mod = importlib.import_module(f"{MODULE_PACKAGE}.{module}")
    args = copy.deepcopy(dict(module_args))
    # The same internal arguments (_ansible_check_mode, _ansible_diff, ...) a shipped module gets.
    action._update_module_args(f"ironwave.baremetal.{module}", args, task_vars)
    recorded: dict[str, Any] = {}

    class InWorkerModule(AnsibleModule):
        def _load_params(self):
            self.params = copy.deepcopy(args)

        def _record_module_result(self, o):
            recorded["result"] = o

    out, err = io.StringIO(), io.StringIO()
    previous = openstack_cloud.IronwaveModule.ansible_module_class
    openstack_cloud.IronwaveModule.ansible_module_class = InWorkerModule
    try:
        with redirect_stdout(out), redirect_stderr(err):
            mod.main()
    except SystemExit:
        pass  # exit_json / fail_json
    finally:
        openstack_cloud.IronwaveModule.ansible_module_class = previous
    if "result" not in recorded:
        return {"failed": True, "msg": f"ironwave.baremetal.{module} ended without a result (in-worker run)",
                "module_stdout": out.getvalue(), "module_stderr": err.getvalue()}
    result = recorded["result"]
    remove_internal_keys(result)
    result["in_worker"] = True
    return result


class InWorkerModuleAction(ActionBase):
    """The action plugin of a cloud module that needs nothing on the controller but in-worker
    execution: subclasses name the module in `module`."""

    _supports_check_mode = True
    _supports_async = True
    module = ""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(execute(self, self.module, dict(self._task.args), task_vars))
        return result
