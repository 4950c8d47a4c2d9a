# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""How old may a node's provision state or a server's task_state get before the audit flags it?
(pure, stdlib only)

Defaults are derived from Ironic's own configuration defaults, so a finding means "older than the
services themselves would let it be" - or, for wait states, "about to be failed by Ironic": Ironic
does not move wait states on a conductor restart and only times them out after 30 minutes, and the
point of the audit is to see them before that. Operators override per state; every override is
validated before anything is judged."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states

# Ironic defaults (ironic/conf/conductor.py unless noted), seconds.
DEPLOY_CALLBACK_TIMEOUT = 1800         # [conductor] deploy_callback_timeout: wait call-back -> deploy failed
CLEAN_CALLBACK_TIMEOUT = 1800          # [conductor] clean_callback_timeout: clean wait -> clean failed
INSPECT_WAIT_TIMEOUT = 1800            # [conductor] inspect_wait_timeout (used by the [pxe]/[inspector]
#                                        inspection flows): inspect wait -> inspect failed
HEARTBEAT_TIMEOUT = 60                 # [conductor] heartbeat_timeout: a silent conductor is offline after it
CHECK_PROVISION_STATE_INTERVAL = 60    # [conductor] check_provision_state_interval: timeout/orphan periodics
SYNC_POWER_STATE_INTERVAL = 60         # [conductor] sync_power_state_interval

# "-ing" states a live conductor works on: deploying, cleaning, deleting, verifying, inspecting, ...
WORKING = frozenset(s for s in ironic_states.TRANSIENT if s.endswith("ing"))
# Wait states: the conductor waits for the ramdisk; only the 1800 s timeouts above clear them.
WAITING = frozenset(s for s in ironic_states.TRANSIENT if s.endswith(" wait") or s == ironic_states.DEPLOYWAIT)
HOLDING = ironic_states.HOLD

# A working state that lasts one whole callback timeout is not progressing (the synchronous parts of
# a deploy or clean take minutes; the long parts happen in the wait states).
WORKING_DEFAULT = DEPLOY_CALLBACK_TIMEOUT
# Half the callback timeout: flagged with 15 minutes left before Ironic fails the node itself. Real
# hardware spends 5-15 min in wait call-back (POST, ramdisk boot, image write), so less is noisy.
WAITING_DEFAULT = DEPLOY_CALLBACK_TIMEOUT // 2
# A hold waits for an operator by design; an hour unattended is worth a report.
HOLDING_DEFAULT = 3600

NODE_DEFAULTS: Mapping[str, int] = MappingProxyType({
    **{s: WORKING_DEFAULT for s in WORKING},
    **{s: WAITING_DEFAULT for s in WAITING},
    **{s: HOLDING_DEFAULT for s in HOLDING},
})

# Nova task_states (nova/compute/task_states.py). Spawn on Ironic covers the whole deploy: up to
# deploy_callback_timeout in wait call-back plus the deploying steps, hence two timeouts.
_NOVA_SPAWN = 2 * DEPLOY_CALLBACK_TIMEOUT
# Power actions: Ironic's [conductor] power_state_change_timeout is 60 s and nova's power sync
# runs every 600 s ([DEFAULT] sync_power_state_interval); beyond that nothing is coming.
_NOVA_SHORT = 600
SERVER_DEFAULTS: Mapping[str, int] = MappingProxyType({
    "scheduling": _NOVA_SHORT, "block_device_mapping": _NOVA_SHORT, "networking": _NOVA_SHORT,
    "spawning": _NOVA_SPAWN, "rebuilding": _NOVA_SPAWN, "rebuild_spawning": _NOVA_SPAWN,
    "rebuild_block_device_mapping": _NOVA_SHORT,
    # destroy waits for Ironic's tear down (deleting); cleaning runs after nova let go.
    "deleting": CLEAN_CALLBACK_TIMEOUT, "soft-deleting": _NOVA_SHORT,
    "rebooting": _NOVA_SHORT, "reboot_pending": _NOVA_SHORT, "reboot_started": _NOVA_SHORT,
    "rebooting_hard": _NOVA_SHORT, "reboot_pending_hard": _NOVA_SHORT, "reboot_started_hard": _NOVA_SHORT,
    "powering-off": _NOVA_SHORT, "powering-on": _NOVA_SHORT,
    # The Ironic driver cannot snapshot: an image_* task never progresses.
    "image_snapshot": _NOVA_SHORT, "image_snapshot_pending": _NOVA_SHORT,
    "image_pending_upload": _NOVA_SHORT, "image_uploading": _NOVA_SHORT, "image_backup": _NOVA_SHORT,
    "rescuing": DEPLOY_CALLBACK_TIMEOUT, "unrescuing": DEPLOY_CALLBACK_TIMEOUT,  # rescue_callback_timeout
    "resize_prep": _NOVA_SHORT, "migrating": _NOVA_SHORT, "updating_password": _NOVA_SHORT,
    "shelving": CLEAN_CALLBACK_TIMEOUT, "shelving_offloading": CLEAN_CALLBACK_TIMEOUT,
    "unshelving": _NOVA_SPAWN,
})
SERVER_OTHER_DEFAULT = DEPLOY_CALLBACK_TIMEOUT  # a task_state not in the table above

