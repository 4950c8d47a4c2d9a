# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Typed errors of the lifecycle core (pure). Raised anywhere in module_utils; only the module
base class (openstack_cloud.IronwaveModule) turns them into `fail_json`.

Each carries the error kind (an ironic_errors kind or an association verdict), a one-line message
that names the object and the fix, and extra result fields (node, association, ...)."""
from __future__ import annotations

from typing import Any

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_errors


class IronwaveError(Exception):
    """A failure with a kind, a message and result fields for the task result."""

    kind = ironic_errors.UNKNOWN

    def __init__(self, msg: str, kind: str | None = None, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        if kind is not None:
            self.kind = kind
        self.result = result

    def as_result(self) -> dict:
        return {**self.result, "msg": self.msg, "error_kind": self.kind}


class BadInput(IronwaveError):
    """A parameter cannot work; nothing was sent. The message names the field and the fix."""

    kind = ironic_errors.BAD_REQUEST


class NotFound(IronwaveError):
    kind = ironic_errors.NOT_FOUND


class AssociationRefused(IronwaveError):
    """The node belongs to someone else (or to nobody when it should be ours): not touched."""


class ReservationFailed(IronwaveError):
    """No node could be reserved for the instance."""

    kind = ironic_errors.ALLOCATION_FAILED


class DeploymentFailed(IronwaveError):
    """The deploy was requested but the node did not become active."""

    kind = "deploy_failed"


class AuditFindings(IronwaveError):
    """The audit found findings of a kind the caller asked to fail on (fail_on)."""

    kind = "audit_findings"


class RecoveryFailed(IronwaveError):
    """At least one recovery plan failed (timed out or reached a failed state); the others were tried."""

    kind = "recovery_failed"


class SlotUnavailable(IronwaveError):
    """A concurrency slot (wave_slot lease, busy gate) could not be had in time."""

    kind = "timeout"


class CloudUnreachable(IronwaveError):
    """The API stayed unreachable (connection errors, 5xx from a proxy) past the outage budget."""

    kind = ironic_errors.ENDPOINT


class RunGone(IronwaveError):
    """The ansible-playbook that started this worker is gone (killed): stop without sending anything."""

    kind = "run_gone"


class CapacityShort(IronwaveError):
    """Fewer usable nodes than servers requested: nothing was built. The message gives the numbers
    (Placement, Ironic, per compute service, exclusions) and what to do."""

    kind = "capacity"


def from_ironic(err: ironic_errors.IronicError, what: str, **result: Any) -> IronwaveError:
    """An IronwaveError for a classified Ironic failure (message + advice on one line)."""
    return IronwaveError(err.one_line(what), err.kind, error_action=err.action, status_code=err.status,
                         **result)
