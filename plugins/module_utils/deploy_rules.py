# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What node_deploy decides (pure, stdlib only): input checks that mirror Ironic's own, the API
microversion a deploy request needs, what to do with a node, the writes to make (and how to undo
them), and whether a deploy request that failed ambiguously took effect anyway."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states

DEFAULT_MICROVERSION = "1.52"   # allocations, traits, conductor groups: every lifecycle request
# What Ironic requires (ironic/api/controllers/v1/versions.py).
JSON_CONFIG_DRIVE = (1, 56)
CONFIG_DRIVE_VENDOR_DATA = (1, 59)
DEPLOY_STEPS = (1, 69)

STEP_KEYS = ("interface", "step", "args", "priority")
CONFIG_DRIVE_KEYS = ("meta_data", "network_data", "user_data", "vendor_data")
_B64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")

# Plan actions.
DONE = "done"                 # ours and active: nothing to do
IN_PROGRESS = "in_progress"   # ours and deploying: maybe wait
DEPLOY = "deploy"             # ours and available
REDEPLOY = "redeploy"         # ours and in `deploy failed` (e.g. Ironic restarted mid-deploy)
REFUSE = "refuse"


# -- microversions --------------------------------------------------------------------------
def parse_version(text: str | None) -> tuple[int, int] | None:
    try:
        major, minor = str(text).strip().split(".")
        return int(major), int(minor)
    except (ValueError, AttributeError):
        return None


