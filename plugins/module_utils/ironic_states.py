# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The one table of Ironic provision-state sets (pure). Every module, strategy and test imports
its sets from here; names follow ironic.common.states."""
from __future__ import annotations

AVAILABLE = "available"
ACTIVE = "active"
DEPLOYING = "deploying"
DEPLOYWAIT = "wait call-back"
DEPLOYFAIL = "deploy failed"
DEPLOYHOLD = "deploy hold"
ERROR = "error"

# Ironic counts deploying + wait call-back towards [conductor]max_concurrent_deploy and
# deleting + cleaning + clean wait towards max_concurrent_clean; inspection occupies workers too.
BUSY_STATE_LIST = ("deploying", "wait call-back", "deleting", "cleaning", "clean wait", "inspecting",
                   "inspect wait")
BUSY = frozenset(BUSY_STATE_LIST)
# A deploy in progress (the "deploy" pseudo-state shows in target/verbs on some releases).
DEPLOY_IN_PROGRESS = frozenset({"deploying", "wait call-back", "deploy"})
DEPLOY_FAILED = frozenset({"deploy failed", "error"})
# A conductor is working on the node (or waits for the ramdisk): acting now would race that work.
TRANSIENT = frozenset({
    "verifying", "deploying", "wait call-back", "deleting", "cleaning", "clean wait",
    "inspecting", "inspect wait", "adopting", "rescuing", "rescue wait", "unrescuing",
    "servicing", "service wait", "deploy", "deleted", "undeploy", "rebuild",
})
# States a node only leaves by operator action (undeploy/manage/abort), never by itself.
FAILED = frozenset({
    "deploy failed", "clean failed", "error", "inspect failed", "adopt failed",
    "rescue failed", "unrescue failed", "service failed",
})
# What enrollment waits on: the conductor works through manage (verifying), provide (cleaning) or
# an inspection; anything else (e.g. someone's deploy) is not enrollment's business.
ENROLL_SETTLING = frozenset({"verifying", "cleaning", "clean wait", "inspecting", "inspect wait",
                             "adopting", "clean hold"})
# Held by a step that waits for an operator.
HOLD = frozenset({"deploy hold", "clean hold", "service hold"})
# Ironic refuses PATCH on a node with a target state unless it is in one of these
# (ironic.common.states.UPDATE_ALLOWED_STATES).
UPDATE_ALLOWED = frozenset({"deploy failed", "inspecting", "inspect failed", "inspect wait",
                            "clean failed", "error", "verifying", "adopt failed",
                            "rescue failed", "unrescue failed", "servicing", "service hold",
                            "service failed"})
# States an undeploy (target "deleted") is accepted from.
UNDEPLOY_FROM = ("active", "deploy failed", "error", "wait call-back", "deploy hold", "rescue",
                 "rescue failed", "rescue wait", "unrescue failed", "service failed")
CLEAN_FAILED_OR_ERROR = frozenset({"clean failed", "error"})
# Display order: the happy path first, trouble last.
DISPLAY_ORDER = ("enroll", "verifying", "manageable", "cleaning", "clean wait", "available", "deploying",
                 "wait call-back", "active", "deleting", "inspecting", "inspect wait",
                 "deploy failed", "clean failed", "inspect failed", "error")