# Checks that are not about a state.
OTHER_DEFAULTS: Mapping[str, int] = MappingProxyType({
    # Ironic marks a conductor offline after heartbeat_timeout and frees its locks in the next
    # orphan check; twice both is when Ironic should long have done it.
    "dead_conductor_lock": 2 * (HEARTBEAT_TIMEOUT + CHECK_PROVISION_STATE_INTERVAL),
    # An allocation is processed in seconds; one allocating or in error after 5 min is stale.
    "allocation": 300,
})
SECTIONS = ("node", "server", "other")


@dataclass(frozen=True)
class Thresholds:
    """Seconds per node provision state, per server task_state and per other check."""

    nodes: Mapping[str, float] = field(default_factory=lambda: NODE_DEFAULTS)
    servers: Mapping[str, float] = field(default_factory=lambda: SERVER_DEFAULTS)
    other: Mapping[str, float] = field(default_factory=lambda: OTHER_DEFAULTS)

    def node(self, state: str | None) -> float | None:
        """Threshold for a provision state; None: the state is not judged by age."""
        return self.nodes.get(state or "")

    def server(self, task_state: str | None) -> float | None:
        """Threshold for a task_state; None for no task."""
        if not task_state:
            return None
        return self.servers.get(task_state, SERVER_OTHER_DEFAULT)

    def check(self, name: str) -> float:
        return self.other[name]


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise errors.BadInput(f"audit threshold {key!r}: must be a positive number of seconds, got {value!r}")
    return float(value)


def _section_of(key: str) -> str:
    homes = [name for name, table in (("node", NODE_DEFAULTS), ("server", SERVER_DEFAULTS),
                                      ("other", OTHER_DEFAULTS)) if key in table]
    if len(homes) == 1:
        return homes[0]
    if homes:
        raise errors.BadInput(f"audit threshold {key!r}: is both a node state and a server task_state; "
                              f"put it under 'node:' or 'server:'")
    raise errors.BadInput(f"audit threshold {key!r}: unknown state; use a node provision state "
                          f"({', '.join(sorted(NODE_DEFAULTS))}), a server task_state "
                          f"({', '.join(sorted(SERVER_DEFAULTS))}) or {', '.join(sorted(OTHER_DEFAULTS))}")


def resolve(overrides: Mapping | None) -> Thresholds:
    """Defaults updated by `overrides`: flat {state: seconds} or sectioned {node|server|other: {...}}
    (a section is needed for names that are both, e.g. "deleting"). BadInput on any bad key."""
    if overrides is None:
        return Thresholds()
    if not isinstance(overrides, Mapping):
        raise errors.BadInput("audit thresholds: must be a mapping of state -> seconds")
    tables = {"node": dict(NODE_DEFAULTS), "server": dict(SERVER_DEFAULTS), "other": dict(OTHER_DEFAULTS)}
    for key, value in overrides.items():
        if key in SECTIONS:
            if not isinstance(value, Mapping):
                raise errors.BadInput(f"audit threshold section {key!r}: must be a mapping of state -> seconds")
            known = {"node": NODE_DEFAULTS, "server": SERVER_DEFAULTS, "other": OTHER_DEFAULTS}[key]
            for state, seconds in value.items():
                if state not in known:
                    raise errors.BadInput(f"audit threshold {key}.{state}: unknown; allowed: "
                                          f"{', '.join(sorted(known))}")
                tables[key][state] = _number(f"{key}.{state}", seconds)
            continue
        tables[_section_of(str(key))][key] = _number(str(key), value)
    return Thresholds(MappingProxyType(tables["node"]), MappingProxyType(tables["server"]),
                      MappingProxyType(tables["other"]))