def _fmt(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def needed_microversion(config_drive: Any, deploy_steps: list | None) -> tuple[tuple[int, int], str | None]:
    """(the lowest microversion the deploy request needs, the field that needs it or None)."""
    need, why = parse_version(DEFAULT_MICROVERSION), None
    if isinstance(config_drive, Mapping):
        vendor = "vendor_data" in config_drive
        version = CONFIG_DRIVE_VENDOR_DATA if vendor else JSON_CONFIG_DRIVE
        if version > need:
            need, why = version, "config_drive.vendor_data" if vendor else "config_drive as a dict"
    if deploy_steps and DEPLOY_STEPS > need:
        need, why = DEPLOY_STEPS, "deploy_steps"
    return need, why


def pick_microversion(config_drive: Any, deploy_steps: list | None, server_max: str | None) -> str:
    """The microversion to send the deploy request with: the default unless the request needs
    more, bounded by what the server offers (`server_max`, from GET /v1). Raises BadInput naming
    the field when the server is too old."""
    need, why = needed_microversion(config_drive, deploy_steps)
    if why is None:
        return DEFAULT_MICROVERSION
    offered = parse_version(server_max)
    if offered is not None and offered < need:
        hint = ("pass config_drive as a base64 string or a URL instead" if why.startswith("config_drive")
                else "drop deploy_steps (use deploy templates selected by traits)")
        raise errors.BadInput(f"{why} needs bare metal API {_fmt(need)}, but this Ironic offers at most "
                              f"{server_max}; {hint}, or upgrade Ironic", microversion_needed=_fmt(need),
                              microversion_offered=server_max)
    return _fmt(need)


# -- input checks (as Ironic's API schema does, so nothing is written for input it would refuse)
def validate_deploy_steps(steps: Any) -> None:
    if steps is None:
        return
    if not isinstance(steps, list):
        raise errors.BadInput("deploy_steps: must be a list of dicts with interface, step, args, priority")
    for i, step in enumerate(steps):
        where = f"deploy_steps[{i}]"
        if not isinstance(step, Mapping):
            raise errors.BadInput(f"{where}: must be a dict with interface, step, args, priority")
        missing = [k for k in STEP_KEYS if k not in step]
        extra = sorted(set(step) - set(STEP_KEYS))
        if missing or extra:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                    ([f"unknown key(s) {', '.join(extra)}"] if extra else [])
            raise errors.BadInput(f"{where}: {'; '.join(parts)}; each step needs exactly "
                                  "interface, step, args and priority")
        if not isinstance(step["interface"], str) or not step["interface"]:
            raise errors.BadInput(f"{where}.interface: a driver interface name such as deploy, bios or raid")
        if not isinstance(step["step"], str) or not step["step"]:
            raise errors.BadInput(f"{where}.step: a non-empty step name")
        if not isinstance(step["args"], Mapping):
            raise errors.BadInput(f"{where}.args: must be a dict ({{}} for none)")
        prio = step["priority"]
        ok = (isinstance(prio, int) and not isinstance(prio, bool) and prio >= 0) or \
             (isinstance(prio, str) and prio.isdigit())
        if not ok:
            raise errors.BadInput(f"{where}.priority: {prio!r} is not an integer >= 0")


def validate_config_drive(config_drive: Any) -> None:
    if config_drive is None:
        return
    if isinstance(config_drive, Mapping):
        extra = sorted(set(config_drive) - set(CONFIG_DRIVE_KEYS))
        if extra:
            raise errors.BadInput(f"config_drive: unknown key(s) {', '.join(extra)}; a dict config drive has "
                                  f"{', '.join(CONFIG_DRIVE_KEYS)}")
        for key in ("meta_data", "network_data", "vendor_data"):
            if key in config_drive and not isinstance(config_drive[key], Mapping):
                raise errors.BadInput(f"config_drive.{key}: must be a dict")
        user = config_drive.get("user_data")
        if user is not None and not isinstance(user, (str, list, Mapping)):
            raise errors.BadInput("config_drive.user_data: must be a string, a list or a dict")
        return
    if not isinstance(config_drive, str):
        raise errors.BadInput("config_drive: must be a dict (meta_data, user_data, network_data), a URL or "
                              "a base64 string")
    if "://" not in config_drive and not _B64.match(config_drive):
        raise errors.BadInput("config_drive: a string must be a URL or a gzipped, base64-encoded ISO image; "
                              "give a dict (meta_data, user_data, network_data) to have Ironic build one")


# -- what to do with the node ---------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    action: str
    kind: str = ""
    why: str = ""


def plan(result: assoc.AssociationResult, node: Mapping) -> Plan:
    """Decide from the node's association and state (see the module documentation)."""
    state, target = node.get("provision_state"), node.get("target_provision_state")
    if result.verdict in (assoc.ASSOCIATED_ELSEWHERE, assoc.ORPHANED, assoc.ALLOCATION_MISMATCH):
        return Plan(REFUSE, result.verdict)
    ours = result.owner == assoc.OWNER_OURS
    if ours and state == ironic_states.ACTIVE and not target:
        return Plan(DONE)
    if ours and (state in ironic_states.DEPLOY_IN_PROGRESS or
                 (target == ironic_states.ACTIVE and state not in ironic_states.FAILED)):
        return Plan(IN_PROGRESS)
    if ours and state == ironic_states.DEPLOYFAIL and not node.get("maintenance") and not node.get("reservation"):
        # Ironic accepts target `active` from `deploy failed` (it moves its `deploying` nodes
        # there when it starts after a crash): deploy again.
        return Plan(REDEPLOY)
    if result.verdict == assoc.FREE:
        return Plan(REFUSE, "not_reserved", "it is not reserved for the expected instance; reserve it first "
                    "(ironwave.baremetal.node_reserve)")
    if assoc.may_deploy(result):
        return Plan(DEPLOY)
    return Plan(REFUSE, result.verdict)


def only_locked(result: assoc.AssociationResult, node: Mapping) -> bool:
    """Ours and deployable but for a conductor's lock (`reservation`): a moment's lock - another
    run's PATCH meeting this node, a periodic task - that goes away by itself, like NodeLocked."""
    return (result.owner == assoc.OWNER_OURS and result.verdict == assoc.BUSY and bool(node.get("reservation"))
            and not node.get("target_provision_state")
            and node.get("provision_state") in (ironic_states.AVAILABLE, ironic_states.DEPLOYFAIL))


def took_effect(result: assoc.AssociationResult, node: Mapping | None) -> bool:
    """After an ambiguous failure of our deploy request (502/504, dropped connection, database
    locked, or invalid_state on a resend): the node is ours and deploying or active, so a deploy
    request for us went through."""
    if node is None or result.owner != assoc.OWNER_OURS:
        return False
    state = node.get("provision_state")
    return state in ironic_states.DEPLOY_IN_PROGRESS or (state == ironic_states.ACTIVE)


# -- writes before the deploy request, and their undo ----------------------------------------
@dataclass
class Changes:
    patch: list = field(default_factory=list)        # JSON patch for instance_info
    undo_patch: list = field(default_factory=list)
    traits: list | None = None                       # the new trait list (None: unchanged)
    old_traits: list = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)


def planned_changes(node: Mapping, instance_info: Mapping | None, traits: list | None) -> Changes:
    out = Changes()
    info = node.get("instance_info") or {}
    for key, value in (instance_info or {}).items():
        if info.get(key) != value:
            path = f"/instance_info/{key}"
            out.patch.append({"op": "add", "path": path, "value": value})
            out.undo_patch.append({"op": "add", "path": path, "value": info[key]} if key in info
                                  else {"op": "remove", "path": path})
            out.before[f"instance_info.{key}"] = info.get(key)
            out.after[f"instance_info.{key}"] = value
    if traits:
        have = sorted(node.get("traits") or [])
        want = sorted(set(have) | set(traits))
        if want != have:
            out.traits, out.old_traits = want, have
            out.before["traits"], out.after["traits"] = have, want
    return out
